#!/usr/bin/python3
"""Peer of bench/ntk.bench.cpp (one thread).

ntk_analytic_n4096: the analytic ReLU NTK of a fully connected net (NTK parameterisation, sigma_w = 1.4,
sigma_b = 0.1, 5 hidden layers) on N = 4096 inputs of dimension 32, as a vectorised numpy recursion on
the full N x N matrices (float64): K1 = sw^2 X^T X / d + sb^2, then per layer
theta = arccos(clip(K / sqrt(q q^T), -1, 1)), K' = sw^2 sqrt(q q^T) (sin + (pi - theta) cos)/(2 pi) + sb^2,
Theta' = K' + sw^2 (pi - theta)/(2 pi) Theta.

ntk_empirical_784_512_512_10_s256: the empirical NTK J J^T of a 784-512-512-10 ReLU MLP (NTK
parameterisation) on 256 inputs with PyTorch autograd: Jacobian rows by one reverse pass per (sample,
output) (torch.autograd.grad; Debian's torch 1.13 has no torch.func, and functorch's vmap(jacrev)
needed > 11 GB even for blocks of 16 samples), in blocks of 16 samples (the whole J, 2560 x 669706,
is 6.9 GB in float32), J_a J_b^T per block pair (b >= a, mirrored). float32 (half the memory and twice the GEMM speed of float64; ours is float64).
It takes minutes, so it is timed once.

Prints "<key> <nanoseconds per item>" (item = one kernel matrix).
"""
import math
import time

import numpy as np

from timing import best_ns_per_item  # noqa: E402




def analytic_relu_ntk(x, depth, sw, sb):
    d = x.shape[0]
    k = sw * sw * (x.T @ x) / d + sb * sb
    theta = k.copy()
    for _ in range(depth):
        q = np.sqrt(np.diag(k))
        g = np.outer(q, q)
        c = np.clip(k / g, -1.0, 1.0)
        ang = np.arccos(c)
        k_new = sw * sw * g * (np.sqrt(1.0 - c * c) + (math.pi - ang) * c) / (2 * math.pi) + sb * sb
        theta = k_new + sw * sw * (math.pi - ang) / (2 * math.pi) * theta
        k = k_new
    return k, theta


def empirical_ntk_torch(results):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    torch.manual_seed(7)
    widths = (784, 512, 512, 10)
    ws = [torch.randn(widths[i + 1], widths[i]) for i in range(3)]
    bs = [torch.randn(widths[i + 1]) for i in range(3)]
    params = [p for pair in zip(ws, bs) for p in pair]
    for p in params:
        p.requires_grad_(True)
    x = torch.randn(256, widths[0])

    def net(xs):
        z = xs
        for i in range(3):
            z = torch.nn.functional.linear(z, ws[i] / math.sqrt(widths[i]), 0.1 * bs[i])
            if i < 2:
                z = torch.relu(z)
        return z

    chunk = 16  # 16 samples x 10 outputs x 669706 parameters = 0.43 GB of float32 per Jacobian block

    def jac(xs):
        """Rows s*10 + k = d f_k(x_s) / d theta, one reverse pass per (sample, output)."""
        out = net(xs)
        rows = []
        for s in range(xs.shape[0]):
            for k in range(10):
                g = torch.autograd.grad(out[s, k], params, retain_graph=True)
                rows.append(torch.cat([gi.reshape(-1) for gi in g]))
        return torch.stack(rows)

    def ntk():
        n = x.shape[0]
        out = torch.zeros(n * 10, n * 10)
        for a in range(0, n, chunk):
            ja = jac(x[a:a + chunk])
            for b in range(a, n, chunk):
                jb = ja if b == a else jac(x[b:b + chunk])
                blk = ja @ jb.T
                out[a * 10:(a + chunk) * 10, b * 10:(b + chunk) * 10] = blk
                if b != a:
                    out[b * 10:(b + chunk) * 10, a * 10:(a + chunk) * 10] = blk.T
        return out

    t0 = time.process_time()
    ntk()
    results["ntk_empirical_784_512_512_10_s256"] = (time.process_time() - t0) * 1e9


def main():
    results = {}
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 4096))
    results["ntk_analytic_n4096"] = best_ns_per_item(lambda: analytic_relu_ntk(x, 5, 1.4, 0.1), repeat=3, min_time=0.0)
    empirical_ntk_torch(results)
    for key, ns in sorted(results.items()):
        print(f"{key} {ns:.1f}")


if __name__ == "__main__":
    main()
