// sgdsde/ntk/noisy.hpp — law of the outputs of the linearised (infinite-width) network under noisy gradient
// descent: Borovykh (2019) §2.2.1, §2.2.3 and Lemma 3 (corrected: the printed lemma's N, Θ² and index are wrong).
//
// Model. Linearised network f_θ(x) = f_0(x) + J(x)(θ − θ₀) with J(X) Jᵀ(X) = Θ(X, X) (the NTK, or ΦΦᵀ for
// the last-layer-only model of §2.2.1), loss L = (1/N) Σ_n ½‖f(x_n) − y_n‖² + (λ/2)‖θ − θ_ref‖², and
//   θ_{s+1} = θ_s − η ∇L(θ_s) + (noise of step s),            t = number of steps
// with one of two noise models (both Gaussian, independent across steps and of f_0):
//   ParameterNoise{σ, M}: σ η/√M · ξ_s, ξ_s ~ N(0, I_P) in parameter space (Borovykh's σ η/√M dW; what
//       optim::SgdOptions{noise_sigma = σ, noise_batch = M} injects). Output noise per step J ξ σ η/√M, of
//       covariance (σ²η²/M) Θ: Θ-shaped, with M (not N).
//   OutputNoise{σ}: the output gradient ∇_f L perturbed by (σ/N) ξ_s, ξ_s ~ N(0, I_N) per output row, i.e. GD on
//       targets Y + σ ξ_s redrawn each step (label noise). Output noise per step (ση/N) Θ ξ_s, covariance
//       (σ²η²/N²) Θ²: the noise term of the solution printed in §2.2.3 and of the printed Lemma 3.
// Both are "per step output covariance αΘ + βΘ²"; the SDE form is dθ = −η∇L dt + (same amplitude) dW with t in
// steps (Dynamics::gradient_flow), the discrete form is the update above (Dynamics::gradient_descent).
// docs/theory.md "Noisy gradient descent in the NTK regime" derives every formula below.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/ntk/evolution.hpp"

namespace sgdsde::ntk {

/// Parameter-space noise σ η/√M ξ per step, ξ ~ N(0, I_P) (Borovykh §2.2.1/§2.2.3). The paper does not define
/// M; in the SDE it cites (Mandt et al. 2017) the factor is 1/√S, S the minibatch size, and optim::SgdOptions
/// calls it noise_batch. Only σ²/M enters the output law (not the number of parameters P: J Jᵀ = Θ absorbs P).
struct ParameterNoise {
  double sigma = 0;  ///< σ ≥ 0
  double m = 1;      ///< M > 0
};

/// Function-space noise: ∇_f L + (σ/N) ξ per step, ξ ~ N(0, I_N) for each output row (= label noise
/// Y + σ ξ_s redrawn each step). The model under which Borovykh's printed Lemma 3 (read Σ_i Σ_j) holds.
struct OutputNoise {
  double sigma = 0;  ///< σ ≥ 0
};

/// One of the two noise models.
using NoiseModel = std::variant<ParameterNoise, OutputNoise>;

/// Mean and covariance of the outputs at each time (one covariance for every output row: rows are
/// independent and identically perturbed). Test fields are empty when no test points were given.
template <class Scalar>
struct NoisyOutputs {
  std::vector<double> times;
  std::vector<MatrixX<Scalar>> mean;                   ///< k × N: E f_t(X) (= the noiseless evolution)
  std::vector<MatrixX<Scalar>> covariance;             ///< N × N: Cov f_t(X) (per output row)
  std::vector<MatrixX<Scalar>> test_mean;              ///< k × N*: E f_t(X*)
  std::vector<MatrixX<Scalar>> test_train_covariance;  ///< N* × N: Cov(f_t(X*), f_t(X))
  std::vector<MatrixX<Scalar>> test_covariance;        ///< N* × N*: Cov f_t(X*)
  Outcome outcome;
};

/// Expected mean squared errors at each time, MSE = (1/N) Σ_n ‖f(x_n) − y_n‖² (summed over the k outputs,
/// averaged over samples; = 2L without the weight decay), expectation over the gradient noise given f_0.
template <class Scalar>
struct NoisyMse {
  std::vector<double> times;
  std::vector<Scalar> train;       ///< E MSE on the training set
  std::vector<Scalar> train_noise; ///< its noise part (k/N) tr Cov f_t(X) (train − noise part = noiseless MSE)
  std::vector<Scalar> test;        ///< E MSE on the test set (empty without test points)
  std::vector<Scalar> test_noise;  ///< (k/N*) tr Cov f_t(X*)
  Outcome outcome;
};

/// The t → ∞ law: stationary covariance and limit mean of the outputs, and the limit expected MSEs.
template <class Scalar>
struct NoisyLimit {
  MatrixX<Scalar> mean;                   ///< k × N
  MatrixX<Scalar> covariance;             ///< N × N
  Scalar train_mse = 0, train_noise = 0;  ///< expected MSE and its noise part
  MatrixX<Scalar> test_mean;              ///< k × N* (empty without test points)
  MatrixX<Scalar> test_train_covariance;  ///< N* × N
  MatrixX<Scalar> test_covariance;        ///< N* × N*
  Scalar test_mse = 0, test_noise = 0;
  /// success; unstable_step (GD with η(μ_max + Nλ)/N ≥ 2: no limit; value = that product);
  /// diverged (parameter noise without weight decay: the test variance grows ∝ t along parameter
  /// directions the training gradients do not span; value = the largest growth rate per step
  /// (σ²η²/M)·[Θ(x*,x*) − Θ(x*,X)Θ⁻¹Θ(X,x*)]; the train fields are still valid, the test ones are empty);
  /// or the evolution's own failure status.
  Outcome outcome;
};

namespace detail {

/// Matrix argument (a non-deduced context: Scalar comes from the evolution).
template <class Scalar>
using NoisyRef = typename LinearizedEvolution<Scalar>::ConstRef;

/// Per-step output noise covariance αΘ + βΘ² of a noise model (checked: σ ≥ 0, M > 0, finite).
struct NoiseCoefficients {
  double alpha = 0, beta = 0;
};
inline NoiseCoefficients noise_coefficients(const char* fn, const NoiseModel& noise, double eta, double n) {
  NoiseCoefficients c;
  if (const auto* p = std::get_if<ParameterNoise>(&noise)) {
    require(std::isfinite(p->sigma) && p->sigma >= 0, fn, "noise.sigma", p->sigma, "a finite value >= 0");
    require_positive(fn, "noise.m", p->m);
    c.alpha = (p->sigma * eta) * (p->sigma * eta) / p->m;
  } else {
    const auto& o = std::get<OutputNoise>(noise);
    require(std::isfinite(o.sigma) && o.sigma >= 0, fn, "noise.sigma", o.sigma, "a finite value >= 0");
    c.beta = (o.sigma * eta / n) * (o.sigma * eta / n);
  }
  require(std::isfinite(c.alpha) && std::isfinite(c.beta), fn, "noise", "σ²η²/M or (ση/N)² overflowing",
          "a noise whose per-step variance is finite");
  return c;
}

/// W(μ', t): accumulated noise of one eigenmode of total rate μ' (= μ + Nλ) after t steps, per unit per-step
/// noise variance: GD Σ_{r<t} (1 − κμ')^{2r} = (1 − ρ^{2t})/(1 − ρ²); flow ∫₀ᵗ e^{−2κμ's} ds, κ = η/N.
/// Computed with expm1/log1p (exact limit t as μ' → 0). t = ∞ gives the stationary value (∞ if none).
template <class Scalar>
Scalar noise_accumulation(Dynamics dyn, Scalar kappa, Scalar mu_prime, double t) {
  using std::abs;
  using std::expm1;
  using std::log;
  using std::log1p;
  const Scalar inf = std::numeric_limits<Scalar>::infinity();
  if (t == 0) return Scalar(0);
  const Scalar x = kappa * mu_prime;  // per-step rate κμ'
  if (dyn == Dynamics::gradient_flow) {
    if (std::isinf(t)) return x > Scalar(0) ? Scalar(1) / (Scalar(2) * x) : inf;
    const Scalar y = Scalar(2) * x * Scalar(t);
    return y == Scalar(0) ? Scalar(t) : -expm1(-y) / (Scalar(2) * x);
  }
  const Scalar d = x * (Scalar(2) - x);  // 1 − ρ²
  if (std::isinf(t)) return d > Scalar(0) ? Scalar(1) / d : inf;
  if (d == Scalar(0)) return Scalar(t);  // ρ² = 1 (x = 0 or x = 2): Σ_{r<t} 1 = t
  const Scalar rho = Scalar(1) - x;
  if (rho == Scalar(0)) return Scalar(1);                             // only r = 0 contributes
  const Scalar log_u = x < Scalar(1) ? Scalar(2) * log1p(-x) : Scalar(2) * log(abs(rho));
  return -expm1(Scalar(t) * log_u) / d;
}

/// [W(μ + ν, t) − W(ν, t)]/μ, ν = Nλ ≥ 0, μ ≥ 0 (a divided difference; ≤ 0). At t = ∞ by cancellation-free
/// closed forms (precondition: ν > 0 and, for GD, κ(μ + ν) < 2, so that both limits exist). At finite t a direct
/// difference with the step μ raised to at least μ_min = 10⁻⁶/(κt): below it the mode has not started to relax
/// and the difference quotient is its derivative to relative O(10⁻⁶); rounding stays at O(ε·10⁶) relative.
template <class Scalar>
Scalar noise_accumulation_difference(Dynamics dyn, Scalar kappa, Scalar mu, Scalar nu, double t) {
  if (t == 0) return Scalar(0);
  if (std::isinf(t)) {
    if (dyn == Dynamics::gradient_flow) return Scalar(-1) / (Scalar(2) * kappa * (mu + nu) * nu);
    const Scalar x0 = kappa * nu, xi = kappa * (mu + nu);
    const Scalar d0 = x0 * (Scalar(2) - x0), di = xi * (Scalar(2) - xi);
    return -kappa * (Scalar(2) - kappa * (Scalar(2) * nu + mu)) / (di * d0);
  }
  const Scalar mu_min = Scalar(1e-6) / (kappa * Scalar(t));
  const Scalar h = std::max(mu, mu_min);
  return (noise_accumulation(dyn, kappa, h + nu, t) - noise_accumulation(dyn, kappa, nu, t)) / h;
}

/// Checks shared by every function: f0 k × N finite, times finite ≥ 0 (integers for GD).
template <class Scalar>
void noisy_check(const char* fn, const LinearizedEvolution<Scalar>& evo, const NoisyRef<Scalar>& f0,
                  const std::vector<double>& times, bool need_times) {
  require_shape(fn, "f0", f0, evo.num_outputs(), evo.num_samples());
  require_finite(fn, "f0", f0);
  if (need_times) {
    for (double t : times) {
      require(std::isfinite(t) && t >= 0, fn, "times", t, "finite times >= 0");
      if (evo.dynamics() == Dynamics::gradient_descent)
        require(t == std::floor(t), fn, "times", t, "whole numbers of steps for Dynamics::gradient_descent");
    }
  }
}

template <class Scalar>
void noisy_check_test(const char* fn, const LinearizedEvolution<Scalar>& evo, const NoisyRef<Scalar>& ttx,
                const NoisyRef<Scalar>& tt, const NoisyRef<Scalar>& f0_test) {
  require_shape(fn, "theta_test_train", ttx, -1, evo.num_samples());
  require(ttx.rows() >= 1, fn, "theta_test_train.rows()", ttx.rows(), "at least one test point");
  require_finite(fn, "theta_test_train", ttx);
  require_shape(fn, "theta_test", tt, ttx.rows(), ttx.rows());
  require_finite(fn, "theta_test", tt);
  require_shape(fn, "f0_test", f0_test, evo.num_outputs(), ttx.rows());
  require_finite(fn, "f0_test", f0_test);
}

/// The noise covariances at one time t (train; and test when P = Θ(X*,X)V is non-empty).
template <class Scalar>
struct NoiseMoments {
  MatrixX<Scalar> train, cross, test;
};

template <class Scalar>
NoiseMoments<Scalar> noise_moments(const LinearizedEvolution<Scalar>& evo, const NoiseCoefficients& c,
                                   const MatrixX<Scalar>& proj, const NoisyRef<Scalar>& theta_test,
                                   double t) {
  const Index n = evo.num_samples();
  const Scalar kappa = evo.learning_rate() / Scalar(n);
  const Scalar nu = Scalar(n) * evo.weight_decay();
  const Dynamics dyn = evo.dynamics();
  const MatrixX<Scalar>& v = evo.eigenvectors();
  const VectorX<Scalar> mu = evo.eigenvalues().cwiseMax(Scalar(0));
  const Scalar alpha = Scalar(c.alpha), beta = Scalar(c.beta);
  VectorX<Scalar> w(n), train_diag(n), cross_diag(n), test_diag(n);
  for (Index i = 0; i < n; ++i) {
    w[i] = noise_accumulation(dyn, kappa, mu[i] + nu, t);
    train_diag[i] = (alpha * mu[i] + beta * mu[i] * mu[i]) * w[i];
    cross_diag[i] = (alpha + beta * mu[i]) * w[i];
    test_diag[i] = beta * w[i];
    if (alpha != Scalar(0)) test_diag[i] += alpha * noise_accumulation_difference(dyn, kappa, mu[i], nu, t);
  }
  NoiseMoments<Scalar> m;
  m.train.noalias() = v * train_diag.asDiagonal() * v.transpose();
  if (proj.size() > 0) {
    m.cross.noalias() = proj * cross_diag.asDiagonal() * v.transpose();
    m.test.noalias() = proj * test_diag.asDiagonal() * proj.transpose();
    if (alpha != Scalar(0)) m.test += (alpha * noise_accumulation(dyn, kappa, nu, t)) * theta_test;
  }
  return m;
}

inline Outcome noisy_overflow(const char* what, double t) {
  return Outcome::failure(Status::non_finite, -1, t,
                          std::string(what) + " overflowed at t = " + sgdsde::detail::describe(t) +
                              " (GD with η(μ_max + Nλ)/N > 2 grows geometrically)");
}

template <class Scalar>
NoisyOutputs<Scalar> noisy_outputs_impl(const char* fn, const LinearizedEvolution<Scalar>& evo,
                                        const NoiseModel& noise, const NoisyRef<Scalar>& f0,
                                        const NoisyRef<Scalar>* ttx,
                                        const NoisyRef<Scalar>* tt,
                                        const NoisyRef<Scalar>* f0_test,
                                        const std::vector<double>& times) {
  noisy_check(fn, evo, f0, times, true);
  if (ttx) noisy_check_test(fn, evo, *ttx, *tt, *f0_test);
  const NoiseCoefficients c = noise_coefficients(fn, noise, double(evo.learning_rate()), double(evo.num_samples()));
  NoisyOutputs<Scalar> out;
  out.times = times;
  if (evo.outcome().status == Status::not_positive_definite) {
    out.outcome = evo.outcome();
    return out;
  }
  OutputTrajectory<Scalar> mean = evo.train_outputs(f0, times);
  out.mean = std::move(mean.outputs);
  out.outcome = mean.outcome;
  MatrixX<Scalar> proj;
  if (ttx) {
    OutputTrajectory<Scalar> tm = evo.test_outputs(*ttx, f0, *f0_test, times);
    out.test_mean = std::move(tm.outputs);
    if (out.outcome.ok()) out.outcome = tm.outcome;
    proj = evo.test_projection(*ttx);
  }
  const MatrixX<Scalar> none;
  for (double t : times) {
    NoiseMoments<Scalar> m = noise_moments(evo, c, proj, ttx ? *tt : NoisyRef<Scalar>(none), t);
    if (out.outcome.ok() && (!all_finite(m.train) || !all_finite(m.cross) || !all_finite(m.test)))
      out.outcome = noisy_overflow("the output covariance", t);
    out.covariance.push_back(std::move(m.train));
    if (ttx) {
      out.test_train_covariance.push_back(std::move(m.cross));
      out.test_covariance.push_back(std::move(m.test));
    }
  }
  return out;
}

}  // namespace detail

/// Mean and covariance of the train outputs f_t(X) at each time (t in steps; whole numbers for GD) under
/// `noise`, given the initial outputs f0 (k × N) of the linearised network described by `evo` (its Θ, Y, η, λ,
/// dynamics; ONE eigendecomposition Θ = V diag(μ) Vᵀ, reused). With κ = η/N, ν = Nλ, per-step output noise
/// αΘ + βΘ² (ParameterNoise: α = σ²η²/M; OutputNoise: β = σ²η²/N²):
///   E f_t = the noiseless evolution (evo.train_outputs);  Cov f_t(X) = V diag((αμ_i + βμ_i²) W(μ_i + ν, t)) Vᵀ,
/// W(μ', t) = Σ_{r<t} (1 − κμ')^{2r} (GD) or ∫₀ᵗ e^{−2κμ's} ds (flow, the SDE with the same per-step noise).
/// Outcome: evo's failure status, or non_finite when an unstable GD overflows.
template <class Scalar>
NoisyOutputs<Scalar> noisy_outputs(const LinearizedEvolution<Scalar>& evo, const NoiseModel& noise,
                                   const detail::NoisyRef<Scalar>& f0, const std::vector<double>& times) {
  return detail::noisy_outputs_impl<Scalar>("noisy_outputs", evo, noise, f0, nullptr, nullptr, nullptr, times);
}

/// As above, and at test points X* given Θ(X*, X) (N* × N), Θ(X*, X*) (N* × N*) and f_0(X*) (k × N*):
///   Cov(f_t(X*), f_t(X)) = Θ(X*,X) V diag((α + βμ_i) W(μ_i + ν, t)) Vᵀ,
///   Cov f_t(X*) = α W(ν, t) Θ(X*,X*) + Θ(X*,X) V diag(α [W(μ_i+ν,t) − W(ν,t)]/μ_i + β W(μ_i+ν,t)) Vᵀ Θ(X,X*).
/// For parameter noise without weight decay (ν = 0, W(0, t) = t) the test variance grows ∝ t along the
/// directions of parameter space the training gradients do not span: rate α[Θ(x*,x*) − Θ(x*,X)Θ⁻¹Θ(X,x*)].
template <class Scalar>
NoisyOutputs<Scalar> noisy_outputs(const LinearizedEvolution<Scalar>& evo, const NoiseModel& noise,
                                   const detail::NoisyRef<Scalar>& f0,
                                   const detail::NoisyRef<Scalar>& theta_test_train,
                                   const detail::NoisyRef<Scalar>& theta_test,
                                   const detail::NoisyRef<Scalar>& f0_test, const std::vector<double>& times) {
  return detail::noisy_outputs_impl<Scalar>("noisy_outputs", evo, noise, f0, &theta_test_train, &theta_test,
                                            &f0_test, times);
}

/// Expected train MSE at each time: E (1/N)‖f_t(X) − Y‖²_F = (1/N)‖E f_t − Y‖²_F + (k/N) Σ_i (αμ_i + βμ_i²) W(μ_i+ν, t)
/// (the corrected Lemma 3, divided by N, for k outputs). Costs O(N²k) per time (no N × N covariance formed).
template <class Scalar>
NoisyMse<Scalar> expected_mse(const LinearizedEvolution<Scalar>& evo, const NoiseModel& noise,
                              const detail::NoisyRef<Scalar>& f0, const std::vector<double>& times) {
  constexpr const char* fn = "expected_mse";
  detail::noisy_check(fn, evo, f0, times, true);
  const detail::NoiseCoefficients c =
      detail::noise_coefficients(fn, noise, double(evo.learning_rate()), double(evo.num_samples()));
  NoisyMse<Scalar> out;
  out.times = times;
  if (evo.outcome().status == Status::not_positive_definite) {
    out.outcome = evo.outcome();
    return out;
  }
  const Index n = evo.num_samples();
  const Scalar kappa = evo.learning_rate() / Scalar(n), nu = Scalar(n) * evo.weight_decay();
  const VectorX<Scalar> mu = evo.eigenvalues().cwiseMax(Scalar(0));
  OutputTrajectory<Scalar> mean = evo.train_outputs(f0, times);
  out.outcome = mean.outcome;
  for (std::size_t j = 0; j < times.size(); ++j) {
    Scalar noise_part = 0;
    for (Index i = 0; i < n; ++i)
      noise_part += (Scalar(c.alpha) * mu[i] + Scalar(c.beta) * mu[i] * mu[i]) *
                    detail::noise_accumulation(evo.dynamics(), kappa, mu[i] + nu, times[j]);
    noise_part *= Scalar(evo.num_outputs()) / Scalar(n);
    out.train_noise.push_back(noise_part);
    out.train.push_back((mean.outputs[j] - evo.targets()).squaredNorm() / Scalar(n) + noise_part);
    using std::isfinite;
    if (out.outcome.ok() && !isfinite(out.train.back()))
      out.outcome = detail::noisy_overflow("the expected MSE", times[j]);
  }
  return out;
}

/// Expected train and test MSE at each time; test MSE = (1/N*) E‖f_t(X*) − Y*‖²_F with the test covariance
/// of noisy_outputs. targets_test is k × N*.
template <class Scalar>
NoisyMse<Scalar> expected_mse(const LinearizedEvolution<Scalar>& evo, const NoiseModel& noise,
                              const detail::NoisyRef<Scalar>& f0,
                              const detail::NoisyRef<Scalar>& theta_test_train,
                              const detail::NoisyRef<Scalar>& theta_test,
                              const detail::NoisyRef<Scalar>& f0_test,
                              const detail::NoisyRef<Scalar>& targets_test, const std::vector<double>& times) {
  constexpr const char* fn = "expected_mse";
  detail::noisy_check(fn, evo, f0, times, true);
  detail::noisy_check_test(fn, evo, theta_test_train, theta_test, f0_test);
  require_shape(fn, "targets_test", targets_test, evo.num_outputs(), theta_test_train.rows());
  require_finite(fn, "targets_test", targets_test);
  NoisyOutputs<Scalar> law =
      detail::noisy_outputs_impl<Scalar>(fn, evo, noise, f0, &theta_test_train, &theta_test, &f0_test, times);
  NoisyMse<Scalar> out;
  out.times = times;
  out.outcome = law.outcome;
  if (law.mean.size() != times.size() || law.covariance.size() != times.size()) return out;
  const Scalar k = Scalar(evo.num_outputs()), n = Scalar(evo.num_samples()), ns = Scalar(theta_test_train.rows());
  for (std::size_t j = 0; j < times.size(); ++j) {
    out.train_noise.push_back(k * law.covariance[j].trace() / n);
    out.train.push_back((law.mean[j] - evo.targets()).squaredNorm() / n + out.train_noise.back());
    out.test_noise.push_back(k * law.test_covariance[j].trace() / ns);
    out.test.push_back((law.test_mean[j] - targets_test).squaredNorm() / ns + out.test_noise.back());
    using std::isfinite;
    if (out.outcome.ok() && !(isfinite(out.train.back()) && isfinite(out.test.back())))
      out.outcome = detail::noisy_overflow("the expected MSE", times[j]);
  }
  return out;
}

namespace detail {

template <class Scalar>
NoisyLimit<Scalar> noisy_limit_impl(const char* fn, const LinearizedEvolution<Scalar>& evo, const NoiseModel& noise,
                                    const detail::NoisyRef<Scalar>& f0,
                                    const NoisyRef<Scalar>* ttx,
                                    const NoisyRef<Scalar>* tt,
                                    const NoisyRef<Scalar>* f0_test,
                                    const NoisyRef<Scalar>* y_test) {
  noisy_check(fn, evo, f0, {}, false);
  if (ttx) {
    noisy_check_test(fn, evo, *ttx, *tt, *f0_test);
    require_shape(fn, "targets_test", *y_test, evo.num_outputs(), ttx->rows());
    require_finite(fn, "targets_test", *y_test);
  }
  require(evo.weight_decay() == Scalar(0) || evo.target() == RegularizationTarget::initial_parameters, fn,
          "evo.target()", "zero", "RegularizationTarget::initial_parameters when the weight decay is > 0");
  const NoiseCoefficients c = noise_coefficients(fn, noise, double(evo.learning_rate()), double(evo.num_samples()));
  NoisyLimit<Scalar> out;
  if (evo.outcome().status == Status::not_positive_definite || evo.outcome().status == Status::unstable_step) {
    out.outcome = evo.outcome();
    return out;
  }
  const Index n = evo.num_samples();
  const Scalar kappa = evo.learning_rate() / Scalar(n), nu = Scalar(n) * evo.weight_decay();
  const MatrixX<Scalar>& v = evo.eigenvectors();
  VectorX<Scalar> mu = evo.eigenvalues().cwiseMax(Scalar(0));
  const Scalar mu_max = mu.size() ? mu.maxCoeff() : Scalar(0);
  // At t = ∞ a mode with μ_i > 0 relaxes however small μ_i is, a mode with μ_i = 0 never moves: eigenvalues at
  // rounding level (≤ N·ε·μ_max) are taken as 0, so that 1/μ_i of rounding noise does not enter the limit.
  const Scalar zero_cut = Scalar(n) * std::numeric_limits<Scalar>::epsilon() * mu_max;
  mu = (mu.array() <= zero_cut).select(Scalar(0), mu);
  if (evo.dynamics() == Dynamics::gradient_descent && kappa * (mu_max + nu) >= Scalar(2)) {
    out.outcome = Outcome::failure(Status::unstable_step, -1, double(kappa * (mu_max + nu)),
                                   "GD with η(μ_max + Nλ)/N >= 2 has no stationary law");
    return out;
  }
  // Limit mean: the residual keeps (1 − μ_i/μ'_i) of each mode (all of it when μ'_i = 0: the mode never moves).
  const MatrixX<Scalar> r0 = f0 - evo.targets();
  VectorX<Scalar> keep(n), phi(n), train_diag(n), cross_diag(n), test_diag(n);
  const Scalar w0 = noise_accumulation(evo.dynamics(), kappa, nu, std::numeric_limits<double>::infinity());
  for (Index i = 0; i < n; ++i) {
    const Scalar mp = mu[i] + nu;
    keep[i] = mp > Scalar(0) ? nu / mp : Scalar(1);
    phi[i] = mp > Scalar(0) ? Scalar(1) / mp : Scalar(0);
    const Scalar w = noise_accumulation(evo.dynamics(), kappa, mp, std::numeric_limits<double>::infinity());
    const Scalar q = Scalar(c.alpha) * mu[i] + Scalar(c.beta) * mu[i] * mu[i];
    train_diag[i] = q > Scalar(0) ? q * w : Scalar(0);  // a mode without noise stays put even if W = ∞
    cross_diag[i] = (Scalar(c.alpha) + Scalar(c.beta) * mu[i]) * (mp > Scalar(0) ? w : Scalar(0));
    test_diag[i] = (c.beta > 0 && mp > Scalar(0)) ? Scalar(c.beta) * w : Scalar(0);
    if (c.alpha > 0 && nu > Scalar(0))
      test_diag[i] += Scalar(c.alpha) * noise_accumulation_difference(evo.dynamics(), kappa, mu[i], nu,
                                                                     std::numeric_limits<double>::infinity());
  }
  out.mean = evo.targets() + (r0 * v) * keep.asDiagonal() * v.transpose();
  out.covariance.noalias() = v * train_diag.asDiagonal() * v.transpose();
  out.train_noise = Scalar(evo.num_outputs()) * train_diag.sum() / Scalar(n);
  out.train_mse = (out.mean - evo.targets()).squaredNorm() / Scalar(n) + out.train_noise;
  if (!ttx) return out;
  const MatrixX<Scalar> proj = evo.test_projection(*ttx);
  const Scalar ns = Scalar(ttx->rows());
  if (c.alpha > 0 && nu == Scalar(0)) {
    // Growth rate per step α[Θ(x*,x*) − Σ_i (Θ(x*,X)v_i)²/μ_i], modes below √ε·μ_max left out (they carry
    // no training signal that can be resolved); clamped at 0.
    using std::sqrt;
    const Scalar cut = sqrt(std::numeric_limits<Scalar>::epsilon()) * mu_max;
    Scalar worst = 0;
    for (Index j = 0; j < proj.rows(); ++j) {
      Scalar s = (*tt)(j, j);
      for (Index i = 0; i < n; ++i)
        if (mu[i] > cut) s -= proj(j, i) * proj(j, i) / mu[i];
      worst = std::max(worst, s);
    }
    out.outcome = Outcome::failure(Status::diverged, -1, double(Scalar(c.alpha) * worst),
                                   "parameter noise without weight decay: the test-output variance grows "
                                   "linearly in t (the noise random-walks in parameter directions orthogonal "
                                   "to the training gradients); no t → ∞ test law");
    return out;
  }
  out.test_mean = *f0_test - (r0 * v) * phi.asDiagonal() * proj.transpose();
  out.test_train_covariance.noalias() = proj * cross_diag.asDiagonal() * v.transpose();
  out.test_covariance.noalias() = proj * test_diag.asDiagonal() * proj.transpose();
  if (c.alpha > 0) out.test_covariance += (Scalar(c.alpha) * w0) * *tt;
  out.test_noise = Scalar(evo.num_outputs()) * out.test_covariance.trace() / ns;
  out.test_mse = (out.test_mean - *y_test).squaredNorm() / ns + out.test_noise;
  return out;
}

}  // namespace detail

/// The t → ∞ law on the training set: mean = Y + (f0 − Y) V diag(Nλ/(μ_i + Nλ)) Vᵀ (modes with μ_i + Nλ = 0
/// never move; eigenvalues ≤ N·ε·μ_max count as 0), covariance V diag((αμ_i + βμ_i²) W(μ_i + ν, ∞)) Vᵀ with W(μ', ∞) = 1/(κμ'(2 − κμ')) (GD) or
/// 1/(2κμ') (flow). For parameter noise without weight decay the noise part of the train MSE is
/// (kσ²η/M) Σ_{μ_i>0} 1/(2 − ημ_i/N) (GD) or kσ²η·rank(Θ)/(2M) (flow): set by σ²η/M, not by Θ's scale. Status unstable_step for
/// GD with η(μ_max + Nλ)/N ≥ 2. Weight decay needs RegularizationTarget::initial_parameters (else throws).
template <class Scalar>
NoisyLimit<Scalar> noisy_limit(const LinearizedEvolution<Scalar>& evo, const NoiseModel& noise,
                               const detail::NoisyRef<Scalar>& f0) {
  return detail::noisy_limit_impl<Scalar>("noisy_limit", evo, noise, f0, nullptr, nullptr, nullptr, nullptr);
}

/// As above, and at test points (limit of noisy_outputs' test formulas). Parameter noise without weight decay
/// has no test limit: status diverged (see NoisyLimit::outcome), train fields still filled.
template <class Scalar>
NoisyLimit<Scalar> noisy_limit(const LinearizedEvolution<Scalar>& evo, const NoiseModel& noise,
                               const detail::NoisyRef<Scalar>& f0,
                               const detail::NoisyRef<Scalar>& theta_test_train,
                               const detail::NoisyRef<Scalar>& theta_test,
                               const detail::NoisyRef<Scalar>& f0_test,
                               const detail::NoisyRef<Scalar>& targets_test) {
  return detail::noisy_limit_impl<Scalar>("noisy_limit", evo, noise, f0, &theta_test_train, &theta_test, &f0_test,
                                          &targets_test);
}

}  // namespace sgdsde::ntk
