"""Integrated Gradients (Sundararajan et al. 2017) with the trapezoid rule, batched over steps."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Attribution, check_at_least


def trapezoid(steps: int) -> tuple[Tensor, Tensor]:
    """Points alpha_k in [0, 1] and weights of the trapezoid rule, as Captum's
    `riemann_trapezoid`: both ends included, half weight there."""
    alphas = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)
    weights = torch.full((steps,), 1.0 / (steps - 1), dtype=torch.float64)
    weights[0] = weights[-1] = 0.5 / (steps - 1)
    return alphas, weights


class IntegratedGradients(Attribution):
    """(x - x') * integral over alpha of dS_c/dx at x' + alpha (x - x').

    baseline: a float (filled everywhere) or a tensor broadcastable to the batch, in the model's
    input space (for a normalized model a black image is NOT 0 there; pass it explicitly).
    batch_size: model inputs (image, step pairs) per forward/backward pass.
    """

    def __init__(self, model: nn.Module, *, precision: str = "fp32", steps: int = 50,
                 baseline: float | Tensor = 0.0, batch_size: int = 32,
                 channels_last: bool | None = None) -> None:
        super().__init__(model, precision=precision, channels_last=channels_last)
        check_at_least("steps", steps, 2, " for the trapezoid rule")
        check_at_least("batch_size", batch_size, 1)
        self.steps = steps
        self.baseline = baseline
        self.batch_size = batch_size

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        baseline = torch.as_tensor(self.baseline, dtype=x.dtype, device=x.device).expand_as(x)
        delta = x - baseline
        alphas, weights = (t.to(device=x.device, dtype=x.dtype) for t in trapezoid(self.steps))
        total = torch.zeros_like(x)
        first = 0
        if self.in_noisy_passes() and baseline[:1].expand_as(x).equal(baseline):
            # SmoothGrad's noisy copies share the baseline: its gradient (alpha = 0) once per
            # target, not once per copy (with 10 steps, a tenth of SmoothGrad(IG)'s passes).
            unique, inverse = targets.unique(return_inverse=True)
            at_baseline = self.input_grad(baseline[:1].expand(len(unique), *x.shape[1:]), unique)
            total += at_baseline[inverse] * weights[0]
            first = 1
        # Flatten (image, step) pairs so a pass can mix steps of several images.
        image = torch.arange(x.shape[0], device=x.device).repeat_interleave(self.steps - first)
        step = torch.arange(first, self.steps, device=x.device).repeat(x.shape[0])
        for start in range(0, image.numel(), self.batch_size):
            i, k = image[start:start + self.batch_size], step[start:start + self.batch_size]
            scale = alphas[k].view(-1, 1, 1, 1)
            grads = self.input_grad(baseline[i] + scale * delta[i], targets[i])
            total.index_add_(0, i, grads * weights[k].view(-1, 1, 1, 1))
        return delta * total
