// bench/peak.bench.cpp — this machine's fused multiply–add throughput on one core (f32 and f64, the widest
// packet the build targets: AVX-512 with -march=native here), the roof that bench/run.py divides every
// GEMM-shaped benchmark by (fraction of peak). Items are floating-point operations (an FMA counts 2), so
// ns/item is ns per flop and 1/(ns/item) is GFLOP/s. No peer.
#include <benchmark/benchmark.h>

#include <Eigen/Core>

namespace {

/// `Acc` independent chains acc ← acc·a + b on full packets: 24 chains cover 2 FMA pipes × 4-cycle
/// latency three times over, and with 2 constants they still fit the 32 vector registers of AVX-512.
template <class Scalar, int Acc>
void fma_peak(benchmark::State& state, const char* key) {
  using namespace Eigen::internal;
  using P = typename packet_traits<Scalar>::type;
  constexpr int L = unpacket_traits<P>::size;
  constexpr long inner = 4096;
  Scalar a_s = Scalar(0.9999999), b_s = Scalar(1e-9);
  benchmark::DoNotOptimize(a_s);  // opaque constants: the chains cannot be folded
  benchmark::DoNotOptimize(b_s);
  const P a = pset1<P>(a_s), b = pset1<P>(b_s);
  P acc[Acc];
  for (int k = 0; k < Acc; ++k) acc[k] = pset1<P>(Scalar(k + 1) * Scalar(1e-3));
  for (auto _ : state) {
    for (long it = 0; it < inner; ++it) {
#pragma GCC unroll 32
      for (int k = 0; k < Acc; ++k) acc[k] = pmadd(acc[k], a, b);
    }
    benchmark::ClobberMemory();
  }
  P sum = acc[0];
  for (int k = 1; k < Acc; ++k) sum = padd(sum, acc[k]);
  Scalar out = predux(sum);
  benchmark::DoNotOptimize(out);
  const double flops = 2.0 * double(L) * double(Acc) * double(inner);
  state.SetItemsProcessed(int64_t(double(state.iterations()) * flops));
  state.counters["lanes"] = L;
  state.SetLabel(key);
}

void fma_peak_f32(benchmark::State& s) { fma_peak<float, 24>(s, "fma_peak_f32"); }
void fma_peak_f64(benchmark::State& s) { fma_peak<double, 24>(s, "fma_peak_f64"); }

}  // namespace

BENCHMARK(fma_peak_f32)->Unit(benchmark::kMicrosecond);
BENCHMARK(fma_peak_f64)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
