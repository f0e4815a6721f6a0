// bench/em.bench.cpp — the reference costs of the Euler–Maruyama OU benchmarks of bench/sde.bench.cpp
// (issue 11, item 5): drawing the normals of one step, alone, exactly as the fused kernel of
// include/sgdsde/sde/ou_euler_maruyama.hpp draws them (same stream, same counter-based indices, same
// block widths, into a cache-resident block). bench/run.py reports em_ou_d1 / em_normals_d1 (target
// ≤ 1.15) and em_ou_d64 / (gemm_d64 + em_normals_d64) (target ≤ 1.1). Items are path-steps; f64.
#include <benchmark/benchmark.h>

#include <cstdint>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/ou_euler_maruyama.hpp"

namespace {

constexpr long steps_per_iteration = 100;

/// The normals of `steps_per_iteration` steps of an ensemble of `paths` paths in dimension d, drawn
/// block by block (fused_block_width(d) columns) into one block buffer, as the fused kernel does.
void normals(benchmark::State& state, Eigen::Index d, Eigen::Index paths, const char* key) {
  const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(7, 1), d, paths);
  const Eigen::Index width = std::min(paths, sgdsde::detail::fused_block_width(d));
  Eigen::MatrixXd z(d, width);
  long step = 0;
  for (auto _ : state) {
    for (long k = 0; k < steps_per_iteration; ++k, ++step) {
      const std::uint64_t first = noise.first_index(step);
      for (Eigen::Index c0 = 0; c0 < paths; c0 += width) {
        const Eigen::Index w = std::min(width, paths - c0);
        Eigen::Ref<Eigen::MatrixXd> zb(z.leftCols(w));
        noise.stream().normal_at(first + std::uint64_t(c0 * d), zb);
        benchmark::DoNotOptimize(z.data());
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * steps_per_iteration * paths);
  state.SetLabel(key);
}

void em_normals_d1(benchmark::State& s) { normals(s, 1, 100000, "em_normals_d1"); }
void em_normals_d64(benchmark::State& s) { normals(s, 64, 1000, "em_normals_d64"); }

}  // namespace

BENCHMARK(em_normals_d1)->Unit(benchmark::kMillisecond);
BENCHMARK(em_normals_d64)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
