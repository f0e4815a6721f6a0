// bench/core.bench.cpp — throughput of the counter-based random streams (include/sgdsde/core/random.hpp):
// standard normals into a preallocated Eigen array, compared by bench/run.py with numpy and PyTorch
// (bench/peers/core.py). Items are samples; each iteration fills n = 10^6 values.
#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"

namespace {

constexpr Eigen::Index n_samples = 1000000;

template <class Scalar>
void bm_normal(benchmark::State& state, const char* key) {
  Eigen::Array<Scalar, Eigen::Dynamic, 1> out(n_samples);
  sgdsde::RandomStream stream(20260101u, 7u);
  for (auto _ : state) {
    stream.fill_normal(out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n_samples);
  state.SetLabel(key);
}

template <class Scalar>
void bm_uniform(benchmark::State& state, const char* key) {
  Eigen::Array<Scalar, Eigen::Dynamic, 1> out(n_samples);
  sgdsde::RandomStream stream(20260101u, 8u);
  for (auto _ : state) {
    stream.fill_uniform(out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n_samples);
  state.SetLabel(key);
}

// A strided destination (one row of a column-major matrix) goes through the scratch-buffer path.
template <class Scalar>
void bm_normal_strided(benchmark::State& state, const char* key) {
  Eigen::Matrix<Scalar, 4, Eigen::Dynamic> out(4, n_samples / 4);
  sgdsde::RandomStream stream(20260101u, 9u);
  for (auto _ : state) {
    stream.fill_normal(out.row(1));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * (n_samples / 4));
  state.SetLabel(key);
}

void normal_f64(benchmark::State& s) { bm_normal<double>(s, "normal_f64"); }
void normal_f32(benchmark::State& s) { bm_normal<float>(s, "normal_f32"); }
void uniform_f64(benchmark::State& s) { bm_uniform<double>(s, "uniform_f64"); }
void uniform_f32(benchmark::State& s) { bm_uniform<float>(s, "uniform_f32"); }
void normal_f64_strided(benchmark::State& s) { bm_normal_strided<double>(s, "normal_f64_strided"); }

}  // namespace

BENCHMARK(normal_f64)->Unit(benchmark::kMicrosecond);
BENCHMARK(normal_f32)->Unit(benchmark::kMicrosecond);
BENCHMARK(uniform_f64)->Unit(benchmark::kMicrosecond);
BENCHMARK(uniform_f32)->Unit(benchmark::kMicrosecond);
BENCHMARK(normal_f64_strided)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
