// Tests for sgdsde/core/lyapunov.hpp: Bartels–Stewart and the symmetric path against an independent
// Kronecker-product solve, scipy's documented examples, and the singular / unstable / bad-input paths.
#include "sgdsde/core/lyapunov.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {

using MatD = Eigen::MatrixXd;

template <class Scalar>
using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// The n²×n² matrix of 𝓛 on vec X: continuous I ⊗ A + A ⊗ I, discrete I − A ⊗ A.
template <class S = double>
Mat<S> kronecker_matrix(const Mat<S>& a, bool discrete) {
  const Eigen::Index n = a.rows();
  Mat<S> k = Mat<S>::Zero(n * n, n * n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index l = 0; l < n; ++l)
        for (Eigen::Index m = 0; m < n; ++m) {
          // row (i, j) of vec, column (m, l): coefficient of X(m, l) in equation (i, j)
          S c;
          if (discrete)
            c = (i == m && j == l ? S(1) : S(0)) - a(i, m) * a(j, l);
          else
            c = (j == l ? a(i, m) : S(0)) + (i == m ? a(j, l) : S(0));
          k(j * n + i, l * n + m) = c;
        }
  return k;
}

/// Independent reference: the Kronecker system in double, solved by full-pivot LU.
MatD kronecker_lyapunov(const MatD& a, const MatD& q, bool discrete) {
  const Eigen::Index n = a.rows();
  const MatD k = kronecker_matrix(a, discrete);
  Eigen::VectorXd v = Eigen::Map<const Eigen::VectorXd>(q.data(), n * n);
  Eigen::VectorXd x = k.fullPivLu().solve(v);
  return Eigen::Map<MatD>(x.data(), n, n);
}

MatD random_matrix(Eigen::Index n, std::uint64_t id) {
  MatD m(n, n);
  sgdsde::RandomStream(2024, id).fill_normal(m);
  return m;
}

/// A general matrix with complex eigenvalues (so the Schur form has 2×2 blocks), made
/// positive-stable by a shift: |λ(G)| ≤ ‖G‖_∞, so min Re λ ≥ 0.5 after adding (‖G‖_∞ + 0.5) I.
MatD stable_matrix(Eigen::Index n, std::uint64_t id) {
  MatD g = random_matrix(n, id);
  const double bound = g.cwiseAbs().rowwise().sum().maxCoeff();
  return g + (bound + 0.5) * MatD::Identity(n, n);
}

}  // namespace

TEST_CASE_TEMPLATE("continuous Lyapunov (Bartels–Stewart) agrees with the Kronecker solve", T, SGDSDE_TEST_SCALARS) {
  const T tol = std::is_same_v<T, float> ? T(2e-3) : T(1e-9);
  for (Eigen::Index n : {1, 2, 3, 5, 8, 13}) {
    CAPTURE(n);
    const MatD a = stable_matrix(n, 10 + n);
    const MatD g = random_matrix(n, 100 + n);
    for (bool sym : {true, false}) {
      CAPTURE(sym);
      const MatD q = sym ? MatD(g * g.transpose()) : g;
      const MatD ref = kronecker_lyapunov(a, q, false);
      const auto sol = sgdsde::solve_continuous_lyapunov(a.cast<T>().eval(), q.cast<T>().eval());
      REQUIRE(sol.outcome.ok());
      CHECK(sol.relative_residual < 50 * std::numeric_limits<T>::epsilon() * n);
      const double err = (sol.X.template cast<double>() - ref).norm() / ref.norm();
      CHECK(err < tol);
      if (sym) CHECK(sol.X == sol.X.transpose());
      CHECK(sol.min_real_part >= T(0.5) * (1 - tol));
    }
  }
}

TEST_CASE_TEMPLATE("discrete Lyapunov (Bartels–Stewart) agrees with the Kronecker solve", T, SGDSDE_TEST_SCALARS) {
  const T tol = std::is_same_v<T, float> ? T(2e-3) : T(1e-9);
  for (Eigen::Index n : {1, 2, 3, 5, 8, 13}) {
    CAPTURE(n);
    MatD a = random_matrix(n, 20 + n);
    a *= 0.9 / a.cwiseAbs().rowwise().sum().maxCoeff();  // ρ(A) ≤ ‖A‖_∞ = 0.9
    const MatD g = random_matrix(n, 200 + n);
    for (bool sym : {true, false}) {
      CAPTURE(sym);
      const MatD q = sym ? MatD(g * g.transpose()) : g;
      const MatD ref = kronecker_lyapunov(a, q, true);
      const auto sol = sgdsde::solve_discrete_lyapunov(a.cast<T>().eval(), q.cast<T>().eval());
      REQUIRE(sol.outcome.ok());
      CHECK(sol.spectral_radius <= T(0.9) * (1 + tol));
      CHECK(sol.relative_residual < 50 * std::numeric_limits<T>::epsilon() * n);
      const double err = (sol.X.template cast<double>() - ref).norm() / ref.norm();
      CHECK(err < tol * 10);  // conditioning of I − A⊗A with ρ ≤ 0.9 is ≲ 1/(1 − 0.81)
    }
  }
}

TEST_CASE_TEMPLATE("symmetric fast paths agree with Bartels–Stewart and Kronecker", T, SGDSDE_TEST_SCALARS) {
  const T tol = std::is_same_v<T, float> ? T(2e-3) : T(1e-9);
  for (Eigen::Index n : {1, 4, 9}) {
    CAPTURE(n);
    const MatD g = random_matrix(n, 30 + n);
    const MatD h = g * g.transpose() / double(n) + 0.3 * MatD::Identity(n, n);  // SPD
    const MatD c = random_matrix(n, 40 + n);
    const MatD q = c * c.transpose();
    const MatD ref_c = kronecker_lyapunov(h, q, false);
    const auto s_eig = sgdsde::solve_continuous_lyapunov(h.cast<T>().eval(), q.cast<T>().eval(),
                                                         sgdsde::LyapunovMethod::symmetric_eigen);
    const auto s_sch = sgdsde::solve_continuous_lyapunov(h.cast<T>().eval(), q.cast<T>().eval(),
                                                         sgdsde::LyapunovMethod::schur);
    REQUIRE(s_eig.outcome.ok());
    REQUIRE(s_sch.outcome.ok());
    CHECK((s_eig.X.template cast<double>() - ref_c).norm() / ref_c.norm() < tol);
    CHECK((s_sch.X.template cast<double>() - ref_c).norm() / ref_c.norm() < tol);
    // Discrete with the SGD iteration matrix I − ηH (ρ < 1 for η = 0.5/λ_max).
    Eigen::SelfAdjointEigenSolver<MatD> eh(h);
    const MatD a = MatD::Identity(n, n) - (0.5 / eh.eigenvalues().maxCoeff()) * h;
    const MatD ref_d = kronecker_lyapunov(a, q, true);
    const auto d_eig = sgdsde::solve_discrete_lyapunov(a.cast<T>().eval(), q.cast<T>().eval(),
                                                       sgdsde::LyapunovMethod::symmetric_eigen);
    const auto d_sch =
        sgdsde::solve_discrete_lyapunov(a.cast<T>().eval(), q.cast<T>().eval(), sgdsde::LyapunovMethod::schur);
    REQUIRE(d_eig.outcome.ok());
    REQUIRE(d_sch.outcome.ok());
    const double cond = 1.0 / (1.0 - d_eig.spectral_radius * d_eig.spectral_radius);
    CHECK((d_eig.X.template cast<double>() - ref_d).norm() / ref_d.norm() < tol * cond);
    CHECK((d_sch.X.template cast<double>() - ref_d).norm() / ref_d.norm() < tol * cond);
  }
}

TEST_CASE("scipy's documented examples of solve_continuous_lyapunov and solve_discrete_lyapunov") {
  // scipy.linalg.solve_continuous_lyapunov docstring example (SciPy reference guide, 1.1–1.15):
  // a = [[-3,-2,0],[-1,-1,0],[0,-5,-1]], q = I  ->  x printed to the digits below (exact dyadics).
  MatD a(3, 3);
  a << -3, -2, 0, -1, -1, 0, 0, -5, -1;
  MatD x(3, 3);
  x << -0.75, 0.875, -3.75, 0.875, -1.375, 5.3125, -3.75, 5.3125, -27.0625;
  const auto sol = sgdsde::solve_continuous_lyapunov(a, MatD::Identity(3, 3));
  REQUIRE(sol.outcome.ok());
  CHECK((sol.X - x).cwiseAbs().maxCoeff() < 1e-12);
  // scipy.linalg.solve_discrete_lyapunov docstring example (scipy/linalg/_solvers.py):
  // a = [[0.2,0.5],[0.7,-0.9]], q = I -> [[0.70872893, 1.43518822],[1.43518822, -2.4266315]]
  // (printed to 8 decimals). ρ(a) ≈ 1.158 > 1, so the solution exists but is not a covariance:
  // the solver must return it together with Status::unstable_step.
  MatD ad(2, 2);
  ad << 0.2, 0.5, 0.7, -0.9;
  MatD xd(2, 2);
  xd << 0.70872893, 1.43518822, 1.43518822, -2.4266315;
  for (auto method : {sgdsde::LyapunovMethod::automatic, sgdsde::LyapunovMethod::schur}) {
    const auto sd = sgdsde::solve_discrete_lyapunov(ad, MatD::Identity(2, 2), method);
    CHECK(sd.outcome.status == sgdsde::Status::unstable_step);
    CHECK(sd.spectral_radius > 1.0);
    CHECK((sd.X - xd).cwiseAbs().maxCoeff() < 1e-8);
  }
}

TEST_CASE("singular Lyapunov operators are reported, not returned as NaN") {
  MatD a(2, 2);
  a << 1, 3, 0, -1;  // λ = ±1: λ_1 + λ_2 = 0
  const auto c = sgdsde::solve_continuous_lyapunov(a, MatD::Identity(2, 2));
  CHECK(c.outcome.status == sgdsde::Status::singular);
  const auto cs = sgdsde::solve_continuous_lyapunov(MatD(MatD::Identity(2, 2) * 0.0), MatD::Identity(2, 2));
  CHECK(cs.outcome.status != sgdsde::Status::success);
  MatD b(2, 2);
  b << 2, 1, 0, 0.5;  // λ_1 λ_2 = 1
  const auto d = sgdsde::solve_discrete_lyapunov(b, MatD::Identity(2, 2));
  CHECK(d.outcome.status == sgdsde::Status::singular);
  const auto ds = sgdsde::solve_discrete_lyapunov(MatD(MatD::Identity(3, 3)), MatD::Identity(3, 3),
                                                  sgdsde::LyapunovMethod::symmetric_eigen);
  CHECK(ds.outcome.status == sgdsde::Status::singular);
}

TEST_CASE("Lyapunov solvers reject bad arguments") {
  const MatD a = MatD::Identity(3, 3);
  CHECK_THROWS_AS(sgdsde::solve_continuous_lyapunov(MatD(3, 2), MatD(3, 3)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::solve_continuous_lyapunov(a, MatD::Identity(2, 2)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::solve_discrete_lyapunov(a, MatD::Identity(3, 4)), sgdsde::invalid_argument);
  MatD bad = a;
  bad(1, 2) = std::nan("");
  CHECK_THROWS_AS(sgdsde::solve_continuous_lyapunov(bad, a), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::solve_discrete_lyapunov(a, bad), sgdsde::invalid_argument);
  MatD asym = a;
  asym(0, 1) = 1;
  CHECK_THROWS_AS(sgdsde::solve_continuous_lyapunov(asym, a, sgdsde::LyapunovMethod::symmetric_eigen),
                  sgdsde::invalid_argument);
  try {
    sgdsde::solve_continuous_lyapunov(a, MatD::Identity(2, 2));
  } catch (const sgdsde::invalid_argument& e) {
    CHECK(std::string(e.what()).find("'Q'") != std::string::npos);
  }
}

TEST_CASE_TEMPLATE("Lyapunov solvers are scale invariant up to the range of the scalar type", T, SGDSDE_TEST_SCALARS) {
  // Issue 8, defect 4: unscaled Frobenius norms made Q·1e200 give a NaN residual (→ singular) and
  // Q·1e160 a residual of 0. A X + X Aᵀ = Q is linear in Q and homogeneous of degree −1 in A, so
  // X(c_a A, c_q Q) = (c_q / c_a) X(A, Q) and the relative residual is unchanged.
  const bool is_float = std::is_same_v<T, float>;
  const std::vector<double> scales = is_float ? std::vector<double>{1e30, 1e-30, 1e35}
                                              : std::vector<double>{1e200, 1e160, 1e-200, 1e300, 1e-300};
  const double tol = is_float ? 1e-4 : 1e-12;
  const Eigen::Index n = 5;
  const MatD a = stable_matrix(n, 50);
  const MatD g = random_matrix(n, 51);
  const MatD q = g * g.transpose();
  const MatD ad = a * (0.9 / a.cwiseAbs().rowwise().sum().maxCoeff());
  for (bool sym_a : {false, true}) {
    const MatD ac = sym_a ? MatD(a + a.transpose()) : a;
    const MatD xc = kronecker_lyapunov(ac, q, false), xd = kronecker_lyapunov(ad, q, true);
    for (double c : scales) {
      CAPTURE(sym_a);
      CAPTURE(c);
      const auto sq = sgdsde::solve_continuous_lyapunov(ac.cast<T>().eval(), Mat<T>((c * q).cast<T>()));
      REQUIRE(sq.outcome.ok());
      CHECK(sq.relative_residual > 0);
      CHECK(sq.relative_residual < 50 * std::numeric_limits<T>::epsilon() * n);
      CHECK((sq.X.template cast<double>() / c - xc).norm() / xc.norm() < tol);
      // A and Q both scaled by c: X unchanged, the eigenvalues scaled by c.
      const auto sa = sgdsde::solve_continuous_lyapunov(Mat<T>((c * ac).cast<T>()), Mat<T>((c * q).cast<T>()));
      REQUIRE(sa.outcome.ok());
      CHECK(sa.relative_residual > 0);
      CHECK(sa.relative_residual < 50 * std::numeric_limits<T>::epsilon() * n);
      CHECK((sa.X.template cast<double>() - xc).norm() / xc.norm() < tol);
      CHECK(double(sa.min_real_part) / c == doctest::Approx(double(sq.min_real_part)).epsilon(1e-4));
      CHECK(double(sa.separation) / c == doctest::Approx(double(sq.separation)).epsilon(1e-4));
      const auto sd = sgdsde::solve_discrete_lyapunov(ad.cast<T>().eval(), Mat<T>((c * q).cast<T>()));
      REQUIRE(sd.outcome.ok());
      CHECK(sd.relative_residual > 0);
      CHECK(sd.relative_residual < 50 * std::numeric_limits<T>::epsilon() * n);
      CHECK((sd.X.template cast<double>() / c - xd).norm() / xd.norm() < tol * 10);
    }
  }
  // A solution beyond the range of T is reported, not returned as success.
  const double huge = is_float ? 1e38 : 1e307;
  const auto over = sgdsde::solve_continuous_lyapunov(Mat<T>((ad / huge * 1e-3).cast<T>()),
                                                      Mat<T>((huge * q / q.maxCoeff()).cast<T>()));
  CHECK(over.outcome.status == sgdsde::Status::non_finite);
}

TEST_CASE_TEMPLATE("near-singular Lyapunov equations report ill_conditioned, well-conditioned keep success", T,
                   SGDSDE_TEST_SCALARS) {
  // Held-out finding: at eigenvalue separation 1e-12 the solvers returned success with 3–4 correct
  // digits. ε·condition > √ε ⇔ condition > 1/√ε (6.7e7 double, 2.9e3 float); the separations below
  // give condition ≈ ‖A‖/δ ≈ 1e12 (double), 1e5 (float).
  const bool is_float = std::is_same_v<T, float>;
  const double delta = is_float ? 1e-5 : 1e-12;
  const MatD q = (MatD(2, 2) << 2, 1, 1, 3).finished();
  auto reference = [](const MatD& a, const MatD& q, bool discrete) {  // 64-bit-mantissa Kronecker solve
    using L = long double;
    const Mat<L> k = kronecker_matrix<L>(a.cast<L>(), discrete);
    const Mat<L> ql = q.cast<L>();
    const Eigen::Matrix<L, Eigen::Dynamic, 1> x =
        k.fullPivLu().solve(Eigen::Map<const Eigen::Matrix<L, Eigen::Dynamic, 1>>(ql.data(), 4));
    return Mat<L>(Eigen::Map<const Mat<L>>(x.data(), 2, 2));
  };
  struct Case {
    MatD a;
    bool discrete;
  };
  const T lam = T(0.75);
  std::vector<Case> cases;
  {  // continuous: λ and −λ + δ, non-normal (Schur path) and diagonal (symmetric path)
    MatD a(2, 2);
    a << double(lam), 1.0, 0.0, double(T(-double(lam) + delta));
    cases.push_back({a, false});
    a(0, 1) = 0;
    cases.push_back({a, false});
    // discrete: 1 − μ² = δ with ρ < 1, μ = T(1 − δ/2), the other eigenvalue 0.5 (a Jordan block at μ
    // would make 𝓛 defective with ‖𝓛⁻¹‖ ≈ δ⁻³, beyond any precision: no reference exists).
    const double mu = double(T(1.0 - delta / 2));
    MatD b(2, 2);
    b << mu, 0.5, 0.0, 0.5;
    cases.push_back({b, true});
    b(0, 1) = 0;
    cases.push_back({b, true});
  }
  for (const Case& c : cases) {
    CAPTURE(c.a);
    const Mat<T> at = c.a.template cast<T>(), qt = q.template cast<T>();
    const auto sol = c.discrete ? sgdsde::solve_discrete_lyapunov(at, qt) : sgdsde::solve_continuous_lyapunov(at, qt);
    CHECK(sol.outcome.status == sgdsde::Status::ill_conditioned);
    CHECK(sol.condition > T(1) / std::sqrt(std::numeric_limits<T>::epsilon()));
    // The bound is truthful: the actual error against the long-double solution is below it.
    const auto ref = reference(at.template cast<double>(), qt.template cast<double>(), c.discrete);
    const double err = double((sol.X.template cast<long double>() - ref).norm() / ref.norm());
    CAPTURE(err);
    CAPTURE(sol.forward_error_bound);
    CHECK(err <= double(sol.forward_error_bound));
    // Same A shifted away from the singularity: well conditioned, success.
    const Mat<T> shifted = c.discrete ? Mat<T>(T(0.5) * at) : Mat<T>(at + T(2) * Mat<T>::Identity(2, 2));
    const auto good = c.discrete ? sgdsde::solve_discrete_lyapunov(shifted, qt)
                                 : sgdsde::solve_continuous_lyapunov(shifted, qt);
    CHECK(good.outcome.ok());
    CHECK(good.condition < T(100));
    CHECK(good.forward_error_bound < T(1000) * std::numeric_limits<T>::epsilon());
  }
}

TEST_CASE("Lyapunov separation estimate is within a factor 10 of the Kronecker matrix's smallest singular value") {
  // True sep = σ_min(K) for the Kronecker matrix K of 𝓛 (on the symmetric subspace when Q is
  // symmetric: σ_min(K B) with B an orthonormal basis of vec of symmetric matrices). The estimate is
  // an upper bound (a lower bound on ‖𝓛⁻¹‖₂) and must not exceed 10× the truth.
  auto sym_basis = [](Eigen::Index n) {
    MatD b = MatD::Zero(n * n, n * (n + 1) / 2);
    Eigen::Index c = 0;
    for (Eigen::Index j = 0; j < n; ++j)
      for (Eigen::Index i = 0; i <= j; ++i, ++c) {
        const double w = i == j ? 1.0 : std::sqrt(0.5);
        b(j * n + i, c) = w;
        b(i * n + j, c) = w;
      }
    return b;
  };
  int id = 0, checked = 0;
  for (Eigen::Index n : {2, 3, 4, 6})
    for (int trial = 0; trial < 6; ++trial)
      for (bool discrete : {false, true}) {
        ++id;
        MatD a = random_matrix(n, 500 + std::uint64_t(id));
        if (trial % 3 == 1) a = MatD(a.triangularView<Eigen::Upper>()) * 3.0;  // non-normal
        if (discrete)
          a *= 0.95 / std::abs(Eigen::EigenSolver<MatD>(a).eigenvalues().array().abs().maxCoeff());
        else
          a += (0.1 - Eigen::EigenSolver<MatD>(a).eigenvalues().real().minCoeff()) * MatD::Identity(n, n);
        const MatD g = random_matrix(n, 900 + std::uint64_t(id));
        for (bool sym_q : {false, true}) {
          CAPTURE(n);
          CAPTURE(discrete);
          CAPTURE(sym_q);
          CAPTURE(a);
          const MatD q = sym_q ? MatD(g * g.transpose()) : g;
          const MatD k = kronecker_matrix(a, discrete);
          const MatD kr = sym_q ? MatD(k * sym_basis(n)) : k;
          const double sep = Eigen::JacobiSVD<MatD>(kr).singularValues().minCoeff();
          const auto sol = discrete ? sgdsde::solve_discrete_lyapunov(a, q, sgdsde::LyapunovMethod::schur)
                                    : sgdsde::solve_continuous_lyapunov(a, q, sgdsde::LyapunovMethod::schur);
          CHECK(sol.separation >= sep * (1 - 1e-10));
          CHECK(sol.separation <= 10 * sep);
          ++checked;
        }
      }
  CHECK(checked == 96);
}

#if defined(SGDSDE_USE_LAPACK)
// Built only with -DSGDSDE_USE_LAPACK (and LAPACK linked): the dgees/sgees Schur step against Eigen's
// RealSchur. The two factorisations differ (U is unique only up to signs and the order of the blocks),
// so they are compared through what the solver needs: A = U T Uᵀ with U orthogonal and T in the block
// form schur_blocks reads, and the Bartels–Stewart solution X built on each, which must agree to the
// conditioning of the problem and leave residuals of the same rounding order.
TEST_CASE_TEMPLATE("LAPACK real Schur step (SGDSDE_USE_LAPACK) matches Eigen's RealSchur path", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  const T eps = std::numeric_limits<T>::epsilon();
  for (Eigen::Index n : {1, 2, 7, 60}) {
    for (bool discrete : {false, true}) {
      CAPTURE(n);
      CAPTURE(discrete);
      MatD ad = random_matrix(n, 700 + std::uint64_t(n));
      ad = discrete ? MatD(ad * (0.9 / ad.cwiseAbs().rowwise().sum().maxCoeff())) : stable_matrix(n, 700 + std::uint64_t(n));
      const M a = ad.cast<T>();
      const MatD g = random_matrix(n, 800 + std::uint64_t(n));
      const M q = (g * g.transpose()).cast<T>();
      M t, u, te, ue;
      REQUIRE(sgdsde::detail::real_schur<T>(a, t, u));
      REQUIRE(sgdsde::detail::real_schur_eigen<T>(a, te, ue));
      // Backward error of the factorisation and orthogonality, at rounding level (Householder + QR: O(n ε)).
      CHECK((u * t * u.transpose() - a).norm() <= T(50) * T(n) * eps * a.norm());
      CHECK((u.transpose() * u - M::Identity(n, n)).norm() <= T(50) * T(n) * eps);
      // Quasi-triangular: exact zeros below the subdiagonal; 2×2 blocks never adjacent.
      for (Eigen::Index j = 0; j < n; ++j)
        for (Eigen::Index i = j + 2; i < n; ++i) CHECK(t(i, j) == T(0));
      for (Eigen::Index i = 0; i + 2 < n; ++i) CHECK((t(i + 1, i) == T(0) || t(i + 2, i + 1) == T(0)));
      // Same spectrum (sorted real parts) as Eigen's form.
      auto real_parts = [](const M& tm) {
        const auto starts = sgdsde::detail::schur_blocks<T>(tm);
        std::vector<T> re;
        for (const auto& l : sgdsde::detail::schur_eigenvalues<T>(tm, starts)) re.push_back(std::real(l));
        std::sort(re.begin(), re.end());
        return re;
      };
      const std::vector<T> rl = real_parts(t), re = real_parts(te);
      REQUIRE(rl.size() == re.size());
      for (std::size_t i = 0; i < rl.size(); ++i) CHECK(std::abs(rl[i] - re[i]) <= T(1e3) * eps * a.norm());
      // The solver (LAPACK Schur inside) against Bartels–Stewart on Eigen's Schur form.
      const auto sol = discrete ? sgdsde::solve_discrete_lyapunov(a, q, sgdsde::LyapunovMethod::schur)
                                : sgdsde::solve_continuous_lyapunov(a, q, sgdsde::LyapunovMethod::schur);
      REQUIRE(sol.outcome.ok());
      M f = ue.transpose() * q * ue;
      f = (T(0.5) * (f + f.transpose())).eval();
      sgdsde::detail::quasi_triangular_lyapunov<T>(te, f, discrete, true);
      const M xe = ue * f * ue.transpose();
      const M res = discrete ? M(a * xe * a.transpose() - xe + q) : M(a * xe + xe * a.transpose() - q);
      const T denom = discrete ? a.norm() * a.norm() * xe.norm() + xe.norm() + q.norm() : T(2) * a.norm() * xe.norm() + q.norm();
      const T eigen_residual = res.norm() / denom;
      CHECK(sol.relative_residual < T(50) * eps * T(n));
      CHECK(eigen_residual < T(50) * eps * T(n));
      // Both are backward stable: they differ by at most about twice the forward error bound.
      CHECK((sol.X - xe).norm() / xe.norm() <= T(2) * sol.condition * T(50) * eps * T(n));
      MESSAGE("n = " << n << std::string(discrete ? " discrete" : " continuous") << ": relative residual LAPACK "
                     << sol.relative_residual << ", Eigen " << eigen_residual);
    }
  }
}
#endif
