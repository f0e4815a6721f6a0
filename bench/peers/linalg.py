"""Peer of bench/linalg.bench.cpp: scipy.linalg on the same problems, one thread.

Prints "<key> <nanoseconds_per_item>" per measurement (item = one solve or one exponential), keys
lyap_cont[_sym]_n<n>, lyap_disc[_sym]_n<n>, expm[_sym]_n<n>. Inputs follow the C++ benchmark's
construction in distribution (numpy's generator, not the same numbers):
general A = G/sqrt(n) - 2I, symmetric A = (G + G^T)/(2 sqrt(2n)) + 2I, Q = G G^T / n; the discrete
equation uses A/3. scipy has no symmetric fast path, so *_sym keys time the same scipy call on
symmetric input. Run with OPENBLAS_NUM_THREADS=1 (see bench/run.py).
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.linalg as sl  # noqa: E402

from timing import best_ns_per_item  # noqa: E402


def general(rng, n):
    return rng.standard_normal((n, n)) / np.sqrt(n) - 2.0 * np.eye(n)


def symmetric(rng, n):
    g = rng.standard_normal((n, n))
    return (g + g.T) / (2.0 * np.sqrt(2.0 * n)) + 2.0 * np.eye(n)


def rhs(rng, n):
    g = rng.standard_normal((n, n))
    return g @ g.T / n




def main():
    sizes = [int(s) for s in sys.argv[1:]] or [50, 200, 800]
    rng = np.random.default_rng(123)
    for n in sizes:
        a, s, q = general(rng, n), symmetric(rng, n), rhs(rng, n)
        cases = [
            ("lyap_cont", lambda: sl.solve_continuous_lyapunov(a, q)),
            ("lyap_cont_sym", lambda: sl.solve_continuous_lyapunov(s, q)),
            ("lyap_disc", lambda: sl.solve_discrete_lyapunov(a / 3.0, q)),
            ("lyap_disc_sym", lambda: sl.solve_discrete_lyapunov(s / 3.0, q)),
            ("expm", lambda: sl.expm(a)),
            ("expm_sym", lambda: sl.expm(s)),
        ]
        for key, fn in cases:
            print(f"{key}_n{n} {best_ns_per_item(fn, repeat=3 if n >= 800 else 5, min_time=0.3):.1f}", flush=True)


if __name__ == "__main__":
    main()
