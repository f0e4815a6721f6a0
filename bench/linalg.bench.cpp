// Benchmarks of sgdsde/core linear algebra (expm, continuous and discrete Lyapunov) at n = 50, 200, 800,
// general and symmetric input. Peer: bench/peers/linalg.py (scipy.linalg, one thread), same keys.
// Items are solves (or exponentials); the inputs match the peer's construction in distribution.
#include <benchmark/benchmark.h>

#include <string>

#include <Eigen/Dense>

#include "sgdsde/core/expm.hpp"
#include "sgdsde/core/lyapunov.hpp"
#include "sgdsde/core/random.hpp"

namespace {

using Mat = Eigen::MatrixXd;

Mat gaussian(Eigen::Index n, std::uint64_t id) {
  Mat m(n, n);
  sgdsde::RandomStream(123, id).fill_normal(m);
  return m;
}

/// General input: G/√n − 2I (spectrum in a disc of radius ≈ 1 around −2, so A X + X Aᵀ = Q is well
/// posed and ρ(A/3) < 1 for the Stein equation). Symmetric input: (G + Gᵀ)/(2√(2n)) + 2I.
Mat general(Eigen::Index n) { return gaussian(n, 1) / std::sqrt(double(n)) - 2.0 * Mat::Identity(n, n); }
Mat symmetric(Eigen::Index n) {
  const Mat g = gaussian(n, 2);
  return (g + g.transpose()) / (2.0 * std::sqrt(2.0 * double(n))) + 2.0 * Mat::Identity(n, n);
}
Mat rhs(Eigen::Index n) {
  const Mat g = gaussian(n, 3);
  return g * g.transpose() / double(n);
}

void label(benchmark::State& state, const char* key) {
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(key) + "_n" + std::to_string(state.range(0)));
}

void BM_lyap_cont(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat a = general(n), q = rhs(n);
  for (auto _ : state) benchmark::DoNotOptimize(sgdsde::solve_continuous_lyapunov(a, q).X.data());
  label(state, "lyap_cont");
}

void BM_lyap_cont_sym(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat a = symmetric(n), q = rhs(n);
  for (auto _ : state) benchmark::DoNotOptimize(sgdsde::solve_continuous_lyapunov(a, q).X.data());
  label(state, "lyap_cont_sym");
}

void BM_lyap_disc(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat a = general(n) / 3.0, q = rhs(n);
  for (auto _ : state) benchmark::DoNotOptimize(sgdsde::solve_discrete_lyapunov(a, q).X.data());
  label(state, "lyap_disc");
}

void BM_lyap_disc_sym(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat a = symmetric(n) / 3.0, q = rhs(n);
  for (auto _ : state) benchmark::DoNotOptimize(sgdsde::solve_discrete_lyapunov(a, q).X.data());
  label(state, "lyap_disc_sym");
}

void BM_expm(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat a = general(n);
  for (auto _ : state) benchmark::DoNotOptimize(sgdsde::expm(a).data());
  label(state, "expm");
}

void BM_expm_sym(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Mat a = symmetric(n);
  for (auto _ : state) benchmark::DoNotOptimize(sgdsde::expm_symmetric(a).data());
  label(state, "expm_sym");
}

}  // namespace

BENCHMARK(BM_lyap_cont)->Arg(50)->Arg(200)->Arg(800)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_lyap_cont_sym)->Arg(50)->Arg(200)->Arg(800)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_lyap_disc)->Arg(50)->Arg(200)->Arg(800)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_lyap_disc_sym)->Arg(50)->Arg(200)->Arg(800)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_expm)->Arg(50)->Arg(200)->Arg(800)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_expm_sym)->Arg(50)->Arg(200)->Arg(800)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
