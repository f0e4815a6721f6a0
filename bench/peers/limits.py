#!/usr/bin/python3
"""Peer of bench/limits.bench.cpp: the learning SDE's building blocks on a 784-100-100-10 ReLU MLP in PyTorch (f32, 1 thread).

Same network and data shape as the C++ side (nn.Sequential of Linear/ReLU, softmax cross-entropy, N = 256 synthetic
inputs with uniform [0, 1) pixels and labels uniform in [0, 10)):
  lim_per_sample_n256_vmap   the P x N per-sample gradients by functorch.vmap(grad) (one item = the whole matrix)
  lim_per_sample_n256_loop   the same by a loop of N backward passes, one sample each
  lim_sgd_step_n256_torch    one SGD step at S = N: mean loss, backward, p -= eta * grad
  lim_sde_step_n256_torch    one Euler-Maruyama step of the learning SDE the natural PyTorch way: per-sample
                             gradients G by vmap, then theta += -dt * mean(G) + sqrt(eta kappa / N) (G - mean) z
Prints "<key> <nanoseconds per item>" lines for bench/run.py.
"""

import math

import torch
from functorch import grad, make_functional, vmap

from mlp import make_mlp  # noqa: E402
from timing import best_ns_per_item  # noqa: E402

N = 256
WIDTHS = (784, 100, 100, 10)
ETA = 0.05
KAPPA = 1.0 / 32


def main():
    torch.set_num_threads(1)
    torch.manual_seed(20260102)
    model = make_mlp(WIDTHS)
    params = [p for p in model.parameters()]
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(N, WIDTHS[0])
    y = torch.randint(0, WIDTHS[-1], (N,))

    fmodel, fparams = make_functional(model)

    def sample_loss(ps, xi, yi):
        return loss_fn(fmodel(ps, xi.unsqueeze(0)), yi.unsqueeze(0))

    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))

    def flat_per_sample():
        gs = per_sample(fparams, x, y)
        return torch.cat([g.reshape(N, -1) for g in gs], dim=1)  # N x P

    def loop_per_sample():
        rows = []
        for n in range(N):
            gs = torch.autograd.grad(loss_fn(model(x[n:n + 1]), y[n:n + 1]), params)
            rows.append(torch.cat([g.reshape(-1) for g in gs]))
        return torch.stack(rows)

    def sgd_step():
        loss = loss_fn(model(x), y)
        gs = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, gs):
                p -= ETA * g

    theta = torch.cat([p.detach().reshape(-1) for p in params])
    shapes = [p.shape for p in params]

    def sde_step():
        nonlocal theta
        ps, offset = [], 0
        for s in shapes:
            n = math.prod(s)
            ps.append(theta[offset:offset + n].view(s))
            offset += n
        gs = per_sample(tuple(ps), x, y)
        g = torch.cat([gi.reshape(N, -1) for gi in gs], dim=1)  # N x P
        z = torch.randn(N) * math.sqrt(ETA)
        w = -ETA / N + math.sqrt(ETA * KAPPA / N) * (z - z.mean())
        theta = theta + w @ g

    results = {
        "lim_per_sample_n256_vmap": best_ns_per_item(flat_per_sample, repeat=5),
        "lim_per_sample_n256_loop": best_ns_per_item(loop_per_sample, repeat=3),
        "lim_sgd_step_n256_torch": best_ns_per_item(sgd_step, repeat=5),
        "lim_sde_step_n256_torch": best_ns_per_item(sde_step, repeat=5),
    }
    for key, ns in sorted(results.items()):
        print(f"{key} {ns:.1f}")


if __name__ == "__main__":
    main()
