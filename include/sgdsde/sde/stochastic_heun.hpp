// sgdsde/sde/stochastic_heun.hpp — the stochastic Heun (trapezoidal predictor–corrector) stepper,
// converging to the Stratonovich solution (Kloeden & Platen 1992, §11.1 and §15.1; Rümelin 1982).
#pragma once

#include <Eigen/Core>

#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

/// Stochastic Heun:  X̃ = X + f(t, X) dt + G(t, X) ΔW,
///                   X ← X + ½ (f(t, X) + f(t + dt, X̃)) dt + ½ (G(t, X) + G(t + dt, X̃)) ΔW.
/// Stratonovich. Strong order 1 for diagonal, scalar and additive noise (commutative), 1/2 for general
/// noise (which may be non-commutative; no Lévy areas are used). Weak order 1, and 2 for additive
/// noise (where it is the explicit weak order 2 scheme of Kloeden & Platen §15.1).
struct StochasticHeun {
  static constexpr double strong_order(NoiseKind kind) { return kind == NoiseKind::general ? 0.5 : 1.0; }
  static constexpr double weak_order(NoiseKind kind) { return kind == NoiseKind::additive ? 2.0 : 1.0; }
  static constexpr Calculus calculus = Calculus::stratonovich;
  static constexpr const char* name = "StochasticHeun";
  static constexpr bool is_euler_maruyama(NoiseKind) { return false; }

  template <class Problem>
  class Workspace {
   public:
    using Scalar = typename Problem::scalar_type;
    using Matrix = MatrixX<Scalar>;
    Workspace(const Problem& problem, Index paths)
        : f0_(problem.dim(), paths), f1_(problem.dim(), paths), predictor_(problem.dim(), paths),
          g0_(problem.diffusion_rows(), paths), g1_(problem.diffusion_rows(), paths) {}

    void step(const Problem& problem, Scalar t, Scalar dt, const Matrix& dW, Eigen::Ref<Matrix> X) {
      problem.drift(t, X, f0_);
      problem.diffusion(t, X, g0_);
      predictor_ = X + dt * f0_;
      problem.add_noise(g0_, dW, Scalar(1), predictor_);
      problem.drift(t + dt, predictor_, f1_);
      problem.diffusion(t + dt, predictor_, g1_);
      X += (Scalar(0.5) * dt) * (f0_ + f1_);
      if constexpr (Problem::noise_kind == NoiseKind::additive) {
        problem.add_noise(g0_, dW, Scalar(1), X);
      } else {
        problem.add_noise(g0_, dW, Scalar(0.5), X);
        problem.add_noise(g1_, dW, Scalar(0.5), X);
      }
    }

   private:
    Matrix f0_, f1_, predictor_, g0_, g1_;
  };

  template <class Problem>
  Workspace<Problem> workspace(const Problem& problem, Index paths) const {
    return Workspace<Problem>(problem, paths);
  }
};

}  // namespace sgdsde
