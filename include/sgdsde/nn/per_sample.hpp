// sgdsde/nn/per_sample.hpp — per-sample gradients ∇θ l_s of a batch (N_params × S, the raw material of
// the gradient-noise covariance C) and the parameter Jacobian of the outputs (for the empirical NTK).
#pragma once

#include <cstddef>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace sgdsde::nn {

namespace detail {

/// Reverse pass that keeps samples apart. On entry ws.delta[L−1] holds, column s, the adjoint of
/// sample s alone. Writes sample s's parameter gradient, element i, to out[s·sample_stride +
/// i·element_stride]. Per layer: one GEMM for the adjoint of the layer below, S outer products for
/// the weights. Requires batch norm off or eval mode (samples then do not interact).
template <class Scalar>
void per_sample_backward(const Mlp<Scalar>& model, const Eigen::Ref<const typename Mlp<Scalar>::Matrix>& x,
                         MlpWorkspace<Scalar>& ws, Scalar* out, Eigen::Index sample_stride,
                         Eigen::Index element_stride) {
  using Matrix = typename Mlp<Scalar>::Matrix;
  using StridedMap = Eigen::Map<Matrix, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
  using StridedVec = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>, 0, Eigen::InnerStride<Eigen::Dynamic>>;
  const Eigen::Index S = x.cols();
  const Eigen::Index L = model.num_layers();
  const Scalar slope(model.spec().leaky_relu_slope);
  const Eigen::Index es = element_stride;
  for (Eigen::Index l = L - 1; l >= 0; --l) {
    const std::size_t k = std::size_t(l);
    const Activation act = l + 1 < L ? model.spec().hidden_activation : model.spec().output_activation;
    auto d = ws.delta[k].leftCols(S);
    multiply_by_activation_derivative(act, slope, ws.pre[k].leftCols(S), ws.post[k].leftCols(S), d);
    const Scalar cw = model.weight_multiplier(l);
    const Scalar cb = model.bias_multiplier(l);
    const Eigen::Index n_out = model.width(l + 1), n_in = model.width(l);
    if (model.has_batch_norm(l)) {
      for (Eigen::Index s = 0; s < S; ++s) {
        Scalar* o = out + s * sample_stride;
        StridedVec(o + model.bn_scale_offset(l) * es, n_out, Eigen::InnerStride<>(es)) =
            d.col(s).cwiseProduct(ws.bn_hat[k].col(s));
        StridedVec(o + model.bn_shift_offset(l) * es, n_out, Eigen::InnerStride<>(es)) = d.col(s);
      }
      batch_norm_eval_backward(ws.bn_hat[k].leftCols(S), model.bn_scale(l), ws.bn_inv_std[k], d,
                               static_cast<Scalar*>(nullptr), static_cast<Scalar*>(nullptr));
    }
    for (Eigen::Index s = 0; s < S; ++s) {
      Scalar* o = out + s * sample_stride;
      StridedMap gw(o + model.weights_offset(l) * es, n_out, n_in,
                    Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(n_out * es, es));
      if (l == 0)
        gw.noalias() = (cw * d.col(s)) * x.col(s).transpose();
      else
        gw.noalias() = (cw * d.col(s)) * ws.post[k - 1].col(s).transpose();
      StridedVec(o + model.bias_offset(l) * es, n_out, Eigen::InnerStride<>(es)) = cb * d.col(s);
    }
    if (l > 0) gemm_tn<Scalar>(ws.delta[k - 1].leftCols(S), cw, model.weights(l), d);
  }
}

template <class Scalar>
void require_per_sample_mode(const char* fn, const Mlp<Scalar>& model, Mode mode) {
  require(!(model.spec().batch_norm && mode == Mode::train), fn, "mode", "train with batch norm",
          "eval (per-sample quantities are undefined when batch statistics couple the samples)");
}

template <class Scalar, class Targets>
Scalar per_sample_impl(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                       const Targets& targets, typename Mlp<Scalar>::MatrixRef gradients, MlpWorkspace<Scalar>& ws,
                       Mode mode) {
  const char* fn = "per_sample_gradients";
  const Eigen::Index S = check_inputs(fn, model, inputs, ws);
  check_targets(fn, model, targets, S);
  require_per_sample_mode(fn, model, mode);
  require_shape(fn, "gradients", gradients, model.num_parameters(), S);
  forward_pass(model, inputs, ws, mode);
  const Scalar sum = output_adjoint(model, targets, ws, Scalar(1));
  per_sample_backward<Scalar>(model, inputs, ws, gradients.data(), gradients.outerStride(),
                              gradients.innerStride());
  return sum / Scalar(double(S));
}

}  // namespace detail

/// Per-sample gradients: column s of `gradients` (num_parameters × S) is ∇θ l(f(x_s), y_s), the
/// gradient of sample s's loss WITHOUT the 1/S factor, so the row mean is the batch gradient of
/// loss_and_gradient. Returns the mean loss. Default (and required with batch norm) eval mode.
template <class Scalar>
Scalar per_sample_gradients(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                            const typename Mlp<Scalar>::ConstMatrixRef& targets,
                            typename Mlp<Scalar>::MatrixRef gradients, MlpWorkspace<Scalar>& ws,
                            Mode mode = Mode::eval) {
  return detail::per_sample_impl(model, inputs, targets, gradients, ws, mode);
}
template <class Scalar>
Scalar per_sample_gradients(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                            const typename Mlp<Scalar>::LabelsRef& labels, typename Mlp<Scalar>::MatrixRef gradients,
                            MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  return detail::per_sample_impl(model, inputs, labels, gradients, ws, mode);
}

/// Parameter Jacobian of the outputs: J is (S·d_out) × num_parameters with row s·d_out + k equal to
/// ∂f_k(x_s)/∂θ (sample-major, i.e. the rows follow vec(F) of the d_out × S output matrix). The
/// empirical NTK of the batch is J Jᵀ. Cost: d_out reverse passes. Eval mode required with batch norm.
template <class Scalar>
void output_jacobian(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                     typename Mlp<Scalar>::MatrixRef jacobian, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const char* fn = "output_jacobian";
  const Eigen::Index S = detail::check_inputs(fn, model, inputs, ws);
  detail::require_per_sample_mode(fn, model, mode);
  const Eigen::Index d_out = model.output_dim();
  require_shape(fn, "jacobian", jacobian, S * d_out, model.num_parameters());
  detail::forward_pass(model, inputs, ws, mode);
  const std::size_t last = std::size_t(model.num_layers() - 1);
  for (Eigen::Index k = 0; k < d_out; ++k) {
    auto d = ws.delta[last].leftCols(S);
    d.setZero();
    d.row(k).setOnes();
    detail::per_sample_backward<Scalar>(model, inputs, ws, jacobian.data() + k * jacobian.innerStride(),
                                        d_out * jacobian.innerStride(), jacobian.outerStride());
  }
}

}  // namespace sgdsde::nn
