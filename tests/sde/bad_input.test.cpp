// Bad-input sweep of sde/ (issue 8, item 9; table in docs/reliability.md): TimeGrid, Ensemble, the
// Brownian sources, the SDE problem makers, integrate (every form and stepper), GaussianLaw,
// z_scores, fit_order, strong_error and weak_error, fed wrong sizes (including 0), NaN, ±inf, huge and
// tiny values, off-grid save times and blow-ups.
#include <climits>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/convergence.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/gaussian_law.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/milstein.hpp"
#include "sgdsde/sde/stochastic_heun.hpp"
#include "sgdsde/sde/time_grid.hpp"
#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using sgdsde::BrownianIncrements;
using sgdsde::BrownianPath;
using sgdsde::Ensemble;
using sgdsde::RandomStream;
using sgdsde::Status;
using sgdsde::TimeGrid;
using sweep::Case;
using sweep::Keep;
using sweep::returns;
using sweep::succeeds;
using sweep::throws;
using sweep::verdict;

const std::vector<double> kBadReal = {sweep::nan, sweep::inf, -sweep::inf};

auto linear_problem(double a) {
  return sgdsde::diagonal_noise_sde(
      2, [a](double, const Eigen::Ref<const MatrixXd>& x, Eigen::Ref<MatrixXd> f) { f = -a * x; },
      [](double, const Eigen::Ref<const MatrixXd>& x, Eigen::Ref<MatrixXd> g) { g = 0.3 * x; });
}

std::vector<Case> grid_cases() {
  std::vector<Case> t;
  for (double v : kBadReal) {
    const std::string s = std::to_string(v);
    t.push_back(throws("t0", "TimeGrid t0=" + s, [v] { (void)TimeGrid(v, 1.0, 0.1); }));
    t.push_back(throws("t1", "TimeGrid t1=" + s, [v] { (void)TimeGrid(0.0, v, 0.1); }));
    t.push_back(throws("dt", "TimeGrid dt=" + s, [v] { (void)TimeGrid(0.0, 1.0, v); }));
  }
  t.push_back(throws("t1", "TimeGrid t1 < t0", [] { (void)TimeGrid(1.0, 0.0, 0.1); }));
  t.push_back(throws("dt", "TimeGrid dt = 0", [] { (void)TimeGrid(0.0, 1.0, 0.0); }));
  t.push_back(throws("dt", "TimeGrid dt = -0.1", [] { (void)TimeGrid(0.0, 1.0, -0.1); }));
  // Was: steps() overflowed and integrate returned success without stepping.
  t.push_back(throws("dt", "TimeGrid (0, 1, 1e-30): > 2^62 steps", [] { (void)TimeGrid(0.0, 1.0, 1e-30); }));
  t.push_back(throws("dt", "TimeGrid (0, 1, denormal)", [] { (void)TimeGrid(0.0, 1.0, sweep::denormal); }));
  t.push_back(throws("dt", "TimeGrid (-1e308, 1e308, 1): interval overflows", [] {
    (void)TimeGrid(-sweep::huge, sweep::huge, 1.0);
  }));
  t.push_back(throws("dt", "TimeGrid float (0, 3e38, 1)", [] { (void)TimeGrid(0.0f, sweep::huge_f, 1.0f); }));
  t.push_back(succeeds("TimeGrid t0 = t1: zero steps", [] {
    const TimeGrid g(1.0, 1.0, 0.1);
    return verdict(g.steps() == 0 && g.time(0) == 1.0);
  }));
  t.push_back(succeeds("TimeGrid dt > t1 − t0: one short step", [] {
    const TimeGrid g(0.0, 1.0, 5.0);
    return verdict(g.steps() == 1 && g.time(1) == 1.0);
  }));
  t.push_back(succeeds("TimeGrid (0, 1e308, 1e300)", [] {
    const TimeGrid g(0.0, sweep::huge, 1e300);
    return verdict(g.steps() == 100000000 && g.time(g.steps()) == sweep::huge);
  }));
  t.push_back(succeeds("TimeGrid (1e-308, 2e-308, 1e-310)", [] {
    const TimeGrid g(1e-308, 2e-308, 1e-310);
    return verdict(g.steps() == 100);
  }));
  for (long m : {0L, -1L, LONG_MIN})
    t.push_back(throws("paths", "Ensemble(" + std::to_string(m) + ")", [m] { (void)Ensemble(m); }));
  // Brownian sources.
  t.push_back(throws("noise_dim", "BrownianIncrements noise_dim 0", [] { (void)BrownianIncrements(RandomStream(1), 0, 4); }));
  t.push_back(throws("paths", "BrownianIncrements paths 0", [] { (void)BrownianIncrements(RandomStream(1), 1, 0); }));
  t.push_back(throws("first_path", "BrownianIncrements first_path -1", [] { (void)BrownianIncrements(RandomStream(1), 1, 2, -1); }));
  t.push_back(throws("total_paths", "BrownianIncrements total < first + paths",
                     [] { (void)BrownianIncrements(RandomStream(1), 1, 2, 3, 4); }));
  t.push_back(throws("t1", "BrownianPath t1 = t0", [] { (void)BrownianPath<double>(RandomStream(1), 0.0, 0.0, 1, 2, 3); }));
  for (double v : kBadReal) {
    t.push_back(throws("t0", "BrownianPath t0=" + std::to_string(v), [v] { (void)BrownianPath<double>(RandomStream(1), v, 1.0, 1, 2, 3); }));
    t.push_back(throws("t1", "BrownianPath t1=" + std::to_string(v), [v] { (void)BrownianPath<double>(RandomStream(1), 0.0, v, 1, 2, 3); }));
  }
  for (int l : {-1, 31})
    t.push_back(throws("levels", "BrownianPath levels " + std::to_string(l),
                       [l] { (void)BrownianPath<double>(RandomStream(1), 0.0, 1.0, 1, 2, l); }));
  t.push_back(throws("out", "BrownianPath::value out of the wrong shape", [] {
    const BrownianPath<double> p(RandomStream(1), 0.0, 1.0, 2, 3, 2);
    MatrixXd out(2, 2);
    p.value(0.5, out);
  }));
  return t;
}

std::vector<Case> problem_cases() {
  std::vector<Case> t;
  auto drift = [](double, const Eigen::Ref<const MatrixXd>& x, Eigen::Ref<MatrixXd> f) { f = -x; };
  auto diff = [](double, const Eigen::Ref<const MatrixXd>& x, Eigen::Ref<MatrixXd> g) { g = x; };
  t.push_back(throws("dim", "diagonal_noise_sde dim 0", [=] { (void)sgdsde::diagonal_noise_sde(0, drift, diff); }));
  t.push_back(throws("dim", "scalar_noise_sde dim -1", [=] { (void)sgdsde::scalar_noise_sde(-1, drift, diff); }));
  t.push_back(throws("noise_dim", "general_noise_sde noise_dim 0", [=] { (void)sgdsde::general_noise_sde(2, 0, drift, diff); }));
  t.push_back(throws("dim", "additive_noise_sde B 0x1", [=] { (void)sgdsde::additive_noise_sde(drift, MatrixXd(0, 1)); }));
  t.push_back(throws("noise_dim", "additive_noise_sde B 2x0", [=] { (void)sgdsde::additive_noise_sde(drift, MatrixXd(2, 0)); }));
  for (double v : kBadReal)
    t.push_back(throws("diffusion", "additive_noise_sde B " + std::to_string(v), [=] {
      MatrixXd b = MatrixXd::Identity(2, 2);
      b(1, 0) = v;
      (void)sgdsde::additive_noise_sde(drift, b);
    }));
  return t;
}

std::vector<Case> integrate_cases() {
  std::vector<Case> t;
  const auto p = linear_problem(1.0);
  const TimeGrid grid(0.0, 1.0, 0.1);
  const sgdsde::OrnsteinUhlenbeck<double> ou(MatrixXd::Identity(2, 2), 0.5 * MatrixXd::Identity(2, 2));
  // x0: wrong rows, zero columns, non-finite; for the three steppers and the fused OU kernel.
  auto each_stepper = [&](const std::string& what, auto make_case) {
    make_case(what + " [EulerMaruyama]", sgdsde::EulerMaruyama{});
    make_case(what + " [Milstein]", sgdsde::Milstein{});
    make_case(what + " [StochasticHeun]", sgdsde::StochasticHeun{});
  };
  each_stepper("integrate x0 3x4", [&](std::string n, auto st) {
    t.push_back(throws("x0", n, [=] { (void)sgdsde::integrate(p, st, MatrixXd::Ones(3, 4), grid, BrownianIncrements(RandomStream(1), 2, 4)); }));
  });
  each_stepper("integrate x0 2x0", [&](std::string n, auto st) {
    t.push_back(throws("paths", n, [=] { (void)sgdsde::integrate(p, st, MatrixXd(2, 0), grid, BrownianIncrements(RandomStream(1), 2, 1)); }));
  });
  for (double v : kBadReal) {
    each_stepper("integrate x0 " + std::to_string(v), [&](std::string n, auto st) {
      t.push_back(throws("x0", n, [=] {
        MatrixXd x0 = MatrixXd::Ones(2, 4);
        x0(1, 2) = v;
        Keep k(x0);
        (void)sgdsde::integrate(p, st, x0, grid, BrownianIncrements(RandomStream(1), 2, 4));
      }));
    });
    t.push_back(throws("x0", "integrate OU x0 " + std::to_string(v), [=] {
      const VectorXd x0 = VectorXd::Constant(2, v);
      (void)sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x0, grid, Ensemble(8), RandomStream(1));
    }));
  }
  t.push_back(throws("x0", "integrate Ensemble form x0 of size 3", [=] {
    (void)sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, VectorXd::Zero(3), grid, Ensemble(8), RandomStream(1));
  }));
  t.push_back(throws("noise", "integrate noise with 3 paths for 4", [=] {
    (void)sgdsde::integrate(p, sgdsde::EulerMaruyama{}, MatrixXd::Ones(2, 4), grid, BrownianIncrements(RandomStream(1), 2, 3));
  }));
  t.push_back(throws("noise", "integrate noise_dim 1 for 2", [=] {
    (void)sgdsde::integrate(p, sgdsde::EulerMaruyama{}, MatrixXd::Ones(2, 4), grid, BrownianIncrements(RandomStream(1), 1, 4));
  }));
  t.push_back(throws("noise", "integrate OU with noise of 1 path for 4", [=] {
    (void)sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, MatrixXd::Ones(2, 4), grid, BrownianIncrements(RandomStream(1), 2, 1));
  }));
  // Save-at times off the grid, outside [t0, t1], decreasing, non-finite.
  for (const auto& [name, times] : std::vector<std::pair<std::string, std::vector<double>>>{
           {"off grid 0.15", {0.15}}, {"before t0", {-0.1}}, {"after t1", {1.1}}, {"decreasing", {0.5, 0.2}},
           {"nan", {sweep::nan}}, {"inf", {sweep::inf}}}) {
    t.push_back(throws("save_at", "integrate save_at " + name, [=, times = times] {
      Keep k(times);
      (void)sgdsde::integrate(p, sgdsde::EulerMaruyama{}, MatrixXd::Ones(2, 4), grid, BrownianIncrements(RandomStream(1), 2, 4), times);
    }));
    t.push_back(throws("save_at", "integrate OU save_at " + name, [=, times = times] {
      (void)sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, VectorXd::Zero(2), grid, Ensemble(4), RandomStream(1), times);
    }));
  }
  t.push_back(throws("t", "integrate BrownianPath whose grid does not contain the step times", [=] {
    const BrownianPath<double> path(RandomStream(1), 0.0, 1.0, 2, 4, 2);
    (void)sgdsde::integrate(p, sgdsde::EulerMaruyama{}, MatrixXd::Ones(2, 4), grid, path);
  }));
  // Blow-ups are a non_finite outcome naming the step; huge but finite states that stay finite succeed.
  each_stepper("integrate blow-up (drift +1e40 x)", [&](std::string n, auto st) {
    t.push_back(returns(Status::non_finite, n, [=] {
      const auto q = linear_problem(-1e40);
      const auto s = sgdsde::integrate(q, st, MatrixXd::Ones(2, 4), grid, BrownianIncrements(RandomStream(1), 2, 4));
      CHECK(s.steps_taken < grid.steps());
      CHECK(s.outcome.step == s.steps_taken - 1);
      return s.outcome;
    }));
  });
  t.push_back(returns(Status::non_finite, "integrate OU unstable, x0 = 1e300", [=] {
    const sgdsde::OrnsteinUhlenbeck<double> bad(-1e3 * MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    return sgdsde::integrate(bad, sgdsde::EulerMaruyama{}, VectorXd::Constant(2, 1e300), grid, Ensemble(4), RandomStream(1)).outcome;
  }));
  t.push_back(succeeds("integrate OU x0 = 1e300 decays (A = I)", [=] {
    const auto s = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, VectorXd::Constant(2, 1e300), grid, Ensemble(4), RandomStream(1));
    // Mean 0.9^10·1e300; the noise is negligible against it.
    CHECK((s.final_state.array() / (std::pow(0.9, 10) * 1e300) - 1).abs().maxCoeff() <= 1e-12);
    return s.outcome;
  }));
  t.push_back(succeeds("integrate t0 = t1 returns x0 with 0 steps", [=] {
    const auto s = sgdsde::integrate(p, sgdsde::StochasticHeun{}, MatrixXd::Ones(2, 4), TimeGrid(1.0, 1.0, 0.1),
                                     BrownianIncrements(RandomStream(1), 2, 4), std::vector<double>{1.0});
    return verdict(s.steps_taken == 0 && s.final_state == MatrixXd::Ones(2, 4) && s.states.size() == 1);
  }));
  t.push_back(succeeds("integrate denormal x0", [=] {
    const auto s = sgdsde::integrate(p, sgdsde::Milstein{}, MatrixXd::Constant(2, 4, sweep::denormal), grid,
                                     BrownianIncrements(RandomStream(1), 2, 4));
    return verdict(s.outcome.ok() && s.steps_taken == grid.steps() && sgdsde::all_finite(s.final_state));
  }));
  return t;
}

std::vector<Case> statistics_cases() {
  std::vector<Case> t;
  sgdsde::GaussianLaw<double> law{VectorXd::Zero(2), MatrixXd::Identity(2, 2), {}};
  t.push_back(throws("x", "log_density x size 3", [=] { (void)law.log_density(VectorXd::Zero(3)); }));
  for (double v : kBadReal)
    t.push_back(throws("x", "log_density x " + std::to_string(v), [=] { (void)law.log_density(VectorXd::Constant(2, v)); }));
  t.push_back(succeeds("log_density of a singular law is -inf", [=] {
    auto l = law;
    l.covariance(1, 1) = 0;
    return verdict(l.log_density(VectorXd::Zero(2)) == -sweep::inf);
  }));
  t.push_back(succeeds("log_density at x = 1e153 is finite and exact", [=] {
    const double ld = law.log_density(VectorXd::Constant(2, 1e153));
    return verdict(std::isfinite(ld) && std::abs(ld / -1e306 - 1) <= 1e-14);
  }));
  t.push_back(succeeds("log_density at x = 1e155 is -inf (the quadratic form overflows)", [=] {
    return verdict(law.log_density(VectorXd::Constant(2, 1e155)) == -sweep::inf);
  }));
  const MatrixXd samples = MatrixXd::Random(2, 10);
  t.push_back(throws("samples.cols()", "z_scores 1 sample", [=] { (void)sgdsde::z_scores(MatrixXd::Ones(2, 1), law); }));
  t.push_back(throws("law.mean", "z_scores law of dim 3", [=] {
    (void)sgdsde::z_scores(MatrixXd::Ones(3, 4), law);
  }));
  for (double v : kBadReal)
    t.push_back(throws("samples", "z_scores samples " + std::to_string(v), [=] {
      MatrixXd s = samples;
      s(0, 3) = v;
      Keep k(s);
      (void)sgdsde::z_scores(s, law);
    }));
  // fit_order, strong_error, weak_error.
  using sgdsde::fit_order;
  t.push_back(throws("dts.size()", "fit_order 1 point", [] { (void)fit_order({0.1}, {0.2}); }));
  t.push_back(throws("errors.size()", "fit_order size mismatch", [] { (void)fit_order({0.1, 0.2}, {0.2}); }));
  t.push_back(throws("dts", "fit_order equal dts", [] { (void)fit_order({0.1, 0.1}, {0.2, 0.3}); }));
  for (double v : {0.0, -1.0, sweep::nan, sweep::inf}) {
    t.push_back(throws("dts", "fit_order dt " + std::to_string(v), [v] { (void)fit_order({0.1, v}, {0.2, 0.3}); }));
    t.push_back(throws("errors", "fit_order error " + std::to_string(v), [v] { (void)fit_order({0.1, 0.2}, {v, 0.3}); }));
  }
  t.push_back(succeeds("fit_order on dts 1e-300 .. 1e-299 (exact order 1)", [] {
    const auto f = fit_order({1e-300, 2e-300, 4e-300}, {3e-300, 6e-300, 12e-300});
    return verdict(std::abs(f.order - 1) <= 1e-12);
  }));
  t.push_back(throws("approx.cols()", "strong_error 1 path", [] { (void)sgdsde::strong_error(MatrixXd::Ones(2, 1), MatrixXd::Ones(2, 1)); }));
  t.push_back(throws("exact", "strong_error shape mismatch", [] { (void)sgdsde::strong_error(MatrixXd::Ones(2, 4), MatrixXd::Ones(2, 3)); }));
  for (double v : kBadReal) {
    t.push_back(throws("approx", "strong_error approx " + std::to_string(v), [v] {
      (void)sgdsde::strong_error(MatrixXd::Constant(2, 4, v), MatrixXd::Ones(2, 4));
    }));
    t.push_back(throws("exact", "weak_error exact " + std::to_string(v), [v] {
      (void)sgdsde::weak_error(MatrixXd::Ones(2, 4), MatrixXd::Constant(2, 4, v), [](const auto& x) { return x(0); });
    }));
  }
  return t;
}

}  // namespace

TEST_CASE("bad-input sweep: sde (TimeGrid, Ensemble, Brownian sources)") { sweep::run("sde/grid", grid_cases()); }
TEST_CASE("bad-input sweep: sde (problem makers)") { sweep::run("sde/problem", problem_cases()); }
TEST_CASE("bad-input sweep: sde (integrate)") { sweep::run("sde/integrate", integrate_cases()); }
TEST_CASE("bad-input sweep: sde (GaussianLaw, z_scores, convergence)") { sweep::run("sde/statistics", statistics_cases()); }
