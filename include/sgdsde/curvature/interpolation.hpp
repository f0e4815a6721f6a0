// sgdsde/curvature/interpolation.hpp — loss and accuracy of an MLP along the line θ(α) = (1−α)θ₁ + αθ₂ between two
// trained networks, on training and validation data (Jastrzębski et al. 2018 Fig. 4, following Goodfellow et al.).
//
// Batch norm: at θ(α) the pre-activations have a distribution of their own, unlike either endpoint's. Evaluating
// θ(α) with running statistics interpolated like parameters (or taken from one endpoint) normalises with the wrong
// mean and variance, which inflates the loss between and beyond the minima and draws a barrier that is an artefact
// of stale statistics, not of the loss surface. So at each α the running statistics are RECOMPUTED on the training
// data before evaluating; the curve with interpolated statistics is returned alongside for comparison.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/curvature/hessian.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace sgdsde::curvature {

/// Recomputes the batch-norm running statistics of `net` from the training inputs (d_in × N): a pass in train
/// mode over ⌈N/chunk_size⌉ nearly equal chunks, each normalising with its own batch statistics (as training
/// does), and the running mean/variance of layer l set to the mean and the unbiased variance (× N/(N−1),
/// PyTorch convention) of its pre-activations over all N samples, pooled exactly across chunks (not a
/// momentum average). Upstream layers see chunk statistics, so the result depends weakly on chunk_size
/// (the usual "recompute BN statistics" of SWA; chunk_size ≥ a few hundred makes this negligible).
/// Parameters are not touched; a network without batch norm is left as it is. Throws invalid_argument on
/// inputs of the wrong shape or non-finite, chunk_size < 1.
template <class Scalar, class Derived>
void recompute_batch_norm_statistics(nn::Mlp<Scalar>& net, const Eigen::MatrixBase<Derived>& inputs,
                                     Index chunk_size = 1024) {
  const char* fn = "recompute_batch_norm_statistics";
  require(chunk_size >= 1, fn, "chunk_size", chunk_size, "an integer >= 1");
  require_shape(fn, "inputs", inputs, net.input_dim(), -1);
  require(inputs.cols() >= 1, fn, "inputs.cols()", inputs.cols(), "at least 1 sample (column)");
  if (!all_finite(inputs)) require_finite(fn, "inputs", inputs);
  if (!net.spec().batch_norm) return;
  const Index n = inputs.cols(), k = (n + chunk_size - 1) / chunk_size, max_chunk = (n + k - 1) / k;
  nn::MlpWorkspace<Scalar> ws(net, max_chunk);
  MatrixX<Scalar> out(net.output_dim(), max_chunk);
  const std::size_t L = std::size_t(net.num_layers());
  std::vector<Eigen::VectorXd> mean(L), m2(L);
  for (std::size_t l = 0; l < L; ++l)
    if (net.has_batch_norm(Index(l))) {
      mean[l] = Eigen::VectorXd::Zero(net.width(Index(l) + 1));
      m2[l] = mean[l];
    }
  Index seen = 0;
  for (Index c = 0; c < k; ++c) {
    const Index first = c * (n / k) + std::min(c, n % k), count = n / k + (c < n % k ? 1 : 0);
    nn::forward(net, inputs.middleCols(first, count), out.leftCols(count), ws, nn::Mode::train);
    const double total = double(seen + count);
    for (std::size_t l = 0; l < L; ++l) {
      if (!net.has_batch_norm(Index(l))) continue;
      const Eigen::VectorXd cm = ws.bn_mean[l].template cast<double>(), cv = ws.bn_var[l].template cast<double>();
      const Eigen::VectorXd delta = cm - mean[l];
      m2[l] += cv * double(count) + delta.cwiseAbs2() * (double(seen) * double(count) / total);
      mean[l] += delta * (double(count) / total);
    }
    seen += count;
  }
  const double unbias = n > 1 ? double(n - 1) : 1.0;
  for (std::size_t l = 0; l < L; ++l)
    if (net.has_batch_norm(Index(l))) {
      net.running_mean(Index(l)) = mean[l].template cast<Scalar>();
      net.running_var(Index(l)) = (m2[l] / unbias).template cast<Scalar>();
    }
}

/// Where to evaluate and how.
struct InterpolationOptions {
  std::vector<double> alphas;  ///< points α (any finite values); empty: −1, −0.9, …, 2 (31 points)
  Index chunk_size = 1024;     ///< samples per pass (evaluation and statistics recomputation)
  bool interpolated_statistics_curve = true;  ///< also evaluate with running statistics interpolated (batch norm)
};

/// Loss (mean over the set, eval mode) and accuracy (classification sets; empty for regression) at each α.
struct InterpolationCurve {
  std::vector<double> train_loss, train_accuracy, validation_loss, validation_accuracy;
};

/// The curves along θ(α) = (1−α)θ₁ + αθ₂.
struct Interpolation {
  std::vector<double> alpha;
  /// With batch norm, running statistics recomputed on the training data at each α (the meaningful curve);
  /// without batch norm, the one curve.
  InterpolationCurve recomputed;
  /// With running statistics interpolated like parameters, (1−α)r₁ + αr₂ (what evaluating an interpolated
  /// state dict gives); empty without batch norm or when not requested.
  InterpolationCurve interpolated;
  Outcome outcome;  ///< non_finite at the first α (step = its index) where a loss is not finite
};

namespace detail {
inline bool same_architecture(const nn::MlpSpec& a, const nn::MlpSpec& b) {
  return a.widths == b.widths && a.hidden_activation == b.hidden_activation &&
         a.output_activation == b.output_activation && a.parameterization == b.parameterization &&
         a.sigma_w == b.sigma_w && a.sigma_b == b.sigma_b && a.leaky_relu_slope == b.leaky_relu_slope &&
         a.batch_norm == b.batch_norm && a.batch_norm_epsilon == b.batch_norm_epsilon;
}

/// Mean loss and accuracy over a data set in eval mode, by chunks.
template <class Scalar>
void evaluate_on(const nn::Mlp<Scalar>& net, const Dataset<Scalar>& data, Index chunk_size,
                 std::vector<double>& losses, std::vector<double>& accuracies) {
  with_dataset_loss("interpolate", data, [&](const auto& loss) {
    DataPassOptions o;
    o.chunk_size = chunk_size;
    const ChunkedData<Scalar, std::decay_t<decltype(loss)>> chunks("interpolate", net, loss, data.inputs, o);
    nn::MlpWorkspace<Scalar> ws(net, chunks.max_chunk());
    MatrixX<Scalar> f(net.output_dim(), chunks.max_chunk()), adjoint(net.output_dim(), chunks.max_chunk());
    double sum = 0;
    Index correct = 0, offset = 0;
    chunks.for_each_chunk([&](const auto& x, const auto& chunk_loss, Scalar) {
      const Index s = x.cols();
      nn::forward(net, x, f.leftCols(s), ws, nn::Mode::eval);
      sum += double(chunk_loss.sum_and_adjoint(f.leftCols(s), adjoint.leftCols(s), Scalar(1)));
      if (data.has_labels())
        for (Index j = 0; j < s; ++j) {
          Index best = 0;
          f.col(j).maxCoeff(&best);
          correct += best == data.labels[offset + j];
        }
      offset += s;
    });
    losses.push_back(sum / double(data.num_samples()));
    if (data.has_labels()) accuracies.push_back(double(correct) / double(data.num_samples()));
  });
}
}  // namespace detail

/// Loss and accuracy of θ(α) = (1−α)θ₁ + αθ₂ (θ₁ = first's parameters, α = 0; θ₂ = second's, α = 1) on the
/// training and validation sets (Jastrzębski Fig. 4). With batch norm the running statistics are recomputed
/// on the training inputs at every α (recompute_batch_norm_statistics; see the header comment for why) and,
/// if requested, also interpolated like parameters for the second curve. Losses are means over the set in
/// eval mode (squared error on targets or softmax cross-entropy on labels). Cost per α: one train-mode pass
/// over the training set (batch norm only) and one eval pass over each set per curve. Neither network is
/// modified. Throws invalid_argument unless both networks have the same architecture and finite parameters,
/// the sets are valid, of the same kind (targets or labels) and fit the network, α finite, chunk_size ≥ 1.
template <class Scalar>
Interpolation interpolate(const nn::Mlp<Scalar>& first, const nn::Mlp<Scalar>& second, const Dataset<Scalar>& train,
                          const Dataset<Scalar>& validation, InterpolationOptions options = {}) {
  const char* fn = "interpolate";
  require(detail::same_architecture(first.spec(), second.spec()), fn, "second", "a network of another architecture",
          "the architecture of `first` (widths, activations, parameterisation, batch norm)");
  detail::require_finite_parameters(fn, first, "first");
  detail::require_finite_parameters(fn, second, "second");
  train.validate(fn, "train");
  validation.validate(fn, "validation");
  require(train.has_labels() == validation.has_labels(), fn, "validation", "a set of another kind",
          "targets if train has targets, labels if train has labels");
  require(options.chunk_size >= 1, fn, "options.chunk_size", options.chunk_size, "an integer >= 1");
  std::vector<double> alphas = options.alphas;
  if (alphas.empty())
    for (int i = 0; i <= 30; ++i) alphas.push_back(-1.0 + 0.1 * i);
  for (std::size_t i = 0; i < alphas.size(); ++i)
    require(std::isfinite(alphas[i]), fn, "options.alphas", alphas[i], "finite values");
  const bool bn = first.spec().batch_norm;
  for (Index l = 0; bn && l < first.num_layers(); ++l)
    if (first.has_batch_norm(l))
      for (const nn::Mlp<Scalar>* m : {&first, &second}) {
        require_finite(fn, m == &first ? "first.running_mean" : "second.running_mean", m->running_mean(l));
        require_finite(fn, m == &first ? "first.running_var" : "second.running_var", m->running_var(l));
      }

  Interpolation r;
  r.alpha = alphas;
  nn::Mlp<Scalar> net(first);
  for (std::size_t i = 0; i < alphas.size(); ++i) {
    const Scalar a = Scalar(alphas[i]);
    net.parameters() = (Scalar(1) - a) * first.parameters() + a * second.parameters();
    if (bn && options.interpolated_statistics_curve) {
      for (Index l = 0; l < net.num_layers(); ++l)
        if (net.has_batch_norm(l)) {
          net.running_mean(l) = (Scalar(1) - a) * first.running_mean(l) + a * second.running_mean(l);
          net.running_var(l) = (Scalar(1) - a) * first.running_var(l) + a * second.running_var(l);
        }
      detail::evaluate_on(net, train, options.chunk_size, r.interpolated.train_loss, r.interpolated.train_accuracy);
      detail::evaluate_on(net, validation, options.chunk_size, r.interpolated.validation_loss,
                          r.interpolated.validation_accuracy);
    }
    if (bn) recompute_batch_norm_statistics(net, train.inputs, options.chunk_size);
    detail::evaluate_on(net, train, options.chunk_size, r.recomputed.train_loss, r.recomputed.train_accuracy);
    detail::evaluate_on(net, validation, options.chunk_size, r.recomputed.validation_loss,
                        r.recomputed.validation_accuracy);
    if (r.outcome.ok()) {
      const double losses[] = {r.recomputed.train_loss.back(), r.recomputed.validation_loss.back()};
      for (double v : losses)
        if (!std::isfinite(v)) {
          r.outcome = Outcome::failure(Status::non_finite, long(i), alphas[i], "interpolate: loss not finite at this alpha");
          break;
        }
    }
  }
  return r;
}

}  // namespace sgdsde::curvature
