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
#include "sgdsde/core/random.hpp"
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

/// What both fused loops take from the problem once per run: A, B, Aμ, whether there is a mean, whether B
/// is diagonal, and the blocks of paths. One definition, because the block-major loop is bit-identical to
/// the step-major one only if both cut the ensemble into the same blocks.
template <class Problem>
struct LinearAdditiveRun {
  using Scalar = typename Problem::scalar_type;
  Index d, m, paths;
  const MatrixX<Scalar>& A;
  const MatrixX<Scalar>& B;
  VectorX<Scalar> a_mu;
  bool has_mean, diagonal_b;
  Index width, nblocks;
  LinearAdditiveRun(const Problem& problem, Index paths_)
      : d(problem.dim()), m(problem.noise_dim()), paths(paths_), A(problem.A()), B(problem.B()),
        a_mu(A * problem.mu()), has_mean(!a_mu.isZero(0)), diagonal_b(d == m && B.isDiagonal(0)),
        width(std::min(paths, fused_block_width(d))), nblocks(chunk_count(paths, width)) {}
};

/// The coefficients of one step X ← P X + (√dt B) Z + A μ dt of size dt (P = I − A dt), recomputed only
/// when dt changes; p11, b11, am1 are the d = m = 1 scalars.
template <class Scalar>
struct LinearStepCoefficients {
  MatrixX<Scalar> p, bc;
  VectorX<Scalar> bdiag, am;
  Scalar last_dt = Scalar(-1), p11 = 0, am1 = 0, b11 = 0;

  LinearStepCoefficients(Index d, Index m) : p(d, d), bc(d, m), bdiag(d), am(d) {}

  void update(Scalar dt, const MatrixX<Scalar>& A, const MatrixX<Scalar>& B, const VectorX<Scalar>& a_mu) {
    if (dt == last_dt) return;
    using std::sqrt;
    p = MatrixX<Scalar>::Identity(A.rows(), A.rows()) - dt * A;
    bc = sqrt(dt) * B;
    bdiag = bc.diagonal();
    am = dt * a_mu;
    p11 = p(0, 0);
    am1 = am(0);
    b11 = bc(0, 0);
    last_dt = dt;
  }
};

/// The d = m = 1 step of `w` paths in one pass: y_i = p11·x_i + b11·z_i + am1 with z_i normal number
/// `first + i` of `stream`; `y` may be `x` (in place). The normals are drawn piece by piece into a buffer
/// in L1 (pieces aligned on the stream's chunks of 64 doubles / 128 floats, so no chunk is generated
/// twice), and one packet loop applies the step to the piece and accumulates y·0 for the finiteness test
/// (NaN iff some y_i is not finite). Each y_i gets the operations of the block-wide Eigen expression
/// p11·x + b11·z + am1 (the same packet functions in the same order), so the bits do not change.
/// Returns whether every y_i is finite.
template <class Scalar>
bool ou_step_d1(const RandomStream& stream, std::uint64_t first, const Scalar* x, Scalar* y, Index w, Scalar p11,
                Scalar b11, Scalar am1) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<Scalar>::type;
  constexpr Index lanes = ei::packet_traits<Scalar>::size;
  constexpr Index chunk = Index(ValuesPerBlock<Scalar, Distribution::normal>::value) * chunk_blocks;
  constexpr Index piece = 4 * chunk;
  static_assert(piece % lanes == 0, "a piece is a whole number of packets");
  alignas(64) Scalar z[piece];
  const Packet vp = ei::pset1<Packet>(p11), vb = ei::pset1<Packet>(b11), va = ei::pset1<Packet>(am1);
  const Packet zero = ei::pset1<Packet>(Scalar(0));
  Packet acc[4] = {zero, zero, zero, zero};
  bool tail_finite = true;
  Index i = 0;
  while (i < w) {
    // Up to the next chunk boundary of the stream first, then whole pieces.
    const Index to_boundary = Index((chunk - Index((first + std::uint64_t(i)) % std::uint64_t(chunk))) % chunk);
    const Index len = std::min(w - i, to_boundary > 0 ? to_boundary : piece);
    stream.normal_at(first + std::uint64_t(i), Eigen::Map<ArrayX<Scalar>>(z, len));
    const Scalar* xp = x + i;
    Scalar* yp = y + i;
    const auto step = [&](Index j) {
      const Packet v = ei::padd(ei::padd(ei::pmul(vp, ei::ploadu<Packet>(xp + j)), ei::pmul(vb, ei::pload<Packet>(z + j))), va);
      ei::pstoreu(yp + j, v);
      return ei::pmul(v, zero);
    };
    Index j = 0;
    for (; j + 4 * lanes <= len; j += 4 * lanes) {  // four accumulators: no add-latency chain
      acc[0] = ei::padd(acc[0], step(j));
      acc[1] = ei::padd(acc[1], step(j + lanes));
      acc[2] = ei::padd(acc[2], step(j + 2 * lanes));
      acc[3] = ei::padd(acc[3], step(j + 3 * lanes));
    }
    for (; j + lanes <= len; j += lanes) acc[0] = ei::padd(acc[0], step(j));
    if (j < len) {
      // The last < lanes values by Eigen's own scalar path (the rounding of its block-wide expression).
      Eigen::Map<ArrayX<Scalar>> yt(yp + j, len - j);
      yt = p11 * Eigen::Map<const ArrayX<Scalar>>(xp + j, len - j) + b11 * Eigen::Map<const ArrayX<Scalar>>(z + j, len - j) + am1;
      tail_finite = all_finite(yt) && tail_finite;
    }
    i += len;
  }
  return tail_finite && ei::predux(ei::padd(ei::padd(acc[0], acc[1]), ei::padd(acc[2], acc[3]))) == Scalar(0);
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
  constexpr const char* fn = "integrate";
  const LinearAdditiveRun<Problem> run(problem, start.cols());
  const Index d = run.d, m = run.m, paths = run.paths, width = run.width, nblocks = run.nblocks;
  const Matrix& A = run.A;
  const Matrix& B = run.B;
  const Vector& a_mu = run.a_mu;
  const bool has_mean = run.has_mean, diagonal_b = run.diagonal_b;
  // Threads meet at the end of every step: worth it only for ≥ 32768 state entries (≈ 50 µs of work
  // per step); smaller ensembles run on the calling thread (the same blocks, so the same bits).
  threads.resolve(fn);
  const Threads step_threads = d * paths >= 32768 ? threads : Threads(1);
  const int slots = parallel_slots(fn, nblocks, step_threads);

  EnsembleSolution<Scalar> sol;
  sol.final_state = std::move(start);
  sol.final_time = grid.t0();
  Matrix y(d, paths);
  std::vector<Matrix> z(std::size_t(slots), Matrix(m, width));
  std::vector<char> block_finite(std::size_t(nblocks), 1);
  LinearStepCoefficients<Scalar> c(d, m);
  observe(0, grid.t0(), sol.final_state);
  const long n = grid.steps();
  for (long k = 0; k < n; ++k) {
    const Scalar t = grid.time(k);
    c.update(grid.time(k + 1) - t, A, B, a_mu);
    const std::uint64_t first = noise.first_index(k);
    const Matrix& x = sol.final_state;
    parallel_for(fn, nblocks, step_threads, [&](Index block, int slot) {
      const ChunkRange r = chunk_range(paths, width, block);
      const Index c0 = r.begin, w = r.size();
      if (d == 1 && m == 1) {
        block_finite[std::size_t(block)] =
            ou_step_d1(noise.stream(), first + std::uint64_t(c0), x.data() + c0, y.data() + c0, w, c.p11, c.b11, c.am1);
      } else {
        Eigen::Ref<Matrix> zb(z[std::size_t(slot)].leftCols(w));
        noise.stream().normal_at(first + std::uint64_t(c0 * m), zb);
        Eigen::Ref<Matrix> yb(y.middleCols(c0, w));
        yb.noalias() = c.p * x.middleCols(c0, w);
        if (diagonal_b)
          yb.array() += zb.array().colwise() * c.bdiag.array();
        else
          yb.noalias() += c.bc * zb;
        if (has_mean) yb.colwise() += c.am;
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
  constexpr const char* fn = "integrate";
  const LinearAdditiveRun<Problem> run(problem, x.cols());
  const Index d = run.d, m = run.m, paths = run.paths, width = run.width, nblocks = run.nblocks;
  const Matrix& A = run.A;
  const Matrix& B = run.B;
  const Vector& a_mu = run.a_mu;
  const bool has_mean = run.has_mean, diagonal_b = run.diagonal_b;
  const long n = grid.steps();
  std::vector<char> ok(std::size_t(nblocks), 1);
  parallel_for(fn, nblocks, threads, [&](Index block) {
    const ChunkRange r = chunk_range(paths, width, block);
    const Index c0 = r.begin, w = r.size();
    // d = m = 1: the block is stepped in place in x (one 16 KiB buffer stays in L1 with the normals).
    const bool scalar_state = d == 1 && m == 1;
    Matrix xb, yb, zb;
    if (!scalar_state) {
      xb = x.middleCols(c0, w);
      yb.resize(d, w);
      zb.resize(m, w);
    }
    LinearStepCoefficients<Scalar> c(d, m);
    for (long k = 0; k < n; ++k) {
      const Scalar t = grid.time(k);
      c.update(grid.time(k + 1) - t, A, B, a_mu);
      const std::uint64_t first = noise.first_index(k);
      bool finite;
      if (scalar_state) {
        Scalar* xc = x.data() + c0;
        finite = ou_step_d1(noise.stream(), first + std::uint64_t(c0), xc, xc, w, c.p11, c.b11, c.am1);
      } else {
        noise.stream().normal_at(first + std::uint64_t(c0 * m), zb);
        yb.noalias() = c.p * xb;
        if (diagonal_b)
          yb.array() += zb.array().colwise() * c.bdiag.array();
        else
          yb.noalias() += c.bc * zb;
        if (has_mean) yb.colwise() += c.am;
        finite = all_finite(yb);
      }
      if (!finite) {
        ok[std::size_t(block)] = 0;
        return;
      }
      if (!scalar_state) xb.swap(yb);
    }
    if (!scalar_state) x.middleCols(c0, w) = xb;
  }, Schedule::dynamic);
  return std::all_of(ok.begin(), ok.end(), [](char f) { return f != 0; });
}

}  // namespace sgdsde::detail
