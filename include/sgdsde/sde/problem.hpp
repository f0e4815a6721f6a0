// sgdsde/sde/problem.hpp — an SDE dX = f(t, X) dt + G(t, X) dW in batched ensemble form, tagged with
// its noise structure (Jastrzębski et al. 2018, eq. 5: dθ = −g dt + sqrt(η/S) R dW is the additive case).
//
// Ensemble layout: the state of M paths is a d×M column-major matrix, one column per path, so a
// linear drift −A X is a single GEMM. Drift and diffusion are evaluated on the whole block:
//   drift(t, X, F)      : F (d×M)  = f(t, X)
//   diffusion(t, X, G)  : general  : G ((d·m)×M), column p is G(t, X_p) stored column-major d×m
//                         diagonal : G (d×M),     G_ip = g_i(t, X_ip) (m = d, dX_i = … + g_i dW_i)
//                         scalar   : G (d×M),     column p is g(t, X_p) (m = 1)
//                         additive : none; G = B is a constant d×m matrix held by the problem
// The callables take (Scalar t, const Eigen::Ref<const MatrixX<Scalar>>& X, Eigen::Ref<MatrixX<Scalar>> out).
//
// The problem concept that `integrate` and the steppers accept: scalar_type, noise_kind,
// has_linear_drift, dim(), noise_dim(), diffusion_rows(), drift(), diffusion(), add_noise(),
// check_state(). A problem with has_linear_drift (the OrnsteinUhlenbeck of ou/ou_process.hpp) also
// gives A(), mu() and B(): dX = −A (X − μ) dt + B dW, which `integrate` uses to pick a fused kernel.
#pragma once

#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

/// Stochastic calculus a stepper converges to (Itô for Euler–Maruyama and Milstein, Stratonovich
/// for stochastic Heun); the two coincide for additive noise.
enum class Calculus { ito, stratonovich };

/// Structure of the diffusion term G(t, X) dW (see the file comment for shapes).
enum class NoiseKind { general, diagonal, scalar, additive };

/// Tag: a diagonal-noise problem without an analytic ∂g_i/∂x_i (Milstein then uses Platen's
/// derivative-free correction).
struct NoDiffusionDerivative {};

/// The SDE dX = f dt + G dW on R^d driven by an m-dimensional Brownian motion, batched over paths.
/// Build it with `general_noise_sde`, `diagonal_noise_sde`, `scalar_noise_sde` or `additive_noise_sde`
/// (an Ornstein–Uhlenbeck process is the OrnsteinUhlenbeck object itself). Calculus (Itô or
/// Stratonovich) is chosen by the stepper, not by the problem.
template <class Scalar, NoiseKind Kind, class Drift, class Diffusion, class Derivative = NoDiffusionDerivative>
class SdeProblem {
 public:
  using scalar_type = Scalar;
  using Matrix = MatrixX<Scalar>;
  static constexpr NoiseKind noise_kind = Kind;
  static constexpr bool has_diffusion_derivative = !std::is_same_v<Derivative, NoDiffusionDerivative>;
  static constexpr bool has_linear_drift = false;

  /// Throws unless dim > 0, noise_dim > 0 (= dim for diagonal noise, 1 for scalar noise) and, for
  /// additive noise, the diffusion is a finite dim × noise_dim matrix.
  SdeProblem(Index dim, Index noise_dim, Drift drift, Diffusion diffusion, Derivative derivative = Derivative{})
      : dim_(dim), noise_dim_(noise_dim), drift_(std::move(drift)), diffusion_(std::move(diffusion)),
        derivative_(std::move(derivative)) {
    require(dim > 0, "SdeProblem", "dim", dim, "> 0");
    require(noise_dim > 0, "SdeProblem", "noise_dim", noise_dim, "> 0");
    if constexpr (Kind == NoiseKind::diagonal)
      require(noise_dim == dim, "SdeProblem", "noise_dim", noise_dim, "equal to dim for diagonal noise");
    if constexpr (Kind == NoiseKind::scalar)
      require(noise_dim == 1, "SdeProblem", "noise_dim", noise_dim, "1 for scalar noise");
    if constexpr (Kind == NoiseKind::additive) {
      require_shape("SdeProblem", "diffusion", diffusion_, dim, noise_dim);
      require_finite("SdeProblem", "diffusion", diffusion_);
      diagonal_b_ = dim == noise_dim && diffusion_.isDiagonal(0);
      if (diagonal_b_) b_diag_ = diffusion_.diagonal();
    }
  }

  Index dim() const { return dim_; }
  Index noise_dim() const { return noise_dim_; }
  const Drift& drift_function() const { return drift_; }
  const Diffusion& diffusion_function() const { return diffusion_; }

  /// Rows of the diffusion workspace G for one path (0 for additive noise: G is the constant B).
  Index diffusion_rows() const {
    switch (Kind) {
      case NoiseKind::general: return dim_ * noise_dim_;
      case NoiseKind::diagonal:
      case NoiseKind::scalar: return dim_;
      case NoiseKind::additive: return 0;
    }
    return 0;
  }

  /// F = f(t, X); X and F are d×M.
  void drift(Scalar t, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> F) const { drift_(t, X, F); }

  /// G = G(t, X) in the layout of `diffusion_rows()`; does nothing for additive noise.
  void diffusion(Scalar t, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> G) const {
    if constexpr (Kind != NoiseKind::additive) diffusion_(t, X, G);
  }

  /// D_ip = ∂g_i/∂x_i at X_ip (diagonal noise with an analytic derivative only; a template so that
  /// an explicit instantiation of a problem without a derivative still compiles).
  template <class D = Derivative>
  void diffusion_derivative(Scalar t, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> out) const {
    static_assert(!std::is_same_v<D, NoDiffusionDerivative>, "this problem was built without a diffusion derivative");
    derivative_(t, X, out);
  }

  /// out += scale · G dW for every path; G from `diffusion` (ignored for additive noise), dW m×M.
  /// Allocates nothing.
  void add_noise(const Matrix& G, const Matrix& dW, Scalar scale, Eigen::Ref<Matrix> out) const {
    if constexpr (Kind == NoiseKind::additive) {
      if (dim_ == 1 && noise_dim_ == 1)
        out.array() += (scale * diffusion_(0, 0)) * dW.array();
      else if (diagonal_b_)
        out.array() += scale * (dW.array().colwise() * b_diag_.array());
      else
        out.noalias() += scale * diffusion_ * dW;
    } else if constexpr (Kind == NoiseKind::diagonal) {
      out.array() += scale * G.array() * dW.array();
    } else if constexpr (Kind == NoiseKind::scalar) {
      out.array() += scale * (G.array().rowwise() * dW.row(0).array());
    } else {
      for (Index p = 0; p < out.cols(); ++p)
        out.col(p).noalias() += scale * Eigen::Map<const Matrix>(G.col(p).data(), dim_, noise_dim_) * dW.col(p);
    }
  }

  /// Throws unless X is d×M with M ≥ 1 and finite (argument named `name`).
  void check_state(const char* function, const char* name, const Eigen::Ref<const Matrix>& X) const {
    require_shape(function, name, X, dim_, -1);
    require(X.cols() > 0, function, "paths", X.cols(), "at least one path (column)");
    require_finite(function, name, X);
  }

 private:
  Index dim_, noise_dim_;
  Drift drift_;
  Diffusion diffusion_;
  Derivative derivative_;
  bool diagonal_b_ = false;
  VectorX<Scalar> b_diag_;
};

namespace detail {
/// Placeholder default of the factories' Scalar: deduce it from the drift's first parameter (t).
struct DeduceScalar {};
template <class F>
struct FirstArgument;
template <class C, class R, class A, class... Rest>
struct FirstArgument<R (C::*)(A, Rest...) const> {
  using type = std::decay_t<A>;
};
template <class C, class R, class A, class... Rest>
struct FirstArgument<R (C::*)(A, Rest...)> {
  using type = std::decay_t<A>;
};
template <class Scalar, class Drift>
struct ScalarOf {
  using type = Scalar;
};
template <class Drift>
struct ScalarOf<DeduceScalar, Drift> {
  using type = typename FirstArgument<decltype(&Drift::operator())>::type;
};
template <class Scalar, class Drift>
using scalar_of_t = typename ScalarOf<Scalar, Drift>::type;
}  // namespace detail

/// dX = f dt + G(t, X) dW with G d×m per path; `diffusion` writes (d·m)×M (see file comment).
/// Scalar is the type of the drift's first parameter t (give it explicitly for a generic lambda).
template <class Scalar = detail::DeduceScalar, class Drift, class Diffusion>
auto general_noise_sde(Index dim, Index noise_dim, Drift drift, Diffusion diffusion) {
  using S = detail::scalar_of_t<Scalar, Drift>;
  return SdeProblem<S, NoiseKind::general, Drift, Diffusion>(dim, noise_dim, std::move(drift), std::move(diffusion));
}

/// dX_i = f_i dt + g_i(t, X_i) dW_i (m = d). Milstein needs g_i to depend on X_i only (then the noise
/// is commutative). `derivative` (optional) writes ∂g_i/∂x_i.
template <class Scalar = detail::DeduceScalar, class Drift, class Diffusion>
auto diagonal_noise_sde(Index dim, Drift drift, Diffusion diffusion) {
  using S = detail::scalar_of_t<Scalar, Drift>;
  return SdeProblem<S, NoiseKind::diagonal, Drift, Diffusion>(dim, dim, std::move(drift), std::move(diffusion));
}
template <class Scalar = detail::DeduceScalar, class Drift, class Diffusion, class Derivative>
auto diagonal_noise_sde(Index dim, Drift drift, Diffusion diffusion, Derivative derivative) {
  using S = detail::scalar_of_t<Scalar, Drift>;
  return SdeProblem<S, NoiseKind::diagonal, Drift, Diffusion, Derivative>(dim, dim, std::move(drift),
                                                                          std::move(diffusion), std::move(derivative));
}

/// dX = f dt + g(t, X) dW with one Brownian motion (m = 1); `diffusion` writes the d×M block of g.
template <class Scalar = detail::DeduceScalar, class Drift, class Diffusion>
auto scalar_noise_sde(Index dim, Drift drift, Diffusion diffusion) {
  using S = detail::scalar_of_t<Scalar, Drift>;
  return SdeProblem<S, NoiseKind::scalar, Drift, Diffusion>(dim, 1, std::move(drift), std::move(diffusion));
}

/// dX = f dt + B dW with a constant d×m matrix B (Scalar is B's). For a linear drift use the
/// OrnsteinUhlenbeck object, which `integrate` steps with a fused kernel.
template <class Drift, class DB>
auto additive_noise_sde(Drift drift, const Eigen::MatrixBase<DB>& B) {
  using S = typename DB::Scalar;
  return SdeProblem<S, NoiseKind::additive, Drift, MatrixX<S>>(B.rows(), B.cols(), std::move(drift), MatrixX<S>(B));
}

}  // namespace sgdsde
