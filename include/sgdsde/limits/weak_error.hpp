// sgdsde/limits/weak_error.hpp — the weak error of SGD against its stochastic modified equations SME1 and
// SME2 across a ladder of learning rates, with fitted orders (Li, Tai & E 2017 Thm 1, 2019 Thms 3 and 4:
// |E φ(θ_k) − E φ(X_kη)| = O(η) for SME1 and O(η²) for SME2 at fixed T = kη).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/limits/learning_sde.hpp"
#include "sgdsde/limits/trajectories.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/convergence.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde::limits {

/// Options of weak_error_study.
struct WeakErrorOptions {
  std::vector<double> learning_rates;    ///< ≥ 2 distinct η > 0 (a geometric ladder), each dividing T
  double horizon = 0;                    ///< T > 0: SGD runs T/η steps, the SDEs to time T
  Sampler sampler = with_replacement(1); ///< with_replacement or fresh_subset
  long runs = 0;                         ///< R ≥ 2 independent runs per η (SGD and SDE each)
  /// {m, 2m}: the SDEs are integrated at dt = η/m and η/(2m) on one Brownian path and extrapolated,
  /// 2E_{2m} − E_m (Talay–Tubaro), so their own O(dt) error is removed.
  std::vector<long> substeps{2, 4};
  /// Adds to each run a zero-mean control variate (the first-order response of φ to the gradient noise
  /// along the deterministic gradient-descent path, see weak_error_study); off gives plain Monte Carlo.
  bool control_variate = true;
  std::uint64_t seed = 0;
  Threads threads{};
};

/// One learning rate of the study. Every estimate is a mean over R runs with its standard error.
struct WeakErrorPoint {
  double learning_rate = 0;
  long steps = 0;                            ///< T/η SGD steps
  ErrorEstimate sgd;                         ///< E φ(θ_{T/η}) of SGD
  ErrorEstimate sgd_plain;                   ///< the same without the control variate (its variance shows the gain)
  ErrorEstimate sme1, sme2;                  ///< E φ(X_T), Euler–Maruyama extrapolated to dt → 0
  ErrorEstimate gap_sme1, gap_sme2;          ///< E φ(SGD) − E φ(SDE); SE √(SE_sgd² + SE_sde²) (independent runs)
  ErrorEstimate sde_discretisation_sme1;     ///< E_{2m} − E_m = the correction Richardson adds to E_{2m}
  ErrorEstimate sde_discretisation_sme2;
  long failed_runs = 0;                      ///< runs with a non-finite θ, X or φ (left out of the means)
};

/// The study: points in the order of options.learning_rates and the fitted orders of |gap| against η.
/// `*_fit` is fit_order's unweighted least-squares line of log|gap| on log η; its standard_error is the
/// residual one (√(RSS/(n−2)/Sxx), which sees Monte Carlo scatter and curvature of the line alike).
/// `*_order_mc_standard_error` is the Monte Carlo part alone by the delta method,
/// √(Σ_i w_i² (SE_i/gap_i)²) with w_i = (log η_i − mean)/Sxx the slope's weights (valid while
/// SE_i ≪ |gap_i|; docs/theory.md "Standard error of a fitted order").
struct WeakErrorStudy {
  std::vector<WeakErrorPoint> points;
  OrderFit sme1_fit, sme2_fit;
  double sme1_order_mc_standard_error = 0, sme2_order_mc_standard_error = 0;
  Outcome outcome;
};

namespace detail {

/// The increments of a coarse grid (step dt) as sums of pairs of the fine increments (step dt/2) of
/// BrownianIncrements(stream, m, 1): both grids then follow one Brownian path.
class PairedIncrements {
 public:
  PairedIncrements(const RandomStream& stream, Index noise_dim) : stream_(stream), m_(noise_dim), z_(2 * noise_dim) {}
  Index noise_dim() const { return m_; }
  Index paths() const { return 1; }
  template <class Derived>
  void increment(long step, typename Derived::Scalar, typename Derived::Scalar dt,
                 const Eigen::MatrixBase<Derived>& out) const {
    using std::sqrt;
    using Sc = typename Derived::Scalar;
    auto& o = const_cast<Eigen::MatrixBase<Derived>&>(out);
    stream_.normal_at(std::uint64_t(2 * step) * std::uint64_t(m_), z_);
    o.col(0) = (sqrt(dt / Sc(2)) * (z_.head(m_) + z_.tail(m_))).template cast<Sc>();
  }

 private:
  RandomStream stream_;
  Index m_;
  mutable Eigen::VectorXd z_;
};

/// Central finite-difference gradient of a scalar φ (step ε^{1/3}·max(1, |θ_j|)); zero if not finite.
template <class Phi, class S>
Eigen::VectorXd phi_gradient(const Phi& phi, const VectorX<S>& theta) {
  const Index p = theta.size();
  Eigen::VectorXd g(p);
  VectorX<S> x = theta;
  for (Index j = 0; j < p; ++j) {
    const double h = 6e-6 * std::max(1.0, std::abs(double(theta[j])));
    x[j] = S(double(theta[j]) + h);
    const double fp = double(phi(x));
    x[j] = S(double(theta[j]) - h);
    const double fm = double(phi(x));
    x[j] = theta[j];
    g[j] = (fp - fm) / (2 * h);
  }
  if (!all_finite(g)) g.setZero();
  return g;
}

/// c(n, k) = v_kᵀ(∇l_n(θ̄_k) − ∇L(θ̄_k)) along gradient descent θ̄_{k+1} = θ̄_k − η∇L(θ̄_k), with
/// v_{K−1} = ∇φ(θ̄_K), v_{k−1} = (I − ηH(θ̄_k)) v_k: the sensitivity of φ(θ̄_K) to a push at step k.
/// N × K. A zero matrix if the path leaves the finite numbers.
template <class Model, class Phi>
Eigen::MatrixXd control_variate_table(const Model& model, const VectorX<typename Model::Scalar>& theta0,
                                      const Phi& phi, double eta, long steps) {
  using S = typename Model::Scalar;
  const Index n = model.num_samples();
  std::vector<VectorX<S>> path(std::size_t(steps + 1));
  path[0] = theta0;
  for (long k = 0; k < steps; ++k) {
    path[std::size_t(k + 1)] = path[std::size_t(k)] - S(eta) * model.gradient(path[std::size_t(k)]);
    if (!all_finite(path[std::size_t(k + 1)])) return Eigen::MatrixXd::Zero(n, steps);
  }
  Eigen::MatrixXd table(n, steps);
  VectorX<S> v = phi_gradient(phi, path[std::size_t(steps)]).template cast<S>();
  for (long k = steps - 1; k >= 0; --k) {
    const VectorX<S>& th = path[std::size_t(k)];
    const MatrixX<S> g = model.per_sample_gradients(th);                // P × N
    const VectorX<S> mean = g.rowwise().mean();
    table.col(k) = (g.transpose() * v).template cast<double>().array() - double(mean.dot(v));
    if (k > 0) v -= S(eta) * model.hessian_vector_product(th, v);
  }
  if (!all_finite(table)) table.setZero();
  return table;
}

inline ErrorEstimate mean_and_error(const Eigen::VectorXd& x) {
  const double m = x.mean();
  const double var = x.size() > 1 ? (x.array() - m).square().sum() / double(x.size() - 1) : 0.0;
  return {m, std::sqrt(var / double(x.size()))};
}

inline ErrorEstimate difference(const ErrorEstimate& a, const ErrorEstimate& b) {
  return {a.value - b.value, std::sqrt(a.standard_error * a.standard_error + b.standard_error * b.standard_error)};
}

/// fit_order of |gap| on η, with the delta-method Monte Carlo SE of the slope (see WeakErrorStudy).
inline std::pair<OrderFit, double> fit_gap_order(const std::vector<double>& etas, const std::vector<ErrorEstimate>& gaps) {
  std::vector<double> y;
  for (const ErrorEstimate& g : gaps) y.push_back(std::abs(g.value));
  OrderFit fit = fit_order(etas, y);
  double mx = 0, sxx = 0, var = 0;
  for (double e : etas) mx += std::log(e) / double(etas.size());
  for (double e : etas) sxx += (std::log(e) - mx) * (std::log(e) - mx);
  for (std::size_t i = 0; i < etas.size(); ++i) {
    const double w = (std::log(etas[i]) - mx) / sxx, rel = gaps[i].standard_error / std::abs(gaps[i].value);
    var += w * w * rel * rel;
  }
  return {fit, std::sqrt(var)};
}

}  // namespace detail

/// Weak error of SGD against SME1 and SME2 at a fixed horizon T, for each η of options.learning_rates.
/// For each η and run r (r < R): one SGD run of K = T/η steps (batches from a stream of (seed, η index, r))
/// and, on an independent Brownian path, SME1 and SME2 (learning_sde with equations sme1, sme2) by
/// Euler–Maruyama at dt = η/m and η/(2m) on that one path; E φ(X_T) is the Richardson value
/// 2E_{2m} − E_m (weak order 1 of Euler–Maruyama, Talay & Tubaro 1990), and E_{2m} − E_m is reported as
/// sde_discretisation_*. φ: const, thread-safe callable (const VectorX<S>&) → a number.
/// Control variate (options.control_variate): each run adds Σ_k η v_kᵀ ε_k(θ̄_k) (SGD; ε_k the batch's
/// gradient noise evaluated on the deterministic GD path θ̄, v_k the backward sensitivity of φ) or
/// −Σ_k √(ηκ/N) Σ_n v_kᵀ(∇l_n − ∇L)(θ̄_k) ΔW_{k,n} (SDE): both have mean exactly 0 (the batch and ΔW
/// are independent of the deterministic θ̄, v), so the means are unchanged, but they cancel the
/// first-order response of φ to the noise, so Var falls from O(η) to about O(η²). ∇φ is taken by
/// central differences; the SDE part assumes the contract's noise layout (noise index n = sample n).
/// Runs are spread over options.threads; bit-identical for any thread count.
/// Throws sgdsde::invalid_argument for fewer than 2 learning rates or fewer than 2 distinct ones, an η
/// ≤ 0 or non-finite, T ≤ 0 or non-finite, T/η not an integer (to 1e-9), runs < 2, substeps not {m, 2m}
/// with m ≥ 1, θ₀ of the wrong size or non-finite, φ(θ₀) non-finite, a sampler without an SDE limit.
/// Runs that fail (non-finite) are left out and make the outcome non_finite; the fits are then still
/// given for the finished runs.
template <class Model, class Phi>
WeakErrorStudy weak_error_study(const Model& model, const VectorX<typename Model::Scalar>& theta0, Phi&& phi,
                                const WeakErrorOptions& options) {
  using S = typename Model::Scalar;
  constexpr const char* fn = "weak_error_study";
  detail::check_model_start(fn, model, theta0);
  require(options.learning_rates.size() >= 2, fn, "options.learning_rates.size()", options.learning_rates.size(),
          ">= 2 learning rates");
  require_positive(fn, "options.horizon", options.horizon);
  detail::check_runs(fn, options.runs);
  require(options.substeps.size() == 2 && options.substeps[0] >= 1 && options.substeps[1] == 2 * options.substeps[0],
          fn, "options.substeps", options.substeps.size() == 2 ? options.substeps[1] : long(options.substeps.size()),
          "two values {m, 2m} with m >= 1");
  std::vector<long> steps;
  for (double eta : options.learning_rates) {
    require(std::isfinite(eta) && eta > 0 && std::isnormal(eta), fn, "options.learning_rates", eta,
            "finite values > 0");
    const double r = options.horizon / eta;
    require(r <= 1e12 && std::abs(r - std::round(r)) <= 1e-9 * std::max(1.0, r) && std::round(r) >= 1, fn,
            "options.learning_rates", eta, "values dividing options.horizon (T/η a positive integer)");
    require(std::round(r) * 2 * double(options.substeps[0]) <= 0x1p62, fn, "options.substeps", options.substeps[0],
            "{m, 2m} with (T/eta)·2m <= 2^62 SDE steps");
    // The control variate stores the gradient-descent path (P × K) and the table c (N × K).
    require(!options.control_variate ||
                std::round(r) * double(model.num_samples() + model.num_parameters()) <= 1e9,
            fn, "options.learning_rates", eta,
            "values with (T/eta)·(N + P) <= 1e9 when options.control_variate is on (its tables are (N + P) × T/eta)");
    steps.push_back(long(std::llround(r)));
  }
  {
    const auto [lo, hi] = std::minmax_element(options.learning_rates.begin(), options.learning_rates.end());
    require(*hi > *lo, fn, "options.learning_rates", *lo, "at least two distinct learning rates");
  }
  {
    Eigen::VectorXd v(1);
    v[0] = double(phi(theta0));
    require(all_finite(v), fn, "phi(theta0)", v[0], "a finite value");
  }
  const Index n = model.num_samples();
  const long m = options.substeps[0];
  const int slots = parallel_slots(fn, options.runs, options.threads);
  std::vector<Model> models(std::size_t(slots), model);

  WeakErrorStudy study;
  for (std::size_t i = 0; i < options.learning_rates.size(); ++i) {
    const double eta = options.learning_rates[i];
    const long K = steps[i];
    LearningSdeOptions so;
    so.learning_rate = eta;
    so.sampler = options.sampler;
    so.equation = ModifiedEquation::sme1;
    const auto sme1 = learning_sde(model, so);
    so.equation = ModifiedEquation::sme2;
    const auto sme2 = learning_sde(model, so);
    const double kappa = sme1.variance_factor();
    const bool use_cv = options.control_variate && sme1.noise_dim() == n;
    const Eigen::MatrixXd c =
        options.control_variate ? detail::control_variate_table(model, theta0, phi, eta, K) : Eigen::MatrixXd::Zero(n, K);
    const TimeGrid<S> coarse(S(0), S(options.horizon), S(eta / double(m)));
    const TimeGrid<S> fine(S(0), S(options.horizon), S(eta / double(2 * m)));
    const std::uint64_t sgd_seed = detail::mix_seed(options.seed, 2 * i), sde_seed = detail::mix_seed(options.seed, 2 * i + 1);
    // Per run: [sgd + cv, sgd, sme1 Richardson + cv, sme2 Richardson + cv, sme1 E2m − Em, sme2 E2m − Em].
    Eigen::MatrixXd per_run(options.runs, 6);
    std::vector<Outcome> outcomes(std::size_t(options.runs));
    parallel_for(
        fn, options.runs, options.threads,
        [&](Index r, int slot) {
          Outcome& out = outcomes[std::size_t(r)];
          // SGD with the control variate read off the batches it draws.
          Model& local = models[std::size_t(slot)];
          VectorX<S> theta = theta0, grad(theta0.size());
          BatchDrawer drawer(options.sampler, n, RandomStream(sgd_seed, std::uint64_t(r)));
          Batch batch;
          double cv_sgd = 0;
          for (long k = 0; k < K; ++k) {
            drawer.next(k, batch);
            const double loss = double(local.loss_and_gradient(theta, batch, grad));
            if (!std::isfinite(loss) || !all_finite(grad)) {
              out = Outcome::failure(Status::non_finite, k, loss, "SGD at learning rate " + sgdsde::detail::describe(eta) +
                                                                      ", run " + std::to_string(r) + ": not finite at step " +
                                                                      std::to_string(k));
              return;
            }
            double s = 0;
            for (Index b : batch) s += c(b, k);
            cv_sgd += eta * s / double(batch.size());
            theta.noalias() -= S(eta) * grad;
          }
          const double phi_sgd = double(phi(theta));
          // SDEs on one Brownian path, coarse and fine.
          const RandomStream stream(sde_seed, std::uint64_t(r));
          const BrownianIncrements fine_noise(stream, sme1.noise_dim(), 1);
          const detail::PairedIncrements coarse_noise(stream, sme1.noise_dim());
          const auto f1c = integrate(sme1, EulerMaruyama{}, theta0, coarse, coarse_noise, Threads(1));
          const auto f1f = integrate(sme1, EulerMaruyama{}, theta0, fine, fine_noise, Threads(1));
          const auto f2c = integrate(sme2, EulerMaruyama{}, theta0, coarse, coarse_noise, Threads(1));
          const auto f2f = integrate(sme2, EulerMaruyama{}, theta0, fine, fine_noise, Threads(1));
          for (const auto* sol : {&f1c, &f1f, &f2c, &f2f})
            if (!sol->outcome.ok()) {
              out = sol->outcome;
              out.message = "SDE at learning rate " + sgdsde::detail::describe(eta) + ", run " + std::to_string(r) +
                            ": " + out.message;
              return;
            }
          double cv_sde = 0;
          if (use_cv) {
            const double dtf = eta / double(2 * m);
            Eigen::MatrixXd z(n, 2 * m);
            for (long k = 0; k < K; ++k) {
              stream.normal_at(std::uint64_t(2 * m * k) * std::uint64_t(n), z);
              cv_sde -= std::sqrt(eta * kappa / double(n) * dtf) * c.col(k).dot(z.rowwise().sum());
            }
          }
          const double a1 = double(phi(VectorX<S>(f1c.final_state.col(0)))), b1 = double(phi(VectorX<S>(f1f.final_state.col(0))));
          const double a2 = double(phi(VectorX<S>(f2c.final_state.col(0)))), b2 = double(phi(VectorX<S>(f2f.final_state.col(0))));
          per_run.row(r) << phi_sgd + (use_cv ? cv_sgd : 0.0), phi_sgd, 2 * b1 - a1 + cv_sde, 2 * b2 - a2 + cv_sde, b1 - a1,
              b2 - a2;
          if (!all_finite(per_run.row(r)))
            out = Outcome::failure(Status::non_finite, -1, 0.0,
                                   "phi is not finite at learning rate " + sgdsde::detail::describe(eta) + ", run " +
                                       std::to_string(r));
        },
        Schedule::dynamic);
    WeakErrorPoint pt;
    pt.learning_rate = eta;
    pt.steps = K;
    std::vector<Index> keep;
    for (Index r = 0; r < options.runs; ++r) {
      if (outcomes[std::size_t(r)].ok()) keep.push_back(r);
      else {
        if (study.outcome.ok()) study.outcome = outcomes[std::size_t(r)];
        ++pt.failed_runs;
      }
    }
    if (keep.size() < 2) {
      study.points.push_back(pt);
      if (study.outcome.ok())
        study.outcome = Outcome::failure(Status::non_finite, -1, eta, "fewer than two finished runs");
      continue;
    }
    Eigen::MatrixXd kept(Index(keep.size()), 6);
    for (std::size_t j = 0; j < keep.size(); ++j) kept.row(Index(j)) = per_run.row(keep[j]);
    pt.sgd = detail::mean_and_error(kept.col(0));
    pt.sgd_plain = detail::mean_and_error(kept.col(1));
    pt.sme1 = detail::mean_and_error(kept.col(2));
    pt.sme2 = detail::mean_and_error(kept.col(3));
    pt.sde_discretisation_sme1 = detail::mean_and_error(kept.col(4));
    pt.sde_discretisation_sme2 = detail::mean_and_error(kept.col(5));
    pt.gap_sme1 = detail::difference(pt.sgd, pt.sme1);
    pt.gap_sme2 = detail::difference(pt.sgd, pt.sme2);
    study.points.push_back(pt);
  }
  std::vector<double> etas;
  std::vector<ErrorEstimate> g1, g2;
  bool fittable = true;
  for (const WeakErrorPoint& p : study.points) {
    etas.push_back(p.learning_rate);
    g1.push_back(p.gap_sme1);
    g2.push_back(p.gap_sme2);
    fittable = fittable && p.gap_sme1.value != 0 && p.gap_sme2.value != 0 && std::isfinite(p.gap_sme1.value) &&
               std::isfinite(p.gap_sme2.value);
  }
  if (!fittable) {
    if (study.outcome.ok())
      study.outcome = Outcome::failure(Status::no_convergence, -1, 0.0, "a gap is zero or missing: no order can be fitted");
    study.sme1_fit.standard_error = study.sme2_fit.standard_error = std::numeric_limits<double>::infinity();
    study.sme1_order_mc_standard_error = study.sme2_order_mc_standard_error = std::numeric_limits<double>::infinity();
    return study;
  }
  std::tie(study.sme1_fit, study.sme1_order_mc_standard_error) = detail::fit_gap_order(etas, g1);
  std::tie(study.sme2_fit, study.sme2_order_mc_standard_error) = detail::fit_gap_order(etas, g2);
  return study;
}

}  // namespace sgdsde::limits
