// sgdsde/sde/ou_euler_maruyama.hpp — detail: the fused Euler–Maruyama kernel that `integrate` uses for
// a linear drift with additive noise, X ← (I − A dt) X + A·μ·dt + √dt B Z: the SGD-on-a-quadratic
// recursion (Jastrzębski et al. 2018, eq. 4 on the quadratic of eq. 6), one GEMM per step and the
// normals generated block by block in cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde::detail {

/// Same result as the generic Euler–Maruyama step up to rounding (the same normals, the same Itô
/// step) but fused: per block of paths, Y = (I − A dt) X by GEMM, the block's normals drawn into a
/// cache-resident buffer and added, and the finiteness check done while the block is in cache.
/// `problem` gives A(), mu(), B(); `start` (d×M, checked by the caller) becomes the final state.
template <class Problem, class Observe>
EnsembleSolution<typename Problem::scalar_type> euler_maruyama_linear_additive(
    const Problem& problem, MatrixX<typename Problem::scalar_type> start,
    const TimeGrid<typename Problem::scalar_type>& grid, const BrownianIncrements& noise, Observe& observe) {
  using Scalar = typename Problem::scalar_type;
  using Matrix = MatrixX<Scalar>;
  using Vector = VectorX<Scalar>;
  using Array = ArrayX<Scalar>;
  const Index d = problem.dim(), m = problem.noise_dim(), paths = start.cols();
  const Matrix& A = problem.A();
  const Matrix& B = problem.B();
  const Vector a_mu = A * problem.mu();
  const bool has_mean = !a_mu.isZero(0);
  const bool diagonal_b = d == m && B.isDiagonal(0);
  // Block width: about 64 KiB of state per block, a multiple of 16 columns.
  const Index width = std::min<Index>(paths, std::max<Index>(16, (8192 / d) / 16 * 16));

  EnsembleSolution<Scalar> sol;
  sol.final_state = std::move(start);
  sol.final_time = grid.t0();
  Matrix y(d, paths), z(m, width), p(d, d), bc(d, m);
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
    bool finite = true;
    const Matrix& x = sol.final_state;
    for (Index c0 = 0; c0 < paths; c0 += width) {
      const Index w = std::min(width, paths - c0);
      if (d == 1 && m == 1) {
        // Normals straight into the output block, then y = p·x + b·z + a·μ·dt in place.
        Eigen::Map<Array> yb(y.data() + c0, w);
        const Eigen::Map<const Array> xb(x.data() + c0, w);
        noise.stream().normal_at(first + std::uint64_t(c0), yb);
        yb = p11 * xb + b11 * yb + am1;
        finite = finite && all_finite(yb);
      } else {
        Eigen::Ref<Matrix> zb(z.leftCols(w));
        noise.stream().normal_at(first + std::uint64_t(c0 * m), zb);
        Eigen::Ref<Matrix> yb(y.middleCols(c0, w));
        yb.noalias() = p * x.middleCols(c0, w);
        if (diagonal_b)
          yb.array() += zb.array().colwise() * bdiag.array();
        else
          yb.noalias() += bc * zb;
        if (has_mean) yb.colwise() += am;
        finite = finite && all_finite(yb);
      }
    }
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

}  // namespace sgdsde::detail
