// sgdsde/ou/sgd_quadratic.hpp — SGD on a quadratic L = ½(θ−θ*)ᵀH(θ−θ*) with additive gradient noise:
// stationary covariance and excess loss of the SDE limit (Jastrzębski et al. 2018, eq. 7) and of the
// discrete iteration (Stein equation), the stability limit η λ_max < 2 and the discrete/continuous ratio.
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"

namespace sgdsde {

/// How a minibatch of size S is drawn from N samples.
enum class Sampling {
  with_replacement,    ///< S i.i.d. uniform indices: Cov g_B = C / S
  without_replacement  ///< a uniform S-subset each step: Cov g_B = C/S · (N − S)/(N − 1)
};

/// Minibatch description: batch size S, sampling mode and data-set size N (N is used only without
/// replacement; pass any N ≥ S with replacement). Validated: 1 ≤ S, and S ≤ N without replacement.
struct Minibatch {
  long batch_size = 1;
  Sampling sampling = Sampling::with_replacement;
  long dataset_size = 0;

  Minibatch(long s, Sampling mode = Sampling::with_replacement, long n = 0)
      : batch_size(s), sampling(mode), dataset_size(n) {
    require(s >= 1, "Minibatch", "S", s, "a batch size ≥ 1");
    if (mode == Sampling::without_replacement) {
      require(n >= 2, "Minibatch", "N", n, "a data-set size ≥ 2 when sampling without replacement");
      require(s <= n, "Minibatch", "S", s, "S ≤ N when sampling without replacement");
    }
  }

  /// κ with Cov g_B = κ C: 1/S with replacement, (N − S)/(S (N − 1)) without.
  template <class Scalar>
  Scalar noise_factor() const {
    if (sampling == Sampling::with_replacement) return Scalar(1) / Scalar(batch_size);
    return Scalar(dataset_size - batch_size) / (Scalar(batch_size) * Scalar(dataset_size - 1));
  }
};

/// Stationary covariance Σ of θ − θ* and expected excess loss E[L − L*] = ½ Tr(HΣ), with status.
template <class Scalar>
struct QuadraticStationary {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> covariance;
  Scalar excess_loss = Scalar(0);
  Outcome outcome;
};

namespace detail {

/// Validates H (symmetric positive definite), C (symmetric PSD, same size) and η > 0; returns the
/// symmetric eigendecomposition of H.
template <class Scalar>
Eigen::SelfAdjointEigenSolver<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>> check_quadratic(
    const char* fn, const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>& h,
    const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>& c, Scalar eta) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using std::abs;
  require_square(fn, "H", h);
  require_shape(fn, "C", c, h.rows(), h.rows());
  require_finite(fn, "H", h);
  require_finite(fn, "C", c);
  require_positive(fn, "eta", eta);
  const Scalar tol = Constants<Scalar>::tolerance();
  require_symmetric(fn, "H", h, tol);
  require_symmetric(fn, "C", c, tol);
  Eigen::SelfAdjointEigenSolver<Matrix> eh(symmetric_part(h));
  require(eh.eigenvalues()(0) > Scalar(0), fn, "H", "smallest eigenvalue " + describe(eh.eigenvalues()(0)),
          "a positive definite matrix");
  Eigen::SelfAdjointEigenSolver<Matrix> ec(symmetric_part(c), Eigen::EigenvaluesOnly);
  const Scalar cmax = ec.eigenvalues().cwiseAbs().maxCoeff();
  require(ec.eigenvalues()(0) >= -tol * cmax, fn, "C", "smallest eigenvalue " + describe(ec.eigenvalues()(0)),
          "a positive semidefinite matrix");
  return eh;
}

/// Σ = V [ ηκ C̃_ij / (λ_i + λ_j − γ λ_i λ_j) ] Vᵀ with C̃ = VᵀCV (γ = 0: SDE; γ = η: discrete SGD).
template <class Scalar>
QuadraticStationary<Scalar> quadratic_stationary(
    const Eigen::SelfAdjointEigenSolver<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>& eh,
    const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>& c, Scalar eta, Scalar kappa,
    Scalar gamma) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const Matrix& v = eh.eigenvectors();
  const auto& lam = eh.eigenvalues();
  const Eigen::Index d = v.rows();
  Matrix ct(d, d), w(d, d);
  w.noalias() = symmetric_part(c) * v;
  ct.noalias() = v.transpose() * w;
  for (Eigen::Index j = 0; j < d; ++j)
    for (Eigen::Index i = 0; i < d; ++i)
      ct(i, j) *= eta * kappa / (lam(i) + lam(j) - gamma * lam(i) * lam(j));
  QuadraticStationary<Scalar> out;
  w.noalias() = v * ct;
  out.covariance.resize(d, d);
  out.covariance.noalias() = w * v.transpose();
  out.covariance = symmetric_part(out.covariance);
  // ½ Tr(HΣ) = ½ Σ_i λ_i Σ̃_ii in the eigenbasis.
  out.excess_loss = Scalar(0.5) * (lam.array() * ct.diagonal().array()).sum();
  return out;
}

}  // namespace detail

/// SDE limit dθ = −H(θ−θ*) dt + √(η κ) C^{1/2} dW (t = kη, κ = Minibatch::noise_factor): stationary
/// covariance H Σ + Σ H = η κ C and E[L − L*] = ½ Tr(HΣ). For C = σ² H this is Σ = ηκσ²/2 · I and
/// E[L − L*] = η σ²/(4S) Tr H with replacement (Jastrzębski eq. 7 with σ = 1). H symmetric positive
/// definite and C symmetric PSD (else invalid_argument); always succeeds otherwise.
template <class DH, class DC>
QuadraticStationary<typename DH::Scalar> sde_stationary(const Eigen::MatrixBase<DH>& h, const Eigen::MatrixBase<DC>& c,
                                                        typename DH::Scalar eta, const Minibatch& batch) {
  using Scalar = typename DH::Scalar;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const Matrix hm = h, cm = c;
  const auto eh = detail::check_quadratic<Scalar>("sde_stationary", hm, cm, eta);
  return detail::quadratic_stationary<Scalar>(eh, cm, eta, batch.noise_factor<Scalar>(), Scalar(0));
}

/// Discrete SGD θ_{k+1} = θ_k − η (H(θ_k − θ*) + ξ_k), Cov ξ_k = κ C, independent of θ (additive
/// noise): Σ = (I − ηH) Σ (I − ηH)ᵀ + η² κ C, equivalently H Σ + Σ H − η HΣH = η κ C, solved in the
/// eigenbasis of H. Exact for every η with η λ_max(H) < 2; otherwise Status::unstable_step with
/// value = η λ_max (the covariance field is then not meaningful).
template <class DH, class DC>
QuadraticStationary<typename DH::Scalar> discrete_sgd_stationary(const Eigen::MatrixBase<DH>& h,
                                                                 const Eigen::MatrixBase<DC>& c,
                                                                 typename DH::Scalar eta, const Minibatch& batch) {
  using Scalar = typename DH::Scalar;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const Matrix hm = h, cm = c;
  const auto eh = detail::check_quadratic<Scalar>("discrete_sgd_stationary", hm, cm, eta);
  const Scalar stiff = eta * eh.eigenvalues()(eh.eigenvalues().size() - 1);
  if (!(stiff < Scalar(2))) {
    QuadraticStationary<Scalar> out;
    out.covariance = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>::Zero(h.rows(), h.rows());
    out.excess_loss = std::numeric_limits<Scalar>::infinity();
    out.outcome = Outcome::failure(Status::unstable_step, -1, double(stiff),
                                   "η λ_max(H) = " + detail::describe(stiff) + " ≥ 2: SGD diverges");
    return out;
  }
  return detail::quadratic_stationary<Scalar>(eh, cm, eta, batch.noise_factor<Scalar>(), eta);
}

/// Discrete/continuous ratio of the stationary variance along each eigendirection of H (ascending
/// eigenvalues), 1/(1 − η λ_i / 2), exact when H and C commute (then Σ_disc = Σ_sde (I − ηH/2)⁻¹).
/// Entries are +∞ where η λ_i ≥ 2 (unstable). Validates H as sde_stationary does.
template <class DH>
Eigen::Matrix<typename DH::Scalar, Eigen::Dynamic, 1> discrete_to_continuous_ratio(const Eigen::MatrixBase<DH>& h,
                                                                                  typename DH::Scalar eta) {
  using Scalar = typename DH::Scalar;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const Matrix hm = h;
  const Matrix zero = Matrix::Zero(h.rows(), h.rows());
  const auto eh = detail::check_quadratic<Scalar>("discrete_to_continuous_ratio", hm, zero, eta);
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> r(h.rows());
  for (Eigen::Index i = 0; i < r.size(); ++i) {
    const Scalar x = eta * eh.eigenvalues()(i);
    r(i) = x < Scalar(2) ? Scalar(1) / (Scalar(1) - x / Scalar(2)) : std::numeric_limits<Scalar>::infinity();
  }
  return r;
}

}  // namespace sgdsde
