// sgdsde/sde/euler_maruyama.hpp — the Euler–Maruyama stepper X ← X + f(t, X) dt + G(t, X) ΔW (Itô),
// the discretisation SGD implements (Jastrzębski et al. 2018, eq. 4 is EM of eq. 5 with dt = η).
#pragma once

#include <Eigen/Core>

#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

/// Euler–Maruyama for any noise kind. Converges to the Itô solution with strong order 1/2 (order 1
/// for additive noise) and weak order 1 (Kloeden & Platen 1992, Thms 10.2.2 and 14.1.5).
/// A value type: `prepare` sizes the workspace once, after which `step` allocates nothing.
template <class Scalar>
class EulerMaruyama {
 public:
  using Matrix = EnsembleMatrix<Scalar>;
  static constexpr double strong_order = 0.5;
  static constexpr double weak_order = 1.0;
  static constexpr Calculus calculus = Calculus::ito;
  static constexpr const char* name = "EulerMaruyama";

  template <class Problem>
  void prepare(const Problem& problem, Eigen::Index paths) {
    f_.resize(problem.dim(), paths);
    g_.resize(problem.diffusion_rows(), paths);
  }

  /// One step from t to t + dt of every column of X (d×M) with increments dW (m×M), in place.
  template <class Problem>
  void step(const Problem& problem, Scalar t, Scalar dt, const Matrix& dW, Eigen::Ref<Matrix> X) {
    problem.drift(t, X, f_);
    problem.diffusion(t, X, g_);
    X += dt * f_;
    problem.add_noise(g_, dW, Scalar(1), X);
  }

 private:
  Matrix f_, g_;
};

}  // namespace sgdsde
