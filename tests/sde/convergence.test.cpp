// Tests for sgdsde/sde/convergence.hpp: the order fit, and strong and weak orders of the steppers on
// geometric Brownian motion, whose solution on the same Brownian path is known in closed form.
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/convergence.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/milstein.hpp"
#include "sgdsde/sde/stochastic_heun.hpp"

namespace {

using Mat = sgdsde::MatrixX<double>;
using Ref = Eigen::Ref<Mat>;
using CRef = const Eigen::Ref<const Mat>&;

// dX = μ X dt + σ X dW, X_0 = 1 on [0, 1].
constexpr double mu = 0.5, sigma = 0.4, horizon = 1.0;
constexpr int coarsest = 4, finest = 10, paths = 4000, batches = 10;

auto gbm_problem() {
  return sgdsde::diagonal_noise_sde(
      1, [](double, CRef x, Ref f) { f = mu * x; }, [](double, CRef x, Ref g) { g = sigma * x; },
      [](double, CRef, Ref dg) { dg.setConstant(sigma); });
}
auto gbm_problem_without_derivative() {
  return sgdsde::diagonal_noise_sde(
      1, [](double, CRef x, Ref f) { f = mu * x; }, [](double, CRef x, Ref g) { g = sigma * x; });
}
// Itô solution X_T = x0 exp((μ − σ²/2) T + σ W_T); Stratonovich X_T = x0 exp(μ T + σ W_T).
const auto ito_exact = [](const Mat& x0, const Mat& w, Ref out) {
  out = (x0.array() * ((mu - 0.5 * sigma * sigma) * horizon + sigma * w.array()).exp()).matrix();
};
const auto stratonovich_exact = [](const Mat& x0, const Mat& w, Ref out) {
  out = (x0.array() * (mu * horizon + sigma * w.array()).exp()).matrix();
};
const auto identity_phi = [](const auto& x) { return x(0); };

template <class Stepper, class Problem, class Exact>
sgdsde::ConvergenceStudy run_study(const Problem& problem, Exact exact, std::uint64_t seed) {
  const sgdsde::BrownianPath<double> path(sgdsde::RandomStream(seed), 0.0, horizon, 1, paths, finest);
  return sgdsde::convergence_study(problem, Stepper{}, Mat::Ones(1, paths), path, coarsest, finest, exact,
                                   identity_phi, batches);
}

// Bound on a fitted strong order: 5 Monte Carlo standard errors of the slope (from 10 independent
// batches of paths; the batch slopes are means of 400 paths each, so close to normal) plus a band
// for the pre-asymptotic terms. The error of each scheme on this GBM is C dt^p (1 + c σ√dt + …) with
// |c| of order one; over dt ∈ [2⁻¹⁰, 2⁻⁴] the factor changes log(error) by at most σ√dt_max = 0.1,
// which moves a least-squares slope over a log-dt span of 6 ln 2 ≈ 4.2 by at most about
// 1.5·0.1/4.2 ≈ 0.04. The band is still a tenth of the 0.5 gap between the orders being told apart.
constexpr double pre_asymptotic_band = 0.04;

void check_strong_order(const sgdsde::ConvergenceStudy& s, double order) {
  REQUIRE(s.outcome.ok());
  REQUIRE(s.levels.size() == std::size_t(finest - coarsest + 1));
  const double se = s.strong_order_batch_standard_error;
  INFO("fitted order " << s.strong_fit.order << ", batch SE " << se << ", fit SE " << s.strong_fit.standard_error);
  CHECK(std::isfinite(se));
  CHECK(se < 0.02);  // 4000 paths resolve the slope to ≤ 0.02 (observed 0.001–0.007)
  CHECK(std::abs(s.strong_fit.order - order) <= 5 * se + pre_asymptotic_band);
}

}  // namespace

TEST_CASE("fit_order recovers an exact power law and reports the residual standard error") {
  std::vector<double> dts{0.1, 0.05, 0.025, 0.0125}, e1, e2;
  for (double h : dts) e1.push_back(3.0 * std::pow(h, 1.5));
  const sgdsde::OrderFit f = sgdsde::fit_order(dts, e1);
  CHECK(f.order == doctest::Approx(1.5).epsilon(1e-12));
  CHECK(std::exp(f.intercept) == doctest::Approx(3.0).epsilon(1e-12));
  CHECK(f.standard_error < 1e-10);
  CHECK(f.points == 4);
  // Residuals ±δ alternating in log space: slope SE = √(RSS/(n−2)/Sxx), computed by hand.
  const double delta = 0.01;
  for (std::size_t i = 0; i < dts.size(); ++i) e2.push_back(e1[i] * std::exp(i % 2 ? delta : -delta));
  const sgdsde::OrderFit g = sgdsde::fit_order(dts, e2);
  double mx = 0, sxx = 0, rss = 0;
  for (double h : dts) mx += std::log(h) / 4;
  for (double h : dts) sxx += (std::log(h) - mx) * (std::log(h) - mx);
  for (std::size_t i = 0; i < dts.size(); ++i) {
    const double r = std::log(e2[i]) - g.intercept - g.order * std::log(dts[i]);
    rss += r * r;
  }
  CHECK(g.standard_error == doctest::Approx(std::sqrt(rss / 2 / sxx)).epsilon(1e-12));
  CHECK(rss > 0);
  // Two points: exact fit, infinite standard error.
  const sgdsde::OrderFit two = sgdsde::fit_order({0.1, 0.05}, {0.2, 0.1});
  CHECK(two.order == doctest::Approx(1.0));
  CHECK(std::isinf(two.standard_error));

  CHECK_THROWS_AS(sgdsde::fit_order({0.1}, {0.1}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::fit_order({0.1, 0.05}, {0.1}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::fit_order({0.1, -0.05}, {0.1, 0.2}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::fit_order({0.1, 0.05}, {0.1, 0.0}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::fit_order({0.1, 0.1}, {0.1, 0.2}), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::fit_order({0.1, 0.05}, {0.1, NAN}), doctest::Contains("errors"),
                       sgdsde::invalid_argument);
}

TEST_CASE("strong_error and weak_error are path means with standard errors") {
  Mat a(2, 3), b(2, 3);
  a << 1, 2, 3, 4, 5, 6;
  b << 1, 2, 0, 4, 1, 6;  // distances 0, 3, 4 per column
  const sgdsde::ErrorEstimate s = sgdsde::strong_error(a, b);
  CHECK(s.value == doctest::Approx(7.0 / 3));
  // sample sd of {0, 3, 4}: mean 7/3, Σ(x−m)² = 49/9 + 4/9 + 25/9 = 78/9, var = 39/9
  CHECK(s.standard_error == doctest::Approx(std::sqrt(39.0 / 9 / 3)));
  const sgdsde::ErrorEstimate w = sgdsde::weak_error(a, b, [](const auto& x) { return x.sum(); });
  CHECK(w.value == doctest::Approx((0.0 + 4.0 + 3.0) / 3));  // column sums differ by 0, 4, 3
  CHECK_THROWS_AS(sgdsde::strong_error(a, b.leftCols(2)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::strong_error(a.leftCols(1), b.leftCols(1)), sgdsde::invalid_argument);
}

TEST_CASE("strong order of Euler–Maruyama on GBM is 1/2" * doctest::test_suite("slow")) {
  static_assert(sgdsde::EulerMaruyama::strong_order(sgdsde::NoiseKind::diagonal) == 0.5);
  check_strong_order(run_study<sgdsde::EulerMaruyama>(gbm_problem(), ito_exact, 11), 0.5);
}

TEST_CASE("strong order of Milstein on GBM is 1, with the analytic and the derivative-free correction" * doctest::test_suite("slow")) {
  static_assert(sgdsde::Milstein::strong_order(sgdsde::NoiseKind::diagonal) == 1.0);
  check_strong_order(run_study<sgdsde::Milstein>(gbm_problem(), ito_exact, 12), 1.0);
  check_strong_order(run_study<sgdsde::Milstein>(gbm_problem_without_derivative(), ito_exact, 13), 1.0);
}

TEST_CASE("strong order of stochastic Heun on Stratonovich GBM is 1" * doctest::test_suite("slow")) {
  static_assert(sgdsde::StochasticHeun::strong_order(sgdsde::NoiseKind::diagonal) == 1.0);
  static_assert(sgdsde::StochasticHeun::calculus == sgdsde::Calculus::stratonovich);
  check_strong_order(run_study<sgdsde::StochasticHeun>(gbm_problem(), stratonovich_exact, 14), 1.0);
}

TEST_CASE("Heun against the Itô solution does not converge: the calculus is Stratonovich" * doctest::test_suite("slow")) {
  // The Itô and Stratonovich solutions differ by the factor e^{σ²T/2} ≈ 1.08, so the strong error
  // of Heun measured against the Itô solution stalls near E|X_T|·0.08 instead of shrinking.
  const auto s = run_study<sgdsde::StochasticHeun>(gbm_problem(), ito_exact, 15);
  REQUIRE(s.outcome.ok());
  CHECK(s.levels.back().strong.value > 0.05);
  CHECK(std::abs(s.strong_fit.order) < 5 * s.strong_order_batch_standard_error + 0.05);
}

// Weak error of E[X_T] on the same paths vs the exact mean of the discrete scheme:
//   EM and Milstein: E[X_{k+1} | X_k] = X_k (1 + μ dt)  ⇒  E X_N = (1 + μ dt)^N,
//   Heun (Stratonovich, u = μ dt + σ ΔW): X_{k+1} = X_k (1 + u + u²/2) ⇒ factor 1 + μdt + σ²dt/2 + μ²dt²/2,
// against E X_T = e^{μT} (Itô) and e^{(μ+σ²/2)T} (Stratonovich). No Monte Carlo in these numbers.
double em_weak_error(double dt) { return std::pow(1 + mu * dt, horizon / dt) - std::exp(mu * horizon); }
double heun_weak_error(double dt) {
  return std::pow(1 + mu * dt + 0.5 * sigma * sigma * dt + 0.5 * mu * mu * dt * dt, horizon / dt) -
         std::exp((mu + 0.5 * sigma * sigma) * horizon);
}

template <class F>
void check_weak_errors(const sgdsde::ConvergenceStudy& s, F closed_form) {
  REQUIRE(s.outcome.ok());
  std::vector<double> dts, exact;
  for (const auto& l : s.levels) {
    // The estimator is a mean of 4000 i.i.d. differences φ(X_dt) − φ(X_T); bound: 5 standard
    // errors (two-sided normal tail 5.7e-7 per level, 7 levels).
    INFO("dt " << l.dt << ": simulated " << l.weak.value << " ± " << l.weak.standard_error << ", exact "
               << closed_form(l.dt));
    CHECK(std::abs(l.weak.value - closed_form(l.dt)) <= 5 * l.weak.standard_error);
    dts.push_back(l.dt);
    exact.push_back(std::abs(closed_form(l.dt)));
  }
  // The exact weak errors have slope 1: e(dt) = −e^{μT} c T dt (1 + a dt + O(dt²)) with |a| < 1 for
  // these parameters, so the local slope is 1 + O(a dt) and over dt ≤ 1/16 within 1/16 of 1.
  const sgdsde::OrderFit f = sgdsde::fit_order(dts, exact);
  CHECK(std::abs(f.order - 1.0) < 1.0 / 16);
}

TEST_CASE("weak order of Euler–Maruyama, Milstein and Heun on GBM matches the exact discrete means" * doctest::test_suite("slow")) {
  static_assert(sgdsde::EulerMaruyama::weak_order(sgdsde::NoiseKind::diagonal) == 1.0);
  check_weak_errors(run_study<sgdsde::EulerMaruyama>(gbm_problem(), ito_exact, 21), em_weak_error);
  check_weak_errors(run_study<sgdsde::Milstein>(gbm_problem(), ito_exact, 22), em_weak_error);
  check_weak_errors(run_study<sgdsde::StochasticHeun>(gbm_problem(), stratonovich_exact, 23),
                    heun_weak_error);
}

TEST_CASE("convergence_study rejects bad levels and reports a non-finite state") {
  const sgdsde::BrownianPath<double> path(sgdsde::RandomStream(1), 0.0, 1.0, 1, 20, 4);
  const Mat x0 = Mat::Ones(1, 20);
  CHECK_THROWS_WITH_AS(sgdsde::convergence_study(gbm_problem(), sgdsde::EulerMaruyama{}, x0, path, 2, 5,
                                                 ito_exact, identity_phi),
                       doctest::Contains("finest_level"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::convergence_study(gbm_problem(), sgdsde::EulerMaruyama{}, x0, path, 3, 2,
                                                 ito_exact, identity_phi),
                       doctest::Contains("finest_level"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::convergence_study(gbm_problem(), sgdsde::EulerMaruyama{}, x0, path, 1, 3,
                                                 ito_exact, identity_phi, 11),
                       doctest::Contains("batches"), sgdsde::invalid_argument);
  // dX = X³ dt blows up in finite time; EM at dt = 1/2 from X_0 = 3 overflows within a few steps.
  const auto cubic = sgdsde::diagonal_noise_sde(
      1, [](double, CRef x, Ref f) { f = x.array().cube().matrix(); }, [](double, CRef, Ref g) { g.setZero(); });
  const sgdsde::BrownianPath<double> long_path(sgdsde::RandomStream(1), 0.0, 64.0, 1, 20, 7);
  const auto s = sgdsde::convergence_study(cubic, sgdsde::EulerMaruyama{}, Mat::Constant(1, 20, 3.0),
                                           long_path, 1, 3, ito_exact, identity_phi);
  CHECK(s.outcome.status == sgdsde::Status::non_finite);
}

TEST_CASE("strong_error, weak_error and convergence_study name non-finite input (issue 8, defect 5)") {
  Mat a = Mat::Ones(2, 3), b = Mat::Zero(2, 3);
  a(1, 2) = NAN;
  CHECK_THROWS_WITH_AS(sgdsde::strong_error(a, b), doctest::Contains("'approx'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::strong_error(b, a), doctest::Contains("'exact'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::weak_error(a, b, identity_phi), doctest::Contains("'approx'"),
                       sgdsde::invalid_argument);
  // An exact solution that returns NaN is blamed on `exact`, not on fit_order's 'errors'.
  const sgdsde::BrownianPath<double> path(sgdsde::RandomStream(1), 0.0, 1.0, 1, 20, 4);
  const auto nan_exact = [](const Mat&, const Mat&, Ref out) { out.setConstant(NAN); };
  CHECK_THROWS_WITH_AS(sgdsde::convergence_study(gbm_problem(), sgdsde::EulerMaruyama{}, Mat::Ones(1, 20), path, 1,
                                                 3, nan_exact, identity_phi),
                       doctest::Contains("'exact'"), sgdsde::invalid_argument);
}
