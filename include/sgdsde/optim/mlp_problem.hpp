// sgdsde/optim/mlp_problem.hpp — an nn::Mlp with a loss value over a data set (samples as columns) as a
// Problem for optim::train (train.hpp), and train(net, loss, inputs, options) that trains the network in
// place: minibatch SGD on L(θ) = (1/N) Σ_n l(f_θ(x_n), y_n) (Jastrzębski et al. 2018 eq. 4).
#pragma once

#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "sgdsde/optim/train.hpp"

namespace sgdsde::optim {

namespace detail {
/// The per-batch copy of a loss's data: the columns (targets) or entries (labels) of the batch's samples,
/// gathered into a buffer of max_batch samples, and the loss value viewing the first S of them.
template <class LossFn>
struct BatchLoss;

template <class Scalar>
struct BatchLoss<nn::SquaredError<Scalar>> {
  MatrixX<Scalar> buffer;
  BatchLoss(const nn::SquaredError<Scalar>& all, Index max_batch) : buffer(all.targets.rows(), max_batch) {}
  void gather(const nn::SquaredError<Scalar>& all, Index j, Index n) { buffer.col(j) = all.targets.col(n); }
  nn::SquaredError<Scalar> first(Index s) const { return nn::SquaredError<Scalar>(buffer.leftCols(s)); }
};

template <>
struct BatchLoss<nn::SoftmaxCrossEntropy> {
  Labels buffer;
  BatchLoss(const nn::SoftmaxCrossEntropy&, Index max_batch) : buffer(max_batch) {}
  void gather(const nn::SoftmaxCrossEntropy& all, Index j, Index n) { buffer[j] = all.labels[n]; }
  nn::SoftmaxCrossEntropy first(Index s) const { return nn::SoftmaxCrossEntropy(buffer.head(s)); }
};
}  // namespace detail

/// Minibatch loss and gradient of an MLP on a fixed data set, for train(problem, θ₀, options).
///
/// Holds references: the caller's network (whose parameter vector is the training iterate: after
/// train() the network holds the trained parameters), the loss value (a view of the targets or labels
/// of all N samples) and a view of the inputs (d_in × N); the caller keeps all three alive and
/// unchanged. Owns the workspaces for batches of up to `max_batch` samples: a call allocates nothing.
/// Each call of loss_and_gradient counts as a training step: in train mode with batch norm it also
/// updates the network's running statistics (nn::update_batch_norm_statistics).
template <class Scalar_, class LossFn>
class MlpProblem {
 public:
  using Scalar = Scalar_;
  using Vector = VectorX<Scalar>;

  /// Throws if the inputs are not d_in × N with N ≥ 1 and finite, the loss does not hold N valid targets
  /// (d_out × N, finite) or labels (N in [0, d_out)), or max_batch < 1.
  template <class Derived>
  MlpProblem(nn::Mlp<Scalar>& net, const LossFn& loss, const Eigen::MatrixBase<Derived>& inputs, Index max_batch)
      : net_(net),
        loss_(loss),
        inputs_(nn::detail::stored_view<MatrixX<Scalar>>("MlpProblem", "inputs", inputs)),
        ws_(net, check_batch(max_batch)),
        batch_loss_(loss, max_batch),
        batch_inputs_(net.input_dim(), max_batch) {
    nn::detail::static_check_loss<LossFn, Scalar>();
    const char* fn = "MlpProblem";
    require_shape(fn, "inputs", inputs_, net.input_dim(), -1);
    require(inputs_.cols() >= 1, fn, "inputs.cols()", inputs_.cols(), ">= 1 sample (non-empty data)");
    if (!all_finite(inputs_)) require_finite(fn, "inputs", inputs_);
    loss.check(fn, net.output_dim(), inputs_.cols());
  }
  MlpProblem(nn::Mlp<Scalar>&, const LossFn&, MatrixX<Scalar>&&, Index) = delete;  // the view would dangle

  Index num_samples() const { return inputs_.cols(); }
  Index num_parameters() const { return net_.num_parameters(); }
  Index max_batch() const { return batch_inputs_.cols(); }
  /// The network's flat parameter vector, used by optim::train as its iterate (no copy per step).
  Vector& parameter_storage() { return net_.parameters(); }
  nn::Mlp<Scalar>& network() { return net_; }

  /// Mean loss over the batch at θ and its gradient (train mode: batch statistics for batch norm).
  Scalar loss_and_gradient(const Eigen::Ref<const Vector>& theta, const Batch& batch, Eigen::Ref<Vector> gradient) {
    const char* fn = "MlpProblem::loss_and_gradient";
    require(theta.size() == num_parameters(), fn, "theta.size()", theta.size(), "num_parameters()");
    require(gradient.size() == num_parameters(), fn, "gradient.size()", gradient.size(), "num_parameters()");
    if (!all_finite(theta)) require_finite(fn, "theta", theta);
    const Index s = Index(batch.size());
    require(s >= 1 && s <= max_batch(), fn, "batch.size()", s, "1..max_batch");
    if (theta.data() != net_.parameters().data()) net_.parameters() = theta;
    for (Index j = 0; j < s; ++j) {
      const Index n = batch[std::size_t(j)];
      require(n >= 0 && n < num_samples(), fn, "batch index", n, "an index in 0..N-1");
      batch_inputs_.col(j) = inputs_.col(n);
      batch_loss_.gather(loss_, j, n);
    }
    const Scalar loss = nn::loss_and_gradient(net_, batch_loss_.first(s), batch_inputs_.leftCols(s), gradient, ws_);
    if (net_.spec().batch_norm) nn::update_batch_norm_statistics(net_, ws_);
    return loss;
  }

 private:
  static Index check_batch(Index max_batch) {
    require(max_batch >= 1, "MlpProblem", "max_batch", max_batch, "an integer >= 1");
    return max_batch;
  }

  nn::Mlp<Scalar>& net_;
  LossFn loss_;
  Eigen::Map<const MatrixX<Scalar>, 0, Eigen::OuterStride<>> inputs_;
  nn::MlpWorkspace<Scalar> ws_;
  detail::BatchLoss<LossFn> batch_loss_;
  MatrixX<Scalar> batch_inputs_;
};

template <class Scalar, class LossFn, class Derived>
MlpProblem(nn::Mlp<Scalar>&, const LossFn&, const Eigen::MatrixBase<Derived>&, Index) -> MlpProblem<Scalar, LossFn>;

/// Trains `net` in place by minibatch SGD on the mean loss over the data set (the loss value views the
/// targets or labels of all N samples, `inputs` is d_in × N), from the network's current parameters:
///   auto result = optim::train(net, nn::SoftmaxCrossEntropy(train.labels), train.inputs, options);
/// Each step gathers the batch's columns of inputs and targets/labels into preallocated buffers (batch
/// size up to the sampler's largest S). Everything else is train(problem, θ₀, options, observer): same
/// options, observer, outcomes and exceptions. The trained parameters are in `net` (the last finite
/// iterate if training stopped early), so the result is the TrainSummary alone; observers see
/// net.parameters() as Progress::parameters and may evaluate `net` itself. During training that vector's
/// buffer alternates with a second one; on return (or exception) the parameters are back in the
/// original buffer, so weights(l)/bias(l) maps and pointers taken before train() remain valid.
template <class Scalar, class LossFn, class Derived, class Observer = NoObserver>
TrainSummary train(nn::Mlp<Scalar>& net, const LossFn& loss, const Eigen::MatrixBase<Derived>& inputs,
                   const TrainOptions& options, Observer&& observer = {}) {
  const char* fn = "train";
  nn::detail::static_check_loss<LossFn, Scalar>();
  // The checks MlpProblem would make, here so that messages name train() and its arguments.
  require_shape(fn, "inputs", inputs, net.input_dim(), -1);
  require(inputs.cols() >= 1, fn, "inputs.cols()", inputs.cols(), ">= 1 sample (non-empty data)");
  if (!all_finite(inputs)) require_finite(fn, "inputs", inputs);
  loss.check(fn, net.output_dim(), inputs.cols());
  detail::check_options(fn, options, inputs.cols());
  require_finite(fn, "net.parameters()", net.parameters());
  MlpProblem<Scalar, LossFn> problem(net, loss, inputs, batch_size_of(options.sampler).max());
  TrainSummary result;
  detail::train_loop(problem, net.parameters(), options, observer, result);
  return result;
}

}  // namespace sgdsde::optim
