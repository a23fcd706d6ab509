"""Vanilla gradient (the paper's sensitivity map M_c = dS_c/dx)."""

from __future__ import annotations

from torch import Tensor

from .base import Attribution


class Gradient(Attribution):
    """dS_c/dx with S_c the class logit."""

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        return self.input_grad(x, targets)
