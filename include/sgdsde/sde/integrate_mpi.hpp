// sgdsde/sde/integrate_mpi.hpp — an ensemble of M paths (sde/integrate.hpp) split across MPI ranks: each
// rank integrates a contiguous range of paths with the increments those paths have in the whole
// ensemble (BrownianIncrements with first_path/total_paths), and the final states are gathered on every
// rank: the same bits as integrate() in one process. Needs MPI (link sgdsde::mpi); not in the umbrella.
#pragma once

#include <algorithm>
#include <vector>

#include <mpi.h>

#include "sgdsde/core/parallel.hpp"
#include "sgdsde/sde/integrate.hpp"

namespace sgdsde {

/// integrate(problem, stepper, x0, grid, ensemble, stream, threads) over the ranks of `comm` (every rank
/// calls it with the same arguments; call MPI_Init_thread with at least MPI_THREAD_FUNNELED). Rank r
/// takes the paths [b_r, b_{r+1}), the boundaries multiples of the kernel's block of paths (so each
/// rank's blocks are blocks of the one-process run), and integrates them on `threads` threads; the
/// final states are gathered (column p = path p) on every rank. The outcome is the one of the lowest
/// rank that failed (step k and time of its first non-finite state; the ranks stop independently, so
/// on failure final_state mixes ranks stopped at different steps). Double precision only.
template <class Problem, class Stepper, class Derived>
EnsembleSolution<double> integrate(MPI_Comm comm, const Problem& problem, Stepper stepper,
                                   const Eigen::MatrixBase<Derived>& x0, const TimeGrid<double>& grid, Ensemble ensemble,
                                   const RandomStream& stream, Threads threads = {}) {
  static_assert(std::is_same_v<typename Problem::scalar_type, double>, "the MPI ensemble is double precision");
  constexpr const char* fn = "integrate (MPI)";
  threads.resolve(fn);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const Index M = ensemble.paths, d = problem.dim();
  const Index unit = detail::uses_fused_kernel_v<Problem, Stepper, BrownianIncrements>
                         ? detail::fused_block_width(d)
                         : detail::integrate_chunk_paths;
  const Index units = chunk_count(M, unit);
  auto boundary = [&](int r) { return std::min(M, unit * (units * Index(r) / Index(size))); };
  const Index begin = boundary(rank), end = boundary(rank + 1), local = end - begin;
  const MatrixX<double> start = detail::replicate_initial_state(problem, x0, Ensemble(1));

  EnsembleSolution<double> mine;
  if (local > 0) {
    mine = integrate(problem, stepper, start.replicate(1, local), grid,
                     BrownianIncrements(stream, problem.noise_dim(), local, begin, M), threads);
  } else {
    mine.final_time = grid.time(grid.steps());
    mine.steps_taken = grid.steps();
  }
  EnsembleSolution<double> out;
  out.final_state.resize(d, M);
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    offsets[std::size_t(r)] = int(boundary(r) * d);
    counts[std::size_t(r)] = int((boundary(r + 1) - boundary(r)) * d);
  }
  MPI_Allgatherv(local > 0 ? mine.final_state.data() : nullptr, int(local * d), MPI_DOUBLE, out.final_state.data(),
                 counts.data(), offsets.data(), MPI_DOUBLE, comm);
  // The first failing rank (lowest index) tells everyone its outcome.
  int failed_rank = mine.outcome.ok() ? size : rank;
  MPI_Allreduce(MPI_IN_PLACE, &failed_rank, 1, MPI_INT, MPI_MIN, comm);
  if (failed_rank == size) {
    out.final_time = grid.time(grid.steps());
    out.steps_taken = grid.steps();
    return out;
  }
  long step = mine.outcome.step;
  double t = mine.final_time;
  MPI_Bcast(&step, 1, MPI_LONG, failed_rank, comm);
  MPI_Bcast(&t, 1, MPI_DOUBLE, failed_rank, comm);
  out.steps_taken = step + 1;
  out.final_time = t;
  out.outcome = detail::non_finite_outcome("integrate (MPI)", step, t);
  return out;
}

}  // namespace sgdsde
