// sgdsde/core/expm.hpp — matrix exponential: general matrices by scaling and squaring with Padé
// approximants (Higham 2005, via Eigen's MatrixFunctions), symmetric matrices by eigendecomposition.
#pragma once

#include <cmath>

#include <Eigen/Dense>
#include <unsupported/Eigen/MatrixFunctions>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"

namespace sgdsde {

/// e^A for a square matrix A (any spectrum). Scaling and squaring with a degree-13 Padé approximant
/// (Higham, SIAM J. Matrix Anal. Appl. 26, 2005), backward stable to about machine precision.
/// Entries overflow to ±inf when ‖A‖ is large (e^{λ_max} beyond the range of Scalar); callers that
/// can meet this check the result (the OU functions return Status::non_finite then).
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> expm(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  require_square("expm", "A", a);
  require_finite("expm", "A", a);
  const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> m = a;
  return m.exp();
}

/// e^A for symmetric A as V e^Λ Vᵀ (one symmetric eigendecomposition and one product); exact
/// up to the eigensolver's backward error. Throws if A is not symmetric to Constants::tolerance().
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> expm_symmetric(
    const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  require_square("expm_symmetric", "A", a);
  require_finite("expm_symmetric", "A", a);
  require_symmetric("expm_symmetric", "A", a, Constants<Scalar>::tolerance());
  Eigen::SelfAdjointEigenSolver<Matrix> eig(a);
  const Matrix& v = eig.eigenvectors();
  const Matrix scaled = v * eig.eigenvalues().array().exp().matrix().asDiagonal();
  Matrix out(a.rows(), a.cols());
  out.noalias() = scaled * v.transpose();
  return out;
}

}  // namespace sgdsde
