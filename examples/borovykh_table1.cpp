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
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <Eigen/Core>

#include <sgdsde/data/synthetic.hpp>
#include <sgdsde/nn/gradient.hpp>
#include <sgdsde/nn/network.hpp>
#include <sgdsde/ntk/kernels.hpp>
#include <sgdsde/ntk/noisy.hpp>
#include <sgdsde/optim/mlp_problem.hpp>

using namespace sgdsde;

namespace {
struct Stat {
  double sum = 0, sum2 = 0;
  int n = 0;
  void add(double x) { sum += x, sum2 += x * x, ++n; }
  double mean() const { return sum / n; }
  double se() const { return n > 1 ? std::sqrt(std::max(0.0, (sum2 - sum * sum / n) / (n - 1)) / n) : 0.0; }
};
}  // namespace

int main(int argc, char** argv) {
  long width = 64, steps = 1000, runs = 5, depth = 5;
  double eta = 1.0, m = 0, train_fraction = 0.8, sigma_w = 1.0, sigma_b = 0.1;
  std::vector<double> sigmas{0, 0.1, 0.5, 0.9};
  std::uint64_t seed = 1;
  CLI::App app{"Borovykh 2019 Table 1: noisy GD on the noisy sine, simulation vs corrected Lemma 3"};
  app.add_option("--width", width, "hidden width n_l (paper: 100)")->check(CLI::PositiveNumber);
  app.add_option("--depth", depth, "number of dense layers L (paper: 5)")->check(CLI::Range(2, 50));
  app.add_option("--steps", steps, "GD steps (paper: 10000)")->check(CLI::PositiveNumber);
  app.add_option("--runs", runs, "independent runs per σ (paper: 20)")->check(CLI::Range(2, 100000));
  app.add_option("--eta", eta, "learning rate η (paper: 1)")->check(CLI::PositiveNumber);
  app.add_option("--sigma", sigmas, "noise levels σ (paper: 0 0.1 0.5 0.9)");
  app.add_option("--m", m, "M of σ η/√M (default 0 = the number of parameters P)")->check(CLI::NonNegativeNumber);
  app.add_option("--train-fraction", train_fraction, "fraction of windows used for training")
      ->check(CLI::Range(0.05, 0.95));
  app.add_option("--sigma-w", sigma_w, "σ_w of the NTK parameterisation")->check(CLI::PositiveNumber);
  app.add_option("--sigma-b", sigma_b, "σ_b of the NTK parameterisation")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "seed (data: stream 0 of seed; run r: seed + 1 + r)");
  CLI11_PARSE(app, argc, argv);

  const Dataset<double> all = data::noisy_sine_windows(RandomStream(seed));
  const Index n_all = all.inputs.cols(), n = Index(std::lround(train_fraction * double(n_all)));
  const Eigen::MatrixXd x = all.inputs.leftCols(n), y = all.targets.leftCols(n);
  const Eigen::MatrixXd xs = all.inputs.rightCols(n_all - n), ys = all.targets.rightCols(n_all - n);

  nn::MlpSpec spec;
  spec.widths.assign(1, all.inputs.rows());
  for (long l = 0; l + 1 < depth; ++l) spec.widths.push_back(width);
  spec.widths.push_back(1);
  spec.sigma_w = sigma_w;
  spec.sigma_b = sigma_b;

  // Analytic NTK on train ∪ test, one eigendecomposition of Θ(X, X) for every run and σ.
  Eigen::MatrixXd xa(x.rows(), n_all);
  xa << x, xs;
  const auto kern = ntk::analytic_kernels(spec, xa);
  if (!kern.outcome.ok()) {
    std::fprintf(stderr, "analytic_kernels: %s\n", kern.outcome.message.c_str());
    return 1;
  }
  const Eigen::MatrixXd theta = kern.ntk.topLeftCorner(n, n), theta_ts = kern.ntk.bottomLeftCorner(n_all - n, n),
                        theta_s = kern.ntk.bottomRightCorner(n_all - n, n_all - n);
  ntk::EvolutionOptions eo;
  eo.learning_rate = eta;
  eo.dynamics = ntk::Dynamics::gradient_descent;
  const auto evo = ntk::linearized_evolution(theta, y, eo);
  const double p = double(nn::Mlp<double>(spec).num_parameters());
  const double mm = m > 0 ? m : p;
  std::printf("# Borovykh Table 1: N = %ld train, %ld test windows; widths", long(n), long(n_all - n));
  for (Index w : spec.widths) std::printf(" %ld", long(w));
  std::printf("; P = %.0f parameters; M = %.0f; eta = %g; %ld steps; %ld runs per sigma\n", p, mm, eta, steps, runs);
  std::printf("# analytic NTK: mu_max = %.4g, mu_min = %.4g; largest stable eta = %.4g; evolution status: %s\n",
              evo.eigenvalues().maxCoeff(), evo.eigenvalues().minCoeff(), double(evo.max_stable_learning_rate()),
              to_string(evo.outcome().status));
  std::printf("%6s  %-21s %-21s %-21s %-21s %-12s\n", "sigma", "sim train MSE", "Lemma3corr train",
              "sim test MSE", "Lemma3corr test", "printed L3");

  const double kappa = eta / double(n);
  for (double sigma : sigmas) {
    Stat train_sim, test_sim, train_th, test_th, printed;
    for (long r = 0; r < runs; ++r) {
      const std::uint64_t run_seed = seed + 1 + std::uint64_t(r);
      nn::Mlp<double> net(spec);
      net.initialize(RandomStream(run_seed));
      const Eigen::MatrixXd f0 = nn::forward(net, x), f0s = nn::forward(net, xs);
      optim::TrainOptions options;
      options.learning_rate = eta;
      options.sampler = shuffled_epochs(n);  // the full batch every step
      options.steps = steps;
      options.seed = run_seed;
      options.sgd.noise_sigma = sigma;
      options.sgd.noise_batch = mm;
      const auto summary = optim::train(net, nn::SquaredError(y), x, options);
      if (!summary.outcome.ok()) std::fprintf(stderr, "run %ld: %s\n", r, summary.outcome.message.c_str());
      train_sim.add((nn::forward(net, x) - y).squaredNorm() / double(n));
      test_sim.add((nn::forward(net, xs) - ys).squaredNorm() / double(n_all - n));
      const auto th = ntk::expected_mse(evo, ntk::ParameterNoise{sigma, mm}, f0, theta_ts, theta_s, f0s, ys,
                                        {double(steps)});
      train_th.add(th.train[0]);
      test_th.add(th.test[0]);
      // Lemma 3 as printed (÷N): the noiseless part + σ²η²/N² ∫₀ᵗ ‖e^{−κΘ(t−s)}Θ‖²_F ds (÷N).
      double extra = 0;
      for (Index i = 0; i < n; ++i) {
        const double mu = std::max(0.0, double(evo.eigenvalues()[i]));
        extra += mu > 0 ? mu * mu * -std::expm1(-2 * kappa * mu * double(steps)) / (2 * kappa * mu) : 0.0;
      }
      printed.add(th.train[0] - th.train_noise[0] + sigma * sigma * eta * eta / double(n * n) * extra / double(n));
    }
    std::printf("%6.2f  %9.4g ± %-9.2g %9.4g ± %-9.2g %9.4g ± %-9.2g %9.4g ± %-9.2g %-12.4g\n", sigma,
                train_sim.mean(), train_sim.se(), train_th.mean(), train_th.se(), test_sim.mean(), test_sim.se(),
                test_th.mean(), test_th.se(), printed.mean());
  }
  std::printf("# Paper (Table 1): train 0.0012 0.0056 0.025 0.040, test 0.25 0.24 0.20 0.22 for sigma 0 0.1 0.5 0.9.\n");
  return 0;
}
