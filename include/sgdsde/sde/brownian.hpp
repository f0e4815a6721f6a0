// sgdsde/sde/brownian.hpp — Brownian motion for ensembles: a dyadic Brownian-bridge tree that one path
// serves every step size with (Lévy's construction), and direct i.i.d. increments for a fixed step.
//
// Both sources produce m×M blocks of increments W(t) − W(s) (m noise dimensions, M paths, column p is
// path p) and are deterministic functions of the RandomStream: path p, noise component j of a node or
// step k uses the normals at index k·(m·P) + (first_path + p)·m + j of the stream (P = total paths),
// so a sub-range of paths built alone gets exactly the numbers it gets inside the whole ensemble.
// Only increments are provided (no Lévy areas): enough for Euler–Maruyama, for Milstein with
// diagonal or commutative noise and for stochastic Heun.
#pragma once

#include <cmath>
#include <cstdint>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

/// A Brownian path on [t0, t1] known exactly at the 2^L + 1 dyadic times t0 + k·(t1 − t0)/2^L.
/// Built by bridge refinement: W(t1) = √T·Z_0; the midpoint of a level-(l−1) interval [a, b] is
/// W((a+b)/2) = ½(W(a) + W(b)) + √((b − a)/4)·Z_node, with node = 2^{l−1} + (index of [a, b]).
/// Hence the values at level l are the same numbers for every L ≥ l: the path integrated at dt, dt/2,
/// dt/4, … is one path, and the sum of fine increments equals the coarse increment exactly (up to
/// the rounding of one addition per value). Memory: (2^L + 1)·m·M scalars.
template <class Scalar>
class BrownianPath {
 public:
  using Matrix = MatrixX<Scalar>;

  /// Preconditions: t1 > t0 finite, noise_dim ≥ 1, paths ≥ 1, 0 ≤ levels ≤ 30,
  /// 0 ≤ first_path and first_path + paths ≤ total_paths (total_paths < 0 means first_path + paths).
  BrownianPath(const RandomStream& stream, Scalar t0, Scalar t1, Index noise_dim, Index paths,
               int levels, Index first_path = 0, Index total_paths = -1)
      : t0_(t0), t1_(t1), m_(noise_dim), paths_(paths), levels_(levels) {
    constexpr const char* fn = "BrownianPath";
    using std::isfinite;
    require(isfinite(t0), fn, "t0", t0, "a finite time");
    require(isfinite(t1) && t1 > t0, fn, "t1", t1, "a finite time > t0");
    require(noise_dim > 0, fn, "noise_dim", noise_dim, "> 0");
    require(paths > 0, fn, "paths", paths, "> 0");
    require(levels >= 0 && levels <= 30, fn, "levels", levels, "in [0, 30]");
    require(first_path >= 0, fn, "first_path", first_path, ">= 0");
    if (total_paths < 0) total_paths = first_path + paths;
    require(first_path + paths <= total_paths, fn, "total_paths", total_paths, ">= first_path + paths");

    const Index n = Index(1) << levels;
    h_ = (t1 - t0) / Scalar(n);
    w_.resize(m_ * paths_, n + 1);
    w_.col(0).setZero();
    const std::uint64_t stride = std::uint64_t(m_) * std::uint64_t(total_paths);
    const std::uint64_t offset = std::uint64_t(first_path) * std::uint64_t(m_);
    using std::sqrt;
    stream.normal_at(offset, w_.col(n));
    w_.col(n) *= sqrt(t1 - t0);
    for (int l = 1; l <= levels; ++l) {
      const Index span = n >> (l - 1), half = span / 2;
      const Scalar sd = sqrt(Scalar(span) * h_ / Scalar(4));
      const std::uint64_t first_node = std::uint64_t(1) << (l - 1);
      for (Index k = 0; k < (Index(1) << (l - 1)); ++k) {
        const Index left = k * span, mid = left + half, right = left + span;
        stream.normal_at((first_node + std::uint64_t(k)) * stride + offset, w_.col(mid));
        w_.col(mid) = Scalar(0.5) * (w_.col(left) + w_.col(right)) + sd * w_.col(mid);
      }
    }
  }

  Scalar t0() const { return t0_; }
  Scalar t1() const { return t1_; }
  int levels() const { return levels_; }
  Index noise_dim() const { return m_; }
  Index paths() const { return paths_; }
  /// The finest resolution (t1 − t0)/2^L; every query time must be a multiple of it from t0.
  Scalar finest_step() const { return h_; }

  /// Index k of t = t0 + k·finest_step(); throws unless t ∈ [t0, t1] lies on that grid
  /// (to within 10⁻³ of a finest step, to absorb rounding in the caller's time arithmetic).
  Index grid_index(Scalar t, const char* argument = "t") const {
    using std::abs;
    using std::round;
    const Scalar x = (t - t0_) / h_;
    const Scalar k = round(x);
    require(k >= 0 && k <= Scalar(w_.cols() - 1) && abs(x - k) <= Scalar(1e-3), "BrownianPath::grid_index",
            argument, t, "a time in [t0, t1] on the dyadic grid t0 + k·(t1 − t0)/2^levels");
    return Index(k);
  }

  /// out (m×M) = W(t) − W(t0).
  void value(Scalar t, Eigen::Ref<Matrix> out) const {
    require_shape("BrownianPath::value", "out", out, m_, paths_);
    const Index k = grid_index(t);
    out = Eigen::Map<const Matrix>(w_.col(k).data(), m_, paths_);
  }

  /// out (m×M) = W(t) − W(s); s and t on the grid, s ≤ t.
  void increment(Scalar s, Scalar t, Eigen::Ref<Matrix> out) const {
    require_shape("BrownianPath::increment", "out", out, m_, paths_);
    const Index a = grid_index(s, "s"), b = grid_index(t, "t");
    require(a <= b, "BrownianPath::increment", "t", t, ">= s");
    out = Eigen::Map<const Matrix>(w_.col(b).data(), m_, paths_) -
          Eigen::Map<const Matrix>(w_.col(a).data(), m_, paths_);
  }

  /// Noise-source interface used by `integrate`: the increment over [t, t + dt] (step is ignored).
  void increment(long /*step*/, Scalar t, Scalar dt, Eigen::Ref<Matrix> out) const { increment(t, t + dt, out); }

 private:
  Scalar t0_, t1_, h_;
  Index m_, paths_;
  int levels_;
  Matrix w_;  // (m·M) × (2^L + 1); column k is W(t0 + k·h) − W(t0) of every path, m values per path
};

/// I.i.d. increments for a fixed step: step k gets √dt·Z with Z the normals at index
/// k·(m·P) + (first_path + p)·m + j (see the file comment). Cheaper than a BrownianPath when one
/// step size is enough; the same step index always gives the same increment. Not a template: the
/// increments take the scalar type of the block they are written into.
class BrownianIncrements {
 public:
  BrownianIncrements(const RandomStream& stream, Index noise_dim, Index paths, Index first_path = 0,
                     Index total_paths = -1)
      : stream_(stream), m_(noise_dim), paths_(paths) {
    constexpr const char* fn = "BrownianIncrements";
    require(noise_dim > 0, fn, "noise_dim", noise_dim, "> 0");
    require(paths > 0, fn, "paths", paths, "> 0");
    require(first_path >= 0, fn, "first_path", first_path, ">= 0");
    if (total_paths < 0) total_paths = first_path + paths;
    require(first_path + paths <= total_paths, fn, "total_paths", total_paths, ">= first_path + paths");
    stride_ = std::uint64_t(m_) * std::uint64_t(total_paths);
    offset_ = std::uint64_t(first_path) * std::uint64_t(m_);
  }

  Index noise_dim() const { return m_; }
  Index paths() const { return paths_; }
  const RandomStream& stream() const { return stream_; }
  /// Index in the stream of the first normal of step `step` (for fused kernels).
  std::uint64_t first_index(long step) const { return std::uint64_t(step) * stride_ + offset_; }

  /// out (m×M) = √dt · Z_step. Preconditions: step ≥ 0, dt > 0.
  template <class Derived>
  void increment(long step, typename Derived::Scalar /*t*/, typename Derived::Scalar dt,
                 const Eigen::MatrixBase<Derived>& out) const {
    using std::sqrt;
    auto& o = const_cast<Eigen::MatrixBase<Derived>&>(out);
    stream_.normal_at(first_index(step), o);
    o *= sqrt(dt);
  }

 private:
  RandomStream stream_;
  Index m_, paths_;
  std::uint64_t stride_ = 0, offset_ = 0;
};

}  // namespace sgdsde
