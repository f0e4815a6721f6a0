// sgdsde/core/expm.hpp — matrix exponential: general matrices by scaling and squaring with Padé
// approximants (Higham 2005, Algorithm 2.3), symmetric matrices by eigendecomposition.
#pragma once

#include <cmath>
#include <type_traits>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"

namespace sgdsde {

namespace detail {

/// Degrees m and thresholds θ_m of Higham (2005), Table 2.3 (double) / 2.1 (single): the [m/m] Padé
/// approximant of e^X has backward error ≤ unit roundoff when ‖X‖₁ ≤ θ_m.
template <class Scalar>
struct PadeTable;
template <>
struct PadeTable<double> {
  static constexpr int count = 5;
  static constexpr int degree[count] = {3, 5, 7, 9, 13};
  static constexpr double theta[count] = {1.495585217958292e-2, 2.539398330063230e-1, 9.504178996162932e-1,
                                          2.097847961257068e0, 5.371920351148152e0};
};
template <>
struct PadeTable<float> {
  static constexpr int count = 3;
  static constexpr int degree[count] = {3, 5, 7};
  static constexpr double theta[count] = {4.258730016922831e-1, 1.880152677804762e0, 3.925724783138660e0};
};

/// Coefficients b_0..b_m of the [m/m] Padé approximant p(x)/p(−x) of eˣ, p(x) = Σ b_j x^j.
inline const double* pade_coefficients(int m) {
  static const double b3[] = {120, 60, 12, 1};
  static const double b5[] = {30240, 15120, 3360, 420, 30, 1};
  static const double b7[] = {17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1};
  static const double b9[] = {17643225600., 8821612800., 2075673600., 302702400., 30270240.,
                              2162160.,     110880.,      3960.,       90.,        1.};
  static const double b13[] = {64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
                               129060195264000.,   10559470521600.,    670442572800.,    33522128640.,
                               1323241920.,        40840800.,          960960.,          16380.,
                               182.,               1.};
  switch (m) {
    case 3: return b3;
    case 5: return b5;
    case 7: return b7;
    case 9: return b9;
    default: return b13;
  }
}

/// e^A by scaling and squaring (Higham, SIAM J. Matrix Anal. Appl. 26(4), 2005, Algorithm 2.3):
/// the lowest Padé degree whose θ_m bounds ‖A‖₁, else A/2ˢ with degree 13 (7 in float) and s squarings.
/// Even/odd split U = A Σ b_{2j+1} A^{2j}, V = Σ b_{2j} A^{2j}; r = (V − U)⁻¹ (V + U).
template <class Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> expm_pade(Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> a) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using std::ceil;
  using std::log2;
  using Table = PadeTable<Scalar>;
  const Eigen::Index n = a.rows();
  if (n == 0) return a;
  const double norm = double(a.cwiseAbs().colwise().sum().maxCoeff());
  int m = Table::degree[Table::count - 1];
  int squarings = 0;
  for (int i = 0; i < Table::count; ++i)
    if (norm <= Table::theta[i]) {
      m = Table::degree[i];
      break;
    }
  if (norm > Table::theta[Table::count - 1]) {
    squarings = int(ceil(log2(norm / Table::theta[Table::count - 1])));
    a *= Scalar(std::ldexp(1.0, -squarings));
  }
  const double* b = pade_coefficients(m);
  const Matrix id = Matrix::Identity(n, n);
  Matrix a2(n, n), u(n, n), v(n, n), w(n, n);
  a2.noalias() = a * a;
  if (m == 13) {
    Matrix a4(n, n), a6(n, n), tmp(n, n);
    a4.noalias() = a2 * a2;
    a6.noalias() = a4 * a2;
    tmp = Scalar(b[13]) * a6 + Scalar(b[11]) * a4 + Scalar(b[9]) * a2;
    w.noalias() = a6 * tmp;
    w += Scalar(b[7]) * a6 + Scalar(b[5]) * a4 + Scalar(b[3]) * a2 + Scalar(b[1]) * id;
    u.noalias() = a * w;
    tmp = Scalar(b[12]) * a6 + Scalar(b[10]) * a4 + Scalar(b[8]) * a2;
    v.noalias() = a6 * tmp;
    v += Scalar(b[6]) * a6 + Scalar(b[4]) * a4 + Scalar(b[2]) * a2 + Scalar(b[0]) * id;
  } else {
    // Horner-free even powers: w = Σ b_{2j+1} A^{2j}, v = Σ b_{2j} A^{2j}, j = 0..(m−1)/2.
    Matrix power = id, next(n, n);
    w = Scalar(b[1]) * id;
    v = Scalar(b[0]) * id;
    for (int j = 1; 2 * j <= m; ++j) {
      next.noalias() = power * a2;
      power.swap(next);
      w += Scalar(b[2 * j + 1]) * power;
      v += Scalar(b[2 * j]) * power;
    }
    u.noalias() = a * w;
  }
  Matrix r = Eigen::PartialPivLU<Matrix>(v - u).solve(v + u);
  for (int k = 0; k < squarings; ++k) {
    w.noalias() = r * r;
    r.swap(w);
  }
  return r;
}

}  // namespace detail

/// e^A for a square matrix A (any spectrum). Scaling and squaring with Padé approximants of degree
/// 3–13 (double) or 3–7 (float) chosen by ‖A‖₁ (Higham, SIAM J. Matrix Anal. Appl. 26, 2005): backward
/// error about unit roundoff; cost ≈ (6 + s) n³-products + one LU for ‖A‖₁ = θ₁₃·2ˢ.
/// Entries overflow to ±inf when ‖A‖ is large (e^{λ_max} beyond the range of Scalar); callers that
/// can meet this check the result (the OU functions return Status::non_finite then).
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> expm(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>, "expm supports float and double");
  require_square("expm", "A", a);
  require_finite("expm", "A", a);
  return detail::expm_pade<Scalar>(a);
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
