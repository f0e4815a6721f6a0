// Borovykh (2019) §3, Table 1: full-batch gradient descent with injected parameter noise σ η/√M ξ on the noisy
// sine windows (x_t−4 … x_t → x_t+1, 5 dense layers, ReLU, NTK parameterisation), simulated train/test MSE over
// independent runs (mean ± standard error), beside the corrected Lemma 3 (ntk/noisy.hpp: expected MSE of the
// linearised network with the ANALYTIC NTK Θ = ntk::analytic_kernels(spec, X), given each run's initial outputs
// f_0, averaged over the runs) and the lemma as printed (N² instead of M, Θ² instead of Θ).
//
//   borovykh_table1                               quick defaults (< 1 minute)
//   borovykh_table1 --width 100 --steps 10000 --runs 20      the paper's settings
//
// MSE = (1/N) Σ (f(x_n) − y_n)². The paper does not define M; the default here is M = P (the number of
// parameters, the dimension of its Brownian motion); --m sets another value (e.g. --m 100, its batch size).
// The data are split in time: the first --train-fraction of the windows train, the rest test.
// The computations are in examples/reproduce/borovykh_tables.hpp, shared with sgdsde-reproduce.
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "reproduce/borovykh_tables.hpp"

int main(int argc, char** argv) {
  borovykh::Table1Options o;
  CLI::App app{"Borovykh 2019 Table 1: noisy GD on the noisy sine, simulation vs corrected Lemma 3"};
  app.add_option("--width", o.width, "hidden width n_l (paper: 100)")->check(CLI::PositiveNumber);
  app.add_option("--depth", o.layers, "number of dense layers L (paper: 5)")->check(CLI::Range(2, 50));
  app.add_option("--steps", o.steps, "GD steps (paper: 10000)")->check(CLI::PositiveNumber);
  app.add_option("--runs", o.runs, "independent runs per σ (paper: 20)")->check(CLI::Range(2, 100000));
  app.add_option("--eta", o.eta, "learning rate η (paper: 1)")->check(CLI::PositiveNumber);
  app.add_option("--sigma", o.sigmas, "noise levels σ (paper: 0 0.1 0.5 0.9)");
  app.add_option("--m", o.m, "M of σ η/√M (default 0 = the number of parameters P)")->check(CLI::NonNegativeNumber);
  app.add_option("--train-fraction", o.train_fraction, "fraction of windows used for training")
      ->check(CLI::Range(0.05, 0.95));
  app.add_option("--sigma-w", o.sigma_w, "σ_w of the NTK parameterisation")->check(CLI::PositiveNumber);
  app.add_option("--sigma-b", o.sigma_b, "σ_b of the NTK parameterisation")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", o.seed, "seed (data: stream 0 of seed; run r: seed + 1 + r)");
  CLI11_PARSE(app, argc, argv);

  const auto res = borovykh::table1(o);
  if (res.rows.empty()) {
    std::fprintf(stderr, "analytic NTK / evolution: %s\n", res.evolution.message.c_str());
    return 1;
  }
  std::printf("# Borovykh Table 1: N = %ld train, %ld test windows; widths", long(res.n_train), long(res.n_test));
  for (auto w : res.spec.widths) std::printf(" %ld", long(w));
  std::printf("; P = %.0f parameters; M = %.0f; eta = %g; %ld steps; %d runs per sigma\n", res.parameters, res.m,
              o.eta, o.steps, o.runs);
  std::printf("# analytic NTK: mu_max = %.4g, mu_min = %.4g; largest stable eta = %.4g; evolution status: %s\n",
              res.mu_max, res.mu_min, res.max_stable_eta, sgdsde::to_string(res.evolution.status));
  std::printf("%6s  %-21s %-21s %-21s %-21s %-12s\n", "sigma", "sim train MSE", "Lemma3corr train", "sim test MSE",
              "Lemma3corr test", "printed L3");
  for (const auto& row : res.rows) {
    const auto a = borovykh::mean_se(row.train_sim), b = borovykh::mean_se(row.train_theory),
               c = borovykh::mean_se(row.test_sim), d = borovykh::mean_se(row.test_theory),
               e = borovykh::mean_se(row.printed_train);
    std::printf("%6.2f  %9.4g ± %-9.2g %9.4g ± %-9.2g %9.4g ± %-9.2g %9.4g ± %-9.2g %-12.4g", row.sigma, a.mean, a.se,
                b.mean, b.se, c.mean, c.se, d.mean, d.se, e.mean);
    if (row.failed) std::printf("  (%d runs failed)", row.failed);
    std::printf("\n");
  }
  std::printf("# Paper (Table 1): train 0.0012 0.0056 0.025 0.040, test 0.25 0.24 0.20 0.22 for sigma 0 0.1 0.5 0.9.\n");
  return 0;
}
