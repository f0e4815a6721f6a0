// sgdsde/nn/batch_norm.hpp — batch normalisation of a features × samples block (Ioffe & Szegedy 2015,
// Alg. 1): y = γ ⊙ (a − μ)/√(v + ε) + β with batch (train) or running (eval) statistics, and its adjoint.
#pragma once

#include <cmath>

#include <Eigen/Core>

namespace sgdsde::nn {

/// Train mode. On entry `a` holds the pre-normalisation block (n × S); on exit it holds
/// x̂ = (a − μ)·r with μ the batch mean, v the BIASED batch variance (1/S), r = 1/√(v + ε).
/// y = γ ⊙ x̂ + β. mean, var, inv_std (n) receive μ, v, r.
template <class Scalar, class DA, class DG, class DB, class DY>
inline void batch_norm_train_forward(const Eigen::MatrixBase<DA>& a_, const Eigen::MatrixBase<DG>& gamma,
                                     const Eigen::MatrixBase<DB>& beta, Scalar eps,
                                     Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& mean,
                                     Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& var,
                                     Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& inv_std,
                                     const Eigen::MatrixBase<DY>& y_) {
  using std::sqrt;
  auto& a = const_cast<Eigen::MatrixBase<DA>&>(a_).derived();
  auto& y = const_cast<Eigen::MatrixBase<DY>&>(y_).derived();
  const Scalar inv_s = Scalar(1) / Scalar(double(a.cols()));
  mean.noalias() = a.rowwise().sum() * inv_s;
  a.colwise() -= mean;
  var.noalias() = a.rowwise().squaredNorm() * inv_s;
  for (Eigen::Index i = 0; i < var.size(); ++i) inv_std[i] = Scalar(1) / sqrt(var[i] + eps);
  a = inv_std.asDiagonal() * a;
  y = gamma.asDiagonal() * a;
  y.colwise() += beta;
}

/// Eval mode: as above with μ, v the running statistics; `a` becomes x̂, inv_std receives r.
template <class Scalar, class DA, class DG, class DB, class DY>
inline void batch_norm_eval_forward(const Eigen::MatrixBase<DA>& a_, const Eigen::MatrixBase<DG>& gamma,
                                    const Eigen::MatrixBase<DB>& beta,
                                    const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& running_mean,
                                    const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& running_var, Scalar eps,
                                    Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& inv_std,
                                    const Eigen::MatrixBase<DY>& y_) {
  using std::sqrt;
  auto& a = const_cast<Eigen::MatrixBase<DA>&>(a_).derived();
  auto& y = const_cast<Eigen::MatrixBase<DY>&>(y_).derived();
  for (Eigen::Index i = 0; i < inv_std.size(); ++i) inv_std[i] = Scalar(1) / sqrt(running_var[i] + eps);
  a.colwise() -= running_mean;
  a = inv_std.asDiagonal() * a;
  y = gamma.asDiagonal() * a;
  y.colwise() += beta;
}

/// Train-mode adjoint. On entry d = dL/dy (n × S); on exit d = dL/da, where μ and v depend on a:
/// dL/da = r ⊙ (ĝ − mean_s ĝ − x̂ ⊙ mean_s(ĝ ⊙ x̂)), ĝ = γ ⊙ dL/dy. dL/dγ = Σ_s dL/dy ⊙ x̂ and
/// dL/dβ = Σ_s dL/dy are written to grad_scale / grad_shift when those are non-null.
template <class Scalar, class DX, class DG, class DD>
inline void batch_norm_train_backward(const Eigen::MatrixBase<DX>& xhat, const Eigen::MatrixBase<DG>& gamma,
                                      const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& inv_std,
                                      const Eigen::MatrixBase<DD>& d_, Scalar* grad_scale, Scalar* grad_shift) {
  auto& d = const_cast<Eigen::MatrixBase<DD>&>(d_).derived();
  const Eigen::Index n = d.rows(), S = d.cols();
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  for (Eigen::Index i = 0; i < n; ++i) {
    const Scalar sum_d = d.row(i).sum();
    const Scalar sum_dx = d.row(i).dot(xhat.row(i));
    if (grad_scale) grad_scale[i] = sum_dx;
    if (grad_shift) grad_shift[i] = sum_d;
    // ĝ = γ d, so mean ĝ = γ Σd/S and mean(ĝ x̂) = γ Σ(d x̂)/S.
    const Scalar g = gamma[i];
    const Scalar r = inv_std[i];
    const Scalar c0 = g * sum_d * inv_s;
    const Scalar c1 = g * sum_dx * inv_s;
    const Scalar gr = g * r;
    for (Eigen::Index s = 0; s < S; ++s) d(i, s) = gr * d(i, s) - r * (c0 + xhat(i, s) * c1);
  }
}

/// Eval-mode adjoint (statistics are constants): d ← γ ⊙ r ⊙ d; parameter gradients as above.
template <class Scalar, class DX, class DG, class DD>
inline void batch_norm_eval_backward(const Eigen::MatrixBase<DX>& xhat, const Eigen::MatrixBase<DG>& gamma,
                                     const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& inv_std,
                                     const Eigen::MatrixBase<DD>& d_, Scalar* grad_scale, Scalar* grad_shift) {
  auto& d = const_cast<Eigen::MatrixBase<DD>&>(d_).derived();
  for (Eigen::Index i = 0; i < d.rows(); ++i) {
    if (grad_scale) grad_scale[i] = d.row(i).dot(xhat.row(i));
    if (grad_shift) grad_shift[i] = d.row(i).sum();
    d.row(i) *= Scalar(gamma[i] * inv_std[i]);
  }
}

}  // namespace sgdsde::nn
