// sgdsde/core/expm.hpp — matrix exponential by scaling and squaring with Padé approximants, the
// scaling chosen from ‖A^k‖^{1/k} (Al-Mohy & Higham, SIAM J. Matrix Anal. Appl. 31(3), 2009, Alg. 3.1).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"

namespace sgdsde {

/// e^A with how it was computed and whether it is representable.
///   value: e^A (entries ±inf/NaN when the true result overflows);
///   degree, squarings: the Padé degree m and the number s of squarings, e^A ≈ r_m(2^{-s}A)^{2^s};
///   outcome: success, or non_finite when an entry of e^A overflows the range of Scalar.
template <class Scalar>
struct ExpmResult {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> value;
  int degree = 0;
  int squarings = 0;
  Outcome outcome;
};

namespace detail {

/// Padé degrees m and thresholds θ_m: the [m/m] approximant of e^X has backward error ≤ unit
/// roundoff u when α(X) ≤ θ_m (Higham 2005, Tables 2.3 (double) and 2.1 (single)); θ₁₃ = 4.25 as in
/// Al-Mohy & Higham 2009, Alg. 3.1. Float stops at degree 7, as Higham's single-precision variant.
template <class Scalar>
struct PadeTable;
template <>
struct PadeTable<double> {
  static constexpr int count = 5;
  static constexpr int degree[count] = {3, 5, 7, 9, 13};
  static constexpr double theta[count] = {1.495585217958292e-2, 2.539398330063230e-1, 9.504178996162932e-1,
                                          2.097847961257068e0, 4.25};
  static constexpr int digits = 53;  // u = 2^{-53}
};
template <>
struct PadeTable<float> {
  static constexpr int count = 3;
  static constexpr int degree[count] = {3, 5, 7};
  static constexpr double theta[count] = {4.258730016922831e-1, 1.880152677804762e0, 3.925724783138660e0};
  static constexpr int digits = 24;
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

template <class Scalar>
using ExpmMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// 2^k · m entrywise (exact unless the result over- or underflows; ldexp so 2^k itself never does).
template <class Scalar>
ExpmMatrix<Scalar> times_pow2(const ExpmMatrix<Scalar>& m, int k) {
  if (k == 0) return m;
  constexpr int range = std::numeric_limits<Scalar>::max_exponent - 2;  // 2^k and 2^{−k} normal
  if (k > -range && k < range) return m * Scalar(std::ldexp(1.0, k));  // exact, vectorised
  return m.unaryExpr([k](Scalar x) { return Scalar(std::ldexp(x, k)); });
}

/// log2 ‖m‖₁ without overflow (−∞ for m = 0): the column sums are taken of m / 2^⌊log2 max|m_ij|⌋.
template <class Scalar>
double log2_norm1(const ExpmMatrix<Scalar>& m) {
  const Scalar big = m.cwiseAbs().maxCoeff();
  if (big == Scalar(0)) return -std::numeric_limits<double>::infinity();
  const int k = std::ilogb(big);
  const double sum = double(times_pow2<Scalar>(m.cwiseAbs(), -k).colwise().sum().maxCoeff());
  return double(k) + std::log2(sum);
}

/// Lower bound on ‖M‖₁ of an n×n operator given by apply(x) = Mx and apply_t(x) = Mᵀx: Hager's
/// estimator with Higham's alternating-sign safeguard (Higham, ACM TOMS 14(4), 1988, Alg. 4.1);
/// usually within a factor 3 of ‖M‖₁ after 2–4 products with M and Mᵀ.
template <class Scalar, class Apply, class ApplyT>
double onenorm_estimate(Eigen::Index n, Apply apply, ApplyT apply_t) {
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  Vector x = Vector::Constant(n, Scalar(1) / Scalar(n));
  Vector y = apply(x);
  double est = double(y.cwiseAbs().sum());
  Eigen::Index last = -1;
  for (int it = 0; it < 5; ++it) {
    const Vector xi = y.unaryExpr([](Scalar v) { return v >= Scalar(0) ? Scalar(1) : Scalar(-1); });
    const Vector z = apply_t(xi);
    Eigen::Index j;
    const Scalar zmax = z.cwiseAbs().maxCoeff(&j);
    if (it > 0 && (zmax <= z.dot(x) || j == last)) break;
    x.setZero();
    x(j) = Scalar(1);
    last = j;
    y = apply(x);
    const double next = double(y.cwiseAbs().sum());
    if (!(next > est)) break;
    est = next;
  }
  for (Eigen::Index i = 0; i < n; ++i)
    x(i) = Scalar((i % 2 ? -1.0 : 1.0) * (1.0 + (n > 1 ? double(i) / double(n - 1) : 0.0)));
  y = apply(x);
  return std::max(est, 2.0 * double(y.cwiseAbs().sum()) / (3.0 * double(n)));
}

/// ℓ_m of Al-Mohy & Higham 2009, eq. (3.2): extra squarings that keep the relative backward error
/// |c_{2m+1}| ‖|X|^{2m+1}‖₁ / ‖X‖₁ ≤ u, X = 2^x B; c_{2m+1} = (m!)² / ((2m)! (2m+1)!) leads e^x − r_m(x).
template <class Scalar>
int pade_ell(const ExpmMatrix<Scalar>& b, int x, int m, int digits) {
  const Eigen::Index n = b.rows();
  const ExpmMatrix<Scalar> abs_b = b.cwiseAbs();
  Eigen::Matrix<Scalar, 1, Eigen::Dynamic> v = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>::Ones(n);
  for (int k = 0; k < 2 * m + 1; ++k) v = (v * abs_b).eval();
  const double power_norm = double(v.maxCoeff()), b_norm = double(abs_b.colwise().sum().maxCoeff());
  if (!(power_norm > 0.0) || !(b_norm > 0.0)) return 0;
  double log2_inv_c = 0.0;  // log2 of (2m)! (2m+1)! / (m!)²
  for (int k = 1; k <= 2 * m; ++k) log2_inv_c += std::log2(double(k));
  for (int k = 1; k <= 2 * m + 1; ++k) log2_inv_c += std::log2(double(k));
  for (int k = 1; k <= m; ++k) log2_inv_c -= 2.0 * std::log2(double(k));
  const double log2_alpha = std::log2(power_norm) + double(2 * m) * double(x) - std::log2(b_norm) - log2_inv_c;
  return std::max(0, int(std::ceil((log2_alpha + double(digits)) / double(2 * m))));
}

/// Diagonal and first superdiagonal of e^{2^k T}, T upper triangular, set exactly (Al-Mohy & Higham
/// 2009, Code Fragment 2.1): e^{t_ii}, and t_{i,i+1} e^{(t_ii+t_jj)/2} sinh(δ)/δ with δ = (t_jj − t_ii)/2.
template <class Scalar>
void set_triangular_exact(ExpmMatrix<Scalar>& x, const ExpmMatrix<Scalar>& t, int k) {
  using std::abs;
  using std::exp;
  const Eigen::Index n = t.rows();
  for (Eigen::Index i = 0; i < n; ++i) x(i, i) = exp(Scalar(std::ldexp(t(i, i), k)));
  for (Eigen::Index i = 0; i + 1 < n; ++i) {
    const Scalar a1 = Scalar(std::ldexp(t(i, i), k)), a2 = Scalar(std::ldexp(t(i + 1, i + 1), k));
    const Scalar t12 = Scalar(std::ldexp(t(i, i + 1), k));
    const Scalar half = Scalar(0.5) * (a2 - a1), mid = Scalar(0.5) * (a1 + a2);
    if (half == Scalar(0))
      x(i, i + 1) = t12 * exp(a1);
    else if (abs(half) < Scalar(1))
      x(i, i + 1) = t12 * exp(mid) * (std::sinh(half) / half);
    else
      x(i, i + 1) = t12 * (exp(a2) - exp(a1)) / (a2 - a1);
  }
}

/// Al-Mohy & Higham 2009, Algorithm 3.1. A is first written 2^e B with ‖B‖₁ ≤ 1 when ‖A‖₁ is so
/// large that A^{10} could overflow, and every norm is handled as its log2, so a finite A never
/// produces an overflowing intermediate before the squarings (which stop at the first non-finite
/// entry: a true overflow of e^A).
template <class Scalar>
ExpmResult<Scalar> expm_al_mohy_higham(const ExpmMatrix<Scalar>& a) {
  using Matrix = ExpmMatrix<Scalar>;
  using Table = PadeTable<Scalar>;
  const Eigen::Index n = a.rows();
  ExpmResult<Scalar> out;
  if (n == 0) {
    out.value = a;
    return out;
  }
  const double ninf = -std::numeric_limits<double>::infinity();
  const double log2_norm = log2_norm1<Scalar>(a);
  if (log2_norm == ninf) {
    out.value = Matrix::Identity(n, n);
    return out;
  }
  // ‖A‖₁ ≤ 2^{max_exponent/16}: A^{10} stays finite and B = A.
  const int e = log2_norm > double(std::numeric_limits<Scalar>::max_exponent / 16) ? int(std::ceil(log2_norm)) : 0;
  const Matrix b = times_pow2<Scalar>(a, -e);
  Matrix b2(n, n), b4(n, n), b6(n, n), b8;
  b2.noalias() = b * b;
  b4.noalias() = b2 * b2;
  b6.noalias() = b4 * b2;
  // log2 d_k = log2 ‖A^k‖₁^{1/k}; exact for k = 4, 6, exact or estimated (n > 150) for k = 8, 10.
  auto log2_d = [&](double norm, int k) { return norm > 0.0 ? double(e) + std::log2(norm) / double(k) : ninf; };
  auto norm1 = [](const Matrix& m) { return double(m.cwiseAbs().colwise().sum().maxCoeff()); };
  const double l4 = log2_d(norm1(b4), 4), l6 = log2_d(norm1(b6), 6);
  const bool exact_norms = n <= 150;
  auto power_norm = [&](const Matrix& p, const Matrix& q) {  // ‖p q‖₁
    if (exact_norms) {
      Matrix pq(n, n);
      pq.noalias() = p * q;
      return norm1(pq);
    }
    using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
    return onenorm_estimate<Scalar>(
        n, [&](const Vector& x) { return Vector(p * Vector(q * x)); },
        [&](const Vector& x) { return Vector(q.transpose() * Vector(p.transpose() * x)); });
  };
  const double l8 = log2_d(power_norm(b4, b4), 8);
  auto log2_theta = [](int i) { return std::log2(Table::theta[i]); };

  int m = -1, s = 0;
  const double eta1 = std::max(l4, l6), eta3 = std::max(l6, l8);
  for (int i = 0; i < Table::count - 1 && m < 0; ++i) {
    const int deg = Table::degree[i];
    const double eta = deg <= 5 ? eta1 : eta3;
    if (eta <= log2_theta(i) && pade_ell<Scalar>(b, e, deg, Table::digits) == 0) m = deg;
  }
  if (m < 0) {
    m = Table::degree[Table::count - 1];
    double eta = eta3;
    if (m == 13) eta = std::min(eta3, std::max(l8, log2_d(power_norm(b4, b6), 10)));
    s = eta == ninf ? 0 : std::max(0, int(std::ceil(eta - log2_theta(Table::count - 1))));
    s += pade_ell<Scalar>(b, e - s, m, Table::digits);
  }
  out.degree = m;
  out.squarings = s;

  // Padé evaluation on X = 2^{-s} A = 2^{e−s} B with the powers of B rescaled exactly; coefficients
  // divided by b_0 (r = p(X)/p(−X) is unchanged) so that U, V stay near X and I: a huge nilpotent X
  // then gives e^X = I + X without overflowing 60·X.
  const int x = e - s;
  const double* raw = pade_coefficients(m);
  Scalar c[14];
  for (int j = 0; j <= m; ++j) c[j] = Scalar(raw[j] / raw[0]);
  const Matrix id = Matrix::Identity(n, n);
  const Matrix ax = times_pow2<Scalar>(b, x), a2 = times_pow2<Scalar>(b2, 2 * x), a4 = times_pow2<Scalar>(b4, 4 * x),
               a6 = times_pow2<Scalar>(b6, 6 * x);
  Matrix u(n, n), v(n, n), w(n, n);
  if (m == 13) {
    Matrix tmp = c[13] * a6 + c[11] * a4 + c[9] * a2;
    w.noalias() = a6 * tmp;
    w += c[7] * a6 + c[5] * a4 + c[3] * a2 + c[1] * id;
    u.noalias() = ax * w;
    tmp = c[12] * a6 + c[10] * a4 + c[8] * a2;
    v.noalias() = a6 * tmp;
    v += c[6] * a6 + c[4] * a4 + c[2] * a2 + c[0] * id;
  } else {
    // w = Σ c_{2j+1} X^{2j}, v = Σ c_{2j} X^{2j}, j = 0..(m−1)/2, from the stored even powers.
    const Matrix* even[] = {&id, &a2, &a4, &a6, nullptr};
    if (m == 9) {
      b8.resize(n, n);
      b8.noalias() = a4 * a4;
      even[4] = &b8;
    }
    w = c[1] * id;
    v = c[0] * id;
    for (int j = 1; 2 * j <= m; ++j) {
      w += c[2 * j + 1] * *even[j];
      v += c[2 * j] * *even[j];
    }
    u.noalias() = ax * w;
  }
  Matrix r = Eigen::PartialPivLU<Matrix>(v - u).solve(v + u);
  const bool triangular = a.template triangularView<Eigen::StrictlyLower>().toDenseMatrix().isZero(Scalar(0));
  if (triangular) set_triangular_exact<Scalar>(r, a, -s);
  for (int k = 1; k <= s && all_finite(r); ++k) {
    w.noalias() = r * r;
    r.swap(w);
    if (triangular) set_triangular_exact<Scalar>(r, a, k - s);
  }
  out.value = std::move(r);
  if (!all_finite(out.value))
    out.outcome = Outcome::failure(Status::non_finite, -1, std::ldexp(1.0, int(std::ceil(log2_norm))),
                                   "e^A overflows: ‖A‖₁ ≈ 2^" + describe(std::ceil(log2_norm)) +
                                       " and the squarings exceeded the range of the scalar type");
  return out;
}

}  // namespace detail

/// e^A for a square finite matrix A (any spectrum), with its Padé degree, squarings and status.
/// Al-Mohy & Higham 2009, Algorithm 3.1: the scaling s is chosen from d_k = ‖A^k‖₁^{1/k} (k = 4..10),
/// not from ‖A‖₁, so strongly non-normal A is not overscaled; ℓ_m adds squarings where the Padé
/// backward error bound needs them; upper-triangular A gets its diagonal and superdiagonal exactly at
/// every squaring. Degrees 3–13 (double), 3–7 (float). Backward error about unit roundoff; cost
/// ≈ (6 + s) n³-products + one LU, plus two products (n ≤ 150) or a 1-norm estimate for d₈, d₁₀.
/// outcome = non_finite (value holds ±inf/NaN) when e^A overflows; underflow to 0 is not a failure.
/// Throws sgdsde::invalid_argument for non-square or non-finite A.
template <class Derived>
ExpmResult<typename Derived::Scalar> expm_checked(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>, "expm supports float and double");
  require_square("expm", "A", a);
  require_finite("expm", "A", a);
  return detail::expm_al_mohy_higham<Scalar>(a);
}

/// e^A as a matrix: expm_checked(A).value. Entries are ±inf/NaN exactly when e^A overflows
/// (expm_checked reports that as Status::non_finite); the OU functions check and return the status.
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> expm(const Eigen::MatrixBase<Derived>& a) {
  return expm_checked(a).value;
}

/// e^A for symmetric A, returned exactly symmetric. Same algorithm as expm (Al-Mohy–Higham) on the
/// symmetric part: measured against 50-digit references it is 5–10× more accurate than V e^Λ Vᵀ from
/// a symmetric eigendecomposition (1e-15 vs 1e-14 at n = 50 in double, whose error is the eigenvector
/// non-orthogonality); the price is time: ≈ 1.4× the eigendecomposition at n = 800, equal at n = 200
/// (bench/linalg.bench.cpp). Throws if A is not square, finite and symmetric to Constants::tolerance().
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> expm_symmetric(
    const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>, "expm supports float and double");
  require_square("expm_symmetric", "A", a);
  require_finite("expm_symmetric", "A", a);
  require_symmetric("expm_symmetric", "A", a, Constants<Scalar>::tolerance());
  Matrix e = detail::expm_al_mohy_higham<Scalar>(symmetric_part(a)).value;
  return symmetric_part(e);
}

}  // namespace sgdsde
