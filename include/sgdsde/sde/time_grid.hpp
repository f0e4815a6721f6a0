// sgdsde/sde/time_grid.hpp — the time grid, ensemble size, outputs (save-at times, observers) and
// result type shared by `integrate` and its fused kernels (the driver of Jastrzébski et al. 2018, eqs. 4–6).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

/// The grid t_k = t0 + k·dt for k < n, t_n = t1, with n = ⌈(t1 − t0)/dt⌉ (a (t1 − t0)/dt within
/// 10⁻⁹ of an integer counts as that integer, so the last step is shortened only when dt does not
/// divide the interval). `TimeGrid(0.0, 5.0, 0.02)` is a TimeGrid<double>; a grid converts to
/// another Scalar (so a double grid drives a float problem).
template <class Scalar>
class TimeGrid {
 public:
  /// Throws unless t0 and t1 are finite, t1 ≥ t0, dt > 0 finite and the grid has at most 2⁶² steps.
  /// (Arguments are non-deduced so that the deduction guide below decides: integers give double.)
  TimeGrid(detail::non_deduced_t<Scalar> t0, detail::non_deduced_t<Scalar> t1, detail::non_deduced_t<Scalar> dt)
      : t0_(t0), t1_(t1), dt_(dt) {
    using std::isfinite;
    require(isfinite(t0), "TimeGrid", "t0", t0, "a finite time");
    require(isfinite(t1) && t1 >= t0, "TimeGrid", "t1", t1, "a finite time >= t0");
    require_positive("TimeGrid", "dt", dt);
    const double r = (double(t1) - double(t0)) / double(dt);
    require(r <= 4.611686018427387904e18, "TimeGrid", "dt", dt,
            "a step giving at most 2^62 steps over [t0, t1]");
    const double k = std::round(r);
    steps_ = std::abs(r - k) <= 1e-9 * (k > 1 ? k : 1) ? long(k) : long(std::ceil(r));
  }
  template <class Other, std::enable_if_t<!std::is_same_v<Other, Scalar>, int> = 0>
  TimeGrid(const TimeGrid<Other>& g) : TimeGrid(Scalar(g.t0()), Scalar(g.t1()), Scalar(g.dt())) {}

  Scalar t0() const { return t0_; }
  Scalar t1() const { return t1_; }
  Scalar dt() const { return dt_; }
  long steps() const { return steps_; }
  /// t_k (exactly t1 at k = steps()).
  Scalar time(long k) const { return k >= steps_ ? t1_ : Scalar(double(t0_) + double(k) * double(dt_)); }

 private:
  Scalar t0_, t1_, dt_;
  long steps_ = 0;
};

namespace detail {
template <class T>
using time_scalar_t = std::conditional_t<std::is_floating_point_v<T>, T, double>;
}
template <class A, class B, class C>
TimeGrid(A, B, C) -> TimeGrid<detail::time_scalar_t<std::common_type_t<A, B, C>>>;

/// Number of paths M of an ensemble started from one initial state.
struct Ensemble {
  explicit Ensemble(Index paths_) : paths(paths_) { require(paths_ > 0, "Ensemble", "paths", paths_, "> 0"); }
  Index paths;
};

/// An observer called with (k, t_k, X_k) only at the grid times `times` (non-decreasing, each a grid
/// time); make it with `observe_at(times, f)`. A plain observer f(k, t, X) is called at every step.
template <class Scalar, class F>
struct ObserveAt {
  std::vector<Scalar> times;
  F observer;
};
template <class Scalar, class F>
ObserveAt<Scalar, F> observe_at(std::vector<Scalar> times, F observer) {
  return {std::move(times), std::move(observer)};
}

/// Result of integrating M paths: the final state (d×M), the states at the save-at times when some
/// were given (each d×M; nothing else is stored), and an Outcome. On a non-finite state the
/// integration stops: outcome.status == Status::non_finite, outcome.step is the 0-based index k of
/// the step t_k → t_{k+1} that produced it and outcome.value is t_{k+1}; final_state then holds that
/// (non-finite) state, final_time = t_{k+1}, and saves or observations after it are absent.
template <class Scalar>
struct EnsembleSolution {
  using Matrix = MatrixX<Scalar>;
  Matrix final_state;
  Scalar final_time{};
  long steps_taken = 0;
  std::vector<Scalar> times;
  std::vector<Matrix> states;
  Outcome outcome;
};

namespace detail {

/// Grid indices of the save times (each must be a grid time, to within 10⁻⁶·dt).
template <class Scalar>
std::vector<long> grid_indices(const TimeGrid<Scalar>& grid, const std::vector<Scalar>& times, const char* fn,
                               const char* argument) {
  std::vector<long> idx;
  idx.reserve(times.size());
  const long n = grid.steps();
  const double dt = double(grid.dt());
  for (Scalar s : times) {
    using std::isfinite;
    require(isfinite(s) && s >= grid.t0() && s <= grid.t1(), fn, argument, s, "times in [t0, t1]");
    long k = long(std::llround((double(s) - double(grid.t0())) / dt));
    if (k > n) k = n;
    if (std::abs(double(s) - double(grid.time(k))) > 1e-6 * dt)
      k = (std::abs(double(s) - double(grid.t1())) <= 1e-6 * dt) ? n : -1;
    require(k >= 0, fn, argument, s, "times on the grid t0 + k·dt (or t1)");
    require(idx.empty() || k >= idx.back(), fn, argument, s, "non-decreasing times");
    idx.push_back(k);
  }
  return idx;
}

/// Calls `f(k, t_k, X_k)` at the listed grid indices (in order, repeats allowed) or at every step.
template <class Scalar, class F>
class Observation {
 public:
  Observation(F& f, std::vector<long> at, bool every) : f_(f), at_(std::move(at)), every_(every) {}
  void operator()(long k, Scalar t, const MatrixX<Scalar>& X) {
    if (every_) {
      f_(k, t, X);
      return;
    }
    while (next_ < at_.size() && at_[next_] == k) {
      f_(k, t, X);
      ++next_;
    }
  }

 private:
  F& f_;
  std::vector<long> at_;
  bool every_;
  std::size_t next_ = 0;
};

template <class Scalar>
Outcome non_finite_outcome(const char* who, long k, Scalar t) {
  return Outcome::failure(Status::non_finite, k, double(t),
                          std::string(who) + ": non-finite state after step " + std::to_string(k) + " (t = " +
                              detail::describe(t) + ")");
}

}  // namespace detail

}  // namespace sgdsde
