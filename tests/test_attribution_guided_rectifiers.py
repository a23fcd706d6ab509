"""Guided BackProp is defined for rectifier networks: a model with GELU, SiLU, ... (as a module or
a functional call) is refused in one line instead of silently getting a different method."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from smoothgrad.attribution import GuidedBackprop, SmoothGrad
from smoothgrad.errors import ConfigError


def _net(activation: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), activation, nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 5)).eval()


class FunctionalSiLU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.silu(self.conv(x)).flatten(1))


X = torch.rand(2, 3, 8, 8)


@pytest.mark.parametrize("activation", [nn.GELU(), nn.SiLU(), nn.Hardswish(), nn.ELU(),
                                        nn.LeakyReLU()], ids=lambda m: type(m).__name__)
def test_non_rectifier_modules_are_refused(activation: nn.Module) -> None:
    with pytest.raises(ConfigError, match=f"uses {type(activation).__name__}") as err:
        GuidedBackprop(_net(activation)).attribute(X, 0)
    assert "\n" not in str(err.value) and "~methods.guided_backprop" in str(err.value)


def test_a_functional_non_rectifier_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"uses silu \(a call\)"):
        GuidedBackprop(FunctionalSiLU().eval()).attribute(X, 0)


def test_refused_inside_smoothgrad_too() -> None:
    with pytest.raises(ConfigError, match="rectifier"):
        SmoothGrad(GuidedBackprop(_net(nn.GELU())), noise_level=0.1, n_samples=2).attribute(X, 0)


@pytest.mark.parametrize("activation", [nn.ReLU(), nn.ReLU6()], ids=lambda m: type(m).__name__)
def test_rectifier_models_still_work(activation: nn.Module) -> None:
    maps = GuidedBackprop(_net(activation)).attribute(X, 0)
    assert maps.shape == X.shape and torch.isfinite(maps).all()
