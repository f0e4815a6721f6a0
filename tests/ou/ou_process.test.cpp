// Tests for sgdsde/ou/ou_process.hpp (float and double): Van Loan covariance against quadrature and the
// scalar closed form, its large-t limit against the Lyapunov solution (and t = 1e308), the exact law of
// the Euler–Maruyama chain against a step-by-step recursion and against a simulated ensemble (5 SE),
// exact sampling moments (5 SE), the log-density against a direct Gaussian formula and its integral,
// an Euler–Maruyama ensemble against the Stein prediction of its own stationary covariance, and bad
// arguments (d = 0, NaN states).
#include "sgdsde/ou/ou_process.hpp"

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/milstein.hpp"

#include <doctest/doctest.h>

namespace {
template <class T>
using Mat = sgdsde::MatrixX<T>;
template <class T>
using Vec = sgdsde::VectorX<T>;

/// `digits` = how many ε of relative error an identity may carry (ε of the Scalar under test).
template <class T>
double eps_tol(double digits) {
  return digits * double(sgdsde::Constants<T>::epsilon());
}

/// A non-symmetric, non-normal stable drift (eigenvalues 1 ± 0.5i and 0.4) and a rank-2 diffusion.
template <class T>
sgdsde::OrnsteinUhlenbeck<T> example_ou() {
  Mat<T> a(3, 3);
  a << 1.0, 0.5, 0.3, -0.5, 1.0, 0.0, 0.0, 0.2, 0.4;
  Vec<T> mu(3);
  mu << 1.0, -2.0, 0.5;
  Mat<T> b(3, 2);
  b << 0.8, 0.0, 0.3, 0.5, -0.2, 0.7;
  return sgdsde::OrnsteinUhlenbeck(a, b, mu);
}
}  // namespace

TEST_CASE_TEMPLATE("Van Loan covariance equals the integral by Gauss–Legendre quadrature", T, SGDSDE_TEST_SCALARS) {
  const auto ou = example_ou<T>();
  const Eigen::MatrixXd a = ou.A().template cast<double>();
  const Eigen::MatrixXd q = ou.diffusion_covariance().template cast<double>();
  // ≈ 1e-12 in double; the float bound is the same count of ε (the doublings and the 6×6 expm each
  // carry a few hundred ε).
  const double tol = eps_tol<T>(4500);
  for (double t : {1e-3, 0.1, 1.0, 3.0, 12.0}) {
    CAPTURE(t);
    // ∫₀ᵗ e^{−As} Q e^{−Aᵀs} ds in double, composite 5-point Gauss–Legendre on 40 panels (error ≪ 1e-13).
    const double xg[5] = {-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831, 0.9061798459386640};
    const double wg[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665,
                          0.2369268850561891};
    const int panels = 40;
    Eigen::MatrixXd integral = Eigen::MatrixXd::Zero(3, 3);
    const double hpanel = t / panels;
    for (int p = 0; p < panels; ++p)
      for (int g = 0; g < 5; ++g) {
        const double s = hpanel * (p + 0.5 + 0.5 * xg[g]);
        const Eigen::MatrixXd e = sgdsde::expm(Eigen::MatrixXd(-s * a));
        integral += 0.5 * hpanel * wg[g] * e * q * e.transpose();
      }
    const auto prop = ou.propagator(T(t));
    REQUIRE(prop.outcome.ok());
    CHECK((prop.covariance.template cast<double>() - integral).norm() / integral.norm() < tol);
  }
}

TEST_CASE_TEMPLATE("scalar OU: closed-form mean, variance and log-density", T, SGDSDE_TEST_SCALARS) {
  // dX = −a(X − μ)dt + b dW: mean μ + e^{−at}(x0 − μ), variance b²(1 − e^{−2at})/(2a).
  const double a = 0.7, mu = 1.5, b = 0.9, x0 = -1.0;
  const sgdsde::OrnsteinUhlenbeck ou(Mat<T>::Constant(1, 1, T(a)), Mat<T>::Constant(1, 1, T(b)),
                                     Vec<T>::Constant(1, T(mu)));
  const double tol = eps_tol<T>(450);  // 1e-13 in double
  for (double t : {1e-4, 0.3, 2.0, 40.0}) {
    CAPTURE(t);
    const auto law = ou.transition_law(Vec<T>::Constant(1, T(x0)), T(t));
    REQUIRE(law.outcome.ok());
    const double m = mu + std::exp(-a * t) * (x0 - mu);
    const double v = b * b * -std::expm1(-2 * a * t) / (2 * a);
    CHECK(std::abs(double(law.mean(0)) - m) < tol * 3);
    CHECK(std::abs(double(law.covariance(0, 0)) - v) < tol * v);
    const double x = m + 0.7 * std::sqrt(v);
    const double direct = -0.5 * std::log(2 * M_PI * v) - (x - m) * (x - m) / (2 * v);
    const T ld = ou.transition_log_density(Vec<T>::Constant(1, T(x0)), Vec<T>::Constant(1, T(x)), T(t));
    // The log-density of a variance v carries ≈ (x − m)²/v · (relative error of v) + that of log v.
    CHECK(std::abs(double(ld) - direct) < 10 * tol * (1 + std::abs(direct)));
  }
}

TEST_CASE_TEMPLATE("log-density of a 2-d transition: direct 2×2 formula and integral over the plane", T, float,
                   double) {
  Mat<T> a(2, 2), b(2, 2);
  a << 1.0, 0.6, -0.3, 0.8;
  b << 0.5, 0.1, 0.0, 0.4;
  const sgdsde::OrnsteinUhlenbeck ou(a, b, Vec<T>(Eigen::Vector2d(0.2, -0.1).cast<T>()));
  const Vec<T> x0 = Eigen::Vector2d(1.0, 1.0).cast<T>();
  const auto law = ou.transition_law(x0, T(0.8));
  const double s11 = law.covariance(0, 0), s12 = law.covariance(0, 1), s22 = law.covariance(1, 1);
  const double det = s11 * s22 - s12 * s12;
  const Eigen::Vector2d x(0.5, 0.3);
  const Eigen::Vector2d r = x - law.mean.template cast<double>();
  const double quad = (s22 * r(0) * r(0) - 2 * s12 * r(0) * r(1) + s11 * r(1) * r(1)) / det;
  const double direct = -0.5 * quad - 0.5 * std::log(4 * M_PI * M_PI * det);
  // The same moments in both: only the rounding of the Cholesky path (double: was 1e-12 relative).
  CHECK(double(law.log_density(x.cast<T>())) == doctest::Approx(direct).epsilon(eps_tol<T>(4500)));
  // ∫ p = 1: midpoint rule over ±8 standard deviations (error ≪ 1e-6 for a smooth Gaussian); the sum
  // of 160000 float terms carries ≈ 1e-4 of rounding.
  const int k = 400;
  const double h0 = 16 * std::sqrt(s11) / k, h1 = 16 * std::sqrt(s22) / k;
  double total = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      const Eigen::Vector2d p(law.mean(0) + (i + 0.5 - k / 2) * h0, law.mean(1) + (j + 0.5 - k / 2) * h1);
      total += std::exp(double(law.log_density(p.cast<T>()))) * h0 * h1;
    }
  CHECK(total == doctest::Approx(1.0).epsilon(std::is_same_v<T, float> ? 1e-4 : 1e-6));
}

TEST_CASE_TEMPLATE("transition covariance tends to the Lyapunov stationary covariance, also at t = 1e308", T, float,
                   double) {
  const auto ou = example_ou<T>();
  const auto st = ou.stationary_law();
  REQUIRE(st.outcome.ok());
  const T tol = sgdsde::Constants<T>::tolerance();
  // Slowest decay rate of e^{−At} is 0.4: at t = 60, ‖Σ(t) − Σ∞‖ ≈ e^{−48}‖Σ∞‖.
  const auto prop = ou.propagator(T(60));
  CHECK((prop.covariance - st.covariance).norm() / st.covariance.norm() < tol);
  // Independent check of Σ∞: residual of A Σ + Σ Aᵀ = BBᵀ.
  const Mat<T> res = ou.A() * st.covariance + st.covariance * ou.A().transpose() - ou.diffusion_covariance();
  CHECK(res.norm() < tol * ou.diffusion_covariance().norm());
  // Issue 8, defect 1: ‖A‖·t overflows to ∞ and log2(∞) was undefined behaviour (it threw "A is
  // non-finite"). The answer exists: Φ = 0, Σ = Σ∞.
  const T huge = std::is_same_v<T, float> ? T(3e38f) : T(1e308);
  const auto far = ou.propagator(huge);
  REQUIRE(far.outcome.ok());
  CHECK(far.transition.cwiseAbs().maxCoeff() == T(0));
  CHECK((far.covariance - st.covariance).norm() / st.covariance.norm() < tol);
  const auto far_law = ou.transition_law(Vec<T>::Constant(3, T(5)), huge);
  CHECK((far_law.mean - ou.mu()).norm() == T(0));
}

TEST_CASE_TEMPLATE("Euler–Maruyama law equals the step-by-step recursion, with a shortened last step", T, float,
                   double) {
  const auto ou = example_ou<T>();
  const Vec<T> x0 = Eigen::Vector3d(3.0, 0.0, -1.0).cast<T>();
  // Independent recursion in double: m ← μ + P(m − μ), S ← P S Pᵀ + h BBᵀ with P = I − A h.
  const Eigen::MatrixXd a = ou.A().template cast<double>(), q = ou.diffusion_covariance().template cast<double>();
  const Eigen::VectorXd mu = ou.mu().template cast<double>();
  auto recursion = [&](double t, double dt, Eigen::VectorXd& mean, Eigen::MatrixXd& cov) {
    mean = x0.template cast<double>();
    cov = Eigen::MatrixXd::Zero(3, 3);
    double s = 0;
    while (s < t - 1e-12) {
      const double h = std::min(dt, t - s);
      const Eigen::MatrixXd p = Eigen::MatrixXd::Identity(3, 3) - h * a;
      mean = mu + p * (mean - mu);
      cov = p * cov * p.transpose() + h * q;
      s += h;
    }
  };
  // 250 equal steps (doubling over 8 bits), 7 steps with a last one of 0.04, and 0 steps.
  for (auto [t, dt] : {std::pair{5.0, 0.02}, std::pair{0.7, 0.11}, std::pair{0.0, 0.1}}) {
    CAPTURE(t);
    Eigen::VectorXd mean;
    Eigen::MatrixXd cov;
    recursion(t, dt, mean, cov);
    const auto law = ou.euler_maruyama_law(x0, T(t), T(dt));
    REQUIRE(law.outcome.ok());
    const double scale = 1 + cov.norm();
    CHECK((law.mean.template cast<double>() - mean).norm() < eps_tol<T>(4500) * (1 + mean.norm()));
    CHECK((law.covariance.template cast<double>() - cov).norm() < eps_tol<T>(4500) * scale);
  }
  // Long horizon: the law tends to the Stein stationary law.
  const auto far = ou.euler_maruyama_law(x0, T(200), T(0.25));
  const auto stein = ou.euler_maruyama_stationary_law(T(0.25));
  CHECK((far.covariance - stein.covariance).norm() / stein.covariance.norm() < sgdsde::Constants<T>::tolerance());
}

TEST_CASE_TEMPLATE("a simulated OU ensemble matches the exact Euler–Maruyama law (z-scores, 5 SE)", T, float,
                   double) {
  // The API of the guide's first program: one object, integrate picks the fused kernel.
  Mat<T> a(2, 2), b(2, 2);
  a << 2.0, 0.6, 0.6, 1.0;
  b << 0.5, 0.0, 0.2, 0.4;
  const Vec<T> x0 = Eigen::Vector2d(1.0, -1.0).cast<T>();
  const sgdsde::OrnsteinUhlenbeck ou(a, b);
  const auto paths = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x0, sgdsde::TimeGrid(0.0, 2.0, 0.1),
                                       sgdsde::Ensemble(20000), sgdsde::RandomStream(42));
  REQUIRE(paths.outcome.ok());
  const auto em = ou.euler_maruyama_law(x0, T(2), T(0.1));
  const sgdsde::ZScores z = sgdsde::z_scores(paths.final_state, em);
  // 2 means + 3 covariance entries, each asymptotically N(0, 1) under the exact law (CLT with 20000
  // paths); |z| < 5 has a two-sided tail of 5.7e-7 each.
  INFO("max |z| = " << z.max_abs());
  CHECK(z.max_abs() < 5);
  // Power: at dt = 0.1 the EM variance along the fast direction (λ ≈ 2.3) is ≈ λdt/2 ≈ 12% above the
  // SDE's, ≈ 10 SE of a variance from 20000 paths (≈ 1.4% each): the SDE's law is rejected.
  const auto sde = ou.transition_law(x0, T(2));
  CHECK(sgdsde::z_scores(paths.final_state, sde).max_abs() > 5);
}

TEST_CASE_TEMPLATE("exact transition sampling has the predicted mean and covariance (5 SE)", T, SGDSDE_TEST_SCALARS) {
  const auto ou = example_ou<T>();
  const T lag = T(0.6);
  sgdsde::OuTransitionSampler sampler(ou, lag);
  REQUIRE(sampler.outcome().ok());
  const Vec<T> x0 = Eigen::Vector3d(3.0, 0.0, -1.0).cast<T>();
  const auto law = ou.transition_law(x0, lag);
  const int m = 40000;
  Eigen::MatrixXd draws(3, m);
  for (int i = 0; i < m; ++i) {
    sgdsde::RandomStream stream(99, std::uint64_t(i));
    Vec<T> x = x0;
    sampler.sample(x, stream);
    draws.col(i) = x.template cast<double>();
  }
  // Mean: SE_i = √(Σ_ii / m). Covariance with the known mean: the products (x_i−m_i)(x_j−m_j) are
  // i.i.d. with variance Σ_ii Σ_jj + Σ_ij² (Isserlis), so SE_ij = √((Σ_ii Σ_jj + Σ_ij²)/m).
  // Bound 5 SE on each of 3 + 6 statistics: two-sided normal tail 5.7e-7 each.
  const Eigen::VectorXd lm = law.mean.template cast<double>();
  const Eigen::MatrixXd s = law.covariance.template cast<double>();
  const Eigen::VectorXd mean = draws.rowwise().mean();
  const Eigen::MatrixXd c = draws.colwise() - lm;
  const Eigen::MatrixXd cov = c * c.transpose() / m;
  for (int i = 0; i < 3; ++i) {
    CHECK(std::abs(mean(i) - lm(i)) < 5 * std::sqrt(s(i, i) / m));
    for (int j = 0; j <= i; ++j) {
      const double se = std::sqrt((s(i, i) * s(j, j) + s(i, j) * s(i, j)) / m);
      CHECK(std::abs(cov(i, j) - s(i, j)) < 5 * se);
    }
  }
  // Two steps of lag τ are one step of lag 2τ in law: check the propagator composes.
  const auto p1 = ou.propagator(lag), p2 = ou.propagator(2 * lag);
  const T tol = T(eps_tol<T>(4500));
  CHECK((p1.transition * p1.transition - p2.transition).norm() < tol);
  const Mat<T> composed = p1.transition * p1.covariance * p1.transition.transpose() + p1.covariance;
  CHECK((composed - p2.covariance).norm() < tol);
}

TEST_CASE_TEMPLATE("Euler–Maruyama ensemble reaches the Stein covariance of its discretisation, not the SDE's" * doctest::test_suite("slow"), T,
                   SGDSDE_TEST_SCALARS) {
  const auto ou = example_ou<T>();
  const double dt = 0.25;  // ρ(I − A dt) ≈ 0.9; O(dt) bias of EM is large enough to resolve
  const auto disc = ou.euler_maruyama_stationary_law(T(dt));
  const auto cont = ou.stationary_law();
  REQUIRE(disc.outcome.ok());
  REQUIRE(cont.outcome.ok());
  const int paths = 2000, burn = 300, steps = 600;  // (0.9)^300 ≈ 2e-14: burn-in transient negligible
  // Per path, the time average of (x − μ)(x − μ)ᵀ over `steps` steps is one batch mean; the paths are
  // independent (disjoint stream indices), so the SE of the ensemble average is sd(batch means)/√paths.
  // The observer accumulates them in double; no state is stored.
  std::vector<Eigen::Matrix3d> per_path(paths, Eigen::Matrix3d::Zero());
  const Eigen::Vector3d mu = ou.mu().template cast<double>();
  const auto sol = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, ou.mu(), sgdsde::TimeGrid(0.0, (burn + steps) * dt, dt),
                                     sgdsde::Ensemble(paths), sgdsde::RandomStream(5150),
                                     [&](long k, T, const Mat<T>& x) {
                                       if (k <= burn) return;
                                       for (int p = 0; p < paths; ++p) {
                                         const Eigen::Vector3d c = x.col(p).template cast<double>() - mu;
                                         per_path[p] += c * c.transpose() / steps;
                                       }
                                     });
  REQUIRE(sol.outcome.ok());
  int separated = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j <= i; ++j) {
      double mean = 0, sq = 0;
      for (const auto& m : per_path) mean += m(i, j) / paths;
      for (const auto& m : per_path) sq += (m(i, j) - mean) * (m(i, j) - mean) / (paths - 1);
      const double se = std::sqrt(sq / paths);
      CAPTURE(i);
      CAPTURE(j);
      CHECK(std::abs(mean - double(disc.covariance(i, j))) < 5 * se);
      if (std::abs(mean - double(cont.covariance(i, j))) > 10 * se) ++separated;
    }
  // The test has power: the SDE's own Σ∞ is rejected on most entries (its O(dt) bias ≫ SE).
  CHECK(separated >= 3);
}

TEST_CASE_TEMPLATE("unstable OU and unstable Euler–Maruyama steps are reported as status", T, SGDSDE_TEST_SCALARS) {
  Mat<T> a(2, 2);
  a << 1.0, 0.0, 0.0, -0.5;  // eigenvalue −0.5: X grows along e₂
  const sgdsde::OrnsteinUhlenbeck ou(a, Mat<T>(Mat<T>::Identity(2, 2)));
  const auto st = ou.stationary_law();
  CHECK(st.outcome.status == sgdsde::Status::unstable_step);
  CHECK(st.outcome.value == doctest::Approx(-0.5));
  const auto far = ou.propagator(T(5000));  // e^{2500} overflows
  CHECK(far.outcome.status == sgdsde::Status::non_finite);
  sgdsde::OuTransitionSampler sampler(ou, T(5000));
  CHECK(!sampler.outcome().ok());
  const auto stable = example_ou<T>();
  const auto em = stable.euler_maruyama_stationary_law(T(10));  // ρ(I − 10A) > 1
  CHECK(em.outcome.status == sgdsde::Status::unstable_step);
  // The transient EM law of a diverging chain is finite for a while, then overflows: a status.
  CHECK(stable.euler_maruyama_law(Vec<T>::Ones(3), T(100), T(10)).outcome.ok());
  CHECK(stable.euler_maruyama_law(Vec<T>::Ones(3), T(1e5), T(10)).outcome.status == sgdsde::Status::non_finite);
}

TEST_CASE_TEMPLATE("OU functions reject bad arguments", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  using V = Vec<T>;
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M(2, 3), M(2, 2)), doctest::Contains("'A'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M(M::Identity(2, 2)), M(M::Identity(2, 2)), V(V::Zero(3))),
                       doctest::Contains("'mu'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M(M::Identity(2, 2)), M(M::Identity(3, 2))), doctest::Contains("'B'"),
                       sgdsde::invalid_argument);
  M nan = M::Identity(2, 2);
  nan(1, 0) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(nan, M(M::Identity(2, 2))), doctest::Contains("'A'"),
                       sgdsde::invalid_argument);
  // Issue 8, defect 3: dimension 0 was accepted and then aborted in maxCoeff(); one rule: rejected.
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M(0, 0), M(0, 0)), doctest::Contains("'A'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M(0, 0), M(0, 0), V(0)), doctest::Contains("'A'"),
                       sgdsde::invalid_argument);
  const sgdsde::OrnsteinUhlenbeck ou(M(M::Identity(2, 2)), M(M::Identity(2, 2)));
  CHECK_THROWS_WITH_AS(ou.propagator(T(-1)), doctest::Contains("'t'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(ou.propagator(std::numeric_limits<T>::infinity()), doctest::Contains("'t'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(ou.transition_law(V::Zero(3), T(1)), doctest::Contains("'x0'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(ou.euler_maruyama_stationary_law(T(0)), doctest::Contains("'dt'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(ou.euler_maruyama_law(V::Zero(2), T(1), T(0)), doctest::Contains("'dt'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(ou.euler_maruyama_law(V::Zero(2), T(-1), T(0.1)), doctest::Contains("'t'"),
                       sgdsde::invalid_argument);
  const auto law = ou.stationary_law();
  CHECK_THROWS_WITH_AS(law.log_density(V::Zero(3)), doctest::Contains("'x'"), sgdsde::invalid_argument);
  // Issue 8, defect 5: a NaN state was passed through the sampler; now named.
  sgdsde::OuTransitionSampler sampler(ou, T(0.5));
  V x = V::Zero(2);
  x(1) = std::numeric_limits<T>::quiet_NaN();
  sgdsde::RandomStream stream(1);
  CHECK_THROWS_WITH_AS(sampler.sample(x, stream), doctest::Contains("'x'"), sgdsde::invalid_argument);
  CHECK(std::isnan(x(1)));  // input untouched
}

// Every member of the OU classes for both scalars, also those no test calls (and the EM and Milstein
// workspaces of the OU problem): explicit instantiation here, where most of them compile anyway, costs
// nothing measurable (148 s of CPU without it, 141 s with it, one run each on a loaded machine).
template class sgdsde::OrnsteinUhlenbeck<float>;
template class sgdsde::OrnsteinUhlenbeck<double>;
template struct sgdsde::OuPropagator<float>;
template struct sgdsde::OuPropagator<double>;
template class sgdsde::OuTransitionSampler<float>;
template class sgdsde::OuTransitionSampler<double>;
template class sgdsde::EulerMaruyama::Workspace<sgdsde::OrnsteinUhlenbeck<float>>;
template class sgdsde::EulerMaruyama::Workspace<sgdsde::OrnsteinUhlenbeck<double>>;
template class sgdsde::Milstein::Workspace<sgdsde::OrnsteinUhlenbeck<float>>;
template class sgdsde::Milstein::Workspace<sgdsde::OrnsteinUhlenbeck<double>>;
