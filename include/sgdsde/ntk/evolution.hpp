// sgdsde/ntk/evolution.hpp — closed-form output evolution of the linearised (infinite-width) network under
// gradient descent and gradient flow on the MSE loss, plain and L2-regularised (Borovykh 2019 §2.1, §2.2.2, eq. 2).
//
// Conventions (docs/conventions.md): loss L(θ) = (1/N) Σ_n ½‖f(x_n) − y_n‖² + (λ/2)‖θ − θ_ref‖², GD step
// θ ← θ − η ∇L (weight decay λ as in optim: it adds ηλ(θ − θ_ref) to each step), θ_ref = θ₀ or 0.
// Θ = Θ(X,X) is the N × N kernel of ONE scalar output; k outputs are k independent rows, so targets Y and
// outputs f are k × N (column n = sample n). Time t counts steps:
//   Dynamics::gradient_descent  t integer ≥ 0, one factor (I − (η/N)(Θ + NλI)) per step (exact for GD);
//   Dynamics::gradient_flow     t real ≥ 0,    e^{−(η/N)(Θ + NλI) t} (the η → 0 limit at fixed ηt).
// With Θ = V diag(μ) Vᵀ and μ'_i = μ_i + Nλ, every formula is a spectral filter of ONE eigendecomposition:
//   m_i(t) = (1 − ημ'_i/N)^t  (GD)  or  e^{−ημ'_i t/N}  (flow),   φ_i(t) = (1 − m_i(t))/μ'_i  (→ ηt/N as μ'_i → 0),
//   λ = 0 or towards θ₀:  f_t(X)  = f_0(X)  − ((f_0 − Y)V ⊙ (μ∘φ)ᵀ) Vᵀ,
//                         f_t(X*) = f_0(X*) − ((f_0 − Y)V ⊙ φᵀ) (Θ(X*,X)V)ᵀ          (no Θ⁻¹: singular Θ is fine).
// Derivations (and the towards-zero case, the ensemble over f_0 ~ GP(0, K), the input Jacobian) are in
// docs/theory.md, "Closed-form evolution of the linearised network".
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/ntk/detail/evolution_eigen.hpp"

namespace sgdsde::ntk {

/// Which evolution: discrete gradient descent (t integer steps) or its gradient-flow limit (t real, in
/// step units, i.e. continuous time ηt). They differ at finite η: per eigendirection (1 − x)^t vs e^{−xt},
/// x = ημ'/N.
enum class Dynamics { gradient_descent, gradient_flow };

/// Where the L2 penalty (λ/2)‖θ − θ_ref‖² pulls: θ_ref = θ₀ (initial_parameters) or θ_ref = 0 (zero).
enum class RegularizationTarget { initial_parameters, zero };

/// Options of LinearizedEvolution: an aggregate with defaults (numbers in double; they convert to Scalar).
struct EvolutionOptions {
  double learning_rate = 1.0;                   ///< η > 0
  Dynamics dynamics = Dynamics::gradient_descent;
  double weight_decay = 0.0;                    ///< λ ≥ 0 (0: plain MSE)
  RegularizationTarget target = RegularizationTarget::initial_parameters;
  /// Θ is reported not_positive_definite when its smallest eigenvalue is < −psd_tolerance·μ_max.
  double psd_tolerance = 1e-10;
};

/// Outputs at a list of times: outputs[j] (k × N for train points, k × N* for test points) at times[j].
template <class Scalar>
struct OutputTrajectory {
  std::vector<double> times;
  std::vector<MatrixX<Scalar>> outputs;
  Outcome outcome;  ///< the evolution's outcome(), or non_finite if an output overflowed
};

/// Mean and covariance of the outputs over the random initialisation f_0 ~ GP(0, K) (K the NNGP kernel;
/// Θ deterministic, the infinite-width limit). Each output row has the same covariance.
template <class Scalar>
struct EnsembleTrajectory {
  std::vector<double> times;
  std::vector<MatrixX<Scalar>> mean;        ///< k × N*
  std::vector<MatrixX<Scalar>> covariance;  ///< N* × N*
  Outcome outcome;
};

/// Input Jacobian ∂f_t(x*)/∂x* (k × d) at one test point x*, and its Frobenius norm, at each time.
template <class Scalar>
struct InputJacobianTrajectory {
  std::vector<double> times;
  std::vector<MatrixX<Scalar>> jacobian;
  std::vector<double> frobenius_norm;
  Outcome outcome;
};

namespace detail {

/// Per-eigendirection filters at one time t: m_i(t), φ_i(t), ψ_i(t) and the scalar β(t) (see the class).
template <class Scalar>
struct SpectralFilters {
  VectorX<Scalar> contraction;   ///< m_i(t)
  VectorX<Scalar> accumulation;  ///< φ_i(t) = (1 − m_i)/μ'_i
  VectorX<Scalar> cross;         ///< ψ_i(t) = (ρ(t) − m_i(t))/μ_i (only when towards zero with λ > 0)
  Scalar beta = 0;               ///< β(t) = 1 − ρ(t), ρ = (1 − ηλ)^t or e^{−ηλt}
};

/// (1 − x)^t and 1 − (1 − x)^t for integer t ≥ 0, both accurate for small x (through log1p/expm1 for x < 1).
template <class Scalar>
inline void power_pair(Scalar x, Scalar t, Scalar& power, Scalar& one_minus_power) {
  using std::exp;
  using std::expm1;
  using std::log1p;
  using std::pow;
  if (x < Scalar(1)) {
    const Scalar lg = t * log1p(-x);
    power = exp(lg);
    one_minus_power = -expm1(lg);
  } else {
    power = pow(Scalar(1) - x, t);
    one_minus_power = Scalar(1) - power;
  }
}

/// a·b through ONE GEMM instantiation per Scalar (compile time): transposed operands are passed as
/// `x.transpose()` and copied by the Ref (they are never the O(N²)-per-time part).
template <class Scalar>
MatrixX<Scalar> mul(const Eigen::Ref<const MatrixX<Scalar>>& a, const Eigen::Ref<const MatrixX<Scalar>>& b) {
  MatrixX<Scalar> c(a.rows(), b.cols());
  c.noalias() = a * b;
  return c;
}

}  // namespace detail

/// The linearised network f_lin(x; θ) = f_0(x) + J(x)(θ − θ₀) trained on (X, Y) by GD or gradient flow,
/// in closed form from ONE symmetric eigendecomposition of Θ(X,X) (Borovykh 2019 §2.1, §2.2.2, eq. 2).
///
/// Build once per (Θ, Y, options); then outputs at any times, for any initial outputs f_0 and any test
/// points. Bad arguments throw sgdsde::invalid_argument. Numerical trouble is outcome():
///   not_positive_definite  μ_min < −psd_tolerance·μ_max (value = μ_min); outputs are still computed from
///                          the eigenvalues as they are (directions with μ' < 0 grow);
///   unstable_step          GD with η(μ_max + Nλ)/N ≥ 2, i.e. η ≥ max_stable_learning_rate() (value = that
///                          product): GD diverges (oscillates) along the top eigendirection;
///   no_convergence         the eigensolver failed.
template <class Scalar>
class LinearizedEvolution {
 public:
  using Matrix = MatrixX<Scalar>;
  using Vector = VectorX<Scalar>;
  using ConstRef = Eigen::Ref<const Matrix>;

  /// theta_train: Θ(X,X), N × N symmetric (asymmetry ‖Θ − Θᵀ‖_F > 1e-8‖Θ‖_F throws); targets: Y, k × N.
  LinearizedEvolution(const ConstRef& theta_train, const ConstRef& targets, const EvolutionOptions& options = {})
      : options_(options) {
    const char* fn = "LinearizedEvolution";
    require(theta_train.rows() >= 1 && theta_train.rows() == theta_train.cols(), fn, "theta_train",
            std::to_string(theta_train.rows()) + "x" + std::to_string(theta_train.cols()),
            "a square N x N matrix with N >= 1");
    if (!all_finite(theta_train)) require_finite(fn, "theta_train", theta_train);
    require_shape(fn, "targets", targets, -1, theta_train.rows());
    require(targets.rows() >= 1, fn, "targets.rows()", targets.rows(), "at least 1 output row");
    if (!all_finite(targets)) require_finite(fn, "targets", targets);
    require_positive(fn, "options.learning_rate", options.learning_rate);
    require(std::isfinite(options.weight_decay) && options.weight_decay >= 0, fn, "options.weight_decay",
            options.weight_decay, "a finite value >= 0");
    require(std::isfinite(options.psd_tolerance) && options.psd_tolerance >= 0, fn, "options.psd_tolerance",
            options.psd_tolerance, "a finite value >= 0");
    require(options.dynamics == Dynamics::gradient_descent || options.dynamics == Dynamics::gradient_flow, fn,
            "options.dynamics", int(options.dynamics), "gradient_descent or gradient_flow");
    require(options.target == RegularizationTarget::initial_parameters ||
                options.target == RegularizationTarget::zero,
            fn, "options.target", int(options.target), "initial_parameters or zero");
    check_symmetric(fn, theta_train);
    eta_ = Scalar(options.learning_rate);
    lambda_ = Scalar(options.weight_decay);
    n_ = theta_train.rows();
    targets_ = targets;

    if (!detail::symmetric_eigen<Scalar>(theta_train, eigenvalues_, eigenvectors_)) {
      eigenvalues_ = Vector::Zero(n_);
      eigenvectors_ = Matrix::Identity(n_, n_);
      outcome_ = Outcome::failure(Status::no_convergence, -1, 0.0,
                                  "LinearizedEvolution: the symmetric eigensolver did not converge on theta_train");
    } else {
      diagnose();
    }
    target_coefficients_ = detail::mul<Scalar>(targets_, eigenvectors_);
  }

  // --- what the evolution is built on (also the interface of ntk/noisy.hpp) ---
  /// μ_i, the eigenvalues of Θ(X,X) in ascending order, as computed (not clamped at 0).
  const Vector& eigenvalues() const { return eigenvalues_; }
  /// V (N × N, orthonormal columns): Θ = V diag(μ) Vᵀ, column i belongs to eigenvalues()[i].
  const Matrix& eigenvectors() const { return eigenvectors_; }
  /// Y (k × N) and YV (k × N).
  const Matrix& targets() const { return targets_; }
  const Matrix& target_coefficients() const { return target_coefficients_; }
  Scalar learning_rate() const { return eta_; }
  Scalar weight_decay() const { return lambda_; }
  Index num_samples() const { return n_; }
  Index num_outputs() const { return targets_.rows(); }
  Dynamics dynamics() const { return options_.dynamics; }
  RegularizationTarget target() const { return options_.target; }
  const EvolutionOptions& options() const { return options_; }
  const Outcome& outcome() const { return outcome_; }

  /// Largest η for which GD converges: 2N/(μ_max + Nλ) (every |1 − η(μ_i + Nλ)/N| < 1 iff η is below it;
  /// with a PSD Θ this also gives |1 − ηλ| < 1). +inf for gradient flow, which is stable for every η.
  Scalar max_stable_learning_rate() const {
    if (options_.dynamics == Dynamics::gradient_flow) return std::numeric_limits<Scalar>::infinity();
    const Scalar top = eigenvalues_[n_ - 1] + Scalar(n_) * lambda_;
    if (!(top > Scalar(0))) return std::numeric_limits<Scalar>::infinity();
    return Scalar(2) * Scalar(n_) / top;
  }

  /// m_i(t): the factor by which the eigencomponent i of f − f* shrinks after time t.
  Vector contraction(double t) const { return filters(t, false).contraction; }
  /// φ_i(t) = (1 − m_i(t))/(μ_i + Nλ), with the limit ηt/N where μ_i + Nλ = 0.
  Vector accumulation(double t) const { return filters(t, false).accumulation; }

  /// Θ(X*,X) V (N* × N): the test kernel in the eigenbasis, computed once per set of test points.
  Matrix test_projection(const ConstRef& theta_test_train) const {
    const char* fn = "LinearizedEvolution::test_projection";
    require_shape(fn, "theta_test_train", theta_test_train, -1, n_);
    if (!all_finite(theta_test_train)) require_finite(fn, "theta_test_train", theta_test_train);
    return detail::mul<Scalar>(theta_test_train, eigenvectors_);
  }

  /// Train outputs f_t(X) (k × N) at each time, for initial outputs f0 = f_0(X) (k × N).
  /// reference (towards zero with λ > 0 only, else ignored): a = f_0(X) − J(X)θ₀, the outputs of the linearised
  /// model at θ = 0 (k × N); empty means a = 0, exact for a model linear in θ (f = Jθ, e.g. the last-layer model).
  OutputTrajectory<Scalar> train_outputs(const ConstRef& f0, const std::vector<double>& times,
                                         const ConstRef& reference = Matrix()) const {
    const char* fn = "LinearizedEvolution::train_outputs";
    check_outputs(fn, "f0", f0, n_);
    check_times(fn, times);
    const Matrix a = reference_outputs(fn, "reference", f0, reference, n_);
    return outputs_at(fn, eigenvectors_, &eigenvalues_, f0, a, f0, a, times);
  }

  /// Test outputs f_t(X*) (k × N*) at each time: theta_test_train = Θ(X*,X) (N* × N), f0 = f_0(X) (k × N),
  /// f0_test = f_0(X*) (k × N*). reference / reference_test: outputs at θ = 0 (see train_outputs).
  OutputTrajectory<Scalar> test_outputs(const ConstRef& theta_test_train, const ConstRef& f0, const ConstRef& f0_test,
                                        const std::vector<double>& times, const ConstRef& reference = Matrix(),
                                        const ConstRef& reference_test = Matrix()) const {
    const char* fn = "LinearizedEvolution::test_outputs";
    require_shape(fn, "theta_test_train", theta_test_train, -1, n_);
    if (!all_finite(theta_test_train)) require_finite(fn, "theta_test_train", theta_test_train);
    const Index ns = theta_test_train.rows();
    check_outputs(fn, "f0", f0, n_);
    check_outputs(fn, "f0_test", f0_test, ns);
    check_times(fn, times);
    const Matrix a = reference_outputs(fn, "reference", f0, reference, n_);
    const Matrix a_test = reference_outputs(fn, "reference_test", f0_test, reference_test, ns);
    return outputs_at(fn, detail::mul<Scalar>(theta_test_train, eigenvectors_), nullptr, f0, a, f0_test, a_test, times);
  }

  /// Mean and covariance of f_t(X*) over f_0 ~ GP(0, K) jointly on X ∪ X* (the NNGP), Θ deterministic (the
  /// ensemble predictor of an infinitely wide network). nngp_train = K(X,X) (N × N), nngp_test_train = K(X*,X)
  /// (N* × N), nngp_test = K(X*,X*) (N* × N*), theta_test_train = Θ(X*,X). Pass the train matrices again as
  /// the test ones to get the train outputs. Towards zero with λ > 0 assumes the reference outputs are 0
  /// (a model linear in θ). With f_t(X*) = c f_0(X*) − S f_0(X) + G Y (G = Θ(X*,X) V diag(φ) Vᵀ; S = G, c = 1,
  /// or for towards zero S = Θ(X*,X) V diag(ψ) Vᵀ, c = 1 − β):
  ///   mean = G Y (row form Y Gᵀ),  covariance = c² K(X*,X*) − c (S K(X,X*) + K(X*,X) Sᵀ) + S K(X,X) Sᵀ.
  EnsembleTrajectory<Scalar> ensemble(const ConstRef& nngp_train, const ConstRef& nngp_test_train,
                                      const ConstRef& nngp_test, const ConstRef& theta_test_train,
                                      const std::vector<double>& times) const {
    const char* fn = "LinearizedEvolution::ensemble";
    require_shape(fn, "nngp_train", nngp_train, n_, n_);
    if (!all_finite(nngp_train)) require_finite(fn, "nngp_train", nngp_train);
    require_shape(fn, "theta_test_train", theta_test_train, -1, n_);
    if (!all_finite(theta_test_train)) require_finite(fn, "theta_test_train", theta_test_train);
    const Index ns = theta_test_train.rows();
    require_shape(fn, "nngp_test_train", nngp_test_train, ns, n_);
    if (!all_finite(nngp_test_train)) require_finite(fn, "nngp_test_train", nngp_test_train);
    require_shape(fn, "nngp_test", nngp_test, ns, ns);
    if (!all_finite(nngp_test)) require_finite(fn, "nngp_test", nngp_test);
    check_times(fn, times);
    const bool cross = uses_cross();
    const Matrix projection = detail::mul<Scalar>(theta_test_train, eigenvectors_);
    const Matrix q = detail::mul<Scalar>(nngp_test_train, eigenvectors_);  // K(X*,X) V
    const Matrix kv = detail::mul<Scalar>(nngp_train, eigenvectors_);
    const Matrix k_eig = detail::mul<Scalar>(eigenvectors_.transpose(), kv);  // Vᵀ K V
    EnsembleTrajectory<Scalar> out;
    out.times = times;
    bool finite = true;
    Matrix ps(ns, n_), cov(ns, ns), cross_term(ns, ns);
    for (double t : times) {
      const auto flt = filters(t, cross);
      const Matrix coeff = target_coefficients_ * flt.accumulation.asDiagonal();
      Matrix mean = detail::mul<Scalar>(projection, coeff.transpose()).transpose();  // (YV diag φ)(Θ*V)ᵀ
      const Vector& s = cross ? flt.cross : flt.accumulation;
      const Scalar c = cross ? Scalar(1) - flt.beta : Scalar(1);
      ps = projection * s.asDiagonal();
      cov = detail::mul<Scalar>(detail::mul<Scalar>(ps, k_eig), ps.transpose());
      cross_term = detail::mul<Scalar>(ps, q.transpose());
      cov -= c * (cross_term + cross_term.transpose());
      cov += (c * c) * nngp_test;
      cov = (Scalar(0.5) * (cov + cov.transpose())).eval();
      finite = finite && all_finite(mean) && all_finite(cov);
      out.mean.push_back(std::move(mean));
      out.covariance.push_back(cov);
    }
    out.outcome = finite ? outcome_ : non_finite_outcome(fn);
    return out;
  }

  /// Borovykh eq. 2 (with the η/N of our convention and no Θ⁻¹): ∂f_t(x*)/∂x* (k × d) at one test point,
  ///   (1 − β) ∂f_0(x*) + β ∂a(x*) − w_t ∂Θ(X, x*),   w_t = [(a − Y)V diag(φ) + (f_0 − a)V diag(ψ)] Vᵀ,
  /// which for λ = 0 or towards θ₀ is ∂f_0(x*) − ((f_0 − Y)V diag(φ) Vᵀ) Gᵀ.
  /// ntk_input_gradient: G (d × N), column n = ∂Θ(x*, x_n)/∂x*
  /// (ntk::analytic_kernel_input_gradient(spec, x_star, X).ntk_gradient);
  /// f0 = f_0(X) (k × N); f0_input_jacobian = ∂f_0(x*)/∂x* (k × d; zeros for the ensemble mean).
  /// reference / reference_input_jacobian: towards zero only, a(X) (k × N) and ∂a(x*)/∂x* (k × d); empty = 0.
  InputJacobianTrajectory<Scalar> input_jacobian(const ConstRef& ntk_input_gradient, const ConstRef& f0,
                                                 const ConstRef& f0_input_jacobian, const std::vector<double>& times,
                                                 const ConstRef& reference = Matrix(),
                                                 const ConstRef& reference_input_jacobian = Matrix()) const {
    const char* fn = "LinearizedEvolution::input_jacobian";
    require_shape(fn, "ntk_input_gradient", ntk_input_gradient, -1, n_);
    require(ntk_input_gradient.rows() >= 1, fn, "ntk_input_gradient.rows()", ntk_input_gradient.rows(),
            "the input dimension d >= 1");
    if (!all_finite(ntk_input_gradient)) require_finite(fn, "ntk_input_gradient", ntk_input_gradient);
    const Index dim = ntk_input_gradient.rows();
    check_outputs(fn, "f0", f0, n_);
    check_outputs(fn, "f0_input_jacobian", f0_input_jacobian, dim);
    check_times(fn, times);
    const Matrix a = reference_outputs(fn, "reference", f0, reference, n_);
    const Matrix a_jac = reference_outputs(fn, "reference_input_jacobian", f0_input_jacobian,
                                           reference_input_jacobian, dim);
    const bool cross = uses_cross();
    const Matrix e = detail::mul<Scalar>(a - targets_, eigenvectors_);
    Matrix d;
    if (cross) d = detail::mul<Scalar>(f0 - a, eigenvectors_);
    const Matrix gv = detail::mul<Scalar>(ntk_input_gradient, eigenvectors_);  // d × N: ∂Θ(x*, X) V
    InputJacobianTrajectory<Scalar> out;
    out.times = times;
    bool finite = true;
    for (double t : times) {
      const auto flt = filters(t, cross);
      Matrix coeff = e * flt.accumulation.asDiagonal();
      if (cross) coeff += d * flt.cross.asDiagonal();
      Matrix jac = f0_input_jacobian - detail::mul<Scalar>(coeff, gv.transpose());
      if (cross && flt.beta != Scalar(0)) jac -= flt.beta * (f0_input_jacobian - a_jac);
      finite = finite && all_finite(jac);
      out.frobenius_norm.push_back(double(jac.norm()));
      out.jacobian.push_back(std::move(jac));
    }
    out.outcome = finite ? outcome_ : non_finite_outcome(fn);
    return out;
  }

  /// The filters at time t (validated): m, φ and, when `with_cross`, ψ and β. For ntk/noisy.hpp and tests.
  detail::SpectralFilters<Scalar> filters(double t, bool with_cross) const {
    check_time("LinearizedEvolution::filters", t);
    using std::exp;
    using std::expm1;
    using std::log1p;
    using std::pow;
    detail::SpectralFilters<Scalar> out;
    const Scalar n = Scalar(n_), ts = Scalar(t);
    const bool gd = options_.dynamics == Dynamics::gradient_descent;
    out.contraction.resize(n_);
    out.accumulation.resize(n_);
    for (Index i = 0; i < n_; ++i) {
      const Scalar mu = eigenvalues_[i] + n * lambda_;  // μ'
      const Scalar x = eta_ * mu / n;                   // one step's decay
      Scalar m, one_minus_m;
      if (gd) {
        detail::power_pair(x, ts, m, one_minus_m);
      } else {
        one_minus_m = -expm1(-x * ts);
        m = exp(-x * ts);
      }
      out.contraction[i] = m;
      out.accumulation[i] = mu == Scalar(0) ? eta_ * ts / n : one_minus_m / mu;
    }
    if (!with_cross) return out;
    // ρ(t) = (1 − ηλ)^t or e^{−ηλt}; ψ_i = (ρ(t) − m_i(t))/μ_i, the weight of the init-anchor term.
    const Scalar el = eta_ * lambda_;
    Scalar rho;
    if (gd) {
      detail::power_pair(el, ts, rho, out.beta);
    } else {
      out.beta = -expm1(-el * ts);
      rho = exp(-el * ts);
    }
    out.cross.resize(n_);
    for (Index i = 0; i < n_; ++i) {
      const Scalar mu = eigenvalues_[i];
      const Scalar y = eta_ * mu / n;
      Scalar psi;
      if (t == 0) {
        psi = Scalar(0);
      } else if (!gd) {
        psi = mu == Scalar(0) ? rho * eta_ * ts / n : rho * (-expm1(-y * ts)) / mu;
      } else if (mu == Scalar(0)) {
        psi = ts * pow(Scalar(1) - el, ts - Scalar(1)) * eta_ / n;
      } else {
        const Scalar r = Scalar(1) - el;  // ρ per step; m = r − y
        if (r != Scalar(0) && Scalar(1) - y / r > Scalar(0))
          psi = pow(r, ts) * (-expm1(ts * log1p(-y / r))) / mu;  // r^t (1 − (m/r)^t)/μ, no cancellation
        else
          psi = (pow(r, ts) - pow(r - y, ts)) / mu;  // opposite signs or r = 0: no cancellation
      }
      out.cross[i] = psi;
    }
    return out;
  }

 private:
  bool uses_cross() const {
    return options_.target == RegularizationTarget::zero && lambda_ > Scalar(0);
  }

  /// ‖Θ − Θᵀ‖_F ≤ 1e-8‖Θ‖_F, measured on Θ/max|Θ_ij| (no overflow) in 64 × 64 tiles (no N² copy, no
  /// strided sweep over the whole matrix).
  static void check_symmetric(const char* fn, const ConstRef& a) {
    using std::abs;
    const Index n = a.rows();
    const Scalar m = a.cwiseAbs().maxCoeff();
    if (m == Scalar(0)) return;
    const Scalar inv = Scalar(1) / m;
    Scalar asym2 = 0, norm2 = 0;
    constexpr Index tile = 64;
    for (Index j0 = 0; j0 < n; j0 += tile) {
      const Index jn = std::min(tile, n - j0);
      for (Index i0 = j0; i0 < n; i0 += tile) {
        const Index in = std::min(tile, n - i0);
        for (Index j = j0; j < j0 + jn; ++j)
          for (Index i = std::max(i0, j + 1); i < i0 + in; ++i) {
            const Scalar d = (a(i, j) - a(j, i)) * inv;
            asym2 += Scalar(2) * d * d;
          }
      }
    }
    norm2 = (a * inv).squaredNorm();
    if (!(asym2 <= Scalar(1e-16) * norm2)) {
      using std::sqrt;
      sgdsde::detail::throw_invalid_argument(
          fn, "theta_train", "asymmetric with ‖Θ − Θᵀ‖_F / ‖Θ‖_F = " + sgdsde::detail::describe(sqrt(asym2 / norm2)),
          "a symmetric matrix");
    }
  }

  void diagnose() {
    const Scalar lo = eigenvalues_[0], hi = eigenvalues_[n_ - 1];
    const Scalar top = std::max(hi, Scalar(0));
    if (lo < -Scalar(options_.psd_tolerance) * top) {
      outcome_ = Outcome::failure(Status::not_positive_definite, -1, double(lo),
                                  "LinearizedEvolution: theta_train is not positive semidefinite: smallest "
                                  "eigenvalue " + sgdsde::detail::describe(double(lo)) + " < -" +
                                      sgdsde::detail::describe(options_.psd_tolerance) + " * largest " +
                                      sgdsde::detail::describe(double(hi)));
      return;
    }
    if (options_.dynamics == Dynamics::gradient_descent) {
      const Scalar product = eta_ * (hi + Scalar(n_) * lambda_) / Scalar(n_);
      if (!(product < Scalar(2))) {
        outcome_ = Outcome::failure(
            Status::unstable_step, -1, double(product),
            "LinearizedEvolution: gradient descent diverges: eta*(mu_max + N*lambda)/N = " +
                sgdsde::detail::describe(double(product)) + " >= 2 (largest stable learning rate " +
                sgdsde::detail::describe(double(max_stable_learning_rate())) + ")");
      }
    }
  }

  void check_time(const char* fn, double t) const {
    require(std::isfinite(t) && t >= 0, fn, "t", t, "a finite time >= 0");
    if (options_.dynamics == Dynamics::gradient_descent)
      require(t == std::floor(t), fn, "t", t, "an integer number of steps (Dynamics::gradient_descent)");
  }

  void check_times(const char* fn, const std::vector<double>& times) const {
    for (std::size_t j = 0; j < times.size(); ++j) {
      const double t = times[j];
      if (!(std::isfinite(t) && t >= 0))
        sgdsde::detail::throw_invalid_argument(fn, "times", "times[" + std::to_string(j) + "] = " + sgdsde::detail::describe(t),
                                       "finite times >= 0");
      if (options_.dynamics == Dynamics::gradient_descent && t != std::floor(t))
        sgdsde::detail::throw_invalid_argument(fn, "times", "times[" + std::to_string(j) + "] = " + sgdsde::detail::describe(t),
                                       "integer step counts (Dynamics::gradient_descent)");
    }
  }

  void check_outputs(const char* fn, const char* name, const ConstRef& m, Index cols) const {
    require_shape(fn, name, m, num_outputs(), cols);
    if (!all_finite(m)) require_finite(fn, name, m);
  }

  /// a: f0 itself towards θ₀ or without decay (a only enters through f0 − a), else the given reference or 0.
  Matrix reference_outputs(const char* fn, const char* name, const ConstRef& f0, const ConstRef& reference,
                           Index cols) const {
    if (!uses_cross()) return f0;
    if (reference.size() == 0) return Matrix::Zero(num_outputs(), cols);
    check_outputs(fn, name, reference, cols);
    return reference;
  }

  Outcome non_finite_outcome(const char* fn) const {
    if (!outcome_.ok()) return outcome_;
    return Outcome::failure(Status::non_finite, -1, 0.0, std::string(fn) + ": an output overflowed");
  }

  // Outputs at each time: f_t = g0 − C_t Pᵀ − β_t (g0 − b), with the coefficient rows
  // C_t = (a − Y)V diag(s∘φ_t) [+ (f0 − a)V diag(s∘χ_t) when the cross term is used]; P = Θ(X*,X)V and s = 1 on
  // test points (g0 = f_0(X*), b = a*), or P = V and s = μ on the training points (ΘV = V diag(μ), g0 = f0, b = a).
  OutputTrajectory<Scalar> outputs_at(const char* fn, const Matrix& projection, const Vector* scale, const ConstRef& f0,
                                      const Matrix& a, const ConstRef& g0, const Matrix& b,
                                      const std::vector<double>& times) const {
    const bool cross = uses_cross();
    const Index k = num_outputs(), T = Index(times.size());
    const Matrix e = detail::mul<Scalar>(a - targets_, eigenvectors_);  // (a − Y)V
    Matrix d;
    if (cross) d = detail::mul<Scalar>(f0 - a, eigenvectors_);  // (f_0 − a)V
    Matrix coeff(T * k, n_);
    std::vector<Scalar> betas(times.size());
    for (Index j = 0; j < T; ++j) {
      const auto flt = filters(times[std::size_t(j)], cross);
      betas[std::size_t(j)] = flt.beta;
      auto rows = coeff.middleRows(j * k, k);
      if (scale) {
        rows = e * scale->cwiseProduct(flt.accumulation).asDiagonal();
        if (cross) rows += d * scale->cwiseProduct(flt.cross).asDiagonal();
      } else {
        rows = e * flt.accumulation.asDiagonal();
        if (cross) rows += d * flt.cross.asDiagonal();
      }
    }
    const Matrix stacked = detail::mul<Scalar>(projection, coeff.transpose()).transpose();  // C Pᵀ, stacked by time
    OutputTrajectory<Scalar> out;
    out.times = times;
    out.outputs.resize(times.size());
    for (Index j = 0; j < T; ++j) {
      const Scalar beta = betas[std::size_t(j)];
      Matrix& f = out.outputs[std::size_t(j)];
      f = g0 - stacked.middleRows(j * k, k);
      if (cross && beta != Scalar(0)) f -= beta * (g0 - b);
    }
    out.outcome = final_outcome(fn, out.outputs);
    return out;
  }

  Outcome final_outcome(const char* fn, const std::vector<Matrix>& outputs) const {
    for (const auto& f : outputs)
      if (!all_finite(f)) return non_finite_outcome(fn);
    return outcome_;
  }

  EvolutionOptions options_;
  Scalar eta_ = 0, lambda_ = 0;
  Index n_ = 0;
  Matrix targets_, target_coefficients_;
  Vector eigenvalues_;
  Matrix eigenvectors_;
  Outcome outcome_;
};

/// LinearizedEvolution with Scalar deduced from Θ: linearized_evolution(theta, Y, {.learning_rate = …}).
template <class D1, class D2>
LinearizedEvolution<typename D1::Scalar> linearized_evolution(const Eigen::MatrixBase<D1>& theta_train,
                                                              const Eigen::MatrixBase<D2>& targets,
                                                              const EvolutionOptions& options = {}) {
  using Scalar = typename D1::Scalar;
  const MatrixX<Scalar> theta = theta_train;
  const MatrixX<Scalar> y = targets.template cast<Scalar>();
  return LinearizedEvolution<Scalar>(theta, y, options);
}

}  // namespace sgdsde::ntk
