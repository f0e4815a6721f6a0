// sgdsde/nn/detail/passes.hpp — the forward pass and the ONE reverse pass of the MLP. The reverse pass
// walks the layers from the top and hands each layer's adjoint to a sink, which decides what to make of
// it: the batch gradient (GradientSink), per-sample gradients (nn/per_sample.hpp) or the tangent of the
// gradient for Hessian–vector products (nn/tangent.hpp).
#pragma once

#include <cstddef>
#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/activation.hpp"
#include "sgdsde/nn/batch_norm.hpp"
#include "sgdsde/nn/detail/gemm.hpp"
#include "sgdsde/nn/network.hpp"
#include "sgdsde/nn/workspace.hpp"

namespace sgdsde::nn::detail {

/// Forward pass on S = x.cols() samples: fills ws.pre/post (and batch-norm statistics in train mode).
template <class Scalar>
void forward_pass(const Mlp<Scalar>& model, const ConstMatrixRefT<Scalar>& x, MlpWorkspace<Scalar>& ws, Mode mode) {
  const Index S = x.cols();
  const Index L = model.num_layers();
  const Scalar slope(model.spec().leaky_relu_slope);
  const Scalar eps(model.spec().batch_norm_epsilon);
  bool stats = false;
  for (Index l = 0; l < L; ++l) {
    const std::size_t k = std::size_t(l);
    auto pre = ws.pre[k].leftCols(S);
    auto post = ws.post[k].leftCols(S);
    const Scalar cw = model.weight_multiplier(l);
    const Scalar cb = model.bias_multiplier(l);
    if (!model.has_batch_norm(l)) {
      // One pass: pre = c_w W z + c_b b and, for identity/ReLU/leaky ReLU, post = φ(pre) in the epilogue.
      if (l == 0)
        dense_forward<Scalar>(pre, post, cw, model.weights(l), x, cb, model.bias(l), model.activation(l), slope);
      else
        dense_forward<Scalar>(pre, post, cw, model.weights(l), ws.post[k - 1].leftCols(S), cb, model.bias(l),
                              model.activation(l), slope);
      if (!fusable_activation(model.activation(l))) apply_activation(model.activation(l), slope, pre, post);
      continue;
    }
    auto a = ws.bn_hat[k].leftCols(S);
    if (l == 0)
      gemm_nn<Scalar>(a, cw, model.weights(l), x);
    else
      gemm_nn<Scalar>(a, cw, model.weights(l), ws.post[k - 1].leftCols(S));
    a.colwise() += cb * model.bias(l);
    if (mode == Mode::train) {
      batch_norm_train_forward(a, model.bn_scale(l), model.bn_shift(l), eps, ws.bn_mean[k], ws.bn_var[k],
                               ws.bn_inv_std[k], pre);
      stats = true;
    } else {
      batch_norm_eval_forward(a, model.bn_scale(l), model.bn_shift(l), model.running_mean(l),
                              model.running_var(l), eps, ws.bn_inv_std[k], pre);
    }
    apply_activation(model.activation(l), slope, pre, post);
  }
  ws.batch = S;
  ws.has_batch_statistics = stats;
}

/// The reverse pass. On entry ws.delta[L−1] holds the adjoint of the outputs (d_out × S). For each
/// layer l from the top, with d = ws.delta[l]:
///   sink.before_activation(l, d);  d ← d ⊙ φ'(a);  if batch norm: sink.batch_norm(l, d) (d becomes the
///   adjoint of the affine output);  sink.dense(l, d, z) with z the layer's input;  then d is carried
///   down, ws.delta[l−1] = c_w W_lᵀ d, or at the input handed to sink.input(d).
/// Uses the activations of the forward pass just run on the same x and mode.
/// A sink may declare `static constexpr bool fuses_activation_mask = true` when its before_activation
/// does not read d for identity/ReLU/leaky ReLU layers: the derivative mask of the layer below is then
/// applied inside the kernel that computes ws.delta[l−1] (gemm_tn_masked) instead of in a second pass.
template <class Sink, class = void>
struct sink_fuses_mask : std::false_type {};
template <class Sink>
struct sink_fuses_mask<Sink, std::void_t<decltype(Sink::fuses_activation_mask)>>
    : std::bool_constant<Sink::fuses_activation_mask> {};

template <class Scalar, class Sink>
void reverse_pass(const Mlp<Scalar>& model, const ConstMatrixRefT<Scalar>& x, MlpWorkspace<Scalar>& ws,
                  Sink& sink) {
  const Index S = x.cols();
  const Scalar slope(model.spec().leaky_relu_slope);
  bool masked = false;  // ws.delta[l] already carries the factor φ'(a_l)
  for (Index l = model.num_layers() - 1; l >= 0; --l) {
    const std::size_t k = std::size_t(l);
    auto d = ws.delta[k].leftCols(S);
    sink.before_activation(l, d);
    if (!masked)
      multiply_by_activation_derivative(model.activation(l), slope, ws.pre[k].leftCols(S), ws.post[k].leftCols(S), d);
    if (model.has_batch_norm(l)) sink.batch_norm(l, d);
    if (l == 0) {
      sink.dense(l, d, x);
      sink.input(d);
    } else {
      sink.dense(l, d, ws.post[k - 1].leftCols(S));
      const Activation below = model.activation(l - 1);
      masked = sink_fuses_mask<Sink>::value && kernel::enabled<Scalar> && fusable_activation(below);
      if (masked)
        gemm_tn_masked<Scalar>(ws.delta[k - 1].leftCols(S), model.weight_multiplier(l), model.weights(l), d, below,
                               slope, ws.pre[k - 1].leftCols(S), ws.post[k - 1].leftCols(S));
      else
        gemm_tn<Scalar>(ws.delta[k - 1].leftCols(S), model.weight_multiplier(l), model.weights(l), d);
    }
  }
}

/// Sink of the batch gradient: dL/dθ to `grad` (if non-null, num_parameters long) and dL/dX to
/// `input_grad` (if non-null, d_in × S).
template <class Scalar>
struct GradientSink {
  const Mlp<Scalar>& model;
  const MlpWorkspace<Scalar>& ws;
  Mode mode;
  Scalar* grad = nullptr;
  MatrixRefT<Scalar>* input_grad = nullptr;
  static constexpr bool fuses_activation_mask = true;  // before_activation reads nothing

  template <class D>
  void before_activation(Index, D&) {}

  template <class D>
  void batch_norm(Index l, D& d) {
    const std::size_t k = std::size_t(l);
    const Index S = d.cols();
    Scalar* gs = grad ? grad + model.bn_scale_offset(l) : nullptr;
    Scalar* gb = grad ? grad + model.bn_shift_offset(l) : nullptr;
    if (mode == Mode::train)
      batch_norm_train_backward(ws.bn_hat[k].leftCols(S), model.bn_scale(l), ws.bn_inv_std[k], d, gs, gb);
    else
      batch_norm_eval_backward(ws.bn_hat[k].leftCols(S), model.bn_scale(l), ws.bn_inv_std[k], d, gs, gb);
  }

  template <class D, class Z>
  void dense(Index l, const D& d, const Z& z) {
    if (!grad) return;
    const Index n_out = model.width(l + 1), n_in = model.width(l);
    Eigen::Map<MatrixX<Scalar>> gw(grad + model.weights_offset(l), n_out, n_in);
    gemm_nt<Scalar>(gw, model.weight_multiplier(l), d, z);
    Eigen::Map<VectorX<Scalar>>(grad + model.bias_offset(l), n_out).noalias() = model.bias_multiplier(l) * d.rowwise().sum();
  }

  template <class D>
  void input(const D& d) {
    if (input_grad) gemm_tn<Scalar>(*input_grad, model.weight_multiplier(0), model.weights(0), d);
  }
};

}  // namespace sgdsde::nn::detail
