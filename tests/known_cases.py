"""Models whose exact attribution is known, shared by the metric tests (claims, faithfulness)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Linear(nn.Module):
    """Class 0's logit is sum(w * x); class 1's is 0, so p0 = sigmoid(w . x)."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x * self.w).flatten(1).sum(1)
        return torch.stack([score, torch.zeros_like(score)], dim=1)


def linear_case(seed: int, size: int = 8) -> tuple[torch.Tensor, Linear, np.ndarray]:
    """An image, a linear net whose evidence for class 0 is positive at every pixel relative
    to the image's mean (the "mean" baseline), and its exact attribution w * (x - mean)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, size, size, generator=gen)
    mean = x.mean()
    w = torch.sign(x - mean) * torch.rand(1, 1, size, size, generator=gen) / 4
    return x, Linear(w[0]).eval(), (w * (x - mean))[0].numpy()
