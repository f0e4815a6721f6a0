// bench/heap_main.hpp — the main() of the benchmarks whose products still go through Eigen's GEMM (the
// HVP's Dual pass, the curvature operators): glibc keeps Eigen's per-product packing buffers in the heap
// instead of mapping and unmapping them on every product, so the timings measure the arithmetic.
// Include it once, at the end of a bench_<area> source, instead of BENCHMARK_MAIN().
#pragma once

#include <benchmark/benchmark.h>

#include <malloc.h>

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
