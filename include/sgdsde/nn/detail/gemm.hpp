// sgdsde/nn/detail/gemm.hpp — the three matrix products of a dense layer (c = α a b, α a bᵀ, α aᵀ b,
// optionally accumulated), one function each so every Scalar instantiates Eigen's GEMM once per shape.
#pragma once

#include <Eigen/Core>

#include "sgdsde/core/types.hpp"

namespace sgdsde::nn::detail {

template <class Scalar>
using MatrixRefT = Eigen::Ref<MatrixX<Scalar>>;
template <class Scalar>
using ConstMatrixRefT = Eigen::Ref<const MatrixX<Scalar>>;

template <class Scalar>
void gemm_nn(MatrixRefT<Scalar> c, Scalar alpha, const ConstMatrixRefT<Scalar>& a, const ConstMatrixRefT<Scalar>& b,
             bool accumulate = false) {
  if (accumulate)
    c.noalias() += (alpha * a) * b;
  else
    c.noalias() = (alpha * a) * b;
}
template <class Scalar>
void gemm_nt(MatrixRefT<Scalar> c, Scalar alpha, const ConstMatrixRefT<Scalar>& a, const ConstMatrixRefT<Scalar>& b,
             bool accumulate = false) {
  if (accumulate)
    c.noalias() += (alpha * a) * b.transpose();
  else
    c.noalias() = (alpha * a) * b.transpose();
}
template <class Scalar>
void gemm_tn(MatrixRefT<Scalar> c, Scalar alpha, const ConstMatrixRefT<Scalar>& a, const ConstMatrixRefT<Scalar>& b,
             bool accumulate = false) {
  if (accumulate)
    c.noalias() += (alpha * a.transpose()) * b;
  else
    c.noalias() = (alpha * a.transpose()) * b;
}

}  // namespace sgdsde::nn::detail
