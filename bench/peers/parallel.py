#!/usr/bin/python3
"""Peer of bench/parallel.bench.cpp: Euler–Maruyama on the OU ensemble d = 1 (10^5 paths, f64),
x <- x - dt*a*x + b*sqrt(dt)*Z per step, vectorised over paths, a fresh normal block every step.

  par_em_d1_t1_numpy   numpy on one thread             (compared with our par_em_d1_t1)
  par_em_d1_all_torch  PyTorch on every core (f64)     (compared with our par_em_d1_all)

Prints "<key> <nanoseconds per path-step>" for bench/run.py. Timed in wall-clock time (best of 5), as
the C++ side is (UseRealTime): CPU time would add up the threads of the all-core run. run.py starts
peers with OMP_NUM_THREADS=1; the PyTorch key sets its thread count to every core explicitly.
"""
import os

import numpy as np

from timing import best_ns_per_item  # noqa: E402

STEPS = 20
PATHS = 100_000
A, B, DT = 1.0, 0.5, 0.01




def numpy_em():
    rng = np.random.default_rng(20260101)
    x = np.zeros(PATHS)
    c = B * np.sqrt(DT)

    def run():
        nonlocal x
        for _ in range(STEPS):
            x = x - DT * A * x + c * rng.standard_normal(PATHS)
    return best_ns_per_item(run, STEPS * PATHS, repeat=5, min_time=0.3, wall_clock=True)


def torch_em():
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    gen = torch.Generator().manual_seed(20260101)
    x = torch.zeros(PATHS, dtype=torch.float64)
    z = torch.empty(PATHS, dtype=torch.float64)
    c = B * DT ** 0.5

    def run():
        nonlocal x
        with torch.no_grad():
            for _ in range(STEPS):
                z.normal_(generator=gen)
                x = x - DT * A * x + c * z
    return best_ns_per_item(run, STEPS * PATHS, repeat=5, min_time=0.3, wall_clock=True)


def main():
    print(f"par_em_d1_t1_numpy {numpy_em():.4f}")
    try:
        print(f"par_em_d1_all_torch {torch_em():.4f}")
    except ImportError:
        print("# PyTorch not installed (scripts/install-deps --peers): par_em_d1_all_torch skipped")


if __name__ == "__main__":
    main()
