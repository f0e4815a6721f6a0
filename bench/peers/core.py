#!/usr/bin/python3
"""Peer of bench/core.bench.cpp: standard normals into a preallocated array with numpy and PyTorch.

Prints one line per measurement, "<key> <nanoseconds per sample>", for bench/run.py. The plain key
(normal_f64, normal_f32) carries the faster peer; suffixed keys (_numpy, _torch) carry each one.
Run single-threaded (bench/run.py sets OPENBLAS_NUM_THREADS/OMP_NUM_THREADS=1).
"""
import sys

import numpy as np

from timing import best_ns_per_item  # noqa: E402

N = 1_000_000




def main():
    results = {}
    rng = np.random.default_rng(20260101)
    out64 = np.empty(N, dtype=np.float64)
    out32 = np.empty(N, dtype=np.float32)
    results["normal_f64_numpy"] = best_ns_per_item(lambda: rng.standard_normal(out=out64), N)
    results["normal_f32_numpy"] = best_ns_per_item(
        lambda: rng.standard_normal(dtype=np.float32, out=out32), N)
    results["uniform_f64_numpy"] = best_ns_per_item(lambda: rng.random(out=out64), N)
    results["uniform_f32_numpy"] = best_ns_per_item(lambda: rng.random(dtype=np.float32, out=out32), N)
    try:
        import torch
        torch.set_num_threads(1)
        torch.manual_seed(20260101)
        t64 = torch.empty(N, dtype=torch.float64)
        t32 = torch.empty(N, dtype=torch.float32)
        results["normal_f64_torch"] = best_ns_per_item(lambda: t64.normal_(), N)
        results["normal_f32_torch"] = best_ns_per_item(lambda: t32.normal_(), N)
        results["uniform_f64_torch"] = best_ns_per_item(lambda: t64.uniform_(), N)
        results["uniform_f32_torch"] = best_ns_per_item(lambda: t32.uniform_(), N)
    except ImportError:
        print("# torch not available", file=sys.stderr)
    for key in ("normal_f64", "normal_f32", "uniform_f64", "uniform_f32"):
        peers = [v for k, v in results.items() if k.startswith(key + "_")]
        results[key] = min(peers)
    for key, ns in sorted(results.items()):
        print(f"{key} {ns:.4f}")


if __name__ == "__main__":
    main()
