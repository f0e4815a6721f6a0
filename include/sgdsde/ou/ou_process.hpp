// sgdsde/ou/ou_process.hpp — the Ornstein–Uhlenbeck process dX = −A(X − μ) dt + B dW: exact Gaussian
// transition (Van Loan's block exponential), stationary law (Lyapunov), exact sampling, log-density, and
// the exact stationary covariance of its Euler–Maruyama discretisation (Jastrzębski et al. 2018, eqs. 5–7).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/expm.hpp"
#include "sgdsde/core/lyapunov.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"

namespace sgdsde {

/// A Gaussian law N(mean, covariance) with the status of the computation that produced it.
template <class Scalar>
struct GaussianLaw {
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> mean;
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> covariance;
  Outcome outcome;
};

/// dX_t = −A (X_t − μ) dt + B dW_t (Itô; additive noise so Itô = Stratonovich), X ∈ Rᵈ, W ∈ Rᵐ,
/// time in the units of t (for SGD, t = k·η). Arguments are validated at construction:
/// A d×d, μ of size d, B d×m, all finite. Stability (min Re λ(A) > 0) is not required here; the
/// functions that need it report Status::unstable_step.
template <class Scalar>
class OrnsteinUhlenbeck {
 public:
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  OrnsteinUhlenbeck(const Eigen::Ref<const Matrix>& drift, const Eigen::Ref<const Vector>& mean_level,
                    const Eigen::Ref<const Matrix>& diffusion)
      : a_(drift), mu_(mean_level), b_(diffusion) {
    const char* fn = "OrnsteinUhlenbeck";
    require_square(fn, "A", a_);
    require_shape(fn, "mu", mu_, a_.rows(), 1);
    require_shape(fn, "B", b_, a_.rows(), -1);
    require_finite(fn, "A", a_);
    require_finite(fn, "mu", mu_);
    require_finite(fn, "B", b_);
    q_.noalias() = b_ * b_.transpose();
  }

  Eigen::Index dimension() const { return a_.rows(); }
  const Matrix& drift() const { return a_; }
  const Vector& mean_level() const { return mu_; }
  const Matrix& diffusion() const { return b_; }
  /// B Bᵀ, the diffusion covariance per unit time.
  const Matrix& diffusion_covariance() const { return q_; }

 private:
  Matrix a_;
  Vector mu_;
  Matrix b_;
  Matrix q_;
};

namespace detail {
/// Blocks template argument deduction (std::type_identity of C++20), so Scalar is deduced from the
/// OU/law argument alone and vectors/times may be passed as any convertible type.
template <class T>
struct NonDeduced {
  using type = T;
};
template <class T>
using non_deduced_t = typename NonDeduced<T>::type;

template <class Scalar>
void require_state(const char* fn, const char* name, const OrnsteinUhlenbeck<Scalar>& ou,
                   const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>& x) {
  require_shape(fn, name, x, ou.dimension(), 1);
  require_finite(fn, name, x);
}
}  // namespace detail

/// Propagator e^{−At} and covariance Σ(t) = ∫₀ᵗ e^{−As} BBᵀ e^{−Aᵀs} ds of the OU process over a time
/// t ≥ 0, by Van Loan's block exponential (Van Loan, IEEE TAC 23, 1978): with
/// C = [[−A, BBᵀ], [0, Aᵀ]]·τ, e^C = [[F₁₁, F₁₂], [0, F₂₂]], F₁₁ = e^{−Aτ} and Σ(τ) = F₁₂ F₁₁ᵀ.
/// Van Loan is accurate for ‖A‖τ ≲ 1 (no cancellation, unlike Σ∞ − e^{−At} Σ∞ e^{−Aᵀt}) but F₁₂ grows
/// like e^{‖A‖τ}, so for larger t it is applied at τ = t/2ᵏ with ‖A‖₁τ ≤ 1 and doubled k times by the
/// semigroup identities Σ(2τ) = Φ(τ) Σ(τ) Φ(τ)ᵀ + Σ(τ), Φ(2τ) = Φ(τ)²: each step adds PSD terms, so the
/// result stays accurate for any t. Valid for any A; Status non_finite if e^{−At} overflows.
template <class Scalar>
struct OuPropagator {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> transition;  ///< e^{−At}
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> covariance;  ///< Σ(t)
  Outcome outcome;
};

template <class Scalar>
OuPropagator<Scalar> ou_propagator(const OrnsteinUhlenbeck<Scalar>& ou, detail::non_deduced_t<Scalar> t) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using std::ceil;
  using std::isfinite;
  using std::log2;
  require(isfinite(t) && t >= Scalar(0), "ou_propagator", "t", t, "a finite time ≥ 0");
  const Eigen::Index d = ou.dimension();
  const Scalar norm_at = ou.drift().cwiseAbs().colwise().sum().maxCoeff() * t;
  int doublings = 0;
  if (norm_at > Scalar(1)) doublings = int(ceil(log2(norm_at)));
  const Scalar tau = t / Scalar(std::ldexp(1.0, doublings));
  Matrix c = Matrix::Zero(2 * d, 2 * d);
  c.topLeftCorner(d, d) = -tau * ou.drift();
  c.topRightCorner(d, d) = tau * ou.diffusion_covariance();
  c.bottomRightCorner(d, d) = tau * ou.drift().transpose();
  const Matrix e = expm(c);
  OuPropagator<Scalar> p;
  p.transition = e.topLeftCorner(d, d);
  Matrix s(d, d), w(d, d);
  s.noalias() = e.topRightCorner(d, d) * p.transition.transpose();
  for (int k = 0; k < doublings && s.allFinite() && p.transition.allFinite(); ++k) {
    w.noalias() = p.transition * s;
    s.noalias() += w * p.transition.transpose();
    w.noalias() = p.transition * p.transition;
    p.transition = w;
  }
  p.covariance = symmetric_part(s);
  if (!p.transition.allFinite() || !p.covariance.allFinite())
    p.outcome = Outcome::failure(Status::non_finite, -1, double(t),
                                 "e^{−At} overflowed at t = " + detail::describe(t) + " (A not stable)");
  return p;
}

/// Law of X_t given X_0 = x0: N(μ + e^{−At}(x0 − μ), Σ(t)), Σ(t) from ou_propagator (Van Loan).
template <class Scalar>
GaussianLaw<Scalar> transition_law(const OrnsteinUhlenbeck<Scalar>& ou,
                                   const Eigen::Ref<const detail::non_deduced_t<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>>& x0,
                                   detail::non_deduced_t<Scalar> t) {
  detail::require_state("transition_law", "x0", ou, x0);
  OuPropagator<Scalar> p = ou_propagator(ou, t);
  GaussianLaw<Scalar> law;
  law.mean = ou.mean_level() + p.transition * (x0 - ou.mean_level());
  law.covariance = std::move(p.covariance);
  law.outcome = p.outcome;
  return law;
}

/// Stationary law N(μ, Σ∞) with A Σ∞ + Σ∞ Aᵀ = B Bᵀ (continuous Lyapunov, Bartels–Stewart or the
/// symmetric path when A is symmetric). Exists iff min Re λ(A) > 0; otherwise Status::unstable_step
/// with value = min Re λ(A) (the covariance field then holds the Lyapunov solution, not a covariance).
template <class Scalar>
GaussianLaw<Scalar> stationary_law(const OrnsteinUhlenbeck<Scalar>& ou) {
  LyapunovSolution<Scalar> sol = solve_continuous_lyapunov(ou.drift(), ou.diffusion_covariance());
  GaussianLaw<Scalar> law;
  law.mean = ou.mean_level();
  law.covariance = std::move(sol.X);
  law.outcome = sol.outcome;
  if (law.outcome.ok() && !(sol.min_real_part > Scalar(0)))
    law.outcome = Outcome::failure(Status::unstable_step, -1, double(sol.min_real_part),
                                   "drift matrix A has an eigenvalue with real part " +
                                       detail::describe(sol.min_real_part) + " ≤ 0: no stationary law");
  return law;
}

/// Exact stationary law of the Euler–Maruyama chain X_{k+1} = X_k − A(X_k − μ)Δt + B √Δt ξ_k with step
/// dt: covariance solves the Stein equation Σ = (I − AΔt) Σ (I − AΔt)ᵀ + Δt BBᵀ, which differs from the
/// SDE's Σ∞ by O(Δt) (for symmetric commuting A, BBᵀ: eigenvalue-wise factor 1/(1 − λΔt/2)).
/// Status unstable_step if ρ(I − AΔt) ≥ 1 (the chain diverges), value = that spectral radius.
template <class Scalar>
GaussianLaw<Scalar> euler_maruyama_stationary_law(const OrnsteinUhlenbeck<Scalar>& ou, detail::non_deduced_t<Scalar> dt) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  require_positive("euler_maruyama_stationary_law", "dt", dt);
  const Eigen::Index d = ou.dimension();
  const Matrix m = Matrix::Identity(d, d) - dt * ou.drift();
  const Matrix q = dt * ou.diffusion_covariance();
  LyapunovSolution<Scalar> sol = solve_discrete_lyapunov(m, q);
  GaussianLaw<Scalar> law;
  law.mean = ou.mean_level();
  law.covariance = std::move(sol.X);
  law.outcome = sol.outcome;
  return law;
}

/// Exact sampler of X_{t+τ} | X_t for a fixed lag τ: X' = μ + e^{−Aτ}(X − μ) + L ξ, L Lᵀ = Σ(τ)
/// (L from the symmetric eigendecomposition, so a singular Σ(τ) — rank-deficient B — is allowed).
/// No discretisation error at any τ. Construction costs one 2d×2d exponential; a sample costs
/// 2d² flops and d normals, and allocates nothing.
template <class Scalar>
class OuTransitionSampler {
 public:
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  OuTransitionSampler(const OrnsteinUhlenbeck<Scalar>& ou, Scalar lag) : mu_(ou.mean_level()) {
    OuPropagator<Scalar> p = ou_propagator(ou, lag);
    outcome_ = p.outcome;
    phi_ = std::move(p.transition);
    const Eigen::Index d = ou.dimension();
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

  /// x ← a draw of X_{t+τ} given X_t = x (in place allowed). Consumes d normals of `stream`
  /// (stateful fill), so one stream per path gives results independent of how paths are scheduled.
  void sample(Eigen::Ref<Vector> x, RandomStream& stream) {
    require_shape("OuTransitionSampler::sample", "x", x, mu_.size(), 1);
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

/// log N(x; mean, covariance) = −½ (x − m)ᵀ Σ⁻¹ (x − m) − ½ log det(2π Σ), by Cholesky.
/// Returns −∞ when Σ is not positive definite (a degenerate law has no density) — check
/// `law.outcome` and the PD-ness of the covariance when that matters.
template <class Scalar>
Scalar log_density(const GaussianLaw<Scalar>& law,
                   const Eigen::Ref<const detail::non_deduced_t<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>>& x) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using std::log;
  require_shape("log_density", "x", x, law.mean.size(), 1);
  require_finite("log_density", "x", x);
  Eigen::LLT<Matrix> llt(law.covariance);
  if (llt.info() != Eigen::Success) return -std::numeric_limits<Scalar>::infinity();
  const Vector z = llt.matrixL().solve(x - law.mean);
  const Scalar log_det = Scalar(2) * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  const Scalar d = Scalar(x.size());
  return Scalar(-0.5) * (z.squaredNorm() + log_det + d * log(Scalar(2) * Constants<Scalar>::pi()));
}

/// log p(X_t = x | X_0 = x0) of the OU transition (exact Gaussian, Σ(t) by Van Loan).
template <class Scalar>
Scalar transition_log_density(const OrnsteinUhlenbeck<Scalar>& ou,
                              const Eigen::Ref<const detail::non_deduced_t<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>>& x0,
                              const Eigen::Ref<const detail::non_deduced_t<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>>& x,
                              detail::non_deduced_t<Scalar> t) {
  return log_density(transition_law(ou, x0, t), x);
}

}  // namespace sgdsde
