#!/usr/bin/python3
"""Peer of bench/nn.bench.cpp: one SGD step of a 784-100-100-100-10 ReLU MLP in PyTorch (1 thread), in f32
(mlp_step_s*) and f64 (mlp_step_f64_s*).

Same work as the C++ side: nn.Sequential of Linear/ReLU, mean softmax cross-entropy over a batch of S
samples with integer labels, backward, torch.optim.SGD step (no momentum). Also the gradient alone and
a Hessian-vector product (double backward) at S = 128, and the 11 GEMMs of a step alone
(torch.mm on OpenBLAS: the peer of our Eigen GEMM roofline). Prints "<key> <nanoseconds per item>" lines
(items = steps, gradients or HVPs) for bench/run.py.
"""

import torch

from mlp import WIDTHS, make_mlp  # noqa: E402
from timing import best_ns_per_item  # noqa: E402

BATCHES = (32, 128, 512)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(20260101)
    results = {}
    loss_fn = torch.nn.CrossEntropyLoss()
    for dtype, tag in ((torch.float32, ""), (torch.float64, "_f64")):
        for s in BATCHES:
            model = make_mlp().to(dtype)
            opt = torch.optim.SGD(model.parameters(), lr=1e-3)
            x = torch.randn(s, WIDTHS[0], dtype=dtype)
            y = torch.randint(0, WIDTHS[-1], (s,))

            def step():
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()

            results[f"mlp_step{tag}_s{s}"] = best_ns_per_item(step, warmup=3)

            # The 11 GEMMs of the same step (OpenBLAS through torch.mm), samples as rows here:
            # forward A_l = Z_l W_lᵀ, weight gradients G_l = D_lᵀ Z_l, back-propagation D_{l-1} = D_l W_l.
            L = len(WIDTHS) - 1
            w = [torch.randn(WIDTHS[l + 1], WIDTHS[l], dtype=dtype) for l in range(L)]
            z = [torch.randn(s, WIDTHS[l], dtype=dtype) for l in range(L + 1)]
            d = [torch.randn(s, WIDTHS[l + 1], dtype=dtype) for l in range(L)]
            gw = [torch.empty(WIDTHS[l + 1], WIDTHS[l], dtype=dtype) for l in range(L)]

            def gemms():
                with torch.no_grad():
                    for l in range(L):
                        torch.mm(z[l], w[l].t(), out=z[l + 1])
                    for l in reversed(range(L)):
                        torch.mm(d[l].t(), z[l], out=gw[l])
                        if l > 0:
                            torch.mm(d[l], w[l], out=d[l - 1])

            results[f"mlp_gemms{tag}_s{s}"] = best_ns_per_item(gemms, warmup=3)

    s = 128
    model = make_mlp()
    params = list(model.parameters())
    x = torch.randn(s, WIDTHS[0])
    y = torch.randint(0, WIDTHS[-1], (s,))
    v = [torch.randn_like(p) for p in params]

    def grad():
        return torch.autograd.grad(loss_fn(model(x), y), params)

    def hvp():
        g = torch.autograd.grad(loss_fn(model(x), y), params, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
        return torch.autograd.grad(dot, params)

    results[f"mlp_grad_s{s}"] = best_ns_per_item(grad, warmup=3)
    results[f"mlp_hvp_s{s}"] = best_ns_per_item(hvp, warmup=3)
    for key, ns in sorted(results.items()):
        print(f"{key} {ns:.1f}")


if __name__ == "__main__":
    main()
