// Tests for sgdsde/core/lyapunov.hpp: Bartels–Stewart and the symmetric path against an independent
// Kronecker-product solve, scipy's documented examples, and the singular / unstable / bad-input paths.
#include "sgdsde/core/lyapunov.hpp"

#include <cmath>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {

using MatD = Eigen::MatrixXd;

template <class Scalar>
using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// Independent reference: the n²×n² Kronecker system in double, solved by full-pivot LU.
/// continuous: (I ⊗ A + A ⊗ I) vec X = vec Q;  discrete: (I − A ⊗ A) vec X = vec Q.
MatD kronecker_lyapunov(const MatD& a, const MatD& q, bool discrete) {
  const Eigen::Index n = a.rows();
  MatD k = MatD::Zero(n * n, n * n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index l = 0; l < n; ++l)
        for (Eigen::Index m = 0; m < n; ++m) {
          // row (i, j) of vec, column (m, l): coefficient of X(m, l) in equation (i, j)
          double c;
          if (discrete)
            c = (i == m && j == l ? 1.0 : 0.0) - a(i, m) * a(j, l);
          else
            c = (j == l ? a(i, m) : 0.0) + (i == m ? a(j, l) : 0.0);
          k(j * n + i, l * n + m) = c;
        }
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

TEST_CASE_TEMPLATE("continuous Lyapunov (Bartels–Stewart) agrees with the Kronecker solve", T, float, double) {
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

TEST_CASE_TEMPLATE("discrete Lyapunov (Bartels–Stewart) agrees with the Kronecker solve", T, float, double) {
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

TEST_CASE_TEMPLATE("symmetric fast paths agree with Bartels–Stewart and Kronecker", T, float, double) {
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
