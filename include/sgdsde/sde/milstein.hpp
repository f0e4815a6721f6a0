// sgdsde/sde/milstein.hpp — the Milstein stepper for diagonal noise (Itô):
// X_i ← X_i + f_i dt + g_i ΔW_i + ½ g_i ∂g_i/∂x_i (ΔW_i² − dt)  (Kloeden & Platen 1992, eq. 10.3.3).
#pragma once

#include <cmath>

#include <Eigen/Core>

#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

/// Milstein for diagonal noise (g_i depending on x_i only, so the noise is commutative and no Lévy
/// areas are needed) and for additive noise (where it is Euler–Maruyama). Itô; strong order 1,
/// weak order 1, for both. Uses the problem's analytic ∂g_i/∂x_i when it has one; otherwise Platen's
/// derivative-free form (Kloeden & Platen eq. 11.1.5), also strong order 1:
///   Υ = X + f dt + g √dt,  X ← X + f dt + g ΔW + (g(Υ) − g(X)) (ΔW² − dt) / (2√dt).
struct Milstein {
  static constexpr double strong_order(NoiseKind) { return 1.0; }
  static constexpr double weak_order(NoiseKind) { return 1.0; }
  static constexpr Calculus calculus = Calculus::ito;
  static constexpr const char* name = "Milstein";
  static constexpr bool is_euler_maruyama(NoiseKind kind) { return kind == NoiseKind::additive; }

  template <class Problem>
  class Workspace {
   public:
    using Scalar = typename Problem::scalar_type;
    using Matrix = MatrixX<Scalar>;
    static_assert(Problem::noise_kind == NoiseKind::diagonal || Problem::noise_kind == NoiseKind::additive,
                  "Milstein without Lévy areas needs diagonal (or additive) noise");

    Workspace(const Problem& problem, Index paths) : f_(problem.dim(), paths), g_(problem.diffusion_rows(), paths) {
      if constexpr (Problem::noise_kind == NoiseKind::diagonal) {
        d_.resize(problem.dim(), paths);
        if constexpr (!Problem::has_diffusion_derivative) support_.resize(problem.dim(), paths);
      }
    }

    void step(const Problem& problem, Scalar t, Scalar dt, const Matrix& dW, Eigen::Ref<Matrix> X) {
      problem.drift(t, X, f_);
      if constexpr (Problem::noise_kind == NoiseKind::additive) {
        X += dt * f_;
        problem.add_noise(g_, dW, Scalar(1), X);
      } else {
        problem.diffusion(t, X, g_);
        if constexpr (Problem::has_diffusion_derivative) {
          problem.diffusion_derivative(t, X, d_);
          X.array() += dt * f_.array() + g_.array() * dW.array() +
                       Scalar(0.5) * g_.array() * d_.array() * (dW.array().square() - dt);
        } else {
          using std::sqrt;
          const Scalar sdt = sqrt(dt);
          support_.array() = X.array() + dt * f_.array() + sdt * g_.array();
          problem.diffusion(t, support_, d_);  // d_ = g(Υ)
          X.array() += dt * f_.array() + g_.array() * dW.array() +
                       (d_.array() - g_.array()) * (dW.array().square() - dt) / (Scalar(2) * sdt);
        }
      }
    }

   private:
    Matrix f_, g_, d_, support_;
  };

  template <class Problem>
  Workspace<Problem> workspace(const Problem& problem, Index paths) const {
    return Workspace<Problem>(problem, paths);
  }
};

}  // namespace sgdsde
