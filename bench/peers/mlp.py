"""The benchmark network of the peers: PyTorch's counterpart of sgdsde's 784-100-100-100-10 ReLU MLP."""
import torch

WIDTHS = (784, 100, 100, 100, 10)


def make_mlp(widths=WIDTHS):
    """A torch.nn.Sequential of Linear layers with ReLU between them (none after the last)."""
    layers = []
    for k in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[k], widths[k + 1]))
        if k + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)
