// sgdsde/nn/detail/gemm.hpp — the three matrix products of a dense layer (c = α a b, α a bᵀ, α aᵀ b,
// optionally accumulated) and their fused forms (bias + activation in the forward epilogue, the
// activation-derivative mask in the backward epilogue). Borovykh eq. 1: a = c_w W z + c_b b.
#pragma once

#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/activation.hpp"
#include "sgdsde/nn/detail/kernels.hpp"

namespace sgdsde::nn::detail {

template <class Scalar>
using MatrixRefT = Eigen::Ref<MatrixX<Scalar>>;
template <class Scalar>
using ConstMatrixRefT = Eigen::Ref<const MatrixX<Scalar>>;

/// True for the activations whose forward map and derivative mask are fused into the kernels.
inline bool fusable_activation(Activation a) {
  return a == Activation::identity || a == Activation::relu || a == Activation::leaky_relu;
}

namespace kernel {
template <class Scalar, class C>
Epilogue<Scalar> plain_epilogue(C& c, Scalar alpha, bool accumulate) {
  Epilogue<Scalar> ep;
  ep.c = c.data();
  ep.ldc = c.outerStride();
  ep.alpha = alpha;
  ep.accumulate = accumulate;
  return ep;
}
inline Fuse fuse_of(Activation a) {
  return a == Activation::relu ? Fuse::relu : a == Activation::leaky_relu ? Fuse::leaky_relu : Fuse::none;
}
}  // namespace kernel

/// c (+)= α a b. Fused register-blocked kernel for float/double on SIMD targets, Eigen's GEMM otherwise.
template <class Scalar>
void gemm_nn(MatrixRefT<Scalar> c, Scalar alpha, const ConstMatrixRefT<Scalar>& a, const ConstMatrixRefT<Scalar>& b,
             bool accumulate = false) {
  if constexpr (kernel::enabled<Scalar>) {
    kernel::product(a.data(), a.outerStride(), kernel::BNormal<Scalar>{b.data(), b.outerStride()}, c.rows(), c.cols(),
                    a.cols(), kernel::plain_epilogue(c, alpha, accumulate));
  } else if (accumulate) {
    c.noalias() += (alpha * a) * b;
  } else {
    c.noalias() = (alpha * a) * b;
  }
}
/// c (+)= α a bᵀ.
template <class Scalar>
void gemm_nt(MatrixRefT<Scalar> c, Scalar alpha, const ConstMatrixRefT<Scalar>& a, const ConstMatrixRefT<Scalar>& b,
             bool accumulate = false) {
  if constexpr (kernel::enabled<Scalar>) {
    kernel::product(a.data(), a.outerStride(), kernel::BTrans<Scalar>{b.data(), b.outerStride()}, c.rows(), c.cols(),
                    a.cols(), kernel::plain_epilogue(c, alpha, accumulate));
  } else if (accumulate) {
    c.noalias() += (alpha * a) * b.transpose();
  } else {
    c.noalias() = (alpha * a) * b.transpose();
  }
}
/// c (+)= α aᵀ b.
template <class Scalar>
void gemm_tn(MatrixRefT<Scalar> c, Scalar alpha, const ConstMatrixRefT<Scalar>& a, const ConstMatrixRefT<Scalar>& b,
             bool accumulate = false) {
  if constexpr (kernel::enabled<Scalar>) {
    kernel::product_tn(a.data(), a.outerStride(), b.data(), b.outerStride(), c.rows(), c.cols(), a.rows(),
                       kernel::plain_epilogue(c, alpha, accumulate));
  } else if (accumulate) {
    c.noalias() += (alpha * a.transpose()) * b;
  } else {
    c.noalias() = (alpha * a.transpose()) * b;
  }
}

/// Forward of a dense layer with its activation: pre = c_w W z + c_b b, post = φ(pre), for φ identity,
/// ReLU or leaky ReLU (fusable_activation) in one pass over the output; other φ: pre only, post untouched
/// (the caller applies φ).
template <class Scalar>
void dense_forward(MatrixRefT<Scalar> pre, MatrixRefT<Scalar> post, Scalar cw, const ConstMatrixRefT<Scalar>& w,
                   const ConstMatrixRefT<Scalar>& z, Scalar cb, const Eigen::Ref<const VectorX<Scalar>>& bias,
                   Activation act, Scalar slope) {
  if constexpr (kernel::enabled<Scalar>) {
    auto ep = kernel::plain_epilogue(pre, cw, false);
    ep.bias = bias.data();
    ep.bias_scale = cb;
    if (fusable_activation(act)) {
      ep.post = post.data();
      ep.ldp = post.outerStride();
      ep.fuse = kernel::fuse_of(act);
      ep.slope = slope;
    }
    kernel::product(w.data(), w.outerStride(), kernel::BNormal<Scalar>{z.data(), z.outerStride()}, pre.rows(),
                    pre.cols(), w.cols(), ep);
  } else {
    pre.noalias() = (cw * w) * z;
    pre.colwise() += cb * bias;
    if (fusable_activation(act)) apply_activation(act, slope, pre, post);
  }
}

/// Backward of a dense layer into the layer below: c = (α aᵀ b) ⊙ φ'(x) with x = `pre`, y = φ(x) = `post`
/// of the layer below, for φ identity, ReLU (reads y > 0) or leaky ReLU (reads x > 0) — the mask applied
/// in the kernel's epilogue.
template <class Scalar>
void gemm_tn_masked(MatrixRefT<Scalar> c, Scalar alpha, const ConstMatrixRefT<Scalar>& a,
                    const ConstMatrixRefT<Scalar>& b, Activation act, Scalar slope,
                    const ConstMatrixRefT<Scalar>& pre, const ConstMatrixRefT<Scalar>& post) {
  if constexpr (kernel::enabled<Scalar>) {
    auto ep = kernel::plain_epilogue(c, alpha, false);
    ep.fuse = kernel::fuse_of(act);
    ep.slope = slope;
    ep.mask = act == Activation::relu ? post.data() : pre.data();
    ep.ldm = act == Activation::relu ? post.outerStride() : pre.outerStride();
    ep.backward = true;
    kernel::product_tn(a.data(), a.outerStride(), b.data(), b.outerStride(), c.rows(), c.cols(), a.rows(), ep);
  } else {
    c.noalias() = (alpha * a.transpose()) * b;
    multiply_by_activation_derivative(act, slope, pre, post, c);
  }
}

}  // namespace sgdsde::nn::detail
