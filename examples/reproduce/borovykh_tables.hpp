// examples/reproduce/borovykh_tables.hpp — the computations behind Borovykh (2019) §3 (Table 1: noisy GD
// against Lemma 3 corrected; Table 2: SGD, lazy vs regular; Fig. 1: outputs and eq. 2 input Jacobian against
// η and the iteration count) and the closed form (§2.1) against finite-width GD, shared by
// examples/borovykh_table1.cpp, examples/borovykh_table2.cpp and examples/reproduce/borovykh.cpp.
// Functions return per-run numbers (NaN for a run that diverged); printing and statistics are the callers'.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sgdsde/core/parallel.hpp>
#include <sgdsde/data/synthetic.hpp>
#include <sgdsde/nn/gradient.hpp>
#include <sgdsde/nn/network.hpp>
#include <sgdsde/ntk/kernels.hpp>
#include <sgdsde/ntk/noisy.hpp>
#include <sgdsde/optim/parallel_train.hpp>
#include <string>
#include <vector>

#include "statistics.hpp"

namespace borovykh {

using sgdsde::Index;
using Mat = Eigen::MatrixXd;
/// Called with the fraction (0..1) of the current computation done; may be empty.
using ProgressFn = std::function<void(double)>;

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

using repro::mean_se;
using repro::MeanSe;

/// Element-wise a[i] − b[i] (NaN where either is NaN): the paired differences of runs with the same seed.
inline std::vector<double> paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(std::min(a.size(), b.size()));
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

/// MSE = (1/N) Σ (f − y)² over the columns (one output).
inline double mse(const Mat& f, const Mat& y) { return (f - y).squaredNorm() / double(y.size()); }

/// The paper's network: `layers` dense layers, widths d, w, …, w, 1, ReLU, NTK (eq. 1) or standard (He)
/// parameterisation.
inline sgdsde::nn::MlpSpec sine_network(Index input_dim, Index width, long layers, sgdsde::nn::Parameterization p,
                                        double sigma_w = 1.0, double sigma_b = 0.1) {
  sgdsde::nn::MlpSpec spec;
  spec.widths.assign(1, input_dim);
  for (long l = 0; l + 1 < layers; ++l) spec.widths.push_back(width);
  spec.widths.push_back(1);
  spec.hidden_activation = sgdsde::nn::Activation::relu;
  spec.parameterization = p;
  spec.sigma_w = sigma_w;
  spec.sigma_b = sigma_b;
  return spec;
}

/// Initialised networks, network r drawn from RandomStream(init_seeds[r]).
inline std::vector<sgdsde::nn::Mlp<double>> initialized(const sgdsde::nn::MlpSpec& spec,
                                                        const std::vector<std::uint64_t>& init_seeds) {
  std::vector<sgdsde::nn::Mlp<double>> nets;
  nets.reserve(init_seeds.size());
  for (std::uint64_t s : init_seeds) {
    nets.emplace_back(spec);
    nets.back().initialize(sgdsde::RandomStream(s));
  }
  return nets;
}

inline std::vector<std::uint64_t> seed_range(std::uint64_t first, int count) {
  std::vector<std::uint64_t> s(std::size_t(std::max(count, 0)));
  for (int r = 0; r < count; ++r) s[std::size_t(r)] = first + std::uint64_t(r);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Table 1: full-batch GD with injected parameter noise σ η/√M ξ on the noisy sine windows, split in time
// (the first train_fraction of the windows train, the rest test), beside the corrected Lemma 3
// (ntk::expected_mse with the ANALYTIC NTK, given each run's own f_0) and the lemma as printed (N² for M,
// Θ² for Θ: the noise part (σ²η²/N²)·Σ μ_i² W_flow(μ_i, t), ÷N).

struct Table1Options {
  long width = 64, layers = 5, steps = 1000;
  int runs = 5;
  double eta = 1.0;
  double m = 0;  ///< M of σ η/√M; 0 = P (the number of parameters)
  double train_fraction = 0.8, sigma_w = 1.0, sigma_b = 0.1;
  std::vector<double> sigmas{0, 0.1, 0.5, 0.9};
  std::uint64_t seed = 1;  ///< data: RandomStream(seed); run r: init and noise seed + 1 + r (same for every σ)
  sgdsde::Threads threads{1};
};

struct Table1Sigma {
  double sigma = 0;
  // one entry per run (NaN: the run diverged); run r has the same initialisation and noise draws for every σ
  std::vector<double> train_sim, test_sim;                    ///< simulated MSE
  std::vector<double> train_theory, test_theory;              ///< corrected Lemma 3 (÷N), given the run's f_0
  std::vector<double> train_noise_theory, test_noise_theory;  ///< its noise part (the σ-dependent term)
  std::vector<double> printed_train, printed_noise;           ///< Lemma 3 as printed (÷N) and its noise part
  int failed = 0;
};

struct Table1Result {
  Index n_train = 0, n_test = 0;
  double parameters = 0, m = 0;
  double mu_max = 0, mu_min = 0, max_stable_eta = 0;
  sgdsde::Outcome evolution;
  sgdsde::nn::MlpSpec spec;
  std::vector<Table1Sigma> rows;
};

inline Table1Result table1(const Table1Options& o, const ProgressFn& progress = {}) {
  using namespace sgdsde;
  const Dataset<double> all = data::noisy_sine_windows(RandomStream(o.seed));
  const Index n_all = all.inputs.cols(), n = Index(std::lround(o.train_fraction * double(n_all)));
  const Mat x = all.inputs.leftCols(n), y = all.targets.leftCols(n);
  const Mat xs = all.inputs.rightCols(n_all - n), ys = all.targets.rightCols(n_all - n);
  Table1Result res;
  res.n_train = n;
  res.n_test = n_all - n;
  res.spec = sine_network(all.inputs.rows(), o.width, o.layers, nn::Parameterization::ntk, o.sigma_w, o.sigma_b);

  // Analytic NTK on train ∪ test (the windows are in time order), one eigendecomposition for every run and σ.
  const auto kern = ntk::analytic_kernels(res.spec, all.inputs);
  res.evolution = kern.outcome;
  if (!kern.outcome.ok()) return res;
  const Mat theta = kern.ntk.topLeftCorner(n, n), theta_ts = kern.ntk.bottomLeftCorner(n_all - n, n),
            theta_s = kern.ntk.bottomRightCorner(n_all - n, n_all - n);
  ntk::EvolutionOptions eo;
  eo.learning_rate = o.eta;
  eo.dynamics = ntk::Dynamics::gradient_descent;
  const auto evo = ntk::linearized_evolution(theta, y, eo);
  res.evolution = evo.outcome();
  res.mu_max = evo.eigenvalues().maxCoeff();
  res.mu_min = evo.eigenvalues().minCoeff();
  res.max_stable_eta = evo.max_stable_learning_rate();
  res.parameters = double(nn::Mlp<double>(res.spec).num_parameters());
  res.m = o.m > 0 ? o.m : res.parameters;

  // The printed lemma's noise part does not depend on the run: (σ²η²/N²)·Σ_i μ_i² (1 − e^{−2κμ_i t})/(2κμ_i), ÷N.
  const double kappa = o.eta / double(n), t = double(o.steps);
  double printed_sum = 0;
  for (Index i = 0; i < n; ++i) {
    const double mu = std::max(0.0, double(evo.eigenvalues()[i]));
    printed_sum += mu > 0 ? mu * mu * -std::expm1(-2 * kappa * mu * t) / (2 * kappa * mu) : 0.0;
  }

  const std::vector<std::uint64_t> seeds = seed_range(o.seed + 1, o.runs);
  for (std::size_t k = 0; k < o.sigmas.size(); ++k) {
    Table1Sigma row;
    row.sigma = o.sigmas[k];
    auto nets = initialized(res.spec, seeds);
    std::vector<Mat> f0(nets.size()), f0s(nets.size());
    for (std::size_t r = 0; r < nets.size(); ++r) f0[r] = nn::forward(nets[r], x), f0s[r] = nn::forward(nets[r], xs);
    optim::TrainOptions options;
    options.learning_rate = o.eta;
    options.sampler = shuffled_epochs(n);  // the full batch every step
    options.steps = o.steps;
    options.sgd.noise_sigma = row.sigma;
    options.sgd.noise_batch = res.m;
    const auto summaries = optim::train_seeds(nets, nn::SquaredError(y), x, options, seeds, o.threads);
    const double printed_noise = row.sigma * row.sigma * o.eta * o.eta / double(n * n) * printed_sum / double(n);
    for (std::size_t r = 0; r < nets.size(); ++r) {
      const bool ok = summaries[r].outcome.ok();
      row.failed += ok ? 0 : 1;
      row.train_sim.push_back(ok ? mse(nn::forward(nets[r], x), y) : nan);
      row.test_sim.push_back(ok ? mse(nn::forward(nets[r], xs), ys) : nan);
      const auto th =
          ntk::expected_mse(evo, ntk::ParameterNoise{row.sigma, res.m}, f0[r], theta_ts, theta_s, f0s[r], ys, {t});
      row.train_theory.push_back(th.train[0]);
      row.test_theory.push_back(th.test[0]);
      row.train_noise_theory.push_back(th.train_noise[0]);
      row.test_noise_theory.push_back(th.test_noise[0]);
      row.printed_train.push_back(th.train[0] - th.train_noise[0] + printed_noise);
      row.printed_noise.push_back(printed_noise);
    }
    res.rows.push_back(std::move(row));
    if (progress) progress(double(k + 1) / double(o.sigmas.size()));
  }
  return res;
}

// ---------------------------------------------------------------------------------------------------------
// The data of Table 2 and Fig. 1: train = the windows of one noisy series y_i = sin(0.1 i) + 0.3 ε_i,
// i = 0…100 (RandomStream(seed, 1)); test = the same windows of an independent noise draw (RandomStream(seed, 2)).

struct SineData {
  sgdsde::Dataset<double> train, test;
};
inline SineData sine_train_test(std::uint64_t seed) {
  const sgdsde::data::SineWindowOptions sine{};
  return {sgdsde::data::noisy_sine_windows(sine, sgdsde::RandomStream(seed, 1)),
          sgdsde::data::noisy_sine_windows(sine, sgdsde::RandomStream(seed, 2))};
}

// Table 2: SGD (η, batch n_b; n_b > N is the full batch) for `steps` updates, NTK ("lazy") and standard He
// ("regular") parameterisation, per width; run r is initialised from RandomStream(seed + r) and draws its
// batches with seed + 1000 + r (the same for both parameterisations and every batch size). Beside the lazy
// column: the infinite-width GD ensemble (f_0 ~ GP(0, K), analytic Θ) at the same step count, E MSE =
// (‖mean − Y‖² + tr Cov)/N — in the linearised model E[SGD outputs] follows GD exactly, for any batch size.

struct Table2Options {
  int runs = 2;
  long steps = 1000, layers = 5;
  double eta = 0.01, sigma_w = 1.0, sigma_b = 0.1;
  std::vector<long> widths{16, 64, 256};
  std::vector<long> batches{1, 100};
  std::uint64_t seed = 2019;
  sgdsde::Threads threads{1};
};

struct Table2Cell {
  long width = 0, batch = 0;
  std::vector<double> lazy_train, lazy_test, regular_train, regular_test;  ///< per run; NaN = diverged
  int lazy_failed = 0, regular_failed = 0;
  double theory_train = nan, theory_test = nan;  ///< lazy, infinite width
  sgdsde::Outcome theory;
};

inline std::vector<Table2Cell> table2(const SineData& d, const Table2Options& o, const ProgressFn& progress = {}) {
  using namespace sgdsde;
  const Index n = d.train.inputs.cols(), dim = d.train.inputs.rows();
  std::vector<Table2Cell> cells;
  const double total = double(o.widths.size() * o.batches.size());
  for (long w : o.widths) {
    const auto lazy = sine_network(dim, w, o.layers, nn::Parameterization::ntk, o.sigma_w, o.sigma_b);
    const auto regular = sine_network(dim, w, o.layers, nn::Parameterization::standard, o.sigma_w, o.sigma_b);
    const auto kt = ntk::analytic_kernels(lazy, d.train.inputs);
    const auto kx = ntk::analytic_kernels(lazy, d.test.inputs, d.train.inputs);
    const auto kxx = ntk::analytic_kernels(lazy, d.test.inputs);
    ntk::EvolutionOptions eo;
    eo.learning_rate = o.eta;
    const auto ev = ntk::linearized_evolution(kt.ntk, d.train.targets, eo);
    const auto on_train = ev.ensemble(kt.nngp, kt.nngp, kt.nngp, kt.ntk, {double(o.steps)});
    const auto on_test = ev.ensemble(kt.nngp, kx.nngp, kxx.nngp, kx.ntk, {double(o.steps)});
    for (long b : o.batches) {
      Table2Cell c;
      c.width = w;
      c.batch = b;
      c.theory = on_test.outcome.ok() ? on_train.outcome : on_test.outcome;
      c.theory_train = ((on_train.mean[0] - d.train.targets).squaredNorm() + on_train.covariance[0].trace()) / n;
      c.theory_test = ((on_test.mean[0] - d.test.targets).squaredNorm() + on_test.covariance[0].trace()) / n;
      optim::TrainOptions to;
      to.learning_rate = o.eta;
      to.sampler = shuffled_epochs(std::min<Index>(b, n));
      to.steps = o.steps;
      const auto seeds = seed_range(o.seed + 1000, o.runs);
      for (int pass = 0; pass < 2; ++pass) {
        auto nets = initialized(pass == 0 ? lazy : regular, seed_range(o.seed, o.runs));
        const auto sums =
            optim::train_seeds(nets, nn::SquaredError(d.train.targets), d.train.inputs, to, seeds, o.threads);
        auto& tr = pass == 0 ? c.lazy_train : c.regular_train;
        auto& te = pass == 0 ? c.lazy_test : c.regular_test;
        int& failed = pass == 0 ? c.lazy_failed : c.regular_failed;
        for (std::size_t r = 0; r < nets.size(); ++r) {
          const bool ok = sums[r].outcome.ok();
          failed += ok ? 0 : 1;
          tr.push_back(ok ? mse(nn::forward(nets[r], d.train.inputs), d.train.targets) : nan);
          te.push_back(ok ? mse(nn::forward(nets[r], d.test.inputs), d.test.targets) : nan);
        }
      }
      cells.push_back(std::move(c));
      if (progress) progress(double(cells.size()) / total);
    }
  }
  return cells;
}

// ---------------------------------------------------------------------------------------------------------
// The closed form (§2.1; ntk::LinearizedEvolution with the analytic Θ and the network's own f_0) against
// full-batch GD of finite networks d-w-w-1 (ReLU, NTK parameterisation) on the first n_train train windows,
// at eta_fraction of the largest stable rate of the analytic Θ; outputs compared on n_test test windows.

struct TrackingOptions {
  std::vector<long> widths{256, 1024, 2048};
  int seeds = 3;
  std::vector<long> steps{200};  ///< recorded step counts, increasing
  long layers = 3;
  Index n_train = 16, n_test = 8;
  double eta_fraction = 0.5, sigma_w = 1.0, sigma_b = 0.1;
  std::uint64_t seed = 2019;  ///< initialisation r: RandomStream(seed + 5 + r)
  sgdsde::Threads threads{1};
};

struct TrackingWidth {
  long width = 0;
  double eta = 0;
  /// [k][r]: after steps[k], seed r: RMS over the test windows of f_net(x*) − f_closed(x*) (NaN: diverged)
  std::vector<std::vector<double>> rms_test;
  /// [k][r]: ‖f_net − f_closed‖/‖f_closed − f_0‖ over train and test windows
  std::vector<std::vector<double>> relative;
  int failed = 0;
  sgdsde::Outcome theory;
};

inline std::vector<TrackingWidth> closed_form_tracking(const SineData& d, const TrackingOptions& o,
                                                       const ProgressFn& progress = {}) {
  using namespace sgdsde;
  const Mat x = d.train.inputs.leftCols(o.n_train), y = d.train.targets.leftCols(o.n_train);
  const Mat xs = d.test.inputs.middleCols(o.n_train, o.n_test);
  std::vector<double> times;
  for (long t : o.steps) times.push_back(double(t));
  std::vector<TrackingWidth> out;
  double work_done = 0, work_total = 0;
  for (long w : o.widths) work_total += double(w) * double(w);
  for (long w : o.widths) {
    TrackingWidth tw;
    tw.width = w;
    const auto spec = sine_network(x.rows(), w, o.layers, nn::Parameterization::ntk, o.sigma_w, o.sigma_b);
    const auto kt = ntk::analytic_kernels(spec, x);
    const auto kx = ntk::analytic_kernels(spec, xs, x);
    ntk::EvolutionOptions eo;
    eo.learning_rate = o.eta_fraction * double(ntk::linearized_evolution(kt.ntk, y, eo).max_stable_learning_rate());
    tw.eta = eo.learning_rate;
    const auto ev = ntk::linearized_evolution(kt.ntk, y, eo);
    // Seeds in chunks of 4 networks at a time (a width-4096 network holds 17M parameters).
    const auto all_seeds = seed_range(o.seed + 5, o.seeds);
    tw.rms_test.assign(o.steps.size(), std::vector<double>(all_seeds.size(), nan));
    tw.relative.assign(o.steps.size(), std::vector<double>(all_seeds.size(), nan));
    std::vector<bool> ok(all_seeds.size(), true);
    for (std::size_t c0 = 0; c0 < all_seeds.size(); c0 += 4) {
      const std::vector<std::uint64_t> seeds(all_seeds.begin() + std::ptrdiff_t(c0),
                                             all_seeds.begin() + std::ptrdiff_t(std::min(all_seeds.size(), c0 + 4)));
      auto nets = initialized(spec, seeds);
      std::vector<Mat> f0(nets.size()), f0s(nets.size());
      std::vector<ntk::OutputTrajectory<double>> lin, lins;
      for (std::size_t r = 0; r < nets.size(); ++r) {
        f0[r] = nn::forward(nets[r], x), f0s[r] = nn::forward(nets[r], xs);
        lin.push_back(ev.train_outputs(f0[r], times));
        lins.push_back(ev.test_outputs(kx.ntk, f0[r], f0s[r], times));
        tw.theory = lins[r].outcome.ok() ? lin[r].outcome : lins[r].outcome;
      }
      long done = 0;
      for (std::size_t k = 0; k < o.steps.size(); ++k) {
        optim::TrainOptions to;
        to.learning_rate = eo.learning_rate;
        to.sampler = shuffled_epochs(o.n_train);
        to.steps = o.steps[k] - done;
        done = o.steps[k];
        const auto sums = optim::train_seeds(nets, nn::SquaredError(y), x, to, seeds, o.threads);
        for (std::size_t r = 0; r < nets.size(); ++r) {
          const std::size_t g = c0 + r;
          ok[g] = ok[g] && sums[r].outcome.ok();
          if (!ok[g]) continue;
          const Mat& l = lin[r].outputs[k];
          const Mat& ls = lins[r].outputs[k];
          const Mat f = nn::forward(nets[r], x), fs = nn::forward(nets[r], xs);
          tw.rms_test[k][g] = std::sqrt((fs - ls).squaredNorm() / double(fs.size()));
          tw.relative[k][g] = std::sqrt(((f - l).squaredNorm() + (fs - ls).squaredNorm()) /
                                        ((l - f0[r]).squaredNorm() + (ls - f0s[r]).squaredNorm()));
        }
      }
    }
    for (bool b : ok) tw.failed += b ? 0 : 1;
    out.push_back(std::move(tw));
    work_done += double(w) * double(w);
    if (progress) progress(work_done / work_total);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Fig. 1: full-batch GD of NTK-parameterised networks on all train windows for each η, recorded at each
// iteration count; outputs beside the closed form (analytic Θ, the network's own f_0), train/test MSE, and the
// input Jacobian ∂f_t(x*)/∂x* at every jacobian_stride-th test window: the network's (one output VJP) against
// eq. 2 (LinearizedEvolution::input_jacobian with the analytic ∂Θ(x*, X)/∂x* and the network's own f_0 and
// ∂f_0/∂x*). "learned" = the part due to training, f_t − f_0.

struct Fig1Options {
  long width = 100, layers = 5;
  std::vector<double> etas{0.01, 1.0};
  std::vector<long> iterations{1000, 10000};  ///< increasing
  int seeds = 1;
  Index jacobian_stride = 4;
  double sigma_w = 1.0, sigma_b = 0.1;
  std::uint64_t seed = 2019;  ///< initialisation r: RandomStream(seed + 99 + r), the same for every η
  sgdsde::Threads threads{1};
};

struct Fig1Point {
  double eta = 0;
  long iterations = 0;
  int seed = 0;
  Mat network, closed_form;  ///< 1 × N train outputs
  double train_mse = nan, test_mse = nan, closed_train_mse = nan, closed_test_mse = nan;
  /// RMS over the Jacobian windows of ‖∂f/∂x*‖₂: network, eq. 2, and their learned parts (minus ∂f_0/∂x*)
  double jacobian_network = nan, jacobian_eq2 = nan, learned_network = nan, learned_eq2 = nan;
  double max_stable_eta = nan;
  sgdsde::Outcome training, theory;
};

inline std::vector<Fig1Point> fig1(const SineData& d, const Fig1Options& o, const ProgressFn& progress = {}) {
  using namespace sgdsde;
  const Mat& x = d.train.inputs;
  const Mat& y = d.train.targets;
  const Index n = x.cols(), dim = x.rows();
  const auto spec = sine_network(dim, o.width, o.layers, nn::Parameterization::ntk, o.sigma_w, o.sigma_b);
  const auto k = ntk::analytic_kernels(spec, x);
  const auto kx = ntk::analytic_kernels(spec, d.test.inputs, x);
  std::vector<Index> jac_points;
  for (Index j = 0; j < d.test.inputs.cols(); j += std::max<Index>(o.jacobian_stride, 1)) jac_points.push_back(j);
  const Index nj = Index(jac_points.size());
  Mat xj(dim, nj);
  std::vector<Mat> grad(jac_points.size());  // ∂Θ(x*, X)/∂x*, d × N per Jacobian window
  for (Index j = 0; j < nj; ++j) {
    xj.col(j) = d.test.inputs.col(jac_points[std::size_t(j)]);
    grad[std::size_t(j)] = ntk::analytic_kernel_input_gradient(spec, Mat(xj.col(j)), x).ntk_gradient;
  }
  const Mat ones = Mat::Ones(1, nj);
  const auto seeds = seed_range(o.seed + 99, o.seeds);
  std::vector<double> times;
  for (long t : o.iterations) times.push_back(double(t));
  std::vector<Fig1Point> out;
  for (std::size_t e = 0; e < o.etas.size(); ++e) {
    ntk::EvolutionOptions eo;
    eo.learning_rate = o.etas[e];
    const auto ev = ntk::linearized_evolution(k.ntk, y, eo);
    auto nets = initialized(spec, seeds);
    std::vector<Mat> f0(nets.size()), f0s(nets.size()), jac0(nets.size());
    for (std::size_t r = 0; r < nets.size(); ++r) {
      f0[r] = nn::forward(nets[r], x);
      f0s[r] = nn::forward(nets[r], d.test.inputs);
      jac0[r] = nn::output_vjp(nets[r], xj, ones).input_vjp;  // column j = ∂f_0(x_j)/∂x_j
    }
    // eq. 2 per seed and Jacobian window, at every recorded time
    std::vector<std::vector<sgdsde::ntk::InputJacobianTrajectory<double>>> eq2(nets.size());
    for (std::size_t r = 0; r < nets.size(); ++r)
      for (Index j = 0; j < nj; ++j)
        eq2[r].push_back(ev.input_jacobian(grad[std::size_t(j)], f0[r], Mat(jac0[r].col(j).transpose()), times));
    long done = 0;
    std::vector<Outcome> status(nets.size());  // a run that failed stays failed
    for (std::size_t it = 0; it < o.iterations.size(); ++it) {
      optim::TrainOptions to;
      to.learning_rate = o.etas[e];
      to.sampler = shuffled_epochs(n);
      to.steps = o.iterations[it] - done;
      done = o.iterations[it];
      const auto sums = optim::train_seeds(nets, nn::SquaredError(y), x, to, seeds, o.threads);
      for (std::size_t r = 0; r < nets.size(); ++r) {
        Fig1Point p;
        p.eta = o.etas[e];
        p.iterations = o.iterations[it];
        p.seed = int(r);
        p.max_stable_eta = ev.max_stable_learning_rate();
        if (status[r].ok()) status[r] = sums[r].outcome;
        p.training = status[r];
        const auto lin = ev.train_outputs(f0[r], {times[it]});
        const auto lins = ev.test_outputs(kx.ntk, f0[r], f0s[r], {times[it]});
        p.theory = lins.outcome.ok() ? lin.outcome : lins.outcome;
        p.closed_form = lin.outputs[0];
        p.closed_train_mse = mse(lin.outputs[0], y);
        p.closed_test_mse = mse(lins.outputs[0], d.test.targets);
        double jn = 0, je = 0, ln = 0, le = 0;
        for (Index j = 0; j < nj; ++j) {
          const Mat& ej = eq2[r][std::size_t(j)].jacobian[it];
          je += ej.squaredNorm();
          le += (ej - jac0[r].col(j).transpose()).squaredNorm();
        }
        p.jacobian_eq2 = std::sqrt(je / double(nj));
        p.learned_eq2 = std::sqrt(le / double(nj));
        if (status[r].ok()) {
          p.network = nn::forward(nets[r], x);
          p.train_mse = mse(p.network, y);
          p.test_mse = mse(nn::forward(nets[r], d.test.inputs), d.test.targets);
          const Mat jac = nn::output_vjp(nets[r], xj, ones).input_vjp;
          for (Index j = 0; j < nj; ++j) {
            jn += jac.col(j).squaredNorm();
            ln += (jac.col(j) - jac0[r].col(j)).squaredNorm();
          }
          p.jacobian_network = std::sqrt(jn / double(nj));
          p.learned_network = std::sqrt(ln / double(nj));
        }
        out.push_back(std::move(p));
      }
      if (progress)  // work ∝ steps
        progress((double(e) * double(o.iterations.back()) + double(o.iterations[it])) /
                 (double(o.etas.size()) * double(o.iterations.back())));
    }
  }
  return out;
}

}  // namespace borovykh
