// sgdsde/nn/gradient.hpp — the public network functions: outputs, the mean loss, its exact reverse-mode
// gradient in the parameters or the inputs, output VJPs, accuracy and the batch-norm statistics update.
// Each comes as a returning form (allocates) and a write-into form with an MlpWorkspace (allocates
// nothing; for hot loops). Argument order everywhere: (net, loss, inputs, ...outputs, workspace, mode).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include <Eigen/Core>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/detail/passes.hpp"
#include "sgdsde/nn/loss.hpp"
#include "sgdsde/nn/network.hpp"
#include "sgdsde/nn/workspace.hpp"

namespace sgdsde::nn {

/// Loss and gradient of a returning call; outcome is Status::non_finite if either is not finite.
template <class Scalar>
struct LossAndGradient {
  Scalar loss{};
  VectorX<Scalar> gradient;
  Outcome outcome;
};

/// Status of a loss/gradient evaluation: success, or Status::non_finite (value = the loss, message
/// naming the first non-finite entry) when the loss or the gradient is not finite — e.g. after the
/// parameters diverged. Cheap (one pass over the gradient).
template <class Scalar, class Derived>
Outcome gradient_outcome(Scalar loss, const Eigen::MatrixBase<Derived>& gradient) {
  using std::isfinite;
  if (!isfinite(loss)) return Outcome::failure(Status::non_finite, -1, double(loss), "loss is not finite");
  if (!gradient.allFinite()) {
    for (Index i = 0; i < gradient.size(); ++i)
      if (!isfinite(gradient(i)))
        return Outcome::failure(Status::non_finite, -1, double(loss),
                                "gradient entry " + std::to_string(i) + " is not finite");
  }
  return Outcome{};
}

namespace detail {

/// Checks inputs, workspace and loss, runs the forward pass and leaves scale·∂(Σ_s l_s)/∂F in
/// ws.delta[L−1]; returns Σ_s l_s.
template <class Scalar, class LossFn>
Scalar forward_and_adjoint(const char* fn, const Mlp<Scalar>& model, const LossFn& loss_fn,
                           const ConstMatrixRefT<Scalar>& inputs, MlpWorkspace<Scalar>& ws, Mode mode,
                           bool mean_adjoint) {
  static_check_loss<LossFn, Scalar>();
  const Index S = check_inputs(fn, model, inputs, ws);
  loss_fn.check(fn, model.output_dim(), S);
  forward_pass(model, inputs, ws, mode);
  const std::size_t last = std::size_t(model.num_layers() - 1);
  const Scalar scale = mean_adjoint ? Scalar(1) / Scalar(double(S)) : Scalar(1);
  return loss_fn.sum_and_adjoint(ws.post[last].leftCols(S), ws.delta[last].leftCols(S), scale);
}

/// forward_and_adjoint, then the reverse pass into `sink`; returns the mean loss.
template <class Scalar, class LossFn, class Sink>
Scalar mean_loss_backward(const char* fn, const Mlp<Scalar>& model, const LossFn& loss_fn,
                          const ConstMatrixRefT<Scalar>& inputs, MlpWorkspace<Scalar>& ws, Mode mode,
                          bool mean_adjoint, Sink&& sink) {
  const Scalar sum = forward_and_adjoint(fn, model, loss_fn, inputs, ws, mode, mean_adjoint);
  reverse_pass(model, inputs, ws, sink);
  return sum / Scalar(double(inputs.cols()));
}

}  // namespace detail

/// Forward pass: outputs (d_out × S) = f(inputs), inputs d_in × S with 1 ≤ S ≤ ws.max_batch.
/// Default eval mode (running batch-norm statistics). Throws invalid_argument on wrong shapes,
/// non-finite inputs or a workspace made for another network.
template <class Scalar>
void forward(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
             typename Mlp<Scalar>::MatrixRef outputs, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const Index S = detail::check_inputs("forward", net, inputs, ws);
  require_shape("forward", "outputs", outputs, net.output_dim(), S);
  detail::forward_pass(net, inputs, ws, mode);
  outputs = ws.post[std::size_t(net.num_layers() - 1)].leftCols(S);
}
/// Returning form: f(inputs), d_out × S.
template <class Scalar>
MatrixX<Scalar> forward(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                        Mode mode = Mode::eval) {
  MlpWorkspace<Scalar> ws(net, std::max<Index>(inputs.cols(), 1));
  MatrixX<Scalar> out(net.output_dim(), inputs.cols());
  forward(net, inputs, out, ws, mode);
  return out;
}

/// Mean loss (1/S) Σ_s l(f(x_s), y_s) of the batch; `loss_fn` is SquaredError(targets) or
/// SoftmaxCrossEntropy(labels) for the same S samples. Default eval mode.
template <class Scalar, class LossFn>
Scalar loss(const Mlp<Scalar>& net, const LossFn& loss_fn, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
            MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  return detail::forward_and_adjoint("loss", net, loss_fn, inputs, ws, mode, false) / Scalar(double(inputs.cols()));
}
template <class Scalar, class LossFn>
Scalar loss(const Mlp<Scalar>& net, const LossFn& loss_fn, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
            Mode mode = Mode::eval) {
  MlpWorkspace<Scalar> ws(net, std::max<Index>(inputs.cols(), 1));
  return loss(net, loss_fn, inputs, ws, mode);
}

/// Mean loss and its gradient dL/dθ written to `gradient` (num_parameters); returns the loss. Default
/// train mode (batch statistics; running statistics are NOT updated — call
/// update_batch_norm_statistics). Exact up to rounding.
template <class Scalar, class LossFn>
Scalar loss_and_gradient(const Mlp<Scalar>& net, const LossFn& loss_fn,
                         const typename Mlp<Scalar>::ConstMatrixRef& inputs, typename Mlp<Scalar>::VectorRef gradient,
                         MlpWorkspace<Scalar>& ws, Mode mode = Mode::train) {
  const char* fn = "loss_and_gradient";
  require_shape(fn, "gradient", gradient, net.num_parameters(), 1);
  return detail::mean_loss_backward(fn, net, loss_fn, inputs, ws, mode, true,
                                    detail::GradientSink<Scalar>{net, ws, mode, gradient.data(), nullptr});
}
/// Returning form: {loss, gradient, outcome}.
template <class Scalar, class LossFn>
LossAndGradient<Scalar> loss_and_gradient(const Mlp<Scalar>& net, const LossFn& loss_fn,
                                          const typename Mlp<Scalar>::ConstMatrixRef& inputs, Mode mode = Mode::train) {
  MlpWorkspace<Scalar> ws(net, std::max<Index>(inputs.cols(), 1));
  LossAndGradient<Scalar> r;
  r.gradient.resize(net.num_parameters());
  r.loss = loss_and_gradient(net, loss_fn, inputs, r.gradient, ws, mode);
  r.outcome = gradient_outcome(r.loss, r.gradient);
  return r;
}

/// Gradient of the mean loss with respect to the INPUTS, dL/dX (d_in × S); returns the loss.
/// Default train mode. (Column s is (1/S)·∂l_s/∂x_s when batch norm is off or in eval mode.)
template <class Scalar, class LossFn>
Scalar loss_input_gradient(const Mlp<Scalar>& net, const LossFn& loss_fn,
                           const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                           typename Mlp<Scalar>::MatrixRef input_gradient, MlpWorkspace<Scalar>& ws,
                           Mode mode = Mode::train) {
  const char* fn = "loss_input_gradient";
  require_shape(fn, "input_gradient", input_gradient, net.input_dim(), inputs.cols());
  return detail::mean_loss_backward(fn, net, loss_fn, inputs, ws, mode, true,
                                    detail::GradientSink<Scalar>{net, ws, mode, nullptr, &input_gradient});
}
/// Result of a returning loss_input_gradient; outcome is non_finite if the loss or dL/dX is not finite.
template <class Scalar>
struct LossAndInputGradient {
  Scalar loss{};
  MatrixX<Scalar> input_gradient;  ///< d_in × S
  Outcome outcome;
};
/// Returning form: {loss, input_gradient, outcome}.
template <class Scalar, class LossFn>
LossAndInputGradient<Scalar> loss_input_gradient(const Mlp<Scalar>& net, const LossFn& loss_fn,
                                                 const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                                                 Mode mode = Mode::train) {
  MlpWorkspace<Scalar> ws(net, std::max<Index>(inputs.cols(), 1));
  LossAndInputGradient<Scalar> r;
  r.input_gradient.resize(net.input_dim(), inputs.cols());
  r.loss = loss_input_gradient(net, loss_fn, inputs, r.input_gradient, ws, mode);
  r.outcome = gradient_outcome(r.loss, r.input_gradient);
  return r;
}

/// Vector–Jacobian product of the outputs: with F = f(X) (d_out × S) and a cotangent U of the same
/// shape, parameter_vjp = Σ_{k,s} U_ks ∂F_ks/∂θ (num_parameters) and input_vjp = ∂⟨U, F⟩/∂X
/// (d_in × S). Pass an empty (0-size) vector/matrix to skip either. Default eval mode.
template <class Scalar>
void output_vjp(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                const typename Mlp<Scalar>::ConstMatrixRef& cotangent, typename Mlp<Scalar>::VectorRef parameter_vjp,
                typename Mlp<Scalar>::MatrixRef input_vjp, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const char* fn = "output_vjp";
  const Index S = detail::check_inputs(fn, net, inputs, ws);
  require_shape(fn, "cotangent", cotangent, net.output_dim(), S);
  if (!cotangent.allFinite()) require_finite(fn, "cotangent", cotangent);
  const bool want_p = parameter_vjp.size() != 0, want_x = input_vjp.size() != 0;
  if (want_p) require_shape(fn, "parameter_vjp", parameter_vjp, net.num_parameters(), 1);
  if (want_x) require_shape(fn, "input_vjp", input_vjp, net.input_dim(), S);
  detail::forward_pass(net, inputs, ws, mode);
  ws.delta[std::size_t(net.num_layers() - 1)].leftCols(S) = cotangent;
  detail::GradientSink<Scalar> sink{net, ws, mode, want_p ? parameter_vjp.data() : nullptr,
                                    want_x ? &input_vjp : nullptr};
  detail::reverse_pass(net, inputs, ws, sink);
}
/// Result of a returning output_vjp; outcome is non_finite (message naming the first bad entry) if
/// either product has a non-finite entry.
template <class Scalar>
struct OutputVjp {
  VectorX<Scalar> parameter_vjp;  ///< Σ_{k,s} U_ks ∂F_ks/∂θ, num_parameters
  MatrixX<Scalar> input_vjp;      ///< ∂⟨U, F⟩/∂X, d_in × S
  Outcome outcome;
};
/// Returning form: both products.
template <class Scalar>
OutputVjp<Scalar> output_vjp(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                             const typename Mlp<Scalar>::ConstMatrixRef& cotangent, Mode mode = Mode::eval) {
  MlpWorkspace<Scalar> ws(net, std::max<Index>(inputs.cols(), 1));
  OutputVjp<Scalar> r;
  r.parameter_vjp.resize(net.num_parameters());
  r.input_vjp.resize(net.input_dim(), inputs.cols());
  output_vjp(net, inputs, cotangent, r.parameter_vjp, r.input_vjp, ws, mode);
  if (!all_finite(r.parameter_vjp))
    r.outcome = Outcome::failure(Status::non_finite, -1, 0.0, "parameter_vjp is not finite");
  else if (!all_finite(r.input_vjp))
    r.outcome = Outcome::failure(Status::non_finite, -1, 0.0, "input_vjp is not finite");
  return r;
}

/// Fraction of the columns of `inputs` whose largest output is the label (eval mode), in [0, 1].
template <class Scalar>
double accuracy(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                const Eigen::Ref<const Labels>& labels) {
  const char* fn = "accuracy";
  require_shape(fn, "inputs", inputs, net.input_dim(), -1);
  require(inputs.cols() >= 1, fn, "inputs.cols()", inputs.cols(), "a batch of at least 1 sample");
  if (!inputs.allFinite()) require_finite(fn, "inputs", inputs);
  require(labels.size() == inputs.cols(), fn, "labels.size()", labels.size(), "one label per input column");
  require_labels(fn, labels, net.output_dim());
  const MatrixX<Scalar> f = forward(net, inputs);
  Index correct = 0;
  for (Index s = 0; s < f.cols(); ++s) {
    Index k = 0;
    f.col(s).maxCoeff(&k);
    correct += k == labels[s];
  }
  return double(correct) / double(f.cols());
}
/// Same on a classification Dataset.
template <class Scalar>
double accuracy(const Mlp<Scalar>& net, const Dataset<Scalar>& data) {
  require(data.has_labels(), "accuracy", "data", "a set without labels", "a classification Dataset");
  return accuracy(net, data.inputs, data.labels);
}

/// Running-statistics update from the batch statistics of the last train-mode pass held in `ws`
/// (see MlpSpec). No-op for networks without batch norm. Throws if `ws` holds no batch statistics.
template <class Scalar>
void update_batch_norm_statistics(Mlp<Scalar>& net, const MlpWorkspace<Scalar>& ws) {
  if (!net.spec().batch_norm) return;
  detail::check_workspace("update_batch_norm_statistics", "workspace", net, ws);
  require(ws.has_batch_statistics, "update_batch_norm_statistics", "workspace", "without batch statistics",
          "a workspace whose last forward pass was in train mode");
  const Scalar m(net.spec().batch_norm_momentum);
  const Index S = ws.batch;
  const Scalar unbias = S > 1 ? Scalar(double(S) / double(S - 1)) : Scalar(1);
  for (Index l = 0; l < net.num_layers(); ++l) {
    if (!net.has_batch_norm(l)) continue;
    const std::size_t k = std::size_t(l);
    net.running_mean(l) = (Scalar(1) - m) * net.running_mean(l) + m * ws.bn_mean[k];
    net.running_var(l) = (Scalar(1) - m) * net.running_var(l) + (m * unbias) * ws.bn_var[k];
  }
}

}  // namespace sgdsde::nn
