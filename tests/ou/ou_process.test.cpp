// Tests for sgdsde/ou/ou_process.hpp: Van Loan covariance against quadrature and the scalar closed
// form, its large-t limit against the Lyapunov solution, exact sampling moments (5 SE), the
// log-density against a direct Gaussian formula and its integral, and an Euler–Maruyama ensemble
// against the Stein (discrete Lyapunov) prediction of its own stationary covariance.
#include "sgdsde/ou/ou_process.hpp"

#include <cmath>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// A non-symmetric, non-normal stable drift (eigenvalues 1 ± 0.5i and 0.4) and a rank-2 diffusion.
template <class T>
sgdsde::OrnsteinUhlenbeck<T> example_ou() {
  Mat<T> a(3, 3);
  a << 1.0, 0.5, 0.3, -0.5, 1.0, 0.0, 0.0, 0.2, 0.4;
  Vec<T> mu(3);
  mu << 1.0, -2.0, 0.5;
  Mat<T> b(3, 2);
  b << 0.8, 0.0, 0.3, 0.5, -0.2, 0.7;
  return sgdsde::OrnsteinUhlenbeck<T>(a, mu, b);
}
}  // namespace

TEST_CASE("Van Loan covariance equals the integral by Gauss–Legendre quadrature") {
  using T = double;
  const auto ou = example_ou<T>();
  const Eigen::MatrixXd a = ou.drift().template cast<double>();
  const Eigen::MatrixXd q = ou.diffusion_covariance().template cast<double>();
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (double t : {1e-3, 0.1, 1.0, 3.0, 12.0}) {
    CAPTURE(t);
    // ∫₀ᵗ e^{−As} Q e^{−Aᵀs} ds, composite 5-point Gauss–Legendre on 40 panels (error ≪ 1e-13 here).
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
    const auto prop = sgdsde::ou_propagator(ou, T(t));
    REQUIRE(prop.outcome.ok());
    CHECK((prop.covariance.template cast<double>() - integral).norm() / integral.norm() < tol);
  }
}

TEST_CASE("scalar OU: closed-form mean, variance and log-density") {
  // double only: each extra Scalar instantiation of Eigen's decompositions costs ~10 s of compile time;
  // expm and the Lyapunov solvers are tested in float in tests/core.
  using T = double;
  // dX = −a(X − μ)dt + b dW: mean μ + e^{−at}(x0 − μ), variance b²(1 − e^{−2at})/(2a).
  const double a = 0.7, mu = 1.5, b = 0.9, x0 = -1.0;
  const sgdsde::OrnsteinUhlenbeck<T> ou(Mat<T>::Constant(1, 1, T(a)), Vec<T>::Constant(1, T(mu)),
                                        Mat<T>::Constant(1, 1, T(b)));
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  for (double t : {1e-4, 0.3, 2.0, 40.0}) {
    CAPTURE(t);
    const auto law = sgdsde::transition_law(ou, Vec<T>::Constant(1, T(x0)), T(t));
    const double m = mu + std::exp(-a * t) * (x0 - mu);
    const double v = b * b * -std::expm1(-2 * a * t) / (2 * a);
    CHECK(std::abs(double(law.mean(0)) - m) < tol * 10);
    CHECK(std::abs(double(law.covariance(0, 0)) - v) < tol * v * 10);
    const double x = m + 0.7 * std::sqrt(v);
    const double direct = -0.5 * std::log(2 * M_PI * v) - (x - m) * (x - m) / (2 * v);
    const T ld = sgdsde::transition_log_density(ou, Vec<T>::Constant(1, T(x0)), Vec<T>::Constant(1, T(x)), T(t));
    CHECK(std::abs(double(ld) - direct) < (std::is_same_v<T, float> ? 1e-3 : 1e-9));
  }
}

TEST_CASE("log-density of a 2-d transition: direct 2×2 formula and integral over the plane") {
  Eigen::MatrixXd a(2, 2);
  a << 1.0, 0.6, -0.3, 0.8;
  Eigen::MatrixXd b(2, 2);
  b << 0.5, 0.1, 0.0, 0.4;
  const sgdsde::OrnsteinUhlenbeck<double> ou(a, Eigen::Vector2d(0.2, -0.1), b);
  const Eigen::VectorXd x0 = Eigen::Vector2d(1.0, 1.0);
  const auto law = sgdsde::transition_law(ou, x0, 0.8);
  const double s11 = law.covariance(0, 0), s12 = law.covariance(0, 1), s22 = law.covariance(1, 1);
  const double det = s11 * s22 - s12 * s12;
  const Eigen::Vector2d x(0.5, 0.3);
  const Eigen::Vector2d r = x - law.mean;
  const double quad = (s22 * r(0) * r(0) - 2 * s12 * r(0) * r(1) + s11 * r(1) * r(1)) / det;
  const double direct = -0.5 * quad - 0.5 * std::log(4 * M_PI * M_PI * det);
  CHECK(sgdsde::log_density(law, x) == doctest::Approx(direct).epsilon(1e-12));
  // ∫ p = 1: midpoint rule over ±8 standard deviations (error ≪ 1e-6 for a smooth Gaussian).
  const int k = 400;
  const double h0 = 16 * std::sqrt(s11) / k, h1 = 16 * std::sqrt(s22) / k;
  double total = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      const Eigen::Vector2d p(law.mean(0) + (i + 0.5 - k / 2) * h0, law.mean(1) + (j + 0.5 - k / 2) * h1);
      total += std::exp(sgdsde::log_density(law, p)) * h0 * h1;
    }
  CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("transition covariance tends to the Lyapunov stationary covariance") {
  using T = double;
  const auto ou = example_ou<T>();
  const auto st = sgdsde::stationary_law(ou);
  REQUIRE(st.outcome.ok());
  // Slowest decay rate of e^{−At} is 0.4: at t = 60, ‖Σ(t) − Σ∞‖ ≈ e^{−48}‖Σ∞‖.
  const auto prop = sgdsde::ou_propagator(ou, T(60));
  const T tol = std::is_same_v<T, float> ? T(1e-4) : T(1e-10);
  CHECK((prop.covariance - st.covariance).norm() / st.covariance.norm() < tol);
  // Independent check of Σ∞: residual of A Σ + Σ Aᵀ = BBᵀ.
  const Mat<T> res = ou.drift() * st.covariance + st.covariance * ou.drift().transpose() - ou.diffusion_covariance();
  CHECK(res.norm() < tol * ou.diffusion_covariance().norm());
}

TEST_CASE("exact transition sampling has the predicted mean and covariance (5 SE)") {
  const auto ou = example_ou<double>();
  const double lag = 0.6;
  sgdsde::OuTransitionSampler<double> sampler(ou, lag);
  REQUIRE(sampler.outcome().ok());
  const Eigen::VectorXd x0 = Eigen::Vector3d(3.0, 0.0, -1.0);
  const auto law = sgdsde::transition_law(ou, x0, lag);
  const int m = 40000;
  Eigen::MatrixXd draws(3, m);
  for (int i = 0; i < m; ++i) {
    sgdsde::RandomStream stream(99, std::uint64_t(i));
    Eigen::VectorXd x = x0;
    sampler.sample(x, stream);
    draws.col(i) = x;
  }
  // Mean: SE_i = √(Σ_ii / m). Covariance with the known mean: the products (x_i−m_i)(x_j−m_j) are
  // i.i.d. with variance Σ_ii Σ_jj + Σ_ij² (Isserlis), so SE_ij = √((Σ_ii Σ_jj + Σ_ij²)/m).
  // Bound 5 SE on each of 3 + 6 statistics: two-sided normal tail 5.7e-7 each.
  const Eigen::VectorXd mean = draws.rowwise().mean();
  const Eigen::MatrixXd c = draws.colwise() - law.mean;
  const Eigen::MatrixXd cov = c * c.transpose() / m;
  for (int i = 0; i < 3; ++i) {
    CHECK(std::abs(mean(i) - law.mean(i)) < 5 * std::sqrt(law.covariance(i, i) / m));
    for (int j = 0; j <= i; ++j) {
      const auto& s = law.covariance;
      const double se = std::sqrt((s(i, i) * s(j, j) + s(i, j) * s(i, j)) / m);
      CHECK(std::abs(cov(i, j) - s(i, j)) < 5 * se);
    }
  }
  // Two steps of lag τ are one step of lag 2τ in law: check the propagator composes.
  const auto p1 = sgdsde::ou_propagator(ou, lag), p2 = sgdsde::ou_propagator(ou, 2 * lag);
  CHECK((p1.transition * p1.transition - p2.transition).norm() < 1e-12);
  const Eigen::MatrixXd composed = p1.transition * p1.covariance * p1.transition.transpose() + p1.covariance;
  CHECK((composed - p2.covariance).norm() < 1e-12);
}

TEST_CASE("Euler–Maruyama ensemble reaches the Stein covariance of its discretisation, not the SDE's") {
  const auto ou = example_ou<double>();
  const double dt = 0.25;  // ρ(I − A dt) ≈ 0.9; O(dt) bias of EM is large enough to resolve
  const auto disc = sgdsde::euler_maruyama_stationary_law(ou, dt);
  const auto cont = sgdsde::stationary_law(ou);
  REQUIRE(disc.outcome.ok());
  REQUIRE(cont.outcome.ok());
  const int paths = 2000, burn = 300, steps = 600;  // (0.9)^300 ≈ 2e-14: burn-in transient negligible
  const Eigen::MatrixXd& a = ou.drift();
  const Eigen::MatrixXd& b = ou.diffusion();
  const Eigen::VectorXd& mu = ou.mean_level();
  Eigen::MatrixXd x = mu.replicate(1, paths), z(2, paths), drift(3, paths);
  // Per path, the time average of (x − μ)(x − μ)ᵀ over `steps` steps is one batch mean; the paths are
  // independent (disjoint stream indices), so the SE of the ensemble average is sd(batch means)/√paths.
  std::vector<Eigen::MatrixXd> per_path(paths, Eigen::MatrixXd::Zero(3, 3));
  const sgdsde::RandomStream stream(5150, 0);
  for (int k = 0; k < burn + steps; ++k) {
    stream.normal_at(std::uint64_t(k) * 2 * paths, z);  // step k owns values [2Pk, 2P(k+1))
    drift.noalias() = a * (x.colwise() - mu);
    x -= dt * drift;
    x.noalias() += std::sqrt(dt) * b * z;
    if (k >= burn)
      for (int p = 0; p < paths; ++p) {
        const Eigen::Vector3d c = x.col(p) - mu;
        per_path[p] += c * c.transpose() / steps;
      }
  }
  int separated = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j <= i; ++j) {
      double mean = 0, sq = 0;
      for (const auto& m : per_path) mean += m(i, j) / paths;
      for (const auto& m : per_path) sq += (m(i, j) - mean) * (m(i, j) - mean) / (paths - 1);
      const double se = std::sqrt(sq / paths);
      CAPTURE(i);
      CAPTURE(j);
      CHECK(std::abs(mean - disc.covariance(i, j)) < 5 * se);
      if (std::abs(mean - cont.covariance(i, j)) > 10 * se) ++separated;
    }
  // The test has power: the SDE's own Σ∞ is rejected on most entries (its O(dt) bias ≫ SE).
  CHECK(separated >= 3);
}

TEST_CASE("unstable OU and unstable Euler–Maruyama steps are reported as status") {
  Eigen::MatrixXd a(2, 2);
  a << 1.0, 0.0, 0.0, -0.5;  // eigenvalue −0.5: X grows along e₂
  const sgdsde::OrnsteinUhlenbeck<double> ou(a, Eigen::Vector2d::Zero(), Eigen::MatrixXd::Identity(2, 2));
  const auto st = sgdsde::stationary_law(ou);
  CHECK(st.outcome.status == sgdsde::Status::unstable_step);
  CHECK(st.outcome.value == doctest::Approx(-0.5));
  const auto far = sgdsde::ou_propagator(ou, 5000.0);  // e^{2500} overflows
  CHECK(far.outcome.status == sgdsde::Status::non_finite);
  sgdsde::OuTransitionSampler<double> sampler(ou, 5000.0);
  CHECK(!sampler.outcome().ok());
  const auto stable = example_ou<double>();
  const auto em = sgdsde::euler_maruyama_stationary_law(stable, 10.0);  // ρ(I − 10A) > 1
  CHECK(em.outcome.status == sgdsde::Status::unstable_step);
}

TEST_CASE("OU functions reject bad arguments") {
  using M = Eigen::MatrixXd;
  using V = Eigen::VectorXd;
  CHECK_THROWS_AS(sgdsde::OrnsteinUhlenbeck<double>(M(2, 3), V(2), M(2, 2)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::OrnsteinUhlenbeck<double>(M::Identity(2, 2), V::Zero(3), M::Identity(2, 2)),
                  sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::OrnsteinUhlenbeck<double>(M::Identity(2, 2), V::Zero(2), M::Identity(3, 2)),
                  sgdsde::invalid_argument);
  M nan = M::Identity(2, 2);
  nan(1, 0) = std::nan("");
  CHECK_THROWS_AS(sgdsde::OrnsteinUhlenbeck<double>(nan, V::Zero(2), M::Identity(2, 2)), sgdsde::invalid_argument);
  const sgdsde::OrnsteinUhlenbeck<double> ou(M::Identity(2, 2), V::Zero(2), M::Identity(2, 2));
  CHECK_THROWS_AS(sgdsde::ou_propagator(ou, -1.0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::transition_law(ou, V::Zero(3), 1.0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::euler_maruyama_stationary_law(ou, 0.0), sgdsde::invalid_argument);
  const auto law = sgdsde::stationary_law(ou);
  CHECK_THROWS_AS(sgdsde::log_density(law, V::Zero(3)), sgdsde::invalid_argument);
}
