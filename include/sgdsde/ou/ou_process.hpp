// sgdsde/ou/ou_process.hpp — the Ornstein–Uhlenbeck process dX = −A(X − μ) dt + B dW as one object: its
// exact laws (transition by Van Loan's block exponential, stationary by Lyapunov, the exact law of its
// Euler–Maruyama chain by the Stein recursion), exact sampling, log-densities, and an SDE problem that
// `integrate` steps with a fused kernel (Jastrzębski et al. 2018, eqs. 4–7).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/expm.hpp"
#include "sgdsde/core/lyapunov.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/symmetric.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/gaussian_law.hpp"
#include "sgdsde/sde/problem.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde {

/// Propagator over a time t of the OU process: X_t = μ + Φ (X_0 − μ) + N(0, Σ(t)).
template <class Scalar>
struct OuPropagator {
  MatrixX<Scalar> transition;  ///< Φ = e^{−At}
  MatrixX<Scalar> covariance;  ///< Σ(t) = ∫₀ᵗ e^{−As} BBᵀ e^{−Aᵀs} ds
  Outcome outcome;
};

/// dX_t = −A (X_t − μ) dt + B dW_t (Itô; additive noise so Itô = Stratonovich), X ∈ Rᵈ, W ∈ Rᵐ, time in
/// the units of t (for SGD, t = k·η). `OrnsteinUhlenbeck ou(A, B)` (μ = 0) or `(A, B, mu)`; Scalar
/// is A's. Throws unless A is d×d with d ≥ 1, B d×m with m ≥ 1, μ of size d, all finite. Stability
/// (min Re λ(A) > 0) is not required; the laws that need it report Status::unstable_step.
/// It is an SDE problem (additive noise, linear drift): integrate(ou, EulerMaruyama{}, …) uses the
/// fused kernel; the other steppers step it through drift()/add_noise().
template <class Scalar>
class OrnsteinUhlenbeck {
 public:
  using scalar_type = Scalar;
  using Matrix = MatrixX<Scalar>;
  using Vector = VectorX<Scalar>;
  static constexpr NoiseKind noise_kind = NoiseKind::additive;
  static constexpr bool has_linear_drift = true;
  static constexpr bool has_diffusion_derivative = false;

  OrnsteinUhlenbeck(const Eigen::Ref<const Matrix>& A, const Eigen::Ref<const Matrix>& B)
      : OrnsteinUhlenbeck(A, B, Vector::Zero(A.rows())) {}
  OrnsteinUhlenbeck(const Eigen::Ref<const Matrix>& A, const Eigen::Ref<const Matrix>& B,
                    const Eigen::Ref<const Vector>& mu)
      : a_(A), b_(B), mu_(mu) {
    constexpr const char* fn = "OrnsteinUhlenbeck";
    require_square(fn, "A", a_);
    require(a_.rows() > 0, fn, "A", "0x0", "a d×d matrix with d >= 1");
    require_shape(fn, "B", b_, a_.rows(), -1);
    require(b_.cols() > 0, fn, "B", std::to_string(b_.rows()) + "x0", "a d×m matrix with m >= 1");
    require_shape(fn, "mu", mu_, a_.rows(), 1);
    require_finite(fn, "A", a_);
    require_finite(fn, "B", b_);
    require_finite(fn, "mu", mu_);
    q_.noalias() = b_ * b_.transpose();
    a_mu_.noalias() = a_ * mu_;
    has_mean_ = !a_mu_.isZero(0);
    diagonal_b_ = b_.rows() == b_.cols() && b_.isDiagonal(0);
    if (diagonal_b_) b_diag_ = b_.diagonal();
  }

  Index dim() const { return a_.rows(); }
  Index noise_dim() const { return b_.cols(); }
  const Matrix& A() const { return a_; }
  const Matrix& B() const { return b_; }
  const Vector& mu() const { return mu_; }
  /// B Bᵀ, the diffusion covariance per unit time.
  const Matrix& diffusion_covariance() const { return q_; }

  // ---- exact laws -------------------------------------------------------------------------------

  /// Φ = e^{−At} and Σ(t) for t ≥ 0 by Van Loan's block exponential (Van Loan, IEEE TAC 23, 1978):
  /// with C = [[−A, BBᵀ], [0, Aᵀ]]·τ, e^C = [[F₁₁, F₁₂], [0, F₂₂]], F₁₁ = e^{−Aτ}, Σ(τ) = F₁₂ F₁₁ᵀ.
  /// Accurate for ‖A‖τ ≲ 1 (no cancellation, unlike Σ∞ − e^{−At} Σ∞ e^{−Aᵀt}), so it is applied at
  /// τ = t/2ᵏ with ‖A‖₁τ ≤ 1 and doubled k times by Σ(2τ) = Φ(τ) Σ(τ) Φ(τ)ᵀ + Σ(τ), Φ(2τ) = Φ(τ)²
  /// (PSD terms only: accurate for any t, including t = 1e308, where a stable A gives Φ = 0, Σ = Σ∞).
  /// Status non_finite if e^{−At} or Σ(t) overflows (A not stable).
  OuPropagator<Scalar> propagator(Scalar t) const {
    using std::isfinite;
    require(isfinite(t) && t >= Scalar(0), "OrnsteinUhlenbeck::propagator", "t", t, "a finite time >= 0");
    const Index d = dim();
    // k = ⌈log2(‖A‖₁ t)⌉ computed as a sum of logarithms so ‖A‖₁·t may overflow.
    const double norm_a = double(a_.cwiseAbs().colwise().sum().maxCoeff());
    int doublings = 0;
    if (norm_a > 0 && t > Scalar(0)) {
      const double l = std::log2(norm_a) + std::log2(double(t));
      if (l > 0) doublings = int(std::ceil(l));
    }
    const Scalar tau = Scalar(std::ldexp(double(t), -doublings));
    Matrix c = Matrix::Zero(2 * d, 2 * d);
    c.topLeftCorner(d, d) = -tau * a_;
    c.topRightCorner(d, d) = tau * q_;
    c.bottomRightCorner(d, d) = tau * a_.transpose();
    const Matrix e = expm(c);
    OuPropagator<Scalar> p;
    p.transition = e.topLeftCorner(d, d);
    Matrix s(d, d), w(d, d);
    s.noalias() = e.topRightCorner(d, d) * p.transition.transpose();
    for (int k = 0; k < doublings && all_finite(s) && all_finite(p.transition); ++k) {
      if (p.transition.isZero(0)) break;  // Φ underflowed: Σ no longer changes
      w.noalias() = p.transition * s;
      s.noalias() += w * p.transition.transpose();
      w.noalias() = p.transition * p.transition;
      p.transition = w;
    }
    p.covariance = symmetric_part(s);
    if (!all_finite(p.transition) || !all_finite(p.covariance))
      p.outcome = Outcome::failure(Status::non_finite, -1, double(t),
                                   "e^{−At} overflowed at t = " + detail::describe(t) + " (A not stable)");
    return p;
  }

  /// Law of X_t given X_0 = x0: N(μ + e^{−At}(x0 − μ), Σ(t)), Σ(t) from `propagator` (Van Loan).
  GaussianLaw<Scalar> transition_law(const Eigen::Ref<const Vector>& x0, Scalar t) const {
    require_state("OrnsteinUhlenbeck::transition_law", "x0", x0);
    OuPropagator<Scalar> p = propagator(t);
    GaussianLaw<Scalar> law;
    law.mean = mu_ + p.transition * (x0 - mu_);
    law.covariance = std::move(p.covariance);
    law.outcome = p.outcome;
    return law;
  }

  /// Stationary law N(μ, Σ∞) with A Σ∞ + Σ∞ Aᵀ = B Bᵀ (continuous Lyapunov, Bartels–Stewart or the
  /// symmetric path when A is symmetric). Exists iff min Re λ(A) > 0; otherwise Status::unstable_step
  /// with value = min Re λ(A) (the covariance field then holds the Lyapunov solution, not a covariance).
  GaussianLaw<Scalar> stationary_law() const {
    LyapunovSolution<Scalar> sol = solve_continuous_lyapunov(a_, q_);
    GaussianLaw<Scalar> law;
    law.mean = mu_;
    law.covariance = std::move(sol.X);
    law.outcome = sol.outcome;
    if (law.outcome.ok() && !(sol.min_real_part > Scalar(0)))
      law.outcome = Outcome::failure(Status::unstable_step, -1, double(sol.min_real_part),
                                     "drift matrix A has an eigenvalue with real part " +
                                         detail::describe(sol.min_real_part) + " <= 0: no stationary law");
    return law;
  }

  /// Exact law of the Euler–Maruyama chain X_{k+1} = X_k − A(X_k − μ)h_k + B √h_k ξ_k started at x0,
  /// after the steps of TimeGrid(0, t, dt) (what `integrate` takes over that grid; the last step is
  /// shortened when dt does not divide t): with P = I − A dt, after n full steps
  /// mean = μ + Pⁿ (x0 − μ) and covariance Sₙ with S₀ = 0, S_{k+1} = P S_k Pᵀ + dt BBᵀ (Stein recursion),
  /// computed by doubling (S_{2k} = P^k S_k P^kᵀ + S_k) in O(d³ log n). Valid for any A (no stability
  /// needed); Status non_finite if the moments overflow.
  GaussianLaw<Scalar> euler_maruyama_law(const Eigen::Ref<const Vector>& x0, Scalar t, Scalar dt) const {
    constexpr const char* fn = "OrnsteinUhlenbeck::euler_maruyama_law";
    require_state(fn, "x0", x0);
    using std::isfinite;
    require(isfinite(t) && t >= Scalar(0), fn, "t", t, "a finite time >= 0");
    require_positive(fn, "dt", dt);
    const TimeGrid<Scalar> grid(Scalar(0), t, dt);
    const Index d = dim();
    const long n = grid.steps();
    // The grid's rule: n = (t/dt rounded) when t/dt is within 1e-9 of an integer, else the last of
    // the n = ⌈t/dt⌉ steps is t − (n − 1) dt.
    const double r = double(t) / double(dt);
    const bool divides = std::abs(r - std::round(r)) <= 1e-9 * std::max(1.0, std::round(r));
    const long full = (divides || n == 0) ? n : n - 1;
    const Scalar last = Scalar(double(t) - double(n - 1) * double(dt));
    // (Φ, S) of `full` steps of size dt by binary powering; equal-step segments commute.
    Matrix phi = Matrix::Identity(d, d), s = Matrix::Zero(d, d);
    Matrix bphi = Matrix::Identity(d, d) - dt * a_, bs = dt * q_, w(d, d);
    for (long k = full; k > 0; k >>= 1) {
      if (k & 1) {
        w.noalias() = bphi * s;
        s = bs;
        s.noalias() += w * bphi.transpose();
        phi = bphi * phi;
      }
      if (k > 1) {
        w.noalias() = bphi * bs;
        bs.noalias() += w * bphi.transpose();
        bphi = bphi * bphi;
      }
    }
    if (full < n) {
      const Matrix p = Matrix::Identity(d, d) - last * a_;
      w.noalias() = p * s;
      s = last * q_;
      s.noalias() += w * p.transpose();
      phi = p * phi;
    }
    GaussianLaw<Scalar> law;
    law.mean = mu_ + phi * (x0 - mu_);
    law.covariance = symmetric_part(s);
    if (!all_finite(law.mean) || !all_finite(law.covariance))
      law.outcome = Outcome::failure(Status::non_finite, n, double(t),
                                     "the Euler–Maruyama moments overflowed (ρ(I − A dt) > 1)");
    return law;
  }

  /// Exact stationary law of the Euler–Maruyama chain with step dt: covariance solves the Stein
  /// equation Σ = (I − A dt) Σ (I − A dt)ᵀ + dt BBᵀ, which differs from the SDE's Σ∞ by O(dt) (for
  /// symmetric commuting A, BBᵀ: eigenvalue-wise factor 1/(1 − λ dt/2)). Status unstable_step if
  /// ρ(I − A dt) ≥ 1 (the chain diverges), value = that spectral radius.
  GaussianLaw<Scalar> euler_maruyama_stationary_law(Scalar dt) const {
    require_positive("OrnsteinUhlenbeck::euler_maruyama_stationary_law", "dt", dt);
    const Index d = dim();
    const Matrix m = Matrix::Identity(d, d) - dt * a_;
    const Matrix q = dt * q_;
    LyapunovSolution<Scalar> sol = solve_discrete_lyapunov(m, q);
    GaussianLaw<Scalar> law;
    law.mean = mu_;
    law.covariance = std::move(sol.X);
    law.outcome = sol.outcome;
    return law;
  }

  /// log p(X_t = x | X_0 = x0) of the exact Gaussian transition.
  Scalar transition_log_density(const Eigen::Ref<const Vector>& x0, const Eigen::Ref<const Vector>& x,
                                Scalar t) const {
    return transition_law(x0, t).log_density(x);
  }

  // ---- SDE problem interface (sde/problem.hpp) ------------------------------------------------------

  Index diffusion_rows() const { return 0; }

  /// F = −A (X − μ) for the d×M block X.
  void drift(Scalar, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> F) const {
    if (a_.rows() == 1) {
      F.array() = -a_(0, 0) * X.array() + a_mu_(0);
      return;
    }
    F.noalias() = -a_ * X;
    if (has_mean_) F.colwise() += a_mu_;
  }
  void diffusion(Scalar, const Eigen::Ref<const Matrix>&, Eigen::Ref<Matrix>) const {}

  /// out += scale · B dW (G is ignored: the noise is additive).
  void add_noise(const Matrix&, const Matrix& dW, Scalar scale, Eigen::Ref<Matrix> out) const {
    if (b_.rows() == 1 && b_.cols() == 1)
      out.array() += (scale * b_(0, 0)) * dW.array();
    else if (diagonal_b_)
      out.array() += scale * (dW.array().colwise() * b_diag_.array());
    else
      out.noalias() += scale * b_ * dW;
  }

  /// Throws unless X is d×M with M ≥ 1 and finite (argument named `name`).
  void check_state(const char* function, const char* name, const Eigen::Ref<const Matrix>& X) const {
    require_shape(function, name, X, dim(), -1);
    require(X.cols() > 0, function, "paths", X.cols(), "at least one path (column)");
    require_finite(function, name, X);
  }

 private:
  void require_state(const char* fn, const char* name, const Eigen::Ref<const Vector>& x) const {
    require_shape(fn, name, x, dim(), 1);
    require_finite(fn, name, x);
  }

  Matrix a_, b_;
  Vector mu_;
  Matrix q_;
  Vector a_mu_, b_diag_;
  bool has_mean_ = false, diagonal_b_ = false;
};

template <class DA, class DB>
OrnsteinUhlenbeck(const Eigen::MatrixBase<DA>&, const Eigen::MatrixBase<DB>&) -> OrnsteinUhlenbeck<typename DA::Scalar>;
template <class DA, class DB, class DM>
OrnsteinUhlenbeck(const Eigen::MatrixBase<DA>&, const Eigen::MatrixBase<DB>&, const Eigen::MatrixBase<DM>&)
    -> OrnsteinUhlenbeck<typename DA::Scalar>;

/// Exact sampler of X_{t+τ} | X_t for a fixed lag τ: X' = μ + e^{−Aτ}(X − μ) + L ξ, L Lᵀ = Σ(τ)
/// (L from the symmetric eigendecomposition, so a singular Σ(τ) — rank-deficient B — is allowed).
/// No discretisation error at any τ. Construction costs one 2d×2d exponential; a sample costs
/// 2d² flops and d normals, and allocates nothing. `OuTransitionSampler sampler(ou, 0.5)`.
template <class Scalar>
class OuTransitionSampler {
 public:
  using Matrix = MatrixX<Scalar>;
  using Vector = VectorX<Scalar>;

  OuTransitionSampler(const OrnsteinUhlenbeck<Scalar>& ou, detail::non_deduced_t<Scalar> lag) : mu_(ou.mu()) {
    OuPropagator<Scalar> p = ou.propagator(lag);
    outcome_ = p.outcome;
    phi_ = std::move(p.transition);
    const Index d = ou.dim();
    factor_ = Matrix::Zero(d, d);
    if (outcome_.ok()) {
      Eigen::SelfAdjointEigenSolver<Matrix> eig(p.covariance);
      const Vector root = eig.eigenvalues().cwiseMax(Scalar(0)).cwiseSqrt();
      factor_ = eig.eigenvectors() * root.asDiagonal();
    }
    xi_.resize(d);
    centred_.resize(d);
  }

  /// Status of construction (non_finite when e^{−Aτ} overflowed); sample() requires ok().
  const Outcome& outcome() const { return outcome_; }
  const Matrix& transition() const { return phi_; }
  /// A square root L of Σ(τ) (L Lᵀ = Σ(τ)).
  const Matrix& covariance_factor() const { return factor_; }

  /// x ← a draw of X_{t+τ} given X_t = x (in place). Consumes d normals of `stream` (stateful fill),
  /// so one stream per path gives results independent of how paths are scheduled. Throws unless x is
  /// a finite d-vector and the construction succeeded.
  void sample(Eigen::Ref<Vector> x, RandomStream& stream) {
    constexpr const char* fn = "OuTransitionSampler::sample";
    require_shape(fn, "x", x, mu_.size(), 1);
    require_finite(fn, "x", x);
    require(outcome_.ok(), fn, "this", to_string(outcome_.status), "a sampler whose construction succeeded");
    stream.fill_normal(xi_);
    centred_ = x - mu_;
    x = mu_;
    x.noalias() += phi_ * centred_;
    x.noalias() += factor_ * xi_;
  }

 private:
  Vector mu_;
  Matrix phi_, factor_;
  Outcome outcome_;
  Vector xi_, centred_;
};

}  // namespace sgdsde
