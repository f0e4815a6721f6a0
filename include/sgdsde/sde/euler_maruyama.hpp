// sgdsde/sde/euler_maruyama.hpp — the Euler–Maruyama stepper X ← X + f(t, X) dt + G(t, X) ΔW (Itô),
// the discretisation SGD implements (Jastrzębski et al. 2018, eq. 4 is EM of eq. 5 with dt = η).
#pragma once

#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

namespace detail {
/// True when Problem has its own fused Euler–Maruyama step
///   void euler_maruyama_step(Scalar t, Scalar dt, const MatrixX<Scalar>& dW, Eigen::Ref<MatrixX<Scalar>> X) const
/// (X ← X + f dt + G ΔW computed in one pass, e.g. limits::LearningSde); EulerMaruyama then calls it.
template <class P, class = void>
struct HasEulerMaruyamaStep : std::false_type {};
template <class P>
struct HasEulerMaruyamaStep<P, std::void_t<decltype(std::declval<const P&>().euler_maruyama_step(
                                   std::declval<typename P::scalar_type>(), std::declval<typename P::scalar_type>(),
                                   std::declval<const MatrixX<typename P::scalar_type>&>(),
                                   std::declval<Eigen::Ref<MatrixX<typename P::scalar_type>>>()))>>
    : std::true_type {};
}  // namespace detail

/// Euler–Maruyama for any noise kind, taken by value: `integrate(problem, EulerMaruyama{}, …)`.
/// Converges to the Itô solution with strong order 1/2, or 1 for additive noise (where it is the
/// Milstein scheme), and weak order 1 (Kloeden & Platen 1992, Thms 10.2.2 and 14.1.5).
/// For a linear drift with additive noise (OrnsteinUhlenbeck) `integrate` uses a fused kernel.
struct EulerMaruyama {
  static constexpr double strong_order(NoiseKind kind) { return kind == NoiseKind::additive ? 1.0 : 0.5; }
  static constexpr double weak_order(NoiseKind) { return 1.0; }
  static constexpr Calculus calculus = Calculus::ito;
  static constexpr const char* name = "EulerMaruyama";
  /// The scheme is Euler–Maruyama for this noise kind (lets `integrate` pick the fused OU kernel).
  static constexpr bool is_euler_maruyama(NoiseKind) { return true; }

  /// Scratch space for M paths of `Problem`, typed by its scalar; `step` then allocates nothing.
  template <class Problem>
  class Workspace {
   public:
    using Scalar = typename Problem::scalar_type;
    using Matrix = MatrixX<Scalar>;
    Workspace(const Problem& problem, Index paths) {
      if constexpr (!detail::HasEulerMaruyamaStep<Problem>::value) {
        f_.resize(problem.dim(), paths);
        g_.resize(problem.diffusion_rows(), paths);
      }
    }

    /// One step from t to t + dt of every column of X (d×M) with increments dW (m×M), in place. A
    /// problem with its own euler_maruyama_step (see detail::HasEulerMaruyamaStep) does it in one call.
    void step(const Problem& problem, Scalar t, Scalar dt, const Matrix& dW, Eigen::Ref<Matrix> X) {
      if constexpr (detail::HasEulerMaruyamaStep<Problem>::value) {
        problem.euler_maruyama_step(t, dt, dW, X);
      } else {
        problem.drift(t, X, f_);
        problem.diffusion(t, X, g_);
        X += dt * f_;
        problem.add_noise(g_, dW, Scalar(1), X);
      }
    }

   private:
    Matrix f_, g_;
  };

  template <class Problem>
  Workspace<Problem> workspace(const Problem& problem, Index paths) const {
    return Workspace<Problem>(problem, paths);
  }
};

}  // namespace sgdsde
