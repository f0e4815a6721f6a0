// sgdsde/core/symmetric.hpp — checks and helpers for symmetric matrices shared by the linear-algebra
// fast paths (expm, Lyapunov) and the SGD-on-a-quadratic theory (H symmetric positive definite).
#pragma once

#include <cmath>
#include <string>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"

namespace sgdsde {

/// Throws sgdsde::invalid_argument unless ‖a − aᵀ‖_F ≤ tol·‖a‖_F (relative symmetry test).
template <class Derived>
inline void require_symmetric(const char* function, const char* argument, const Eigen::MatrixBase<Derived>& a,
                              typename Derived::Scalar tol) {
  using Scalar = typename Derived::Scalar;
  require_square(function, argument, a);
  // Measured on a / max|a_ij| so that neither a − aᵀ nor the norms overflow (a = ±1e308 entries).
  if (a.size() == 0) return;
  const Scalar m = a.cwiseAbs().maxCoeff();
  if (m == Scalar(0)) return;
  const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> b = a / m;
  const Scalar asym = (b - b.transpose()).norm();
  const Scalar scale = b.norm();
  if (!(asym <= tol * scale))
    detail::throw_invalid_argument(function, argument,
                                   "asymmetric with ‖A − Aᵀ‖_F / ‖A‖_F = " + detail::describe(asym / scale),
                                   "a symmetric matrix");
}

/// ½(a + aᵀ): the symmetric part, used to remove rounding asymmetry from computed covariances.
template <class Derived>
inline Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> symmetric_part(
    const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  return Scalar(0.5) * a + Scalar(0.5) * a.transpose();  // not ½(a + aᵀ): a + aᵀ may overflow
}

}  // namespace sgdsde
