#!/usr/bin/python3
"""Peer of bench/sde.bench.cpp: Euler–Maruyama on Ornstein–Uhlenbeck ensembles in numpy.

Same work as the C++ keys: X <- X - dt * A X + sqrt(dt) * B Z per step, vectorised over paths, with
rng.standard_normal drawing a fresh (d, paths) block every step; f64, one thread.
Prints "<key> <nanoseconds per path-step>" for em_ou_d1 (d = 1, 10^5 paths) and em_ou_d64
(d = 64, 1000 paths, dense SPD A, B = 0.5 I), for bench/run.py.
"""

import numpy as np

from timing import best_ns_per_item  # noqa: E402

STEPS = 20




def spd_matrix(d, rng):
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.linspace(0.5, 2.0, d)) @ q.T


def em_ou_d1(rng):
    paths, a, b, dt = 100_000, 1.0, 0.5, 0.01
    x = np.zeros(paths)
    sdt = np.sqrt(dt)

    def run():
        nonlocal x
        for _ in range(STEPS):
            x = x - dt * a * x + (b * sdt) * rng.standard_normal(paths)
    return best_ns_per_item(run, STEPS * paths, repeat=5, min_time=0.3)


def em_ou_d64(rng):
    d, paths, dt = 64, 1000, 0.01
    a = spd_matrix(d, rng)
    b = 0.5
    x = np.zeros((d, paths))
    sdt = np.sqrt(dt)

    def run():
        nonlocal x
        for _ in range(STEPS):
            x = x - dt * (a @ x) + (b * sdt) * rng.standard_normal((d, paths))
    return best_ns_per_item(run, STEPS * paths, repeat=5, min_time=0.3)


def main():
    rng = np.random.default_rng(20260101)
    print(f"em_ou_d1 {em_ou_d1(rng):.4f}")
    print(f"em_ou_d64 {em_ou_d64(rng):.4f}")


if __name__ == "__main__":
    main()
