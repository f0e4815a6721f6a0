// sgdsde/sde/ou_euler_maruyama.hpp — detail: the fused Euler–Maruyama kernel that `integrate` uses for
// a linear drift with additive noise, X ← (I − A dt) X + A·μ·dt + √dt B Z: the SGD-on-a-quadratic
// recursion (Jastrzębski et al. 2018, eq. 4 on the quadratic of eq. 6), one GEMM per step and the
// normals generated block by block in cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde::detail {

/// Columns per block of the fused kernel for state dimension d: about 64 KiB of state, a multiple of 16
/// columns (16 KiB for d = 1, so that a step has enough blocks to balance across threads). Blocks start
/// at multiples of it; the MPI ensemble split aligns ranks on it.
inline Index fused_block_width(Index d) {
  return d == 1 ? Index(2048) : std::max<Index>(16, (8192 / d) / 16 * 16);
}

/// Same result as the generic Euler–Maruyama step up to rounding (the same normals, the same Itô
/// step) but fused: per block of paths, Y = (I − A dt) X by GEMM, the block's normals drawn into a
/// cache-resident buffer and added, and the finiteness check done while the block is in cache.
/// `problem` gives A(), mu(), B(); `start` (d×M, checked by the caller) becomes the final state.
/// Parallel: the blocks of a step are split across `threads` (core/parallel.hpp) when the state has
/// ≥ 32768 entries (d·M); block boundaries depend on (d, M) only and block c draws the normals of its
/// own columns, so the result is bit-identical for every thread count. The observer is called between
/// steps, on the calling thread.
template <class Problem, class Observe>
EnsembleSolution<typename Problem::scalar_type> euler_maruyama_linear_additive(
    const Problem& problem, MatrixX<typename Problem::scalar_type> start,
    const TimeGrid<typename Problem::scalar_type>& grid, const BrownianIncrements& noise, Observe& observe,
    Threads threads = {}) {
  using Scalar = typename Problem::scalar_type;
  using Matrix = MatrixX<Scalar>;
  using Vector = VectorX<Scalar>;
  using Array = ArrayX<Scalar>;
  constexpr const char* fn = "integrate";
  const Index d = problem.dim(), m = problem.noise_dim(), paths = start.cols();
  const Matrix& A = problem.A();
  const Matrix& B = problem.B();
  const Vector a_mu = A * problem.mu();
  const bool has_mean = !a_mu.isZero(0);
  const bool diagonal_b = d == m && B.isDiagonal(0);
  const Index width = std::min(paths, fused_block_width(d));
  const Index nblocks = chunk_count(paths, width);
  // Threads meet at the end of every step: worth it only for ≥ 32768 state entries (≈ 50 µs of work
  // per step); smaller ensembles run on the calling thread (the same blocks, so the same bits).
  threads.resolve(fn);
  const Threads step_threads = d * paths >= 32768 ? threads : Threads(1);
  const int slots = parallel_slots(fn, nblocks, step_threads);

  EnsembleSolution<Scalar> sol;
  sol.final_state = std::move(start);
  sol.final_time = grid.t0();
  Matrix y(d, paths), p(d, d), bc(d, m);
  std::vector<Matrix> z(std::size_t(slots), Matrix(m, width));
  std::vector<char> block_finite(std::size_t(nblocks), 1);
  Vector am(d), bdiag(d);
  Scalar last_dt = Scalar(-1), p11 = 0, am1 = 0, b11 = 0;
  observe(0, grid.t0(), sol.final_state);
  const long n = grid.steps();
  for (long k = 0; k < n; ++k) {
    const Scalar t = grid.time(k);
    const Scalar dt = grid.time(k + 1) - t;
    if (dt != last_dt) {
      using std::sqrt;
      p = Matrix::Identity(d, d) - dt * A;
      bc = sqrt(dt) * B;
      bdiag = bc.diagonal();
      am = dt * a_mu;
      p11 = p(0, 0);
      am1 = am(0);
      b11 = bc(0, 0);
      last_dt = dt;
    }
    const std::uint64_t first = noise.first_index(k);
    const Matrix& x = sol.final_state;
    parallel_for(fn, nblocks, step_threads, [&](Index block, int slot) {
      const ChunkRange r = chunk_range(paths, width, block);
      const Index c0 = r.begin, w = r.size();
      if (d == 1 && m == 1) {
        // Normals straight into the output block, then y = p·x + b·z + a·μ·dt in place.
        Eigen::Map<Array> yb(y.data() + c0, w);
        const Eigen::Map<const Array> xb(x.data() + c0, w);
        noise.stream().normal_at(first + std::uint64_t(c0), yb);
        yb = p11 * xb + b11 * yb + am1;
        block_finite[std::size_t(block)] = all_finite(yb);
      } else {
        Eigen::Ref<Matrix> zb(z[std::size_t(slot)].leftCols(w));
        noise.stream().normal_at(first + std::uint64_t(c0 * m), zb);
        Eigen::Ref<Matrix> yb(y.middleCols(c0, w));
        yb.noalias() = p * x.middleCols(c0, w);
        if (diagonal_b)
          yb.array() += zb.array().colwise() * bdiag.array();
        else
          yb.noalias() += bc * zb;
        if (has_mean) yb.colwise() += am;
        block_finite[std::size_t(block)] = all_finite(yb);
      }
    });
    const bool finite = std::all_of(block_finite.begin(), block_finite.end(), [](char f) { return f != 0; });
    sol.final_state.swap(y);
    sol.steps_taken = k + 1;
    sol.final_time = grid.time(k + 1);
    if (!finite) {
      sol.outcome = non_finite_outcome("integrate (EulerMaruyama, linear drift)", k, sol.final_time);
      return sol;
    }
    observe(k + 1, sol.final_time, sol.final_state);
  }
  return sol;
}

/// Block-major form of the kernel above for a run without observer: each block of paths goes through
/// every step while it sits in cache (16–64 KiB), blocks spread over `threads` with no barrier between
/// steps. Each column gets exactly the operations of the step-major loop (the same blocks, the same
/// normals), so the bits are the same. Returns false, leaving `x` unspecified, if a block became
/// non-finite: the caller then reruns step-major to report the ensemble's first failing step.
template <class Problem>
bool euler_maruyama_linear_additive_blocks(const Problem& problem, MatrixX<typename Problem::scalar_type>& x,
                                           const TimeGrid<typename Problem::scalar_type>& grid,
                                           const BrownianIncrements& noise, Threads threads) {
  using Scalar = typename Problem::scalar_type;
  using Matrix = MatrixX<Scalar>;
  using Vector = VectorX<Scalar>;
  using Array = ArrayX<Scalar>;
  constexpr const char* fn = "integrate";
  const Index d = problem.dim(), m = problem.noise_dim(), paths = x.cols();
  const Matrix& A = problem.A();
  const Matrix& B = problem.B();
  const Vector a_mu = A * problem.mu();
  const bool has_mean = !a_mu.isZero(0);
  const bool diagonal_b = d == m && B.isDiagonal(0);
  const Index width = std::min(paths, fused_block_width(d));
  const Index nblocks = chunk_count(paths, width);
  const long n = grid.steps();
  std::vector<char> ok(std::size_t(nblocks), 1);
  parallel_for(fn, nblocks, threads, [&](Index block) {
    const ChunkRange r = chunk_range(paths, width, block);
    const Index c0 = r.begin, w = r.size();
    Matrix xb = x.middleCols(c0, w), yb(d, w), zb(m, w), p(d, d), bc(d, m);
    Vector am(d), bdiag(d);
    Scalar last_dt = Scalar(-1), p11 = 0, am1 = 0, b11 = 0;
    for (long k = 0; k < n; ++k) {
      const Scalar t = grid.time(k);
      const Scalar dt = grid.time(k + 1) - t;
      if (dt != last_dt) {
        using std::sqrt;
        p = Matrix::Identity(d, d) - dt * A;
        bc = sqrt(dt) * B;
        bdiag = bc.diagonal();
        am = dt * a_mu;
        p11 = p(0, 0);
        am1 = am(0);
        b11 = bc(0, 0);
        last_dt = dt;
      }
      const std::uint64_t first = noise.first_index(k);
      if (d == 1 && m == 1) {
        Eigen::Map<Array> y1(yb.data(), w);
        const Eigen::Map<const Array> x1(xb.data(), w);
        noise.stream().normal_at(first + std::uint64_t(c0), y1);
        y1 = p11 * x1 + b11 * y1 + am1;
      } else {
        noise.stream().normal_at(first + std::uint64_t(c0 * m), zb);
        yb.noalias() = p * xb;
        if (diagonal_b)
          yb.array() += zb.array().colwise() * bdiag.array();
        else
          yb.noalias() += bc * zb;
        if (has_mean) yb.colwise() += am;
      }
      if (!all_finite(yb)) {
        ok[std::size_t(block)] = 0;
        return;
      }
      xb.swap(yb);
    }
    x.middleCols(c0, w) = xb;
  }, Schedule::dynamic);
  return std::all_of(ok.begin(), ok.end(), [](char f) { return f != 0; });
}

}  // namespace sgdsde::detail
