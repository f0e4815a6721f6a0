#!/usr/bin/python3
"""Peer of bench/ntk_evolution.bench.cpp: closed-form GD evolution of the linearised network with numpy.

Θ = G Gᵀ/N + 0.1 I (N = 2000), one eigh, then the outputs at 100 times t = 1, 4, …, 10⁴ steps:
f_t = f_0 − ((f_0 − Y) V ⊙ (1 − (1 − ημ/N)^t)) Vᵀ, all times in one matmul. Prints
"<key> <nanoseconds per item>" (item = one whole evolution, or one eigh) for bench/run.py, CPU time,
best of 3. Run single-threaded (bench/run.py sets OPENBLAS_NUM_THREADS/OMP_NUM_THREADS=1).
"""

import numpy as np

from timing import best_ns_per_item  # noqa: E402

N = 2000




def main():
    rng = np.random.default_rng(7)
    g = rng.standard_normal((N, N))
    theta = g @ g.T / N + 0.1 * np.eye(N)
    y = rng.standard_normal((1, N))
    f0 = rng.standard_normal((1, N))
    eta = 1.0
    times = np.array([float(j * j) for j in range(1, 101)])

    def evolution():
        mu, v = np.linalg.eigh(theta)
        c = (f0 - y) @ v                                           # 1 × N
        filt = -np.expm1(times[:, None] * np.log1p(-eta * mu[None, :] / N))  # T × N, 1 − (1 − ημ/N)^t
        return f0 - (c * filt) @ v.T                               # T × N outputs

    def eigh():
        return np.linalg.eigh(theta)

    print(f"ntk_evolution_n{N} {best_ns_per_item(evolution, repeat=3, min_time=0.0):.1f}")
    print(f"ntk_evolution_eigh_n{N} {best_ns_per_item(eigh, repeat=3, min_time=0.0):.1f}")


if __name__ == "__main__":
    main()
