// Tests for sgdsde/sde/integrate.hpp and time_grid.hpp: the time grid (deduction, overflow), save points,
// observers, the ensemble form, independence from how paths are split, non-finite outcomes with the
// step that produced them, and argument errors.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/stochastic_heun.hpp"

namespace {
template <class Scalar>
using Mat = sgdsde::MatrixX<Scalar>;

template <class T>
auto logistic_problem() {
  using M = Mat<T>;
  using Ref = Eigen::Ref<M>;
  using CRef = const Eigen::Ref<const M>&;
  // dX_i = X_i (1 − X_i) dt + 0.3 X_i dW_i: elementwise, so a path's result cannot depend on others.
  return sgdsde::diagonal_noise_sde(
      2, [](T, CRef x, Ref f) { f = (x.array() * (1 - x.array())).matrix(); },
      [](T, CRef x, Ref g) { g = T(0.3) * x; });
}
}  // namespace

TEST_CASE_TEMPLATE("TimeGrid counts steps and shortens only a last partial step", T, SGDSDE_TEST_SCALARS) {
  CHECK(sgdsde::TimeGrid<T>(T(0), T(1), T(0.1)).steps() == 10);
  static_assert(std::is_same_v<decltype(sgdsde::TimeGrid(0.0, 5.0, 0.02)), sgdsde::TimeGrid<double>>);
  static_assert(std::is_same_v<decltype(sgdsde::TimeGrid(0, 5, 0.5f)), sgdsde::TimeGrid<float>>);
  static_assert(std::is_same_v<decltype(sgdsde::TimeGrid(0, 5, 1)), sgdsde::TimeGrid<double>>);
  CHECK(sgdsde::TimeGrid(0.0, 5.0, 0.02).steps() == 250);
  const sgdsde::TimeGrid<T> converted = sgdsde::TimeGrid(0.0, 1.0, 0.125);  // a double grid drives a float problem
  CHECK(converted.steps() == 8);
  const sgdsde::TimeGrid<T> g(T(0), T(1), T(0.3));
  CHECK(g.steps() == 4);
  CHECK(g.time(4) == T(1));
  CHECK(g.t0() == T(0));
  CHECK(g.t1() == T(1));
  CHECK(g.dt() == T(0.3));
  CHECK(std::abs(g.time(3) - T(0.9)) < T(1e-6));
  CHECK(sgdsde::TimeGrid<T>(T(2), T(2), T(0.5)).steps() == 0);
  CHECK_THROWS_WITH_AS(sgdsde::TimeGrid<T>(T(0), T(1), T(0)), doctest::Contains("'dt'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::TimeGrid<T>(T(0), T(1), T(-0.1)), doctest::Contains("'dt'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::TimeGrid<T>(T(1), T(0), T(0.1)), doctest::Contains("'t1'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::TimeGrid<T>(T(NAN), T(1), T(0.1)), doctest::Contains("'t0'"),
                       sgdsde::invalid_argument);
  // Issue 8, defect 2: (t1 − t0)/dt = 1e30 steps overflowed `long` and integrate took no step.
  CHECK_THROWS_WITH_AS(sgdsde::TimeGrid<T>(T(0), T(1), T(1e-30)), doctest::Contains("'dt'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::TimeGrid<T>(T(0), T(1e19), T(1)), doctest::Contains("'dt'"), sgdsde::invalid_argument);
  CHECK(sgdsde::TimeGrid<double>(0.0, 4e18, 1.0).steps() == 4000000000000000000L);
}

TEST_CASE_TEMPLATE("integrate: saved states equal separate integrations to the save times", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  const auto p = logistic_problem<T>();
  const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(3), 2, 6);
  const M x0 = M::Constant(2, 6, T(0.2));
  const M x0_copy = x0;
  const sgdsde::EulerMaruyama em;
  const auto sol = sgdsde::integrate(p, em, x0, sgdsde::TimeGrid<T>(T(0), T(2), T(0.125)), noise,
                                     {T(0), T(0.5), T(0.5), T(2)});
  REQUIRE(sol.outcome.ok());
  CHECK(sol.steps_taken == 16);
  CHECK(sol.final_time == T(2));
  REQUIRE(sol.times.size() == 4);
  CHECK(sol.states[0] == x0);
  CHECK(sol.states[1] == sol.states[2]);
  CHECK(sol.states[3] == sol.final_state);
  CHECK(x0 == x0_copy);
  // Integrating to t = 0.5 alone uses steps 0..3 of the same increments: the same state.
  const auto half = sgdsde::integrate(p, em, x0, sgdsde::TimeGrid<T>(T(0), T(0.5), T(0.125)), noise);
  CHECK(half.final_state == sol.states[1]);
  // The same Brownian path through a BrownianPath at two resolutions: saves at common times.
  const sgdsde::BrownianPath<T> path(sgdsde::RandomStream(4), T(0), T(1), 2, 6, 4);
  const auto coarse = sgdsde::integrate(p, em, x0, sgdsde::TimeGrid<T>(T(0), T(1), T(0.25)), path, {T(0.5)});
  CHECK(coarse.outcome.ok());
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, x0, sgdsde::TimeGrid<T>(T(0), T(1), T(0.1)), path),
                       doctest::Contains("'t'"), sgdsde::invalid_argument);
}

TEST_CASE_TEMPLATE("integrate: results do not depend on how the paths are split", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  const auto p = logistic_problem<T>();
  const sgdsde::RandomStream stream(8, 2);
  M x0(2, 10);
  for (int j = 0; j < 10; ++j) x0.col(j).setConstant(T(0.1) * T(j + 1));
  const sgdsde::TimeGrid<T> grid(T(0), T(1), T(1.0 / 64));
  const sgdsde::StochasticHeun heun;
  const auto all = sgdsde::integrate(p, heun, x0, grid, sgdsde::BrownianIncrements(stream, 2, 10));
  const auto lo = sgdsde::integrate(p, heun, x0.leftCols(4), grid, sgdsde::BrownianIncrements(stream, 2, 4, 0, 10));
  const auto hi =
      sgdsde::integrate(p, heun, x0.rightCols(6), grid, sgdsde::BrownianIncrements(stream, 2, 6, 4, 10));
  CHECK(lo.final_state == all.final_state.leftCols(4));
  CHECK(hi.final_state == all.final_state.rightCols(6));
  const sgdsde::BrownianPath<T> pall(stream, T(0), T(1), 2, 10, 6), phi(stream, T(0), T(1), 2, 6, 6, 4, 10);
  const auto ball = sgdsde::integrate(p, heun, x0, grid, pall);
  const auto bhi = sgdsde::integrate(p, heun, x0.rightCols(6), grid, phi);
  CHECK(bhi.final_state == ball.final_state.rightCols(6));
}

TEST_CASE_TEMPLATE("integrate: a non-finite state stops with an outcome naming the step", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  using Ref = Eigen::Ref<M>;
  using CRef = const Eigen::Ref<const M>&;
  // dX = X² dt (no noise): EM x_{k+1} = x_k + x_k² dt overflows after finitely many steps.
  const auto p = sgdsde::diagonal_noise_sde(
      1, [](T, CRef x, Ref f) { f = x.array().square().matrix(); }, [](T, CRef, Ref g) { g.setZero(); });
  const T dt = T(0.5);
  long expected = -1;
  T x = T(1);
  for (long k = 0; k < 100 && expected < 0; ++k) {
    x = x + x * x * dt;
    if (!std::isfinite(x)) expected = k;
  }
  REQUIRE(expected > 0);
  M x0 = M::Ones(1, 3);
  x0(0, 1) = T(0.5);  // the other paths stay finite longer; one bad path is enough to stop
  const sgdsde::EulerMaruyama em;
  const auto sol = sgdsde::integrate(p, em, x0, sgdsde::TimeGrid<T>(T(0), T(100), dt),
                                     sgdsde::BrownianIncrements(sgdsde::RandomStream(1), 1, 3), {T(1), T(90)});
  CHECK(sol.outcome.status == sgdsde::Status::non_finite);
  CHECK(sol.outcome.step == expected);
  CHECK(sol.steps_taken == expected + 1);
  CHECK(sol.outcome.value == doctest::Approx(double(expected + 1) * 0.5));
  CHECK(sol.outcome.message.find("step " + std::to_string(expected)) != std::string::npos);
  CHECK(sol.times.size() == 1);  // t = 90 was never reached
  CHECK_FALSE(std::isfinite(sol.final_state(0, 0)));
}

TEST_CASE_TEMPLATE("integrate: bad arguments throw naming the argument", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  const auto p = logistic_problem<T>();
  const sgdsde::EulerMaruyama em;
  const sgdsde::TimeGrid<T> grid(T(0), T(1), T(0.25));
  const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(1), 2, 3);
  M x0 = M::Ones(2, 3);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, M::Ones(3, 3), grid, noise), doctest::Contains("'x0'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, M::Ones(2, 0), grid, noise), doctest::Contains("'paths'"),
                       sgdsde::invalid_argument);
  x0(1, 2) = T(NAN);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, x0, grid, noise), doctest::Contains("'x0'"), sgdsde::invalid_argument);
  x0(1, 2) = T(1);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, x0, grid, sgdsde::BrownianIncrements(sgdsde::RandomStream(1), 2, 4)),
                       doctest::Contains("'noise'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, x0, grid, sgdsde::BrownianIncrements(sgdsde::RandomStream(1), 1, 3)),
                       doctest::Contains("'noise'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, x0, grid, noise, {T(0.3)}), doctest::Contains("'save_at'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, x0, grid, noise, {T(0.5), T(0.25)}), doctest::Contains("'save_at'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, em, x0, grid, noise, {T(1.5)}), doctest::Contains("'save_at'"),
                       sgdsde::invalid_argument);
}

TEST_CASE_TEMPLATE("integrate: observers see every step or the observe_at times, and store nothing", T, float,
                   double) {
  using M = Mat<T>;
  const auto p = logistic_problem<T>();
  const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(3), 2, 6);
  const M x0 = M::Constant(2, 6, T(0.2));
  const sgdsde::TimeGrid<T> grid(T(0), T(2), T(0.125));
  const auto saved = sgdsde::integrate(p, sgdsde::EulerMaruyama{}, x0, grid, noise, {T(0.5), T(2)});
  std::vector<long> ks;
  std::vector<T> ts;
  M at_half;
  const auto every = sgdsde::integrate(p, sgdsde::EulerMaruyama{}, x0, grid, noise, [&](long k, T t, const M& x) {
    ks.push_back(k);
    ts.push_back(t);
    if (k == 4) at_half = x;
  });
  REQUIRE(ks.size() == 17);  // k = 0 … 16
  for (long k = 0; k <= 16; ++k) {
    CHECK(ks[std::size_t(k)] == k);
    CHECK(ts[std::size_t(k)] == grid.time(k));
  }
  CHECK(every.times.empty());
  CHECK(every.states.empty());
  CHECK(at_half == saved.states[0]);
  CHECK(every.final_state == saved.final_state);
  std::vector<T> seen;
  const auto some = sgdsde::integrate(
      p, sgdsde::EulerMaruyama{}, x0, grid, noise,
      sgdsde::observe_at(std::vector<T>{T(0), T(0.5), T(2)}, [&](long, T t, const M&) { seen.push_back(t); }));
  CHECK(seen == std::vector<T>{T(0), T(0.5), T(2)});
  CHECK(some.final_state == saved.final_state);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, sgdsde::EulerMaruyama{}, x0, grid, noise,
                                         sgdsde::observe_at(std::vector<T>{T(0.3)}, [](long, T, const M&) {})),
                       doctest::Contains("'observe_at'"), sgdsde::invalid_argument);
}

TEST_CASE_TEMPLATE("integrate: the ensemble form is the matrix form with x0 replicated and BrownianIncrements", T,
                   SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  const auto p = logistic_problem<T>();
  const sgdsde::VectorX<T> x0 = sgdsde::VectorX<T>::Constant(2, T(0.3));
  const sgdsde::TimeGrid<T> grid(T(0), T(1), T(0.0625));
  const auto ensemble = sgdsde::integrate(p, sgdsde::StochasticHeun{}, x0, grid, sgdsde::Ensemble(7),
                                          sgdsde::RandomStream(12, 3), {T(0.5)});
  const auto matrix = sgdsde::integrate(p, sgdsde::StochasticHeun{}, M(x0.replicate(1, 7)), grid,
                                        sgdsde::BrownianIncrements(sgdsde::RandomStream(12, 3), 2, 7), {T(0.5)});
  CHECK(ensemble.final_state == matrix.final_state);
  REQUIRE(ensemble.states.size() == 1);
  CHECK(ensemble.states[0] == matrix.states[0]);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(p, sgdsde::EulerMaruyama{}, sgdsde::VectorX<T>::Zero(3), grid,
                                         sgdsde::Ensemble(7), sgdsde::RandomStream(1)),
                       doctest::Contains("'x0'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::Ensemble(0), doctest::Contains("'paths'"), sgdsde::invalid_argument);
}
