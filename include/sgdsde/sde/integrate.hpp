// sgdsde/sde/integrate.hpp — integrate an SDE ensemble over a time grid with a stepper and a noise
// source, reporting states through save-at times or an observer (the driver behind Jastrzębski et al.
// 2018, eqs. 4–6).
//
//   OrnsteinUhlenbeck ou(A, B);
//   auto paths = integrate(ou, EulerMaruyama{}, x0, TimeGrid(0.0, 5.0, 0.02), Ensemble(100'000), RandomStream(42));
//   paths.final_state;                                     // d × 100000
//
// Forms: (problem, stepper, x0 d×M, grid, noise[, output]) with a BrownianPath or BrownianIncrements
// of M paths, and (problem, stepper, x0 d-vector, grid, Ensemble(M), RandomStream[, output]), which
// starts M copies of x0 driven by BrownianIncrements of the stream. `output` is a vector of save-at
// times (states stored in the result), an observer f(k, t, X) called at every step k = 0…n, or
// observe_at(times, f). Dispatch: a problem with a linear drift and additive noise stepped by a
// scheme that is Euler–Maruyama for additive noise (EulerMaruyama, Milstein), driven by
// BrownianIncrements, goes to the fused kernel of ou_euler_maruyama.hpp.
// Threads: every form takes a last optional `Threads threads` (core/parallel.hpp; default automatic,
// a count ≤ 0 throws). The fused kernel without an observer runs each block of paths through all steps
// (blocks spread over threads, no barrier); with save-at times or an observer it splits each step's
// blocks across threads (when d·M ≥ 32768) and observes between steps; the stepper
// loop without an observer, driven by BrownianIncrements, splits the paths into chunks of 256 integrated
// independently (so the problem's drift/diffusion callables are then called concurrently on different
// blocks of paths and must not modify shared state). Other forms (BrownianPath, observers) run on the
// calling thread. Results are bit-identical for every thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/ou_euler_maruyama.hpp"
#include "sgdsde/sde/problem.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde {

namespace detail {

template <class T>
struct IsObserveAt : std::false_type {};
template <class S, class F>
struct IsObserveAt<ObserveAt<S, F>> : std::true_type {};

template <class Output, class Scalar>
constexpr bool is_output_v = IsObserveAt<std::decay_t<Output>>::value ||
                             std::is_invocable_v<std::decay_t<Output>&, long, Scalar, const MatrixX<Scalar>&>;

template <class Problem, class Stepper, class Noise>
constexpr bool uses_fused_kernel_v = Problem::has_linear_drift && Problem::noise_kind == NoiseKind::additive &&
                                     Stepper::is_euler_maruyama(Problem::noise_kind) &&
                                     std::is_same_v<Noise, BrownianIncrements>;

template <class Problem, class Stepper, class Noise, class Observe>
EnsembleSolution<typename Problem::scalar_type> generic_integrate(const Problem& problem, const Stepper& stepper,
                                                                  MatrixX<typename Problem::scalar_type> start,
                                                                  const TimeGrid<typename Problem::scalar_type>& grid,
                                                                  const Noise& noise, Observe& observe) {
  using Scalar = typename Problem::scalar_type;
  EnsembleSolution<Scalar> sol;
  const Index paths = start.cols();
  sol.final_state = std::move(start);
  sol.final_time = grid.t0();
  MatrixX<Scalar> dW(problem.noise_dim(), paths);
  auto workspace = stepper.workspace(problem, paths);
  observe(0, grid.t0(), sol.final_state);
  const long n = grid.steps();
  for (long k = 0; k < n; ++k) {
    const Scalar t = grid.time(k);
    const Scalar dt = grid.time(k + 1) - t;
    noise.increment(k, t, dt, dW);
    workspace.step(problem, t, dt, dW, sol.final_state);
    sol.steps_taken = k + 1;
    sol.final_time = grid.time(k + 1);
    if (!all_finite(sol.final_state)) {
      sol.outcome = non_finite_outcome(Stepper::name, k, sol.final_time);
      return sol;
    }
    observe(k + 1, sol.final_time, sol.final_state);
  }
  return sol;
}

struct NoObserver {
  template <class... A>
  void operator()(A&&...) const {}
};

/// Columns per chunk of the parallel stepper loop.
constexpr Index integrate_chunk_paths = 256;

/// The stepper loop without an observer, driven by BrownianIncrements, split into chunks of
/// integrate_chunk_paths columns integrated independently over the whole grid (chunk c uses the
/// increments of its own columns). Used whenever there are ≥ 2 chunks, whatever the thread count, so
/// 1, 2, … threads give the same bits. If a chunk becomes non-finite, the whole ensemble is run again
/// in one piece to report the first failing step of the ensemble (the serial semantics).
template <class Problem, class Stepper>
EnsembleSolution<typename Problem::scalar_type> chunked_integrate(const Problem& problem, const Stepper& stepper,
                                                                  MatrixX<typename Problem::scalar_type> start,
                                                                  const TimeGrid<typename Problem::scalar_type>& grid,
                                                                  const BrownianIncrements& noise, Threads threads) {
  using Scalar = typename Problem::scalar_type;
  const Index paths = start.cols(), m = noise.noise_dim();
  const Index chunks = chunk_count(paths, integrate_chunk_paths);
  // The noise may itself be a sub-range of a larger ensemble: recover (first path, total paths).
  const Index first_path = Index(noise.first_index(0) / std::uint64_t(m));
  const Index total_paths = Index((noise.first_index(1) - noise.first_index(0)) / std::uint64_t(m));
  std::vector<char> ok(std::size_t(chunks), 1);
  EnsembleSolution<Scalar> sol;
  sol.final_state.resize(start.rows(), paths);
  parallel_for("integrate", chunks, threads, [&](Index c) {
    const ChunkRange r = chunk_range(paths, integrate_chunk_paths, c);
    const BrownianIncrements part(noise.stream(), m, r.size(), first_path + r.begin, total_paths);
    NoObserver none;
    EnsembleSolution<Scalar> piece =
        generic_integrate(problem, stepper, MatrixX<Scalar>(start.middleCols(r.begin, r.size())), grid, part, none);
    ok[std::size_t(c)] = piece.outcome.ok();
    sol.final_state.middleCols(r.begin, r.size()) = piece.final_state;
  });
  if (!std::all_of(ok.begin(), ok.end(), [](char f) { return f != 0; })) {
    NoObserver none;
    return generic_integrate(problem, stepper, std::move(start), grid, noise, none);
  }
  sol.final_time = grid.time(grid.steps());
  sol.steps_taken = grid.steps();
  return sol;
}

/// Checks the arguments, then runs the fused kernel or the stepper loop with `observe`.
template <class Problem, class Stepper, class Noise, class Derived, class Observe>
EnsembleSolution<typename Problem::scalar_type> run_integrate(const Problem& problem, const Stepper& stepper,
                                                              const Eigen::MatrixBase<Derived>& x0,
                                                              const TimeGrid<typename Problem::scalar_type>& grid,
                                                              const Noise& noise, Observe& observe, Threads threads) {
  constexpr const char* fn = "integrate";
  threads.resolve(fn);
  problem.check_state(fn, "x0", x0);
  require(noise.noise_dim() == problem.noise_dim(), fn, "noise", noise.noise_dim(),
          "a noise source with noise_dim equal to the problem's");
  require(noise.paths() == x0.cols(), fn, "noise", noise.paths(), "a noise source with one path per column of x0");
  MatrixX<typename Problem::scalar_type> start = x0;
  if constexpr (uses_fused_kernel_v<Problem, Stepper, Noise>) {
    if constexpr (std::is_same_v<Observe, NoObserver>) {
      // No observer: block-major (no barrier per step); on a non-finite block, step-major again.
      MatrixX<typename Problem::scalar_type> x = start;
      if (euler_maruyama_linear_additive_blocks(problem, x, grid, noise, threads)) {
        EnsembleSolution<typename Problem::scalar_type> sol;
        sol.final_state = std::move(x);
        sol.final_time = grid.time(grid.steps());
        sol.steps_taken = grid.steps();
        return sol;
      }
    }
    return euler_maruyama_linear_additive(problem, std::move(start), grid, noise, observe, threads);
  } else if constexpr (std::is_same_v<Noise, BrownianIncrements> && std::is_same_v<Observe, NoObserver>) {
    if (chunk_count(start.cols(), integrate_chunk_paths) >= 2)
      return chunked_integrate(problem, stepper, std::move(start), grid, noise, threads);
    return generic_integrate(problem, stepper, std::move(start), grid, noise, observe);
  } else {
    return generic_integrate(problem, stepper, std::move(start), grid, noise, observe);
  }
}

template <class Problem, class Derived>
MatrixX<typename Problem::scalar_type> replicate_initial_state(const Problem& problem,
                                                               const Eigen::MatrixBase<Derived>& x0,
                                                               Ensemble ensemble) {
  require_shape("integrate", "x0", x0, problem.dim(), 1);
  require_finite("integrate", "x0", x0);
  return x0.replicate(1, ensemble.paths);
}

}  // namespace detail

/// Integrates dX = f dt + G dW for the M columns of x0 (d×M) over `grid` with `stepper` (a value such
/// as EulerMaruyama{}; it chooses Itô or Stratonovich) and `noise`, a BrownianPath or
/// BrownianIncrements with the problem's noise dimension and M paths; returns the final state.
/// x0 is copied, never modified. Throws sgdsde::invalid_argument for a bad argument (x0 not d×M with
/// M ≥ 1 or non-finite, noise of the wrong shape, save times off the grid); a non-finite state is
/// reported in the outcome.
template <class Problem, class Stepper, class Derived, class Noise,
          std::enable_if_t<!std::is_same_v<Noise, Ensemble>, int> = 0>
EnsembleSolution<typename Problem::scalar_type> integrate(const Problem& problem, Stepper stepper,
                                                          const Eigen::MatrixBase<Derived>& x0,
                                                          const TimeGrid<typename Problem::scalar_type>& grid,
                                                          const Noise& noise, Threads threads = {}) {
  detail::NoObserver none;
  return detail::run_integrate(problem, stepper, x0, grid, noise, none, threads);
}

/// As above, also storing the states at the grid times `save_at` (non-decreasing) in
/// `result.times` / `result.states`.
template <class Problem, class Stepper, class Derived, class Noise,
          std::enable_if_t<!std::is_same_v<Noise, Ensemble>, int> = 0>
EnsembleSolution<typename Problem::scalar_type> integrate(
    const Problem& problem, Stepper stepper, const Eigen::MatrixBase<Derived>& x0,
    const TimeGrid<typename Problem::scalar_type>& grid, const Noise& noise,
    const std::vector<typename Problem::scalar_type>& save_at, Threads threads = {}) {
  using Scalar = typename Problem::scalar_type;
  std::vector<Scalar> times;
  std::vector<MatrixX<Scalar>> states;
  auto store = [&](long, Scalar t, const MatrixX<Scalar>& X) {
    times.push_back(t);
    states.push_back(X);
  };
  detail::Observation<Scalar, decltype(store)> observe(store, detail::grid_indices(grid, save_at, "integrate", "save_at"),
                                                       false);
  EnsembleSolution<Scalar> sol = detail::run_integrate(problem, stepper, x0, grid, noise, observe, threads);
  sol.times = std::move(times);
  sol.states = std::move(states);
  return sol;
}

/// As above with an observer: f(k, t_k, X_k) at every step k = 0…n (X_k is d×M), or only at the grid
/// times of observe_at(times, f). Nothing is stored in the result but the final state.
template <class Problem, class Stepper, class Derived, class Noise, class Output,
          std::enable_if_t<!std::is_same_v<Noise, Ensemble> &&
                               detail::is_output_v<Output, typename Problem::scalar_type>,
                           int> = 0>
EnsembleSolution<typename Problem::scalar_type> integrate(const Problem& problem, Stepper stepper,
                                                          const Eigen::MatrixBase<Derived>& x0,
                                                          const TimeGrid<typename Problem::scalar_type>& grid,
                                                          const Noise& noise, Output&& output,
                                                          Threads threads = {}) {
  using Scalar = typename Problem::scalar_type;
  if constexpr (detail::IsObserveAt<std::decay_t<Output>>::value) {
    std::vector<Scalar> times(output.times.begin(), output.times.end());
    detail::Observation<Scalar, decltype(output.observer)> observe(
        output.observer, detail::grid_indices(grid, times, "integrate", "observe_at"), false);
    return detail::run_integrate(problem, stepper, x0, grid, noise, observe, threads);
  } else {
    detail::Observation<Scalar, std::remove_reference_t<Output>> observe(output, {}, true);
    return detail::run_integrate(problem, stepper, x0, grid, noise, observe, threads);
  }
}

/// Ensemble form: M = ensemble.paths copies of the initial state x0 (a d-vector) driven by
/// BrownianIncrements(stream, m, M); returns the final state (d×M).
template <class Problem, class Stepper, class Derived>
EnsembleSolution<typename Problem::scalar_type> integrate(const Problem& problem, Stepper stepper,
                                                          const Eigen::MatrixBase<Derived>& x0,
                                                          const TimeGrid<typename Problem::scalar_type>& grid,
                                                          Ensemble ensemble, const RandomStream& stream,
                                                          Threads threads = {}) {
  return integrate(problem, stepper, detail::replicate_initial_state(problem, x0, ensemble), grid,
                   BrownianIncrements(stream, problem.noise_dim(), ensemble.paths), threads);
}

/// Ensemble form storing the states at the grid times `save_at`.
template <class Problem, class Stepper, class Derived>
EnsembleSolution<typename Problem::scalar_type> integrate(const Problem& problem, Stepper stepper,
                                                          const Eigen::MatrixBase<Derived>& x0,
                                                          const TimeGrid<typename Problem::scalar_type>& grid,
                                                          Ensemble ensemble, const RandomStream& stream,
                                                          const std::vector<typename Problem::scalar_type>& save_at,
                                                          Threads threads = {}) {
  return integrate(problem, stepper, detail::replicate_initial_state(problem, x0, ensemble), grid,
                   BrownianIncrements(stream, problem.noise_dim(), ensemble.paths), save_at, threads);
}

/// Ensemble form with an observer f(k, t, X) (every step) or observe_at(times, f).
template <class Problem, class Stepper, class Derived, class Output,
          std::enable_if_t<detail::is_output_v<Output, typename Problem::scalar_type>, int> = 0>
EnsembleSolution<typename Problem::scalar_type> integrate(const Problem& problem, Stepper stepper,
                                                          const Eigen::MatrixBase<Derived>& x0,
                                                          const TimeGrid<typename Problem::scalar_type>& grid,
                                                          Ensemble ensemble, const RandomStream& stream,
                                                          Output&& output, Threads threads = {}) {
  return integrate(problem, stepper, detail::replicate_initial_state(problem, x0, ensemble), grid,
                   BrownianIncrements(stream, problem.noise_dim(), ensemble.paths), std::forward<Output>(output),
                   threads);
}

}  // namespace sgdsde
