// bench/ntk.bench.cpp — the NTK area on one thread against bench/peers/ntk.py:
// ntk_analytic_n4096: analytic ReLU K(X, X) and Θ(X, X) (NTK parameterisation, σ_w = 1.4, σ_b = 0.1,
//   5 hidden layers) on N = 4096 inputs of dimension 32, against the same recursion in vectorised numpy;
// ntk_empirical_784_512_512_10_s256: the empirical NTK (2560 × 2560) of a 784-512-512-10 ReLU MLP on 256
//   inputs (double), against PyTorch autograd Jacobians contracted as J Jᵀ (float32).
// Items are kernel matrices.
#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/ntk/empirical.hpp"
#include "sgdsde/ntk/kernels.hpp"

namespace {

void ntk_analytic(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  sgdsde::nn::MlpSpec spec;
  spec.widths = {32, 512, 512, 512, 512, 512, 1};
  spec.sigma_w = 1.4;
  spec.sigma_b = 0.1;
  Eigen::MatrixXd x(32, n);
  sgdsde::RandomStream(5).fill_normal(x);
  for (auto _ : state) {
    auto k = sgdsde::ntk::analytic_kernels(spec, x);
    benchmark::DoNotOptimize(k.ntk.data());
  }
  state.SetLabel("ntk_analytic_n" + std::to_string(n));
  state.SetItemsProcessed(state.iterations());
}

void ntk_analytic_cross(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  sgdsde::nn::MlpSpec spec;
  spec.widths = {32, 512, 512, 512, 512, 512, 1};
  spec.sigma_w = 1.4;
  spec.sigma_b = 0.1;
  Eigen::MatrixXd x(32, n);
  sgdsde::RandomStream(5).fill_normal(x);
  Eigen::MatrixXd k(n, n), t(n, n);
  for (auto _ : state) {
    sgdsde::ntk::analytic_kernels(spec, x, x, k, t);
    benchmark::DoNotOptimize(t.data());
  }
  state.SetLabel("ntk_analytic_cross_n" + std::to_string(n));
  state.SetItemsProcessed(state.iterations());
}

void ntk_empirical(benchmark::State& state) {
  sgdsde::nn::MlpSpec spec;
  spec.widths = {784, 512, 512, 10};
  sgdsde::nn::Mlp<double> net(spec);
  net.initialize(sgdsde::RandomStream(7));
  Eigen::MatrixXd x(784, 256);
  sgdsde::RandomStream(8).fill_normal(x);
  for (auto _ : state) {
    Eigen::MatrixXd t = sgdsde::ntk::empirical_ntk(net, x);
    benchmark::DoNotOptimize(t.data());
  }
  state.SetLabel("ntk_empirical_784_512_512_10_s256");
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(ntk_analytic)->Arg(4096)->Unit(benchmark::kMillisecond);
BENCHMARK(ntk_analytic_cross)->Arg(4096)->Unit(benchmark::kMillisecond);
BENCHMARK(ntk_empirical)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
