#!/usr/bin/python3
"""Peer of bench/curvature.bench.cpp: Hessian estimates of a 784-100-100-100-10 ReLU MLP in PyTorch (f32, 1 thread).

Same work as the C++ side: nn.Sequential of Linear/ReLU, mean softmax cross-entropy over 10,000 synthetic inputs of
Fashion-MNIST shape (uniform [0, 1) pixels, labels uniform in [0, 10)), Hessian-vector products by double backward
as PyHessian does it (the gradient graph built once with create_graph=True, then one backward of <g, v> per
product, retain_graph=True):
  curv_power20_n10000   20 power iterations v <- Hv/|Hv| (one item = the whole run, graph included)
  curv_hutch100_n10000  Hutchinson trace with 100 Rademacher probes (one item = the whole estimate)
  curv_hvp_n10000       one HVP (graph included), curv_grad_n10000 one gradient
Prints "<key> <nanoseconds per item>" lines for bench/run.py.
"""

import torch

from mlp import WIDTHS, make_mlp  # noqa: E402
from timing import best_ns_per_item  # noqa: E402

N = 10000


def main():
    torch.set_num_threads(1)
    torch.manual_seed(20260102)
    model = make_mlp()
    params = [p for p in model.parameters()]
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(N, WIDTHS[0])
    y = torch.randint(0, WIDTHS[-1], (N,))

    def gradient_graph():
        loss = loss_fn(model(x), y)
        return torch.autograd.grad(loss, params, create_graph=True)

    def hvp(grads, v):
        return torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)

    def normalise(v):
        norm = torch.sqrt(sum((vi * vi).sum() for vi in v))
        return [vi / norm for vi in v]

    def power20():
        grads = gradient_graph()
        v = normalise([torch.randn_like(p) for p in params])
        lam = 0.0
        for _ in range(20):
            hv = hvp(grads, v)
            lam = sum((a * b).sum() for a, b in zip(v, hv)).item()
            v = normalise(hv)
        return lam

    def hutch100():
        grads = gradient_graph()
        total = 0.0
        for _ in range(100):
            z = [torch.randint(0, 2, p.shape, dtype=p.dtype) * 2 - 1 for p in params]
            hz = hvp(grads, z)
            total += sum((a * b).sum() for a, b in zip(z, hz)).item()
        return total / 100

    v0 = [torch.randn_like(p) for p in params]

    def one_hvp():
        return hvp(gradient_graph(), v0)

    def one_grad():
        return torch.autograd.grad(loss_fn(model(x), y), params)

    results = {
        "curv_grad_n10000": best_ns_per_item(one_grad, repeat=5),
        "curv_hvp_n10000": best_ns_per_item(one_hvp, repeat=5),
        "curv_power20_n10000": best_ns_per_item(power20, repeat=3, min_time=0.0),
        "curv_hutch100_n10000": best_ns_per_item(hutch100, repeat=2, min_time=0.0, warmup=0),
    }
    for key, ns in sorted(results.items()):
        print(f"{key} {ns:.1f}")


if __name__ == "__main__":
    main()
