"""Vanilla gradient and the shared base: parity with Captum, output contract, argument checks."""

from __future__ import annotations

import pytest
import torch
from captum.attr import Saliency

from smoothgrad.attribution import Gradient
from smoothgrad.models import build_model

pytestmark = [pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require")]


@pytest.fixture(scope="module")
def mnist_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mnist_cnn").net


@pytest.fixture(scope="module")
def effnet() -> torch.nn.Module:
    return build_model("efficientnet_lite0").net


def captum_saliency(net: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return Saliency(net).attribute(x.clone().requires_grad_(True), target=target, abs=False)


def test_matches_captum_on_mnist(mnist_net: torch.nn.Module) -> None:
    x, target = torch.rand(3, 1, 28, 28), torch.tensor([0, 4, 9])
    ours = Gradient(mnist_net).attribute(x, target)
    torch.testing.assert_close(ours, captum_saliency(mnist_net, x, target), atol=1e-5, rtol=0)
    assert ours.abs().max() > 1e-3  # not trivially zero


def test_matches_captum_on_efficientnet(effnet: torch.nn.Module) -> None:
    x, target = torch.randn(2, 3, 64, 64), torch.tensor([1, 500])
    ours = Gradient(effnet).attribute(x, target)
    torch.testing.assert_close(ours, captum_saliency(effnet, x, target), atol=1e-5, rtol=0)
    assert ours.abs().max() > 1e-2


def test_output_contract_and_int_target(mnist_net: torch.nn.Module) -> None:
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64).float()
    ours = Gradient(mnist_net).attribute(x, 7)
    assert ours.shape == x.shape and ours.dtype == torch.float32 and ours.device == x.device
    torch.testing.assert_close(ours, Gradient(mnist_net).attribute(x, torch.tensor([7, 7])))
    assert not x.requires_grad


def test_channels_last_does_not_change_the_result(effnet: torch.nn.Module) -> None:
    x = torch.randn(2, 3, 64, 64)
    plain = Gradient(effnet, channels_last=False).attribute(x, 3)
    nhwc = Gradient(effnet, channels_last=True).attribute(x, 3)
    assert nhwc.is_contiguous()
    torch.testing.assert_close(nhwc, plain, atol=1e-5, rtol=0)


def test_bf16_is_close_to_fp32_and_returns_fp32(effnet: torch.nn.Module) -> None:
    x = torch.randn(2, 3, 64, 64)
    fp32 = Gradient(effnet).attribute(x, 3)
    bf16 = Gradient(effnet, precision="bf16").attribute(x, 3)
    assert bf16.dtype == torch.float32
    cosine = torch.nn.functional.cosine_similarity(bf16.flatten(1), fp32.flatten(1))
    assert (cosine > 0.9).all(), cosine


def test_no_parameter_gradients(mnist_net: torch.nn.Module) -> None:
    Gradient(mnist_net).attribute(torch.rand(1, 1, 28, 28), 1)
    assert all(p.grad is None and not p.requires_grad for p in mnist_net.parameters())


def test_argument_errors(mnist_net: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="precision must be one of"):
        Gradient(mnist_net, precision="fp16")
    with pytest.raises(ValueError, match=r"x must be a \(B, C, H, W\) batch"):
        Gradient(mnist_net).attribute(torch.rand(1, 28, 28), 1)
    with pytest.raises(ValueError, match=r"target must be an int or a \(2,\) tensor"):
        Gradient(mnist_net).attribute(torch.rand(2, 1, 28, 28), torch.tensor([1, 2, 3]))


class _FlagProbe(torch.nn.Module):
    """Records the TF32 switches seen during its forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((torch.backends.cudnn.allow_tf32,
                          torch.backends.cuda.matmul.allow_tf32))
        return self.conv(x).mean((2, 3))


def test_fp32_switches_tf32_off_during_the_pass_and_restores_it() -> None:
    """precision=fp32 means IEEE fp32 on CUDA too (cuDNN defaults to TF32 convolutions); the
    switches are global, so they are read inside the pass, on any machine."""
    probe = _FlagProbe().eval()
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        Gradient(probe).attribute(torch.rand(1, 1, 8, 8), 0)
        assert probe.seen == [(False, False)]
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
