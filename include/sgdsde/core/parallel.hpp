// sgdsde/core/parallel.hpp — work split across threads with results independent of the split: a
// thread-count parameter, deterministic chunking, and loops over indexed work items (OpenMP when the
// program is compiled with it, through the CMake target sgdsde::openmp; plain serial loops otherwise).
//
// The determinism contract every parallel loop of the library keeps (and that code using these
// helpers must keep too):
//   1. Work is a range of ITEMS [0, n) (paths, blocks of columns, SGD runs, sweep cells, kernel rows…),
//      never "one piece per thread". Each item draws its random numbers from its own stream or its own
//      counter range (RandomStream(seed, item) or stream.normal_at(first + item·k, …)); never from a
//      stream owned by a thread.
//   2. Each item writes only its own output slot. Anything combined across items (sums, minima, the
//      first failure) is combined afterwards in item order (parallel_reduce), never with atomics or
//      `omp reduction` (whose order depends on the schedule).
//   3. Chunk boundaries come from chunk_range(n, grain, c), which depends on (n, grain, c) only, never
//      on the thread count. A chunk may be the item.
// Then the result is bit-identical for 1, 2, … threads (and for any split across MPI ranks).
//
// Nesting and GEMMs: a loop started inside another parallel region runs serially on the calling
// thread (no oversubscription). Eigen's own GEMM parallelisation is off inside a parallel region
// (Eigen checks omp_get_num_threads() > 1) and everywhere for targets linking sgdsde::openmp, which
// defines EIGEN_DONT_PARALLELIZE: the library parallelises at the level of the ensemble, not the GEMM.
//
// Typical use in a per-chunk loop (e.g. a kernel matrix computed by blocks of rows):
//   const Index chunks = chunk_count(n, 64);
//   parallel_for("ntk_kernel", chunks, threads, [&](Index c) {
//     const ChunkRange r = chunk_range(n, 64, c);      // rows [r.begin, r.end)
//     K.middleRows(r.begin, r.size()) = …;             // writes its own rows only
//   });
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

/// True when this translation unit is compiled with OpenMP (link sgdsde::openmp); otherwise every
/// parallel loop of the library runs serially and a thread count above 1 is accepted and ignored.
constexpr bool openmp_enabled() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

/// Threads the automatic count resolves to: omp_get_max_threads() (OMP_NUM_THREADS, else the cores)
/// with OpenMP, 1 without.
inline int available_threads() {
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

/// True when called from inside an active parallel region (a loop started there runs serially).
inline bool in_parallel_region() {
#if defined(_OPENMP)
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

/// A thread count: Threads() = automatic (available_threads()), Threads(n) = at most n threads.
/// An integer converts (`options.threads = 2`). Checked where it is used: a count ≤ 0 throws
/// sgdsde::invalid_argument naming the function and the argument (`threads` unless said).
/// The number of threads never changes a result, only the time it takes.
class Threads {
 public:
  Threads() = default;
  /// From an integer (only: a braced list of times such as {0.5} must not convert to a thread count).
  template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  Threads(I count)  // NOLINT: a number is a thread count
      : count_(count > I(1 << 30) ? (1 << 30) : int(count)), automatic_(false) {
    if constexpr (std::is_signed_v<I>)
      if (count < I(-(1 << 30))) count_ = -(1 << 30);
  }

  bool automatic() const { return automatic_; }
  /// The count asked for (0 when automatic).
  int requested() const { return automatic_ ? 0 : count_; }

  /// The number of threads to use: available_threads() when automatic, else the count (which must be
  /// ≥ 1). Throws sgdsde::invalid_argument "<function>: argument '<argument>' is n; expected …".
  int resolve(const char* function, const char* argument = "threads") const {
    if (automatic_) return available_threads();
    require(count_ >= 1, function, argument, count_, "a thread count >= 1 (or Threads() for automatic)");
    return count_;
  }

 private:
  int count_ = 0;
  bool automatic_ = true;
};

/// Items [begin, end) of chunk `index`.
struct ChunkRange {
  Index begin = 0, end = 0;
  Index size() const { return end - begin; }
};

/// Number of chunks of `grain` items covering n items (0 for n = 0). Preconditions: n ≥ 0, grain ≥ 1.
inline Index chunk_count(Index n, Index grain) {
  require(n >= 0, "chunk_count", "n", n, ">= 0");
  require(grain >= 1, "chunk_count", "grain", grain, ">= 1");
  return (n + grain - 1) / grain;
}

/// Chunk c of n items cut into chunks of `grain`: [c·grain, min(n, (c+1)·grain)). A function of
/// (n, grain, c) only, never of the thread count: the basis of every deterministic split.
inline ChunkRange chunk_range(Index n, Index grain, Index c) {
  return ChunkRange{std::min(n, c * grain), std::min(n, (c + 1) * grain)};
}

/// How items are handed to threads: `contiguous` gives each thread one run of consecutive items
/// (equal-cost items, cache reuse from one call to the next, e.g. the blocks of an ensemble step);
/// `dynamic` hands them out one by one as threads free up (items of unequal cost: SGD runs, sweep
/// cells). The schedule never changes a result.
enum class Schedule { contiguous, dynamic };

/// Number of worker slots parallel_for(function, n, threads, …) will use: 1 when it runs serially
/// (no OpenMP, n ≤ 1, one thread, or inside a parallel region), else min(threads, n, 8 × cores). Size per-worker
/// scratch buffers (never random streams) with it; f(i, slot) receives slot ∈ [0, slots).
inline int parallel_slots(const char* function, Index n, Threads threads) {
  const int nt = threads.resolve(function);
  if (!openmp_enabled() || n <= 1 || nt <= 1 || in_parallel_region()) return 1;
  // More than 8 threads per core only costs (and a huge count would exhaust the system's threads).
  const Index cap = 8 * Index(available_threads());
  return int(std::min({Index(nt), n, cap}));
}

namespace detail {
template <class F>
void call_item(F& f, Index i, int slot) {
  if constexpr (std::is_invocable_v<F&, Index, int>)
    f(i, slot);
  else
    f(i);
}
}  // namespace detail

/// Calls f(i) — or f(i, slot) with slot the worker's index in [0, parallel_slots(…)) for scratch
/// space — for every i in [0, n) on up to `threads` threads (serially without OpenMP, for n ≤ 1, one
/// thread, or inside a parallel region). f must write only item i's own outputs. If calls throw,
/// every item still runs and the exception of the LOWEST item index is rethrown (the same one for any
/// thread count). `function` names the caller in the message of a bad thread count.
template <class F>
void parallel_for(const char* function, Index n, Threads threads, F&& f, Schedule schedule = Schedule::contiguous) {
  require(n >= 0, function, "number of items", n, ">= 0");
  const int use = parallel_slots(function, n, threads);
  if (n == 0) return;
#if defined(_OPENMP)
  if (use > 1) {
    std::vector<std::exception_ptr> errors;
    bool failed = false;
    std::exception_ptr first;
    Index first_index = n;
    if (schedule == Schedule::contiguous) {
#pragma omp parallel num_threads(use)
      {
        const Index t = omp_get_thread_num(), nthreads = omp_get_num_threads();
        const Index begin = n * t / nthreads, end = n * (t + 1) / nthreads;
        for (Index i = begin; i < end; ++i) {
          try {
            detail::call_item(f, i, int(t));
          } catch (...) {
#pragma omp critical(sgdsde_parallel_for_error)
            {
              if (i < first_index) {
                first_index = i;
                first = std::current_exception();
              }
              failed = true;
            }
          }
        }
      }
    } else {
#pragma omp parallel for num_threads(use) schedule(dynamic, 1)
      for (Index i = 0; i < n; ++i) {
        try {
          detail::call_item(f, i, omp_get_thread_num());
        } catch (...) {
#pragma omp critical(sgdsde_parallel_for_error)
          {
            if (i < first_index) {
              first_index = i;
              first = std::current_exception();
            }
            failed = true;
          }
        }
      }
    }
    if (failed) std::rethrow_exception(first);
    return;
  }
#else
  (void)use;
  (void)schedule;
#endif
  std::exception_ptr first;
  for (Index i = 0; i < n; ++i) {
    try {
      detail::call_item(f, i, 0);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

/// result[i] = f(i) for i in [0, n), computed as parallel_for does (Schedule::dynamic by default:
/// the items are typically whole runs of unequal cost). The value type must be default-constructible
/// and move-assignable.
template <class F>
auto parallel_map(const char* function, Index n, Threads threads, F&& f, Schedule schedule = Schedule::dynamic)
    -> std::vector<std::decay_t<decltype(f(Index(0)))>> {
  using T = std::decay_t<decltype(f(Index(0)))>;
  require(n >= 0, function, "number of items", n, ">= 0");
  std::vector<T> out(static_cast<std::size_t>(n));
  parallel_for(function, n, threads, [&](Index i) { out[std::size_t(i)] = f(i); }, schedule);
  return out;
}

/// Ordered reduction: combine(…combine(combine(init, f(0)), f(1))…, f(n−1)), the f(i) computed in
/// parallel and combined on the calling thread in item order, so a floating-point sum is the same
/// for every thread count.
template <class T, class F, class Combine>
T parallel_reduce(const char* function, Index n, Threads threads, T init, F&& f, Combine&& combine,
                  Schedule schedule = Schedule::contiguous) {
  auto parts = parallel_map(function, n, threads, std::forward<F>(f), schedule);
  for (auto& p : parts) init = combine(std::move(init), std::move(p));
  return init;
}

}  // namespace sgdsde
