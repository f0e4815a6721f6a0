// sgdsde/optim/mlp_problem.hpp — adapter that makes an nn::Mlp on a data set (samples as columns) a
// Problem for sgdsde::train (see train.hpp), plus evaluation of loss and accuracy on held-out data.
// Loss conventions are nn's: mean over the batch of ½‖f − y‖² or of softmax cross-entropy.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "sgdsde/optim/sampler.hpp"
#include "sgdsde/optim/train.hpp"

namespace sgdsde {

/// Minibatch loss and gradient of an MLP on a fixed data set.
///
/// Holds the network (its spec, batch-norm buffers and a scratch parameter vector), a VIEW of the
/// inputs (d_in × N; the caller keeps that matrix alive and unchanged), a copy of the targets, and all
/// workspaces for batches of up to `max_batch` samples, so a call allocates nothing.
/// Targets: integer labels in [0, d_out) when the spec's loss is softmax cross-entropy (one per column),
/// or a d_out × N matrix for squared error.
/// Each call of loss_and_gradient counts as a training step: in train mode with batch norm it also
/// updates the network's running statistics (nn::update_batch_norm_statistics).
template <class Scalar_>
class MlpProblem {
 public:
  using Scalar = Scalar_;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  /// Classification. Throws if a label is out of range, counts differ, N = 0, or max_batch < 1.
  MlpProblem(nn::Mlp<Scalar> model, const Matrix& inputs, const std::vector<int>& labels, Eigen::Index max_batch)
      : model_(std::move(model)), inputs_(inputs.data(), inputs.rows(), inputs.cols()), ws_(model_, check(max_batch)) {
    const char* fn = "MlpProblem";
    require(model_.spec().loss == nn::Loss::softmax_cross_entropy, fn, "model.spec().loss",
            nn::to_string(model_.spec().loss), "softmax_cross_entropy for integer labels");
    check_inputs(fn, inputs, max_batch);
    require(Eigen::Index(labels.size()) == inputs.cols(), fn, "labels.size()", labels.size(),
            "one label per input column");
    labels_ = Eigen::Map<const Eigen::VectorXi>(labels.data(), Eigen::Index(labels.size()));
    nn::require_labels(fn, labels_, model_.output_dim());
    batch_labels_.resize(max_batch);
    batch_inputs_.resize(inputs.rows(), max_batch);
  }

  /// Regression with squared error: targets d_out × N.
  MlpProblem(nn::Mlp<Scalar> model, const Matrix& inputs, const Matrix& targets, Eigen::Index max_batch)
      : model_(std::move(model)), inputs_(inputs.data(), inputs.rows(), inputs.cols()), ws_(model_, check(max_batch)) {
    const char* fn = "MlpProblem";
    require(model_.spec().loss == nn::Loss::squared_error, fn, "model.spec().loss", nn::to_string(model_.spec().loss),
            "squared_error for real-valued targets");
    check_inputs(fn, inputs, max_batch);
    require_shape(fn, "targets", targets, model_.output_dim(), inputs.cols());
    require_finite(fn, "targets", targets);
    targets_ = targets;
    batch_targets_.resize(targets.rows(), max_batch);
    batch_inputs_.resize(inputs.rows(), max_batch);
  }

  Eigen::Index num_samples() const { return inputs_.cols(); }
  Eigen::Index num_parameters() const { return model_.num_parameters(); }
  bool is_classification() const { return model_.spec().loss == nn::Loss::softmax_cross_entropy; }
  /// The network's flat parameter vector, used by sgdsde::train as its iterate (no copy per step).
  Vector& parameter_storage() { return model_.parameters(); }
  /// The network; its parameters are those of the last call (loss_and_gradient or evaluate).
  nn::Mlp<Scalar>& model() { return model_; }
  const nn::Mlp<Scalar>& model() const { return model_; }

  /// Mean loss over the batch at θ and its gradient (train mode: batch statistics for batch norm).
  Scalar loss_and_gradient(const Eigen::Ref<const Vector>& theta, const Batch& batch, Eigen::Ref<Vector> gradient) {
    const char* fn = "MlpProblem::loss_and_gradient";
    require(theta.size() == num_parameters(), fn, "theta.size()", theta.size(), "num_parameters()");
    const Eigen::Index s = Eigen::Index(batch.size());
    require(s >= 1 && s <= ws_.max_batch, fn, "batch.size()", s, "1..max_batch");
    set_parameters(theta);
    for (Eigen::Index j = 0; j < s; ++j) {
      const Eigen::Index n = batch[std::size_t(j)];
      require(n >= 0 && n < num_samples(), fn, "batch index", n, "an index in 0..N-1");
      batch_inputs_.col(j) = inputs_.col(n);
      if (is_classification()) batch_labels_[j] = labels_[n];
      else batch_targets_.col(j) = targets_.col(n);
    }
    Scalar loss;
    if (is_classification())
      loss = nn::loss_and_gradient(model_, batch_inputs_.leftCols(s), batch_labels_.head(s), gradient, ws_);
    else
      loss = nn::loss_and_gradient(model_, batch_inputs_.leftCols(s), batch_targets_.leftCols(s), gradient, ws_);
    if (model_.spec().batch_norm) nn::update_batch_norm_statistics(model_, ws_);
    return loss;
  }

  /// Mean loss and accuracy (fraction of argmax f = label) of θ on labelled data, in eval mode, in
  /// chunks of max_batch columns. Inputs d_in × M, labels M in [0, d_out).
  Evaluation evaluate(const Eigen::Ref<const Vector>& theta, const Matrix& inputs, const std::vector<int>& labels) {
    const char* fn = "MlpProblem::evaluate";
    require(is_classification(), fn, "labels", "integer labels", "a classification problem");
    require_shape(fn, "inputs", inputs, model_.input_dim(), -1);
    require(inputs.cols() >= 1, fn, "inputs.cols()", inputs.cols(), ">= 1");
    require(Eigen::Index(labels.size()) == inputs.cols(), fn, "labels.size()", labels.size(), "inputs.cols()");
    require(theta.size() == num_parameters(), fn, "theta.size()", theta.size(), "num_parameters()");
    set_parameters(theta);
    const Eigen::Map<const Eigen::VectorXi> all(labels.data(), Eigen::Index(labels.size()));
    nn::require_labels(fn, all, model_.output_dim());
    double loss_sum = 0, correct = 0;
    Matrix out(model_.output_dim(), ws_.max_batch);
    for (Eigen::Index first = 0; first < inputs.cols(); first += ws_.max_batch) {
      const Eigen::Index m = std::min(ws_.max_batch, inputs.cols() - first);
      nn::forward(model_, inputs.middleCols(first, m), out.leftCols(m), ws_, nn::Mode::eval);
      for (Eigen::Index j = 0; j < m; ++j) {
        Eigen::Index arg;
        const double top = double(out.col(j).maxCoeff(&arg));
        if (arg == all[first + j]) correct += 1;
        // softmax cross-entropy log Σ_k exp f_k − f_y, shifted by the maximum (no overflow)
        loss_sum += top + std::log((out.col(j).template cast<double>().array() - top).exp().sum()) -
                    double(out(all[first + j], j));
      }
    }
    return Evaluation{loss_sum / double(inputs.cols()), correct / double(inputs.cols())};
  }

  /// Mean squared-error loss of θ on (inputs, targets), eval mode (accuracy NaN).
  Evaluation evaluate(const Eigen::Ref<const Vector>& theta, const Matrix& inputs, const Matrix& targets) {
    const char* fn = "MlpProblem::evaluate";
    require(!is_classification(), fn, "targets", "a matrix", "a squared-error problem");
    require_shape(fn, "inputs", inputs, model_.input_dim(), -1);
    require(inputs.cols() >= 1, fn, "inputs.cols()", inputs.cols(), ">= 1");
    require_shape(fn, "targets", targets, model_.output_dim(), inputs.cols());
    require(theta.size() == num_parameters(), fn, "theta.size()", theta.size(), "num_parameters()");
    set_parameters(theta);
    double loss_sum = 0;
    for (Eigen::Index first = 0; first < inputs.cols(); first += ws_.max_batch) {
      const Eigen::Index m = std::min(ws_.max_batch, inputs.cols() - first);
      loss_sum += double(nn::loss(model_, inputs.middleCols(first, m), targets.middleCols(first, m), ws_)) * double(m);
    }
    return Evaluation{loss_sum / double(inputs.cols()), std::numeric_limits<double>::quiet_NaN()};
  }

 private:
  static Eigen::Index check(Eigen::Index max_batch) {
    require(max_batch >= 1, "MlpProblem", "max_batch", max_batch, "an integer >= 1");
    return max_batch;
  }
  void check_inputs(const char* fn, const Matrix& inputs, Eigen::Index) const {
    require_shape(fn, "inputs", inputs, model_.input_dim(), -1);
    require(inputs.cols() >= 1, fn, "inputs.cols()", inputs.cols(), ">= 1 sample (non-empty data)");
    if (!all_finite(inputs)) require_finite(fn, "inputs", inputs);
  }
  void set_parameters(const Eigen::Ref<const Vector>& theta) {
    if (theta.data() != model_.parameters().data()) model_.parameters() = theta;
  }

  nn::Mlp<Scalar> model_;
  Eigen::Map<const Matrix> inputs_;
  nn::MlpWorkspace<Scalar> ws_;
  Eigen::VectorXi labels_, batch_labels_;
  Matrix targets_, batch_targets_, batch_inputs_;
};

}  // namespace sgdsde
