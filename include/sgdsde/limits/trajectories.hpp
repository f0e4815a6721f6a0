// sgdsde/limits/trajectories.hpp — mean and standard error over independent runs of functionals of θ at
// chosen times, for minibatch SGD and for its learning SDE (Jastrzębski et al. 2018, eq. 5; Li, Tai & E 2017).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/limits/learning_sde.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde::limits {

/// Functionals φ(θ) recorded at a list of times over independent runs.
/// mean(f, i) and standard_error(f, i) (= sample sd/√runs) are over the runs that finished; `values`
/// holds the raw numbers (runs × (functionals·times), column f·times + i) only when asked for.
/// A run that produced a non-finite θ or φ is counted in failed_runs and left out of the statistics;
/// outcome then names the first such run (a mean over the survivors alone would be biased).
struct TrajectoryStats {
  std::vector<double> times;             ///< t = kη (SGD) or the SDE time of each record
  Eigen::MatrixXd mean, standard_error;  ///< functionals × times
  Eigen::MatrixXd values;                ///< runs × (functionals·times), functional-major; empty unless kept
  long runs = 0, failed_runs = 0;        ///< runs that finished / failed
  Outcome outcome;
};

/// Options of sgd_trajectories: θ_{k+1} = θ_k − η g_{B_k}(θ_k) for `steps` steps, φ recorded at the
/// steps listed in `record_steps` (ascending, in [0, steps]; step k is SDE time kη).
struct SgdPathOptions {
  double learning_rate = 0;                 ///< η > 0
  Sampler sampler = with_replacement(1);    ///< any sampler (batches of run r from RandomStream(seed, r))
  long steps = 0;                           ///< ≥ 1
  long runs = 0;                            ///< ≥ 2
  std::vector<long> record_steps;           ///< non-empty, ascending, in [0, steps]
  std::uint64_t seed = 0;
  bool keep_values = false;
  Threads threads{};
};

/// Options of sde_trajectories: the learning SDE of `equation` at learning rate η and `sampler`,
/// Euler–Maruyama with dt = η/substeps up to `horizon` T, φ recorded at `record_times` (ascending,
/// multiples of dt in [0, T]).
struct SdePathOptions {
  double learning_rate = 0;                   ///< η > 0 (sets the noise √(ηκ) and the SME2 drift)
  Sampler sampler = with_replacement(1);      ///< with_replacement or fresh_subset (no SDE limit otherwise)
  ModifiedEquation equation = ModifiedEquation::sme1;
  long substeps = 1;                          ///< m ≥ 1: dt = η/m
  double horizon = 0;                         ///< T > 0 in SDE time
  std::vector<double> record_times;           ///< non-empty, ascending, on the grid k·dt in [0, T]
  long runs = 0;                              ///< ≥ 2; run r is driven by RandomStream(seed, r)
  std::uint64_t seed = 0;
  bool keep_values = false;
  Threads threads{};
};

namespace detail {

/// A seed derived from (seed, tag) by SplitMix64 (independent streams for the parts of a study).
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t tag) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (tag + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// φ(θ) as a VectorXd (a scalar-valued φ gives a vector of one).
template <class Phi, class Vector>
Eigen::VectorXd evaluate_phi(const Phi& phi, const Vector& theta) {
  using R = std::decay_t<decltype(phi(theta))>;
  if constexpr (std::is_arithmetic_v<R>) {
    Eigen::VectorXd v(1);
    v[0] = double(phi(theta));
    return v;
  } else {
    return Eigen::VectorXd(phi(theta).template cast<double>());
  }
}

/// One run's records (functionals·times, functional-major) and whether it finished.
struct RunRecord {
  Eigen::VectorXd values;
  Outcome outcome;
};

/// Means and standard errors over the finished runs, in run order (same bits for any thread count).
inline TrajectoryStats summarize_runs(const std::vector<RunRecord>& records, Index functionals,
                                      std::vector<double> times, bool keep_values) {
  TrajectoryStats st;
  st.times = std::move(times);
  const Index nt = Index(st.times.size()), width = functionals * nt;
  long ok = 0;
  for (std::size_t r = 0; r < records.size(); ++r) {
    if (records[r].outcome.ok()) {
      ++ok;
    } else {
      if (st.failed_runs == 0) {
        st.outcome = records[r].outcome;
        st.outcome.message = "run " + std::to_string(r) + ": " + records[r].outcome.message;
      }
      ++st.failed_runs;
    }
  }
  st.runs = ok;
  if (ok == 0) {  // every run failed (outcome says why): keep the shapes, with no numbers in them
    st.mean = Eigen::MatrixXd::Constant(functionals, nt, std::numeric_limits<double>::quiet_NaN());
    st.standard_error = st.mean;
    return st;
  }
  Eigen::MatrixXd v(ok, width);
  long row = 0;
  for (const RunRecord& rec : records)
    if (rec.outcome.ok()) v.row(row++) = rec.values.transpose();
  const Eigen::RowVectorXd mean = v.colwise().mean();
  // One finished run has no spread to estimate: its SE is NaN, not 0 (the outcome then reports the failures).
  Eigen::RowVectorXd se = Eigen::RowVectorXd::Constant(width, std::numeric_limits<double>::quiet_NaN());
  if (ok >= 2)
    se = ((v.rowwise() - mean).array().square().colwise().sum() / double(ok - 1) / double(ok)).sqrt().matrix();
  st.mean = Eigen::Map<const Eigen::MatrixXd>(mean.data(), nt, functionals).transpose();
  st.standard_error = Eigen::Map<const Eigen::MatrixXd>(se.data(), nt, functionals).transpose();
  if (keep_values) st.values = std::move(v);
  return st;
}

/// SGD run from θ₀ with batches from `stream`; writes φ at the record steps into rec.values
/// (functional-major, `nt` records). The lean loop of optim::train without its bookkeeping.
template <class Model, class Phi>
void sgd_run(Model& model, const VectorX<typename Model::Scalar>& theta0, const Phi& phi, double eta,
             const Sampler& sampler, long steps, const std::vector<long>& record_steps, Index functionals,
             const RandomStream& stream, RunRecord& rec) {
  using S = typename Model::Scalar;
  const Index nt = Index(record_steps.size());
  rec.values.resize(functionals * nt);
  VectorX<S> theta = theta0, grad(theta0.size());
  BatchDrawer drawer(sampler, model.num_samples(), stream);
  Batch batch;
  std::size_t next = 0;
  auto record = [&](long k) {
    while (next < record_steps.size() && record_steps[next] == k) {
      const Eigen::VectorXd v = evaluate_phi(phi, theta);
      if (v.size() != functionals || !all_finite(v)) {
        rec.outcome = Outcome::failure(Status::non_finite, k, v.size() ? v[0] : 0.0,
                                       "phi is not finite (or changed size) at step " + std::to_string(k));
        return false;
      }
      for (Index f = 0; f < functionals; ++f) rec.values[f * nt + Index(next)] = v[f];
      ++next;
    }
    return true;
  };
  for (long k = 0; k < steps; ++k) {
    if (!record(k)) return;
    drawer.next(k, batch);
    const double loss = double(model.loss_and_gradient(theta, batch, grad));
    if (!std::isfinite(loss) || !all_finite(grad)) {
      rec.outcome = Outcome::failure(Status::non_finite, k, loss,
                                     "batch loss or gradient is not finite at step " + std::to_string(k));
      return;
    }
    theta.noalias() -= S(eta) * grad;
  }
  if (!all_finite(theta)) {
    rec.outcome = Outcome::failure(Status::non_finite, steps, 0.0, "theta is not finite at the last step");
    return;
  }
  record(steps);
}

template <class Model>
void check_model_start(const char* fn, const Model& model, const VectorX<typename Model::Scalar>& theta0) {
  require(model.num_samples() >= 1, fn, "model.num_samples()", model.num_samples(), ">= 1");
  require(theta0.size() == model.num_parameters(), fn, "theta0.size()", theta0.size(), "model.num_parameters()");
  require_finite(fn, "theta0", theta0);
}

/// Number of functionals of φ (evaluated once at θ₀, which must give finite values).
template <class Phi, class Vector>
Index functional_count(const char* fn, const Phi& phi, const Vector& theta0) {
  const Eigen::VectorXd v = evaluate_phi(phi, theta0);
  require(v.size() >= 1, fn, "phi", v.size(), "a callable returning at least one value");
  require(all_finite(v), fn, "phi(theta0)", "non-finite", "finite values");
  return v.size();
}

/// Throws unless 2 <= runs <= the most run records a std::vector can hold.
inline void check_runs(const char* fn, long runs) {
  require(runs >= 2 && std::uint64_t(runs) <= std::vector<RunRecord>().max_size(), fn, "options.runs", runs,
          ">= 2 (a standard error needs two runs) and no more than a std::vector of run records can hold");
}

inline void check_learning_rate(const char* fn, double eta) {
  require(std::isfinite(eta) && eta > 0 && std::isnormal(eta), fn, "options.learning_rate", eta,
          "a finite, normal value > 0");
}

/// Grid step k of time t on the grid k·dt (throws naming `argument` when t is off the grid).
inline long grid_step(const char* fn, const char* argument, double t, double dt, long n) {
  require(std::isfinite(t) && t >= 0, fn, argument, t, "finite times >= 0");
  const double r = t / dt;
  const long k = long(std::llround(r));
  require(std::abs(r - double(k)) <= 1e-6 * std::max(1.0, r) && k <= n, fn, argument, t,
          "times on the SDE grid k·dt in [0, horizon]");
  return k;
}

}  // namespace detail

/// φ along `runs` independent SGD runs from θ₀: θ_{k+1} = θ_k − η g_{B_k}(θ_k), g_B the mean gradient
/// of the batch drawn by the sampler's BatchDrawer on RandomStream(seed, r) for run r. φ is a const,
/// thread-safe callable (const VectorX<S>&) → Eigen::VectorXd of k functionals (or a scalar).
/// The model (an optim Problem: loss_and_gradient) is copied once per worker thread. Runs are spread
/// over `options.threads`; results are bit-identical for any thread count. Records at t = kη.
/// Throws sgdsde::invalid_argument for η ≤ 0 or non-finite, steps < 1, runs < 2, record steps empty,
/// unsorted or outside [0, steps], θ₀ of the wrong size or non-finite, φ(θ₀) non-finite, a sampler
/// that does not fit N. Non-finite runs are reported in the outcome (see TrajectoryStats).
template <class Model, class Phi>
TrajectoryStats sgd_trajectories(const Model& model, const VectorX<typename Model::Scalar>& theta0, Phi&& phi,
                                 const SgdPathOptions& options) {
  constexpr const char* fn = "sgd_trajectories";
  detail::check_model_start(fn, model, theta0);
  detail::check_learning_rate(fn, options.learning_rate);
  check_sampler(fn, options.sampler, model.num_samples());
  require(options.steps >= 1, fn, "options.steps", options.steps, ">= 1");
  detail::check_runs(fn, options.runs);
  require(!options.record_steps.empty(), fn, "options.record_steps", "empty", "at least one step");
  for (std::size_t i = 0; i < options.record_steps.size(); ++i) {
    const long k = options.record_steps[i];
    require(k >= 0 && k <= options.steps && (i == 0 || k >= options.record_steps[i - 1]), fn,
            "options.record_steps", k, "ascending steps in [0, options.steps]");
  }
  const Index functionals = detail::functional_count(fn, phi, theta0);
  const int slots = parallel_slots(fn, options.runs, options.threads);
  std::vector<Model> models(std::size_t(slots), model);
  std::vector<detail::RunRecord> records(std::size_t(options.runs));
  parallel_for(
      fn, options.runs, options.threads,
      [&](Index r, int slot) {
        detail::sgd_run(models[std::size_t(slot)], theta0, phi, options.learning_rate, options.sampler, options.steps,
                        options.record_steps, functionals, RandomStream(options.seed, std::uint64_t(r)),
                        records[std::size_t(r)]);
      },
      Schedule::dynamic);
  std::vector<double> times;
  for (long k : options.record_steps) times.push_back(double(k) * options.learning_rate);
  return detail::summarize_runs(records, functionals, std::move(times), options.keep_values);
}

/// φ along `runs` independent paths of the learning SDE (learning_sde(model, {η, sampler, equation}))
/// from θ₀, integrated by Euler–Maruyama (Itô) on TimeGrid(0, T, η/m), path r driven by
/// BrownianIncrements(RandomStream(seed, r), N, 1). Records at `record_times` (SDE time t = kη).
/// Runs are spread over `options.threads`; bit-identical for any thread count. The SDE's own weak
/// error is O(dt) = O(η/m) (Euler–Maruyama has weak order 1).
/// Throws sgdsde::invalid_argument for η ≤ 0, m < 1, T ≤ 0 or non-finite, runs < 2, record times empty,
/// unsorted or off the grid, θ₀ of the wrong size or non-finite, φ(θ₀) non-finite, and (from
/// learning_sde) a sampler without a Markov SDE limit.
template <class Model, class Phi>
TrajectoryStats sde_trajectories(const Model& model, const VectorX<typename Model::Scalar>& theta0, Phi&& phi,
                                 const SdePathOptions& options) {
  using S = typename Model::Scalar;
  constexpr const char* fn = "sde_trajectories";
  detail::check_model_start(fn, model, theta0);
  detail::check_learning_rate(fn, options.learning_rate);
  require(options.substeps >= 1, fn, "options.substeps", options.substeps, ">= 1 (dt = learning_rate/substeps)");
  require_positive(fn, "options.horizon", options.horizon);
  detail::check_runs(fn, options.runs);
  require(!options.record_times.empty(), fn, "options.record_times", "empty", "at least one time");
  const double dt = options.learning_rate / double(options.substeps);
  require(dt <= options.horizon, fn, "options.learning_rate", options.learning_rate,
          "a step learning_rate/substeps no longer than options.horizon");
  const TimeGrid<S> grid(S(0), S(options.horizon), S(dt));
  std::vector<S> at;
  for (std::size_t i = 0; i < options.record_times.size(); ++i) {
    const double t = options.record_times[i];
    require(std::isfinite(t) && t >= 0 && t <= options.horizon, fn, "options.record_times", t,
            "times in [0, options.horizon]");
    if (std::abs(t - options.horizon) > 1e-9 * options.horizon)
      detail::grid_step(fn, "options.record_times", t, dt, grid.steps());
    require(t <= options.horizon && (i == 0 || t >= options.record_times[i - 1]), fn, "options.record_times", t,
            "ascending times in [0, options.horizon]");
    at.push_back(S(t));
  }
  const Index functionals = detail::functional_count(fn, phi, theta0);
  LearningSdeOptions so;
  so.learning_rate = options.learning_rate;
  so.sampler = options.sampler;
  so.equation = options.equation;
  const auto problem = learning_sde(model, so);
  const Index nt = Index(at.size()), noise = problem.noise_dim();
  std::vector<detail::RunRecord> records(std::size_t(options.runs));
  parallel_for(
      fn, options.runs, options.threads,
      [&](Index r) {
        detail::RunRecord& rec = records[std::size_t(r)];
        rec.values.resize(functionals * nt);
        Index next = 0;
        bool phi_ok = true;
        auto observer = [&](long, S, const MatrixX<S>& X) {
          const Eigen::VectorXd v = detail::evaluate_phi(phi, VectorX<S>(X.col(0)));
          if (v.size() != functionals || !all_finite(v)) phi_ok = false;
          else
            for (Index f = 0; f < functionals; ++f) rec.values[f * nt + next] = v[f];
          ++next;
        };
        const BrownianIncrements dw(RandomStream(options.seed, std::uint64_t(r)), noise, 1);
        const auto sol = integrate(problem, EulerMaruyama{}, theta0, grid, dw, observe_at(at, observer), Threads(1));
        if (!sol.outcome.ok()) rec.outcome = sol.outcome;
        else if (!phi_ok || next != nt)
          rec.outcome = Outcome::failure(Status::non_finite, -1, 0.0, "phi is not finite along the path");
      },
      Schedule::dynamic);
  return detail::summarize_runs(records, functionals, options.record_times, options.keep_values);
}

}  // namespace sgdsde::limits
