// sgdsde/sde/integrate.hpp — integrate an SDE ensemble over a time grid with a stepper and a noise
// source, saving states at requested times (the driver behind Jastrzębski et al. 2018, eqs. 4–6).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

/// The grid t_k = t0 + k·dt for k < n, t_n = t1, with n = ⌈(t1 − t0)/dt⌉ (a (t1 − t0)/dt within
/// 10⁻⁹ of an integer counts as that integer, so the last step is shortened only when dt does not
/// divide the interval).
template <class Scalar>
struct TimeGrid {
  Scalar t0, t1, dt;

  /// Throws unless t0 and t1 are finite, t1 ≥ t0 and dt > 0 (finite).
  TimeGrid(Scalar t0_, Scalar t1_, Scalar dt_) : t0(t0_), t1(t1_), dt(dt_) {
    using std::isfinite;
    require(isfinite(t0_), "TimeGrid", "t0", t0_, "a finite time");
    require(isfinite(t1_) && t1_ >= t0_, "TimeGrid", "t1", t1_, "a finite time >= t0");
    require_positive("TimeGrid", "dt", dt_);
  }

  long steps() const {
    using std::ceil;
    using std::round;
    const double r = (double(t1) - double(t0)) / double(dt);
    const double k = round(r);
    return std::abs(r - k) <= 1e-9 * (k > 1 ? k : 1) ? long(k) : long(ceil(r));
  }
  /// t_k (exactly t1 at k = steps()).
  Scalar time(long k) const { return k >= steps() ? t1 : Scalar(double(t0) + double(k) * double(dt)); }
};

/// Result of integrating M paths: the states at the saved times (each d×M), the final state and
/// an Outcome. On a non-finite state the integration stops: outcome.status == Status::non_finite,
/// outcome.step is the 0-based index k of the step t_k → t_{k+1} that produced it and outcome.value
/// is t_{k+1}; final_state then holds that (non-finite) state, final_time = t_{k+1}, and saves after
/// it are absent.
template <class Scalar>
struct EnsembleSolution {
  using Matrix = EnsembleMatrix<Scalar>;
  std::vector<Scalar> times;
  std::vector<Matrix> states;
  Matrix final_state;
  Scalar final_time{};
  long steps_taken = 0;
  Outcome outcome;
};

namespace detail {

/// Grid indices of the save times (each must be a grid time, to within 10⁻⁶·dt).
template <class Scalar>
std::vector<long> save_indices(const TimeGrid<Scalar>& grid, const std::vector<Scalar>& save_at, const char* fn) {
  std::vector<long> idx;
  idx.reserve(save_at.size());
  const long n = grid.steps();
  for (Scalar s : save_at) {
    using std::abs;
    using std::isfinite;
    require(isfinite(s) && s >= grid.t0 && s <= grid.t1, fn, "save_at", s, "times in [t0, t1]");
    long k = long(std::llround((double(s) - double(grid.t0)) / double(grid.dt)));
    if (k > n) k = n;
    if (abs(double(s) - double(grid.time(k))) > 1e-6 * double(grid.dt))
      k = (abs(double(s) - double(grid.t1)) <= 1e-6 * double(grid.dt)) ? n : -1;
    require(k >= 0, fn, "save_at", s, "times on the grid t0 + k·dt (or t1)");
    require(idx.empty() || k >= idx.back(), fn, "save_at", s, "non-decreasing times");
    idx.push_back(k);
  }
  return idx;
}

}  // namespace detail

/// Integrates dX = f dt + G dW for the M columns of x0 (d×M) over `grid` with `stepper` (a value
/// such as EulerMaruyama<Scalar>; it chooses Itô or Stratonovich) and `noise`, a BrownianPath or
/// BrownianIncrements with the problem's noise dimension and M paths. States are saved at the
/// times `save_at` (grid times, non-decreasing). x0 is copied, never modified.
/// Throws sgdsde::invalid_argument for a bad argument (x0 not d×M with M ≥ 1 or non-finite, noise of
/// the wrong shape, save times off the grid); a non-finite state is reported in the outcome.
template <class Problem, class Stepper, class Noise, class Derived>
EnsembleSolution<typename Problem::scalar_type> integrate(
    const Problem& problem, Stepper& stepper, const Eigen::MatrixBase<Derived>& x0,
    const TimeGrid<typename Problem::scalar_type>& grid, const Noise& noise,
    const std::vector<typename Problem::scalar_type>& save_at = {}) {
  using Scalar = typename Problem::scalar_type;
  using Matrix = EnsembleMatrix<Scalar>;
  constexpr const char* fn = "integrate";
  problem.check_state(fn, "x0", x0);
  require(noise.noise_dim() == problem.noise_dim(), fn, "noise", noise.noise_dim(),
          "a noise source with noise_dim equal to the problem's");
  require(noise.paths() == x0.cols(), fn, "noise", noise.paths(), "a noise source with one path per column of x0");
  const std::vector<long> saves = detail::save_indices(grid, save_at, fn);

  EnsembleSolution<Scalar> sol;
  const long n = grid.steps();
  const Eigen::Index paths = x0.cols();
  sol.final_state = x0;
  Matrix dW(problem.noise_dim(), paths);
  stepper.prepare(problem, paths);
  std::size_t next_save = 0;
  auto save_up_to = [&](long k) {
    while (next_save < saves.size() && saves[next_save] == k) {
      sol.times.push_back(grid.time(k));
      sol.states.push_back(sol.final_state);
      ++next_save;
    }
  };
  save_up_to(0);
  for (long k = 0; k < n; ++k) {
    const Scalar t = grid.time(k);
    const Scalar dt = grid.time(k + 1) - t;
    noise.increment(k, t, dt, dW);
    stepper.step(problem, t, dt, dW, sol.final_state);
    sol.steps_taken = k + 1;
    sol.final_time = grid.time(k + 1);
    if (!all_finite(sol.final_state)) {
      sol.outcome = Outcome::failure(Status::non_finite, k, double(sol.final_time),
                                     std::string(Stepper::name) + ": non-finite state after step " +
                                         std::to_string(k) + " (t = " + detail::describe(sol.final_time) + ")");
      return sol;
    }
    save_up_to(k + 1);
  }
  sol.final_time = grid.t1;
  return sol;
}

}  // namespace sgdsde
