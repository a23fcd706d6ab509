"""Integrated Gradients: parity with Captum's trapezoid rule and the completeness axiom."""

from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients as CaptumIG

from smoothgrad.attribution import IntegratedGradients
from smoothgrad.models import build_model

pytestmark = [pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require")]


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    """Random MNIST net with weights scaled x2 (each layer), so logits move by several units
    between a black and a blob image as in a trained net; at default init they barely move."""
    torch.manual_seed(0)
    net = build_model("mnist_cnn").net
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    return net


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """Blob-like images in [0, 1], so the score moves far from the black baseline."""
    gen = torch.Generator().manual_seed(1)
    return torch.nn.functional.avg_pool2d(torch.rand(2, 1, 32, 32, generator=gen), 5, 1) * 2


@pytest.mark.parametrize("baseline", [0.0, "tensor"])
def test_matches_captum_trapezoid(net: torch.nn.Module, digits: torch.Tensor,
                                  baseline: float | str) -> None:
    base = torch.full_like(digits, 0.1) if baseline == "tensor" else baseline
    target = torch.tensor([3, 8])
    ours = IntegratedGradients(net, steps=20, baseline=base, batch_size=7).attribute(digits, target)
    theirs = CaptumIG(net).attribute(digits, baselines=base, target=target, n_steps=20,
                                     method="riemann_trapezoid")
    # Captum samples alpha at linspace(0, 1, n) but weights the steps 1/n (ends 1/(2n)), so its
    # weights sum to (n-1)/n; ours are the true trapezoid weights 1/(n-1), summing to 1.
    torch.testing.assert_close(ours, theirs.float() * 20 / 19, atol=1e-5, rtol=1e-4)


def test_completeness(net: torch.nn.Module, digits: torch.Tensor) -> None:
    with torch.no_grad():
        gaps = net(digits) - net(torch.zeros_like(digits))
    target = gaps.abs().argmax(1)  # the class whose logit moves most along the path
    gap = gaps.gather(1, target[:, None])[:, 0]
    assert (gap.abs() > 0.5).all(), gap  # a real score difference to account for
    for steps, tolerance_met in [(300, True), (2, False)]:
        total = IntegratedGradients(net, steps=steps, batch_size=64).attribute(digits, target)
        error = (total.sum((1, 2, 3)) - gap).abs() / gap.abs()
        assert bool((error < 0.01).all()) is tolerance_met, (steps, error)


def test_batch_size_does_not_change_the_result(net: torch.nn.Module, digits: torch.Tensor) -> None:
    one = IntegratedGradients(net, steps=10, batch_size=1).attribute(digits, 5)
    many = IntegratedGradients(net, steps=10, batch_size=64).attribute(digits, 5)
    torch.testing.assert_close(one, many, atol=1e-6, rtol=1e-5)


def test_argument_errors(net: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="steps must be >= 2"):
        IntegratedGradients(net, steps=1)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        IntegratedGradients(net, batch_size=0)
