// sgdsde/sde/stochastic_heun.hpp — the stochastic Heun (trapezoidal predictor–corrector) stepper,
// converging to the Stratonovich solution (Kloeden & Platen 1992, §11.1; Rümelin 1982).
#pragma once

#include <Eigen/Core>

#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

/// Stochastic Heun:  X̃ = X + f(t, X) dt + G(t, X) ΔW,
///                   X ← X + ½ (f(t, X) + f(t + dt, X̃)) dt + ½ (G(t, X) + G(t + dt, X̃)) ΔW.
/// Stratonovich; strong order 1 for commutative noise (diagonal, scalar, additive; 1/2 for general
/// non-commutative noise without Lévy areas), weak order 1 (2 for additive noise).
template <class Scalar>
class StochasticHeun {
 public:
  using Matrix = EnsembleMatrix<Scalar>;
  static constexpr double strong_order = 1.0;
  static constexpr double weak_order = 1.0;
  static constexpr Calculus calculus = Calculus::stratonovich;
  static constexpr const char* name = "StochasticHeun";

  template <class Problem>
  void prepare(const Problem& problem, Eigen::Index paths) {
    f0_.resize(problem.dim(), paths);
    f1_.resize(problem.dim(), paths);
    predictor_.resize(problem.dim(), paths);
    g0_.resize(problem.diffusion_rows(), paths);
    g1_.resize(problem.diffusion_rows(), paths);
  }

  template <class Problem>
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

}  // namespace sgdsde
