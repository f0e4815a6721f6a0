// sgdsde/sde/ou_euler_maruyama.hpp — fused Euler–Maruyama for Ornstein–Uhlenbeck ensembles,
// X ← (I − A dt) X + A·mean·dt + √dt B Z: the SGD-on-a-quadratic recursion (Jastrzębski et al. 2018,
// eq. 4 on the quadratic of eq. 6), one GEMM per step and the normals generated block by block in cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

template <class Scalar>
using OuProblem = SdeProblem<Scalar, NoiseKind::additive, LinearDrift<Scalar>, EnsembleMatrix<Scalar>>;

/// Same result as `integrate(problem, EulerMaruyama<Scalar>{}, x0, grid, noise, save_at)` up to
/// rounding (the same normals, the same Itô EM step, strong order 1 and weak order 1 for this
/// additive noise) but fused: per block of paths, Y = (I − A dt) X by GEMM, the block's normals drawn
/// into a cache-resident buffer and added, and the finiteness check done while the block is in cache.
/// Same preconditions, errors and outcome as `integrate`.
template <class Scalar, class Derived>
EnsembleSolution<Scalar> integrate_ou_euler_maruyama(const OuProblem<Scalar>& problem,
                                                     const Eigen::MatrixBase<Derived>& x0,
                                                     const TimeGrid<Scalar>& grid,
                                                     const BrownianIncrements<Scalar>& noise,
                                                     const std::vector<Scalar>& save_at = {}) {
  using Matrix = EnsembleMatrix<Scalar>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Array = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
  constexpr const char* fn = "integrate_ou_euler_maruyama";
  problem.check_state(fn, "x0", x0);
  require(noise.noise_dim() == problem.noise_dim(), fn, "noise", noise.noise_dim(),
          "a noise source with noise_dim equal to the problem's");
  require(noise.paths() == x0.cols(), fn, "noise", noise.paths(), "a noise source with one path per column of x0");
  const std::vector<long> saves = detail::save_indices(grid, save_at, fn);

  const Eigen::Index d = problem.dim(), m = problem.noise_dim(), paths = x0.cols();
  const Matrix& A = problem.drift_function().A();
  const Matrix& B = problem.diffusion_function();
  const bool has_mean = problem.drift_function().has_mean();
  const bool diagonal_b = d == m && B.isDiagonal(0);
  // Block width: about 64 KiB of state per block, a multiple of 16 columns.
  const Eigen::Index width = std::min<Eigen::Index>(paths, std::max<Eigen::Index>(16, (8192 / d) / 16 * 16));

  EnsembleSolution<Scalar> sol;
  sol.final_state = x0;
  Matrix y(d, paths), z(m, width), p(d, d), bc(d, m);
  Vector am(d), bdiag(d);
  Scalar last_dt = Scalar(-1), p11 = 0, am1 = 0, b11 = 0;
  std::size_t next_save = 0;
  auto save_up_to = [&](long k) {
    while (next_save < saves.size() && saves[next_save] == k) {
      sol.times.push_back(grid.time(k));
      sol.states.push_back(sol.final_state);
      ++next_save;
    }
  };
  save_up_to(0);
  const long n = grid.steps();
  for (long k = 0; k < n; ++k) {
    const Scalar t = grid.time(k);
    const Scalar dt = grid.time(k + 1) - t;
    if (dt != last_dt) {
      using std::sqrt;
      p = Matrix::Identity(d, d) - dt * A;
      bc = sqrt(dt) * B;
      bdiag = bc.diagonal();
      am = dt * problem.drift_function().A_mean();
      p11 = p(0, 0);
      am1 = am(0);
      b11 = bc(0, 0);
      last_dt = dt;
    }
    const std::uint64_t first = noise.first_index(k);
    bool finite = true;
    const Matrix& x = sol.final_state;
    for (Eigen::Index c0 = 0; c0 < paths; c0 += width) {
      const Eigen::Index w = std::min(width, paths - c0);
      if (d == 1 && m == 1) {
        // Normals straight into the output block, then y = p·x + b·z + a·mean·dt in place.
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
      sol.outcome = Outcome::failure(Status::non_finite, k, double(sol.final_time),
                                     std::string(fn) + ": non-finite state after step " + std::to_string(k) +
                                         " (t = " + detail::describe(sol.final_time) + ")");
      return sol;
    }
    save_up_to(k + 1);
  }
  sol.final_time = grid.t1;
  return sol;
}

}  // namespace sgdsde
