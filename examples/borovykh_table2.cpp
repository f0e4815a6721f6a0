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
// Defaults run in about a minute (2 runs, 1000 steps); the paper's setting is
//   borovykh_table2 --runs 20 --steps 10000 --fig-steps 10000
// The computations are in examples/reproduce/borovykh_tables.hpp, shared with sgdsde-reproduce.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "reproduce/borovykh_tables.hpp"

using namespace sgdsde;
using borovykh::Mat;
using borovykh::mean_se;

int main(int argc, char** argv) {
  CLI::App app{"Borovykh 2019 §3: Table 2 (SGD, lazy vs regular) and Fig. 1 data, with the NTK theory"};
  borovykh::Table2Options t2;
  std::uint64_t seed = 2019;
  std::string csv = "borovykh_fig1.csv";
  long fig_steps = 1000;
  borovykh::Fig1Options f1;
  borovykh::TrackingOptions tr;
  double sigma_w = 1.0, sigma_b = 0.1;
  app.add_option("--runs", t2.runs, "initialisations averaged per cell (paper: 20)")->check(CLI::PositiveNumber);
  app.add_option("--steps", t2.steps, "SGD steps per run (paper: 10000)")->check(CLI::PositiveNumber);
  app.add_option("--eta", t2.eta, "SGD learning rate of Table 2 (paper: 0.01)")->check(CLI::PositiveNumber);
  app.add_option("--widths", t2.widths, "hidden widths (paper: 16 64 256)");
  app.add_option("--batches", t2.batches, "batch sizes (paper: 1 100; > N means full batch)");
  app.add_option("--seed", seed, "seed of data, initialisations and batches");
  app.add_option("--csv", csv, "file for the Fig. 1 data ('' to skip)");
  app.add_option("--fig-steps", fig_steps, "GD iterations of Fig. 1 (paper: 1000 and 10000)")->check(CLI::PositiveNumber);
  app.add_option("--fig-width", f1.width, "hidden width of Fig. 1 (paper: 100)")->check(CLI::PositiveNumber);
  app.add_option("--fig-etas", f1.etas, "learning rates of Fig. 1 (paper: 0.01 1)");
  app.add_option("--track-seeds", tr.seeds, "initialisations per width in the tracking check")
      ->check(CLI::PositiveNumber);
  app.add_option("--track-widths", tr.widths, "widths of the closed-form tracking check (e.g. 256 1024 2048 4096)");
  app.add_option("--sigma-w", sigma_w, "sigma_w of the NTK parameterisation")->check(CLI::PositiveNumber);
  app.add_option("--sigma-b", sigma_b, "sigma_b of the NTK parameterisation")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  t2.sigma_w = f1.sigma_w = tr.sigma_w = sigma_w;
  t2.sigma_b = f1.sigma_b = tr.sigma_b = sigma_b;
  t2.seed = seed + 10;
  f1.seed = tr.seed = seed;
  f1.iterations = {fig_steps / 10 > 0 ? fig_steps / 10 : 1, fig_steps};

  const auto data = borovykh::sine_train_test(seed);
  const auto& train = data.train;
  const auto& test = data.test;
  const Index n = train.inputs.cols();
  std::printf("Borovykh 2019 Table 2: noisy sine, N = %ld windows, 5 layers ReLU, SGD eta = %g, %ld steps, %d runs,"
              " sigma_w = %g, sigma_b = %g\n", long(n), t2.eta, t2.steps, t2.runs, sigma_w, sigma_b);
  std::printf("cells: train MSE - test MSE; theory = infinite-width GD ensemble (noiseless mean field) at the same "
              "step count\n\n");
  std::printf("%6s %6s | %-21s %-21s | %-21s\n", "width", "batch", "lazy (NTK param.)", "regular (He)", "lazy theory");
  for (const auto& c : borovykh::table2(data, t2)) {
    std::printf("%6ld %6ld | %9.3g - %-9.3g %9.3g - %-9.3g | %9.3g - %-9.3g", c.width, c.batch,
                mean_se(c.lazy_train).mean, mean_se(c.lazy_test).mean, mean_se(c.regular_train).mean,
                mean_se(c.regular_test).mean, c.theory_train, c.theory_test);
    if (c.lazy_failed || c.regular_failed)
      std::printf("  diverged runs: lazy %d/%d, regular %d/%d", c.lazy_failed, t2.runs, c.regular_failed, t2.runs);
    if (!c.theory.ok()) std::printf("  theory: %s", to_string(c.theory.status));
    std::printf("\n");
  }
  std::printf("\npaper (20 runs, 10000 steps, n_l = 2^4/2^6/2^8): n_b = 1: lazy 0.019-0.23, regular 0.064-0.18;"
              " n_b = 100: lazy 1.7e-3-0.29 / 6.6e-4-0.26 / 6.0e-4-0.26, regular 0.018-0.24\n");

  // Eq. 2: norm of the infinite-width mean input Jacobian E ∂f_t(x*)/∂x* (f_0 averages to 0) at one test
  // window, against t, η and λ (weight decay towards θ₀): it grows with t and η and is capped by λ.
  {
    // the kernels do not depend on the width
    const auto spec = borovykh::sine_network(5, 256, 5, nn::Parameterization::ntk, sigma_w, sigma_b);
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

  // Wide networks against the closed form (5-w-w-1 ReLU MLPs, NTK parameterisation, on the first 16 windows,
  // full-batch GD at half the largest stable rate of the analytic Θ for 200 steps).
  std::printf("\nWide networks vs the closed form (5-w-w-1, N = %ld, N* = %ld, %ld GD steps):\n", long(tr.n_train),
              long(tr.n_test), tr.steps.back());
  for (const auto& w : borovykh::closed_form_tracking(data, tr)) {
    std::string each;
    for (double d : w.relative.back()) each += " " + std::to_string(d).substr(0, 6);
    std::printf("  width %5ld: eta %.3g, relative deviation %.4f (mean of %d inits:%s)%s\n", w.width, w.eta,
                mean_se(w.relative.back()).mean, tr.seeds, each.c_str(), w.failed ? "  [a training run failed]" : "");
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
  const Mat clean = data::sine_window_clean_targets(data::SineWindowOptions{});
  std::printf("\nFig. 1 data -> %s (width %ld, full-batch GD)\n", csv.c_str(), f1.width);
  for (const auto& p : borovykh::fig1(data, f1)) {
    if (!p.training.ok()) {
      std::printf("  eta %-6g its %6ld: training failed (%s)\n", p.eta, p.iterations, to_string(p.training.status));
      continue;
    }
    std::printf("  eta %-6g its %6ld: network train MSE %.3g, closed form %.3g, input Jacobian %.3g (eq. 2: %.3g)"
                "  [theory %s, max stable eta %.3g]\n",
                p.eta, p.iterations, p.train_mse, p.closed_train_mse, p.jacobian_network, p.jacobian_eq2,
                to_string(p.theory.status), p.max_stable_eta);
    for (Index i = 0; i < n; ++i)
      std::fprintf(out, "%g,%ld,%ld,%.9g,%.9g,%.9g,%.9g\n", p.eta, p.iterations, long(i), train.targets(0, i),
                   clean(0, i), p.network(0, i), p.closed_form(0, i));
  }
  std::fclose(out);
  return 0;
}
