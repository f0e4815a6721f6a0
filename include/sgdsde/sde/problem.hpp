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
// The callables take (Scalar t, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> out).
#pragma once

#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"

namespace sgdsde {

/// Stochastic calculus a stepper converges to (Itô for Euler–Maruyama and Milstein, Stratonovich
/// for stochastic Heun); the two coincide for additive noise.
enum class Calculus { ito, stratonovich };

/// Structure of the diffusion term G(t, X) dW (see the file comment for shapes).
enum class NoiseKind { general, diagonal, scalar, additive };

template <class Scalar>
using EnsembleMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// Tag: a diagonal-noise problem without an analytic ∂g_i/∂x_i (Milstein then uses Platen's
/// derivative-free correction).
struct NoDiffusionDerivative {};

/// Linear drift f(t, X) = −A X (+ A·mean when a mean is given): the OU drift, one GEMM per step.
template <class Scalar>
class LinearDrift {
 public:
  using Matrix = EnsembleMatrix<Scalar>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// Precondition: A square and finite. f(X) = −A (X − mean); mean defaults to 0.
  explicit LinearDrift(const Eigen::Ref<const Matrix>& A) : a_(A), a_mean_(Vector::Zero(A.rows())) {
    require_square("LinearDrift", "A", A);
    require(A.rows() > 0, "LinearDrift", "A.rows()", A.rows(), "> 0");
    require_finite("LinearDrift", "A", A);
  }
  LinearDrift(const Eigen::Ref<const Matrix>& A, const Eigen::Ref<const Vector>& mean) : LinearDrift(A) {
    require_shape("LinearDrift", "mean", mean, A.rows(), 1);
    require_finite("LinearDrift", "mean", mean);
    a_mean_.noalias() = a_ * mean;
    has_mean_ = !mean.isZero(0);
  }

  Eigen::Index dim() const { return a_.rows(); }
  const Matrix& A() const { return a_; }
  bool has_mean() const { return has_mean_; }
  /// A·mean (zero when no mean was given).
  const Vector& A_mean() const { return a_mean_; }

  void operator()(Scalar, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> out) const {
    if (a_.rows() == 1) {
      out.array() = -a_(0, 0) * X.array() + a_mean_(0);
      return;
    }
    out.noalias() = -a_ * X;
    if (has_mean_) out.colwise() += a_mean_;
  }

 private:
  Matrix a_;
  Vector a_mean_;
  bool has_mean_ = false;
};

namespace detail {
template <class T>
struct is_linear_drift : std::false_type {};
template <class S>
struct is_linear_drift<LinearDrift<S>> : std::true_type {};
}  // namespace detail

/// The SDE dX = f dt + G dW on R^d driven by an m-dimensional Brownian motion, batched over paths.
/// Build it with `general_noise_sde`, `diagonal_noise_sde`, `scalar_noise_sde`, `additive_noise_sde`
/// or `ou_sde`. Calculus (Itô or Stratonovich) is chosen by the stepper, not by the problem.
template <class Scalar, NoiseKind Kind, class Drift, class Diffusion, class Derivative = NoDiffusionDerivative>
class SdeProblem {
 public:
  using scalar_type = Scalar;
  using Matrix = EnsembleMatrix<Scalar>;
  static constexpr NoiseKind noise_kind = Kind;
  static constexpr bool has_diffusion_derivative = !std::is_same_v<Derivative, NoDiffusionDerivative>;
  static constexpr bool has_linear_drift = detail::is_linear_drift<Drift>::value;

  SdeProblem(Eigen::Index dim, Eigen::Index noise_dim, Drift drift, Diffusion diffusion,
             Derivative derivative = Derivative{})
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
    if constexpr (has_linear_drift)
      require(drift_.dim() == dim, "SdeProblem", "drift", drift_.dim(), "a LinearDrift of dimension dim");
  }

  Eigen::Index dim() const { return dim_; }
  Eigen::Index noise_dim() const { return noise_dim_; }
  const Drift& drift_function() const { return drift_; }
  const Diffusion& diffusion_function() const { return diffusion_; }

  /// Rows of the diffusion workspace G for one path (0 for additive noise: G is the constant B).
  Eigen::Index diffusion_rows() const {
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

  /// D_ip = ∂g_i/∂x_i at X_ip (diagonal noise with an analytic derivative only).
  void diffusion_derivative(Scalar t, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> D) const {
    static_assert(has_diffusion_derivative, "this problem was built without a diffusion derivative");
    derivative_(t, X, D);
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
      for (Eigen::Index p = 0; p < out.cols(); ++p)
        out.col(p).noalias() +=
            scale * Eigen::Map<const Matrix>(G.col(p).data(), dim_, noise_dim_) * dW.col(p);
    }
  }

  /// Throws unless X is d×(any) and finite (argument named `name`).
  void check_state(const char* function, const char* name, const Eigen::Ref<const Matrix>& X) const {
    require_shape(function, name, X, dim_, -1);
    require(X.cols() > 0, function, "paths", X.cols(), "at least one path (column)");
    require_finite(function, name, X);
  }

 private:
  Eigen::Index dim_, noise_dim_;
  Drift drift_;
  Diffusion diffusion_;
  Derivative derivative_;
  bool diagonal_b_ = false;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> b_diag_;
};

/// dX = f dt + G(t, X) dW with G d×m per path; `diffusion` writes (d·m)×M (see file comment).
template <class Scalar, class Drift, class Diffusion>
auto general_noise_sde(Eigen::Index dim, Eigen::Index noise_dim, Drift drift, Diffusion diffusion) {
  return SdeProblem<Scalar, NoiseKind::general, Drift, Diffusion>(dim, noise_dim, std::move(drift),
                                                                  std::move(diffusion));
}

/// dX_i = f_i dt + g_i(t, X_i) dW_i (m = d). Milstein needs g_i to depend on X_i only (then the noise
/// is commutative). `derivative` (optional) writes ∂g_i/∂x_i.
template <class Scalar, class Drift, class Diffusion>
auto diagonal_noise_sde(Eigen::Index dim, Drift drift, Diffusion diffusion) {
  return SdeProblem<Scalar, NoiseKind::diagonal, Drift, Diffusion>(dim, dim, std::move(drift),
                                                                   std::move(diffusion));
}
template <class Scalar, class Drift, class Diffusion, class Derivative>
auto diagonal_noise_sde(Eigen::Index dim, Drift drift, Diffusion diffusion, Derivative derivative) {
  return SdeProblem<Scalar, NoiseKind::diagonal, Drift, Diffusion, Derivative>(
      dim, dim, std::move(drift), std::move(diffusion), std::move(derivative));
}

/// dX = f dt + g(t, X) dW with one Brownian motion (m = 1); `diffusion` writes the d×M block of g.
template <class Scalar, class Drift, class Diffusion>
auto scalar_noise_sde(Eigen::Index dim, Drift drift, Diffusion diffusion) {
  return SdeProblem<Scalar, NoiseKind::scalar, Drift, Diffusion>(dim, 1, std::move(drift),
                                                                 std::move(diffusion));
}

/// dX = f dt + B dW with a constant d×m matrix B.
template <class Scalar, class Drift>
auto additive_noise_sde(Drift drift, const Eigen::Ref<const EnsembleMatrix<Scalar>>& B) {
  return SdeProblem<Scalar, NoiseKind::additive, Drift, EnsembleMatrix<Scalar>>(B.rows(), B.cols(),
                                                                               std::move(drift), B);
}

/// Ornstein–Uhlenbeck dX = −A (X − mean) dt + B dW (Jastrzębski et al. 2018, eq. 6 in the eigenbasis of
/// A = H, with B = sqrt(η/S) C^{1/2}). Throws if A is not square or B has a different number of rows.
template <class Scalar>
auto ou_sde(const Eigen::Ref<const EnsembleMatrix<Scalar>>& A, const Eigen::Ref<const EnsembleMatrix<Scalar>>& B) {
  return additive_noise_sde<Scalar>(LinearDrift<Scalar>(A), B);
}
template <class Scalar>
auto ou_sde(const Eigen::Ref<const EnsembleMatrix<Scalar>>& A, const Eigen::Ref<const EnsembleMatrix<Scalar>>& B,
            const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>& mean) {
  return additive_noise_sde<Scalar>(LinearDrift<Scalar>(A, mean), B);
}

}  // namespace sgdsde
