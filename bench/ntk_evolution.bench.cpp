// Benchmark of ntk/evolution.hpp: the closed-form GD evolution of the linearised network, N = 2000 train
// points, outputs at 100 times (one eigendecomposition of Θ + one GEMM for all times), one thread.
// Peer: bench/peers/ntk_evolution.py (numpy eigh + matmul, same construction and keys). Items are whole
// evolutions (key ntk_evolution_n2000) or eigendecompositions alone (ntk_evolution_eigh_n2000, the share
// of the solver). Build with -DSGDSDE_USE_LAPACK and LAPACK linked to use dsyevd instead of Eigen's solver.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"
#include "sgdsde/ntk/evolution.hpp"

namespace {

using Mat = Eigen::MatrixXd;

/// Θ = G Gᵀ/N + 0.1 I with G N × N standard normal (a well-spread PSD spectrum, as a kernel Gram matrix).
Mat kernel(Eigen::Index n) {
  Mat g(n, n);
  sgdsde::RandomStream(7, 1).fill_normal(g);
  Mat t = g * g.transpose() / double(n);
  t.diagonal().array() += 0.1;
  return t;
}

std::vector<double> times() {
  std::vector<double> t;
  for (int j = 1; j <= 100; ++j) t.push_back(double(j * j));  // 1 … 10⁴ steps
  return t;
}

void BM_ntk_evolution(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat theta = kernel(n);
  Mat y(1, n), f0(1, n);
  sgdsde::RandomStream(7, 2).fill_normal(y);
  sgdsde::RandomStream(7, 3).fill_normal(f0);
  sgdsde::ntk::EvolutionOptions o;
  o.learning_rate = 1.0;
  const auto t = times();
  for (auto _ : state) {
    const auto ev = sgdsde::ntk::linearized_evolution(theta, y, o);
    const auto out = ev.train_outputs(f0, t);
    benchmark::DoNotOptimize(out.outputs.back().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("ntk_evolution_n" + std::to_string(n));
}

void BM_ntk_evolution_eigh(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat theta = kernel(n);
  Eigen::VectorXd values;
  Mat vectors;
  for (auto _ : state) {
    sgdsde::ntk::detail::symmetric_eigen<double>(theta, values, vectors);
    benchmark::DoNotOptimize(vectors.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("ntk_evolution_eigh_n" + std::to_string(n));
}

}  // namespace

BENCHMARK(BM_ntk_evolution)->Arg(2000)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_ntk_evolution_eigh)->Arg(2000)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK_MAIN();
