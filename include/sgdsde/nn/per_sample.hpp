// sgdsde/nn/per_sample.hpp — per-sample gradients ∇θ l_s of a batch (P × S, the raw material of the
// gradient-noise covariance C) and the parameter Jacobian of the outputs (for the empirical NTK).
#pragma once

#include <algorithm>
#include <cstddef>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/gradient.hpp"

namespace sgdsde::nn {

namespace detail {

/// Sink that keeps samples apart: sample s's parameter gradient, element i, goes to
/// out[s·sample_stride + i·element_stride] (S outer products per layer instead of one GEMM).
/// Requires batch norm off or eval mode (samples then do not interact).
template <class Scalar>
struct PerSampleSink {
  using StridedMap = Eigen::Map<MatrixX<Scalar>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
  using StridedVec = Eigen::Map<VectorX<Scalar>, 0, Eigen::InnerStride<Eigen::Dynamic>>;
  const Mlp<Scalar>& model;
  const MlpWorkspace<Scalar>& ws;
  Scalar* out;
  Index sample_stride, element_stride;

  StridedVec block(Index s, Index offset, Index n) const {
    return {out + s * sample_stride + offset * element_stride, n, Eigen::InnerStride<>(element_stride)};
  }

  template <class D>
  void before_activation(Index, D&) {}

  template <class D>
  void batch_norm(Index l, D& d) {
    const std::size_t k = std::size_t(l);
    const Index S = d.cols(), n = model.width(l + 1);
    for (Index s = 0; s < S; ++s) {
      block(s, model.bn_scale_offset(l), n) = d.col(s).cwiseProduct(ws.bn_hat[k].col(s));
      block(s, model.bn_shift_offset(l), n) = d.col(s);
    }
    batch_norm_eval_backward(ws.bn_hat[k].leftCols(S), model.bn_scale(l), ws.bn_inv_std[k], d,
                             static_cast<Scalar*>(nullptr), static_cast<Scalar*>(nullptr));
  }

  template <class D, class Z>
  void dense(Index l, const D& d, const Z& z) {
    const Index n_out = model.width(l + 1), n_in = model.width(l), es = element_stride;
    const Scalar cw = model.weight_multiplier(l), cb = model.bias_multiplier(l);
    for (Index s = 0; s < d.cols(); ++s) {
      StridedMap gw(out + s * sample_stride + model.weights_offset(l) * es, n_out, n_in,
                    Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(n_out * es, es));
      gw.noalias() = (cw * d.col(s)) * z.col(s).transpose();
      block(s, model.bias_offset(l), n_out) = cb * d.col(s);
    }
  }

  template <class D>
  void input(const D&) {}
};

template <class Scalar>
void require_per_sample_mode(const char* fn, const Mlp<Scalar>& model, Mode mode) {
  require(!(model.spec().batch_norm && mode == Mode::train), fn, "mode", "train with batch norm",
          "eval (per-sample quantities are undefined when batch statistics couple the samples)");
}

}  // namespace detail

/// Per-sample gradients: column s of `gradients` (num_parameters × S) is ∇θ l(f(x_s), y_s), the
/// gradient of sample s's loss WITHOUT the 1/S factor, so the row mean is the batch gradient of
/// loss_and_gradient. Returns the mean loss. Default (and required with batch norm) eval mode.
template <class Scalar, class LossFn>
Scalar per_sample_gradients(const Mlp<Scalar>& net, const LossFn& loss_fn,
                            const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                            typename Mlp<Scalar>::MatrixRef gradients, MlpWorkspace<Scalar>& ws,
                            Mode mode = Mode::eval) {
  const char* fn = "per_sample_gradients";
  detail::require_per_sample_mode(fn, net, mode);
  require_shape(fn, "gradients", gradients, net.num_parameters(), inputs.cols());
  return detail::mean_loss_backward(
      fn, net, loss_fn, inputs, ws, mode, false,
      detail::PerSampleSink<Scalar>{net, ws, gradients.data(), gradients.outerStride(), gradients.innerStride()});
}
/// Returning form: the num_parameters × S matrix of per-sample gradients.
template <class Scalar, class LossFn>
MatrixX<Scalar> per_sample_gradients(const Mlp<Scalar>& net, const LossFn& loss_fn,
                                     const typename Mlp<Scalar>::ConstMatrixRef& inputs, Mode mode = Mode::eval) {
  MlpWorkspace<Scalar> ws(net, std::max<Index>(inputs.cols(), 1));
  MatrixX<Scalar> g(net.num_parameters(), inputs.cols());
  per_sample_gradients(net, loss_fn, inputs, g, ws, mode);
  return g;
}

/// Parameter Jacobian of the outputs: J is (S·d_out) × num_parameters with row s·d_out + k equal to
/// ∂f_k(x_s)/∂θ (sample-major, i.e. the rows follow vec(F) of the d_out × S output matrix). The
/// empirical NTK of the batch is J Jᵀ. Cost: d_out reverse passes. Eval mode required with batch norm.
template <class Scalar>
void output_jacobian(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                     typename Mlp<Scalar>::MatrixRef jacobian, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const char* fn = "output_jacobian";
  const Index S = detail::check_inputs(fn, net, inputs, ws);
  detail::require_per_sample_mode(fn, net, mode);
  const Index d_out = net.output_dim();
  require_shape(fn, "jacobian", jacobian, S * d_out, net.num_parameters());
  detail::forward_pass(net, inputs, ws, mode);
  const std::size_t last = std::size_t(net.num_layers() - 1);
  for (Index k = 0; k < d_out; ++k) {
    auto d = ws.delta[last].leftCols(S);
    d.setZero();
    d.row(k).setOnes();
    detail::PerSampleSink<Scalar> sink{net, ws, jacobian.data() + k * jacobian.innerStride(),
                                       d_out * jacobian.innerStride(), jacobian.outerStride()};
    detail::reverse_pass(net, inputs, ws, sink);
  }
}
/// Returning form: the (S·d_out) × num_parameters Jacobian.
template <class Scalar>
MatrixX<Scalar> output_jacobian(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                                Mode mode = Mode::eval) {
  MlpWorkspace<Scalar> ws(net, std::max<Index>(inputs.cols(), 1));
  MatrixX<Scalar> j(inputs.cols() * net.output_dim(), net.num_parameters());
  output_jacobian(net, inputs, j, ws, mode);
  return j;
}

}  // namespace sgdsde::nn
