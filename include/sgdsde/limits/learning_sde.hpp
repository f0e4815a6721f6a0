// sgdsde/limits/learning_sde.hpp — the learning SDE of a per-sample model as an sde problem:
// dX = −∇L(X) dt + √(ηκ) C(X)^{1/2} dW (Jastrzębski et al. 2018 eq. 5; Li, Tai & E 2017/2019, SME1),
// or with the SME2 drift −∇(L + (η/4)‖∇L‖²) = −∇L − (η/2) H∇L (Li, Tai & E 2017, Thm 3), time t = kη.
//
// The noise is sampled without forming C: with N Brownian motions W_n (noise_dim() = N) the increment
//   √(ηκ/N) Σ_n (ΔW_n − mean_m ΔW_m) ∇l_n(X)
// has covariance (ηκ/N) Σ_nm (δ_nm − 1/N) ∇l_n ∇l_mᵀ dt = ηκ C dt, the law of √(ηκ) C^{1/2} ΔW: one
// weighted backward pass (model.weighted_gradient) per path and step.
//
//   auto model = limits::mlp_model(net, nn::SoftmaxCrossEntropy(labels), inputs);
//   limits::LearningSdeOptions o;  o.learning_rate = 0.05;  o.sampler = with_replacement(32);
//   auto sde = limits::learning_sde(model, o);
//   auto paths = integrate(sde, EulerMaruyama{}, theta0, sde.time_grid(/*horizon*/ 5.0, /*substeps*/ 2),
//                          Ensemble(64), RandomStream(1));
#pragma once

#include <cmath>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/limits/model.hpp"
#include "sgdsde/sde/problem.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde::limits {

/// Which stochastic modified equation: SME1 (drift −∇L, weak order 1 in η) or SME2 (drift
/// −∇L − (η/2) H∇L, weak order 2 in η for smooth losses); the diffusion √(ηκ) C^{1/2} is the same.
enum class ModifiedEquation { sme1, sme2 };

/// Options of learning_sde: the SGD learning rate η (> 0, finite), the sampler whose SDE limit is taken
/// (with_replacement(S): κ = 1/S; fresh_subset(S): κ = (N−S)/(S(N−1)); constant S only) and the equation.
struct LearningSdeOptions {
  double learning_rate = 0;
  Sampler sampler = with_replacement(1);
  ModifiedEquation equation = ModifiedEquation::sme1;
};

namespace detail {
/// κ = noise_law(sampler, N).variance_factor for the samplers with a Markov SDE limit; throws otherwise.
inline double learning_sde_kappa(const char* fn, const Sampler& sampler, Index n) {
  require(!std::holds_alternative<ShuffledEpochs>(sampler), fn, "options.sampler", "shuffled_epochs",
          "with_replacement or fresh_subset: shuffled epochs have no Markov SDE limit (the batches of one epoch "
          "are drawn without replacement from the same permutation, so successive gradient noises are correlated "
          "and theta alone is not a Markov state)");
  require(batch_size_of(sampler).is_constant(), fn, "options.sampler", "a cyclic batch size",
          "a constant batch size: with S varying from step to step the noise scale eta*kappa changes every step "
          "and there is no Markov SDE limit at a fixed eta");
  if (std::holds_alternative<FreshSubset>(sampler))
    require(batch_size_of(sampler).low <= n, fn, "options.sampler",
            "fresh_subset(" + std::to_string(batch_size_of(sampler).low) + ")",
            ("a batch size S <= N = " + std::to_string(n) + " without replacement").c_str());
  return noise_law(sampler, n).variance_factor;
}
}  // namespace detail

/// The learning SDE of `Model` (any model of limits/model.hpp) as an sde problem with general noise:
/// dim() = P, noise_dim() = N. The diffusion workspace G holds the state itself (diffusion_rows() = P:
/// diffusion() copies X into G), and add_noise(G, ΔW, scale, out) adds
/// scale·√(ηκ/N) Σ_n (ΔW_n − mean ΔW) ∇l_n(G_p) to each column p: the matrix-free C^{1/2}. So every
/// stepper that calls diffusion() and add_noise() at the points where it wants G works: EulerMaruyama
/// (Itô, the learning SDE), StochasticHeun (converges to the STRATONOVICH SDE with this diffusion, a
/// different process unless C is constant); Milstein refuses general noise. EulerMaruyama uses the fused
/// euler_maruyama_step (SME1: drift and noise in ONE weighted backward pass, weights
/// −dt/N + √(ηκ/N)(ΔW_n − mean ΔW)). Holds a copy of the model (mlp_model's copy views the caller's data).
/// The const members allocate their workspaces per call and may run concurrently (integrate's chunks).
template <class Model>
class LearningSde {
 public:
  using Scalar = typename Model::Scalar;
  using scalar_type = Scalar;
  using Vector = VectorX<Scalar>;
  using Matrix = MatrixX<Scalar>;
  static constexpr NoiseKind noise_kind = NoiseKind::general;
  static constexpr bool has_linear_drift = false;
  static constexpr bool has_diffusion_derivative = false;

  /// Throws invalid_argument (function learning_sde) for η ≤ 0, NaN or ±Inf (options.learning_rate), a
  /// sampler without a Markov SDE limit or with S > N (options.sampler), an unknown options.equation.
  LearningSde(const Model& model, const LearningSdeOptions& options) : model_(model), options_(options) {
    constexpr const char* fn = "learning_sde";
    const double eta = options.learning_rate;
    require(std::isfinite(eta) && eta > 0, fn, "options.learning_rate", eta, "a finite learning rate eta > 0");
    require(std::isfinite(double(Scalar(eta))) && Scalar(eta) > Scalar(0), fn, "options.learning_rate", eta,
            "a learning rate representable (finite, > 0) in the model's scalar");
    require(options.equation == ModifiedEquation::sme1 || options.equation == ModifiedEquation::sme2, fn,
            "options.equation", int(options.equation), "ModifiedEquation::sme1 or ModifiedEquation::sme2");
    kappa_ = detail::learning_sde_kappa(fn, options.sampler, model.num_samples());
    noise_scale_ = Scalar(std::sqrt(eta * kappa_ / double(model.num_samples())));
  }

  Index dim() const { return model_.num_parameters(); }
  Index noise_dim() const { return model_.num_samples(); }
  /// P: G holds the state (see the class comment).
  Index diffusion_rows() const { return dim(); }
  const Model& model() const { return model_; }
  const LearningSdeOptions& options() const { return options_; }
  double learning_rate() const { return options_.learning_rate; }
  ModifiedEquation equation() const { return options_.equation; }
  /// κ of the sampler: the minibatch gradient has covariance κ C.
  double variance_factor() const { return kappa_; }
  /// √(ηκ/N), the factor of the centred Brownian weights.
  Scalar noise_scale() const { return noise_scale_; }

  /// F = −∇L(X_p) (SME1) or −∇L − (η/2) H∇L (SME2) for every column p of X (P × M).
  void drift(Scalar, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> F) const {
    auto w = model_.workspace();
    Vector g(dim()), hg(dim());
    for (Index p = 0; p < X.cols(); ++p) {
      drift_into(X.col(p), F.col(p), g, hg, w);
    }
  }
  /// The drift at one θ (returning form).
  Vector drift_at(const Eigen::Ref<const Vector>& theta) const {
    sgdsde::limits::detail::check_theta("LearningSde::drift_at", "theta", theta, dim());
    auto w = model_.workspace();
    Vector f(dim()), g(dim()), hg(dim());
    drift_into(theta, f, g, hg, w);
    return f;
  }

  /// G = X (the state; the diffusion is applied matrix-free in add_noise).
  void diffusion(Scalar, const Eigen::Ref<const Matrix>& X, Eigen::Ref<Matrix> G) const { G = X; }

  /// out_p += scale·√(ηκ/N) Σ_n (dW_np − mean_n dW_np) ∇l_n(G_p) for every path p (dW is N × M).
  void add_noise(const Matrix& G, const Matrix& dW, Scalar scale, Eigen::Ref<Matrix> out) const {
    auto w = model_.workspace();
    Vector weights(noise_dim()), tmp(dim());
    for (Index p = 0; p < out.cols(); ++p) {
      centred_weights(dW.col(p), scale * noise_scale_, Scalar(0), weights);
      model_.weighted_gradient(G.col(p), weights, tmp, w);
      out.col(p) += tmp;
    }
  }

  /// One Euler–Maruyama step X ← X + f(X) dt + √(ηκ) C(X)^{1/2} ΔW of every column, used by
  /// EulerMaruyama (sde/euler_maruyama.hpp). SME1: one weighted pass with weights
  /// −dt/N + √(ηκ/N)(ΔW_n − mean ΔW) (Σ_n (1/N)∇l_n = ∇L). SME2: that pass plus −dt(η/2) H∇L.
  /// Throws (function integrate, argument dt) for a step dt > η (see check_time_step).
  void euler_maruyama_step(Scalar t, Scalar dt, const Matrix& dW, Eigen::Ref<Matrix> X) const {
    if (!(double(dt) <= options_.learning_rate)) check_time_step("integrate", double(dt), double(t));
    auto w = model_.workspace();
    const Scalar mean_weight = -dt / Scalar(double(noise_dim()));
    Vector weights(noise_dim()), delta(dim()), g, hg;
    if (options_.equation == ModifiedEquation::sme2) {
      g.resize(dim());
      hg.resize(dim());
    }
    for (Index p = 0; p < X.cols(); ++p) {
      centred_weights(dW.col(p), noise_scale_, mean_weight, weights);
      model_.weighted_gradient(X.col(p), weights, delta, w);
      if (options_.equation == ModifiedEquation::sme2) {
        model_.gradient(X.col(p), g, w);
        model_.hessian_vector_product(X.col(p), g, hg, w);
        delta -= (dt * Scalar(0.5 * options_.learning_rate)) * hg;
      }
      X.col(p) += delta;
    }
  }

  /// The diffusion covariance per unit time ηκ C(θ) (P × P) from the per-sample gradients: small P only
  /// (for checks; the SDE never forms it).
  Matrix diffusion_covariance(const Eigen::Ref<const Vector>& theta) const {
    Matrix g = model_.per_sample_gradients(theta);
    g.colwise() -= Vector(g.rowwise().mean());
    Matrix c(dim(), dim());
    c.noalias() = g * g.transpose();
    c *= Scalar(options_.learning_rate * kappa_ / double(noise_dim()));
    return c;
  }

  /// The grid of `horizon` (SDE time T = kη, > 0 finite) in steps dt = η/substeps (substeps ≥ 1): the SDE
  /// discretisation whose error is separated from the SGD–SDE gap by varying substeps.
  TimeGrid<Scalar> time_grid(double horizon, long substeps) const {
    constexpr const char* fn = "LearningSde::time_grid";
    require(substeps >= 1, fn, "substeps", substeps, "an integer m >= 1 (dt = eta / m)");
    require(std::isfinite(horizon) && horizon > 0, fn, "horizon", horizon, "a finite SDE time T > 0");
    return TimeGrid<Scalar>(Scalar(0), Scalar(horizon), Scalar(options_.learning_rate / double(substeps)));
  }
  /// Throws unless 0 < dt ≤ η (named `dt` of function `fn`): a step longer than one SGD step is outside
  /// the regime the learning SDE models. Slack for the rounding of grid times: dt may exceed η by
  /// 10⁻³η + 4ε(|t| + dt) (ε of Scalar; t the time of the step).
  void check_time_step(const char* fn, double dt, double t = 0) const {
    const double eta = options_.learning_rate;
    const double slack = 1e-3 * eta + 4 * double(Eigen::NumTraits<Scalar>::epsilon()) * (std::abs(t) + std::abs(dt));
    if (std::isfinite(dt) && dt > 0 && dt <= eta + slack) return;
    require(false, fn, "dt", dt,
            ("0 < dt <= eta = " + sgdsde::detail::describe(eta) +
             " (the SDE time step must not exceed one SGD step; use dt = eta/m, m >= 1)")
                .c_str());
  }

  /// Throws unless X is P × M with M ≥ 1 and finite (argument named `name`).
  void check_state(const char* function, const char* name, const Eigen::Ref<const Matrix>& X) const {
    require_shape(function, name, X, dim(), -1);
    require(X.cols() > 0, function, "paths", X.cols(), "at least one path (column)");
    require_finite(function, name, X);
  }

 private:
  template <class DW>
  void centred_weights(const Eigen::MatrixBase<DW>& dw, Scalar factor, Scalar shift, Vector& weights) const {
    const Scalar mean = dw.mean();
    weights = (factor * (dw.array() - mean) + shift).matrix();
  }

  template <class DX, class DF, class W>
  void drift_into(const DX& x, DF&& f, Vector& g, Vector& hg, W& w) const {
    model_.gradient(x, g, w);
    if (options_.equation == ModifiedEquation::sme2) {
      model_.hessian_vector_product(x, g, hg, w);
      f = -g - Scalar(0.5 * options_.learning_rate) * hg;
    } else {
      f = -g;
    }
  }

  Model model_;
  LearningSdeOptions options_;
  double kappa_ = 0;
  Scalar noise_scale_ = Scalar(0);
};

/// The learning SDE of `model` (mlp_model, regression_model, quadratic_model) for SGD with
/// options.learning_rate and options.sampler (see LearningSde). Throws as LearningSde's constructor.
template <class Model>
LearningSde<Model> learning_sde(const Model& model, const LearningSdeOptions& options) {
  return LearningSde<Model>(model, options);
}

}  // namespace sgdsde::limits
