// sgdsde/limits/invariance.hpp — η/S invariance measured on SGD and on the learning SDE: SGD at (βη, βS)
// for several β against the SDE at the common ratio η/S (Jastrzębski et al. 2018, eq. 5, Figs. 1–2 and 5).
#pragma once

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/limits/trajectories.hpp"
#include "sgdsde/sde/convergence.hpp"

namespace sgdsde::limits {

/// The sampler family of an invariance study (the batch size is β·S for each β).
enum class SamplerKind { with_replacement, fresh_subset };

/// Options of invariance_study. Times are SDE times t = kη: SGD at (βη, βS) runs T/(βη) steps.
struct InvarianceOptions {
  double learning_rate = 0;      ///< η > 0 of β = 1
  Index batch_size = 0;          ///< S ≥ 1 of β = 1; every β·S must be an integer (≤ N for fresh_subset)
  std::vector<double> betas;     ///< non-empty, each β > 0
  double horizon = 0;            ///< T > 0
  long runs = 0;                 ///< ≥ 2 per curve
  long record_points = 0;        ///< ≥ 1: records at t_i = i·T/record_points, i = 0…record_points, each a
                                 ///< multiple of every βη and of the SDE step η/sde_substeps
  long sde_substeps = 1;         ///< m ≥ 1: the SDE's dt = η/m
  SamplerKind sampler = SamplerKind::with_replacement;
  std::uint64_t seed = 0;
  Threads threads{};
};

/// SGD at one β.
struct InvarianceCurve {
  double beta = 0, learning_rate = 0;
  Index batch_size = 0;
  TrajectoryStats stats;
};

/// Curves of SGD per β and of the SDE (SME1 at η, S), and per β the distance
/// D_β = mean over the records t_i > 0 of |mean_sgd(t_i) − mean_sde(t_i)| of functional 0
/// (distance_per_functional: row β, column f, every functional), with a delta-method standard error
/// that keeps the correlation between times of one run (see invariance_study). |·| of a difference
/// that is within noise is biased upward by about its SE: a D_β of a few SEs means "no difference seen".
struct InvarianceStudy {
  std::vector<InvarianceCurve> sgd;
  TrajectoryStats sde;
  std::vector<ErrorEstimate> distance_to_sde;
  std::vector<std::vector<ErrorEstimate>> distance_per_functional;
  Outcome outcome;
};

namespace detail {
/// D = (1/n)Σ_i s_i (ā_i − b̄_i), s_i = sign(ā_i − b̄_i), over records 1…n; SE² = Var_r(Σ_i s_i a_ri)/(n²R_a)
/// + Var_r(Σ_i s_i b_ri)/(n²R_b) (first order in the noise; SGD and SDE runs independent).
inline ErrorEstimate curve_distance(const TrajectoryStats& a, const TrajectoryStats& b, Index functional) {
  const Index nt = Index(a.times.size());
  if (nt < 2 || a.runs < 2 || b.runs < 2) return {0, 0};
  Eigen::VectorXd s(nt - 1);
  double d = 0;
  for (Index i = 1; i < nt; ++i) {
    const double diff = a.mean(functional, i) - b.mean(functional, i);
    s[i - 1] = diff >= 0 ? 1.0 : -1.0;
    d += std::abs(diff);
  }
  const double n = double(nt - 1);
  auto var_of = [&](const TrajectoryStats& t) {
    const Eigen::VectorXd proj = t.values.middleCols(functional * nt + 1, nt - 1) * s;
    const double mean = proj.mean();
    return (proj.array() - mean).square().sum() / double(proj.size() - 1) / double(proj.size());
  };
  return {d / n, std::sqrt(var_of(a) + var_of(b)) / n};
}
}  // namespace detail

/// SGD at (βη, βS) for each β (sgd_trajectories, `runs` runs, sampler with_replacement(βS) or
/// fresh_subset(βS)) and the learning SDE SME1 at (η, S) (sde_trajectories, dt = η/m), φ recorded at
/// t_i = i·T/record_points. With replacement the SDE depends on η/S alone, so every β has the same
/// limit; with fresh subsets the noise factor ηκ = η(N − S)/(S(N − 1)) changes slightly with β (by
/// a factor (N − βS)/(N − S)), which the study does not correct. φ as in sgd_trajectories.
/// Streams: curve j uses seed mix(seed, j), the SDE mix(seed, betas.size()); bit-identical for any
/// thread count. Throws sgdsde::invalid_argument for η ≤ 0, S < 1, an empty β list, β ≤ 0, βS not an
/// integer, βS > N (fresh_subset), T ≤ 0, runs < 2, record_points < 1, m < 1, record times that are not
/// multiples of βη or of η/m, and as sgd_trajectories / sde_trajectories.
template <class Model, class Phi>
InvarianceStudy invariance_study(const Model& model, const VectorX<typename Model::Scalar>& theta0, Phi&& phi,
                                 const InvarianceOptions& options) {
  constexpr const char* fn = "invariance_study";
  detail::check_model_start(fn, model, theta0);
  detail::check_learning_rate(fn, options.learning_rate);
  require(options.batch_size >= 1, fn, "options.batch_size", options.batch_size, ">= 1");
  require(!options.betas.empty(), fn, "options.betas", "empty", "at least one beta");
  require_positive(fn, "options.horizon", options.horizon);
  detail::check_runs(fn, options.runs);
  require(options.record_points >= 1, fn, "options.record_points", options.record_points, ">= 1");
  require(options.sde_substeps >= 1, fn, "options.sde_substeps", options.sde_substeps, ">= 1");
  // Every record time is a multiple of the SDE step dt = η/m, so at most T/dt of them (checked before
  // the list of times is built: a huge count must not exhaust memory).
  require(double(options.record_points) <= options.horizon / (options.learning_rate / double(options.sde_substeps)) * (1 + 1e-9),
          fn, "options.record_points", options.record_points,
          "record times i·T/record_points on the SDE grid (record_points <= T·sde_substeps/learning_rate)");
  const Index n = model.num_samples();
  auto make_sampler = [&](Index s) -> Sampler {
    return options.sampler == SamplerKind::with_replacement ? Sampler(with_replacement(s)) : Sampler(fresh_subset(s));
  };
  std::vector<double> times;
  for (long i = 0; i <= options.record_points; ++i)
    times.push_back(options.horizon * double(i) / double(options.record_points));

  struct Plan {
    double eta;
    Index s;
    long steps;
    std::vector<long> record;
  };
  std::vector<Plan> plans;
  for (double beta : options.betas) {
    require(std::isfinite(beta) && beta > 0, fn, "options.betas", beta, "finite values > 0");
    const double bs = beta * double(options.batch_size);
    const double rs = std::round(bs);
    require(rs >= 1 && std::abs(bs - rs) <= 1e-9 * rs, fn, "options.betas", beta,
            "values with beta·batch_size a positive integer");
    if (options.sampler == SamplerKind::fresh_subset)
      require(Index(rs) <= n, fn, "options.betas", beta, "values with beta·batch_size <= N for fresh_subset");
    Plan p{beta * options.learning_rate, Index(rs), 0, {}};
    detail::check_learning_rate(fn, p.eta);
    for (double t : times) p.record.push_back(detail::grid_step(fn, "options.record_points", t, p.eta, LONG_MAX));
    p.steps = p.record.back();
    require(p.steps >= 1, fn, "options.horizon", options.horizon, "a horizon of at least one SGD step for every beta");
    plans.push_back(std::move(p));
  }
  const double dt = options.learning_rate / double(options.sde_substeps);
  for (double t : times) detail::grid_step(fn, "options.record_points", t, dt, LONG_MAX);

  InvarianceStudy study;
  for (std::size_t j = 0; j < plans.size(); ++j) {
    SgdPathOptions so;
    so.learning_rate = plans[j].eta;
    so.sampler = make_sampler(plans[j].s);
    so.steps = plans[j].steps;
    so.runs = options.runs;
    so.record_steps = plans[j].record;
    so.seed = detail::mix_seed(options.seed, j);
    so.keep_values = true;
    so.threads = options.threads;
    InvarianceCurve c;
    c.beta = options.betas[j];
    c.learning_rate = plans[j].eta;
    c.batch_size = plans[j].s;
    c.stats = sgd_trajectories(model, theta0, phi, so);
    c.stats.times = times;  // kβη = t_i up to rounding
    if (!c.stats.outcome.ok() && study.outcome.ok()) study.outcome = c.stats.outcome;
    study.sgd.push_back(std::move(c));
  }
  SdePathOptions po;
  po.learning_rate = options.learning_rate;
  po.sampler = make_sampler(options.batch_size);
  po.equation = ModifiedEquation::sme1;
  po.substeps = options.sde_substeps;
  po.horizon = options.horizon;
  po.record_times = times;
  po.runs = options.runs;
  po.seed = detail::mix_seed(options.seed, plans.size());
  po.keep_values = true;
  po.threads = options.threads;
  study.sde = sde_trajectories(model, theta0, phi, po);
  if (!study.sde.outcome.ok() && study.outcome.ok()) study.outcome = study.sde.outcome;
  for (InvarianceCurve& c : study.sgd) {
    std::vector<ErrorEstimate> per;
    const Index functionals = c.stats.mean.rows();
    for (Index f = 0; f < functionals && study.sde.runs >= 2; ++f)
      per.push_back(detail::curve_distance(c.stats, study.sde, f));
    study.distance_to_sde.push_back(per.empty() ? ErrorEstimate{} : per[0]);
    study.distance_per_functional.push_back(std::move(per));
  }
  for (InvarianceCurve& c : study.sgd) c.stats.values.resize(0, 0);
  study.sde.values.resize(0, 0);
  return study;
}

}  // namespace sgdsde::limits
