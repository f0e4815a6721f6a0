// examples/borovykh_table2.cpp — Borovykh (2019) §3: SGD on the noisy sine (windows t−4…t → t+1, 5 dense
// layers, ReLU) in the lazy (NTK) and regular (standard, He) parameterisations: Table 2 (train/test MSE for
// batch 1 and 100, widths 16, 64, 256) with the infinite-width theory beside the lazy column, and the data of
// Fig. 1 (network outputs against η and the iteration count, with the closed-form linearised outputs) as CSV.
// Also: the eq. 2 input-Jacobian norm against t, η, λ, and wide networks (--track-widths, up to 4096) trained
// by full-batch GD against the closed form from the analytic Θ (deviation decreasing with width).
//
// Theory (ntk/evolution.hpp, docs/theory.md): in the linearised model the MEAN of SGD's outputs follows GD
// exactly (E g_B = ∇L, updates linear), so the noiseless lazy prediction after T steps is the GD ensemble
// over the initialisation f_0 ~ GP(0, K): E MSE = (‖mean − Y‖² + tr Cov)/N, the same for both batch sizes;
// what SGD's noise adds on top is ntk/noisy.hpp's part. Data: train = windows of one noisy series
// y_i = sin(0.1 i) + 0.3 ε_i, i = 0…100; test = the same windows of an independent noise draw. Batch 100 > N = 96
// is taken as the full batch. MSE = (1/N) Σ (f − y)².
//
// Defaults run in well under a minute (2 runs, 2000 steps); the paper's setting is
//   borovykh_table2 --runs 20 --steps 10000 --fig-steps 10000
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <Eigen/Dense>

#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/data/synthetic.hpp"
#include "sgdsde/nn/gradient.hpp"
#include "sgdsde/nn/loss.hpp"
#include "sgdsde/nn/network.hpp"
#include "sgdsde/ntk/evolution.hpp"
#include "sgdsde/ntk/kernels.hpp"
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/optim/train.hpp"

using namespace sgdsde;
using Mat = Eigen::MatrixXd;

namespace {

double mse(const Mat& f, const Mat& y) { return (f - y).squaredNorm() / double(y.size()); }

double sigma_w = 1.0, sigma_b = 0.1;

nn::MlpSpec five_layers(Index width, nn::Parameterization p) {
  nn::MlpSpec spec;
  spec.sigma_w = sigma_w;
  spec.sigma_b = sigma_b;
  spec.widths = {5, width, width, width, width, 1};
  spec.hidden_activation = nn::Activation::relu;
  spec.parameterization = p;
  return spec;
}

struct Pair {
  double train = 0, test = 0;
  int failed = 0;  ///< runs that diverged (not averaged in)
};

/// Mean over `runs` initialisations of the train/test MSE after `steps` SGD steps (optim::train).
Pair sgd_mse(const nn::MlpSpec& spec, const Dataset<double>& train, const Dataset<double>& test, Index batch,
             long steps, double eta, int runs, std::uint64_t seed) {
  Pair sum;
  int ok = 0;
  for (int r = 0; r < runs; ++r) {
    nn::Mlp<double> net(spec);
    net.initialize(RandomStream(seed + std::uint64_t(r)));
    optim::TrainOptions o;
    o.learning_rate = eta;
    o.sampler = shuffled_epochs(batch);
    o.steps = steps;
    o.seed = seed + 1000 + std::uint64_t(r);
    const auto res = optim::train(net, nn::SquaredError(train.targets), train.inputs, o);
    if (!res.outcome.ok()) {
      ++sum.failed;
      continue;
    }
    sum.train += mse(nn::forward(net, train.inputs), train.targets);
    sum.test += mse(nn::forward(net, test.inputs), test.targets);
    ++ok;
  }
  sum.train /= ok;  // NaN when every run diverged (printed as such, with the count)
  sum.test /= ok;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Borovykh 2019 §3: Table 2 (SGD, lazy vs regular) and Fig. 1 data, with the NTK theory"};
  int runs = 2;
  long steps = 1000, fig_steps = 1000;
  double eta = 0.01;
  std::vector<long> widths = {16, 64, 256};
  std::vector<long> batches = {1, 100};
  std::uint64_t seed = 2019;
  std::string csv = "borovykh_fig1.csv";
  long fig_width = 100;
  std::vector<double> fig_etas = {0.01, 1.0};
  app.add_option("--runs", runs, "initialisations averaged per cell (paper: 20)")->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "SGD steps per run (paper: 10000)")->check(CLI::PositiveNumber);
  app.add_option("--eta", eta, "SGD learning rate of Table 2 (paper: 0.01)")->check(CLI::PositiveNumber);
  app.add_option("--widths", widths, "hidden widths (paper: 16 64 256)");
  app.add_option("--batches", batches, "batch sizes (paper: 1 100; > N means full batch)");
  app.add_option("--seed", seed, "seed of data, initialisations and batches");
  app.add_option("--csv", csv, "file for the Fig. 1 data ('' to skip)");
  app.add_option("--fig-steps", fig_steps, "GD iterations of Fig. 1 (paper: 1000 and 10000)")->check(CLI::PositiveNumber);
  app.add_option("--fig-width", fig_width, "hidden width of Fig. 1 (paper: 100)")->check(CLI::PositiveNumber);
  app.add_option("--fig-etas", fig_etas, "learning rates of Fig. 1 (paper: 0.01 1)");
  std::vector<long> track_widths = {256, 1024, 2048};
  int track_seeds = 3;
  app.add_option("--track-seeds", track_seeds, "initialisations per width in the tracking check")
      ->check(CLI::PositiveNumber);
  app.add_option("--track-widths", track_widths, "widths of the closed-form tracking check (e.g. 256 1024 2048 4096)");
  app.add_option("--sigma-w", sigma_w, "sigma_w of the NTK parameterisation")->check(CLI::PositiveNumber);
  app.add_option("--sigma-b", sigma_b, "sigma_b of the NTK parameterisation")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  const data::SineWindowOptions sine{};
  const auto train = data::noisy_sine_windows(sine, RandomStream(seed, 1));
  const auto test = data::noisy_sine_windows(sine, RandomStream(seed, 2));
  const Index n = train.inputs.cols();
  std::printf("Borovykh 2019 Table 2: noisy sine, N = %ld windows, 5 layers ReLU, SGD eta = %g, %ld steps, %d runs,"
              " sigma_w = %g, sigma_b = %g\n", long(n), eta, steps, runs, sigma_w, sigma_b);
  std::printf("cells: train MSE - test MSE; theory = infinite-width GD ensemble (noiseless mean field) at the same "
              "step count\n\n");
  std::printf("%6s %6s | %-21s %-21s | %-21s\n", "width", "batch", "lazy (NTK param.)", "regular (He)", "lazy theory");
  for (long w : widths) {
    // Theory for the lazy column: analytic K and Θ of this architecture, ensemble over f_0 ~ GP(0, K).
    const auto spec_lazy = five_layers(w, nn::Parameterization::ntk);
    const auto kt = ntk::analytic_kernels(spec_lazy, train.inputs);
    const auto kx = ntk::analytic_kernels(spec_lazy, test.inputs, train.inputs);
    const auto kxx = ntk::analytic_kernels(spec_lazy, test.inputs);
    ntk::EvolutionOptions eo;
    eo.learning_rate = eta;
    const auto ev = ntk::linearized_evolution(kt.ntk, train.targets, eo);
    const auto on_train = ev.ensemble(kt.nngp, kt.nngp, kt.nngp, kt.ntk, {double(steps)});
    const auto on_test = ev.ensemble(kt.nngp, kx.nngp, kxx.nngp, kx.ntk, {double(steps)});
    const Pair theory{(on_train.mean[0] - train.targets).squaredNorm() / n + on_train.covariance[0].trace() / n,
                      (on_test.mean[0] - test.targets).squaredNorm() / n + on_test.covariance[0].trace() / n};
    for (long b : batches) {
      const Index batch = std::min<Index>(b, n);
      const Pair lazy = sgd_mse(spec_lazy, train, test, batch, steps, eta, runs, seed + 10);
      const Pair reg = sgd_mse(five_layers(w, nn::Parameterization::standard), train, test, batch, steps, eta, runs,
                               seed + 10);
      std::printf("%6ld %6ld | %9.3g - %-9.3g %9.3g - %-9.3g | %9.3g - %-9.3g", w, b, lazy.train, lazy.test,
                  reg.train, reg.test, theory.train, theory.test);
      if (lazy.failed || reg.failed)
        std::printf("  diverged runs: lazy %d/%d, regular %d/%d", lazy.failed, runs, reg.failed, runs);
      if (!ev.outcome().ok()) std::printf("  theory: %s", to_string(ev.outcome().status));
      std::printf("\n");
    }
  }
  std::printf("\npaper (20 runs, 10000 steps, n_l = 2^4/2^6/2^8): n_b = 1: lazy 0.019-0.23, regular 0.064-0.18;"
              " n_b = 100: lazy 1.7e-3-0.29 / 6.6e-4-0.26 / 6.0e-4-0.26, regular 0.018-0.24\n");

  // Eq. 2: norm of the infinite-width mean input Jacobian E ∂f_t(x*)/∂x* (f_0 averages to 0) at one test
  // window, against t, η and λ (weight decay towards θ₀): it grows with t and η and is capped by λ.
  {
    const auto spec = five_layers(256, nn::Parameterization::ntk);  // the kernels do not depend on the width
    const auto k = ntk::analytic_kernels(spec, train.inputs);
    const Eigen::VectorXd x_star = test.inputs.col(n / 2);
    const auto grad = ntk::analytic_kernel_input_gradient(spec, x_star, train.inputs);
    const std::vector<double> ts = {10, 100, 1000, 10000};
    std::printf("\nEq. 2: ||E df_t(x*)/dx*|| at test window %ld (GD, infinite width)\n%8s %8s |", long(n / 2), "eta",
                "lambda");
    for (double t : ts) std::printf(" t=%-9g", t);
    std::printf("\n");
    for (double e : {0.01, 0.1, 1.0})
      for (double lambda : {0.0, 1e-3, 1e-2}) {
        ntk::EvolutionOptions eo;
        eo.learning_rate = e;
        eo.weight_decay = lambda;
        const auto ev = ntk::linearized_evolution(k.ntk, train.targets, eo);
        const auto jac = ev.input_jacobian(grad.ntk_gradient, Mat::Zero(1, n), Mat::Zero(1, 5), ts);
        std::printf("%8g %8g |", e, lambda);
        for (double v : jac.frobenius_norm) std::printf(" %-11.4g", v);
        std::printf("%s\n", jac.outcome.ok() ? "" : to_string(jac.outcome.status));
      }
  }

  // Wide networks against the closed form: 5-w-w-1 ReLU MLPs (NTK parameterisation) on the first 16 windows,
  // full-batch GD at half the largest stable rate of the analytic Θ for 200 steps; deviation
  // ‖f_net − f_closed‖/‖f_closed − f_0‖ over train and 8 test windows (f_0: the network's own outputs).
  {
    const Index nt = 16, ns = 8;
    const Mat x = train.inputs.leftCols(nt), y = train.targets.leftCols(nt), xs = test.inputs.middleCols(nt, ns);
    std::printf("\nWide networks vs the closed form (5-w-w-1, N = %ld, N* = %ld, 200 GD steps):\n", long(nt), long(ns));
    for (long w : track_widths) {
      nn::MlpSpec spec;
      spec.widths = {5, w, w, 1};
      spec.sigma_w = sigma_w;
      spec.sigma_b = sigma_b;
      const auto kt = ntk::analytic_kernels(spec, x);
      const auto kx = ntk::analytic_kernels(spec, xs, x);
      ntk::EvolutionOptions eo;
      eo.learning_rate = 1.0;
      eo.learning_rate = 0.5 * double(ntk::linearized_evolution(kt.ntk, y, eo).max_stable_learning_rate());
      const auto ev = ntk::linearized_evolution(kt.ntk, y, eo);
      double mean_dev = 0;
      std::string each;
      bool ok = true;
      for (int r = 0; r < track_seeds; ++r) {
        nn::Mlp<double> net(spec);
        net.initialize(RandomStream(seed + 5 + std::uint64_t(r)));
        const Mat f0 = nn::forward(net, x), f0s = nn::forward(net, xs);
        const Mat lin = ev.train_outputs(f0, {200}).outputs[0];
        const Mat lins = ev.test_outputs(kx.ntk, f0, f0s, {200}).outputs[0];
        optim::TrainOptions o;
        o.learning_rate = eo.learning_rate;
        o.sampler = shuffled_epochs(nt);
        o.steps = 200;
        const bool trained = optim::train(net, nn::SquaredError(y), x, o).outcome.ok();
        ok = ok && trained;
        const Mat f = nn::forward(net, x), fs = nn::forward(net, xs);
        const double dev = std::sqrt(((f - lin).squaredNorm() + (fs - lins).squaredNorm()) /
                                     ((lin - f0).squaredNorm() + (lins - f0s).squaredNorm()));
        mean_dev += dev / track_seeds;
        each += " " + std::to_string(dev).substr(0, 6);
      }
      std::printf("  width %5ld: eta %.3g, relative deviation %.4f (mean of %d inits:%s)%s\n", w, eo.learning_rate,
                  mean_dev, track_seeds, each.c_str(), ok ? "" : "  [a training run failed]");
    }
  }

  if (csv.empty()) return 0;
  // Fig. 1: full-batch GD of one NTK-parameterised network per setting, outputs on every window, beside the
  // closed-form linearised outputs from the analytic Θ and the network's own f_0.
  std::FILE* out = std::fopen(csv.c_str(), "w");
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", csv.c_str());
    return 1;
  }
  std::fprintf(out, "eta,iterations,index,target,clean,network,closed_form\n");
  const auto spec = five_layers(fig_width, nn::Parameterization::ntk);
  const auto k = ntk::analytic_kernels(spec, train.inputs);
  const Mat clean = data::sine_window_clean_targets(sine);
  std::vector<long> its = {fig_steps / 10, fig_steps};
  std::printf("\nFig. 1 data -> %s (width %ld, full-batch GD)\n", csv.c_str(), fig_width);
  for (double e : fig_etas) {
    ntk::EvolutionOptions eo;
    eo.learning_rate = e;
    const auto ev = ntk::linearized_evolution(k.ntk, train.targets, eo);
    nn::Mlp<double> net(spec);
    net.initialize(RandomStream(seed + 99));
    const Mat f0 = nn::forward(net, train.inputs);
    const auto lin = ev.train_outputs(f0, {double(its[0]), double(its[1])});
    long done = 0;
    for (std::size_t j = 0; j < its.size(); ++j) {
      optim::TrainOptions o;
      o.learning_rate = e;
      o.sampler = shuffled_epochs(n);
      o.steps = its[j] - done;
      o.seed = seed + 7;
      const auto res = optim::train(net, nn::SquaredError(train.targets), train.inputs, o);
      done = its[j];
      const Mat f = nn::forward(net, train.inputs);
      std::printf("  eta %-6g its %6ld: network train MSE %.3g, closed form %.3g, |net - closed|/|closed - f0| = %.3g"
                  "  [%s; theory %s, max stable eta %.3g]\n",
                  e, its[j], mse(f, train.targets), mse(lin.outputs[j], train.targets),
                  double((f - lin.outputs[j]).norm() / (lin.outputs[j] - f0).norm()), to_string(res.outcome.status),
                  to_string(lin.outcome.status), double(ev.max_stable_learning_rate()));
      for (Index i = 0; i < n; ++i)
        std::fprintf(out, "%g,%ld,%ld,%.9g,%.9g,%.9g,%.9g\n", e, its[j], long(i), train.targets(0, i), clean(0, i),
                     f(0, i), lin.outputs[j](0, i));
    }
  }
  std::fclose(out);
  return 0;
}
