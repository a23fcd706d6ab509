"""precision="auto": single passes are IEEE fp32 (bit for bit), SmoothGrad's noisy passes run on
a BatchNorm-folded copy of the model (bf16 only where the device runs it natively), and the maps
stay within rounding of fp32."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from smoothgrad.attribution import Gradient, GuidedBackprop, IntegratedGradients, SmoothGrad
from smoothgrad.attribution.fold import fold_batchnorm
from smoothgrad.device import check_precision, noisy_pass_precision, precision_context


class SamePadConv(nn.Conv2d):
    """A conv subclass that pads in its own forward, as efficientnet_lite_pytorch's
    Conv2dStaticSamePadding (traced into: `F.conv2d` on the module's parameters)."""

    def __init__(self, *args, pad: tuple[int, int, int, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.static_padding = nn.ZeroPad2d(pad)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(self.static_padding(x), self.weight, self.bias, self.stride,
                        self.padding, self.dilation, self.groups)


class BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.depthwise = SamePadConv(8, 8, 3, groups=8, bias=False, pad=(1, 1, 1, 1))
        self.bn1 = nn.BatchNorm2d(8)
        self.down = SamePadConv(8, 16, 3, stride=2, bias=False, pad=(0, 1, 0, 1))
        self.bn2 = nn.BatchNorm2d(16)
        self.act = nn.ReLU6()
        self.head = nn.Linear(16, 5)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.bn0(self.stem(x)))
        x = x + self.act(self.bn1(self.depthwise(x)))
        x = F.relu(self.bn2(self.down(x)))
        return self.head(x.mean((2, 3)))


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    model = BNNet()
    for bn in (model.bn0, model.bn1, model.bn2):  # non-trivial running statistics
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.2, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def images() -> Tensor:
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_fold_batchnorm_is_the_same_function_without_batchnorm(net: nn.Module,
                                                               images: Tensor) -> None:
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    # the symmetric pad went into the conv; the asymmetric one (stride 2) stays
    assert [m.padding for m in folded.modules() if isinstance(m, nn.ZeroPad2d)] == [(0, 1, 0, 1)]
    assert not folded.training
    with torch.no_grad():
        torch.testing.assert_close(folded(images), net(images), atol=1e-5, rtol=1e-5)
    # the original is untouched
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 3


def test_fold_batchnorm_leaves_untraceable_or_bn_free_models_alone() -> None:
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)

        def forward(self, x: Tensor) -> Tensor:
            return self.bn(self.conv(x)) if x.sum() > 0 else x  # data-dependent: no fx trace

    branchy, plain = Branchy().eval(), nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval()
    assert fold_batchnorm(branchy) is branchy
    assert fold_batchnorm(plain) is plain


@pytest.mark.parametrize("cls", [Gradient, GuidedBackprop, IntegratedGradients])
def test_auto_single_passes_are_fp32_bit_for_bit(net: nn.Module, images: Tensor,
                                                 cls: type) -> None:
    target = torch.tensor([1, 3])
    assert torch.equal(cls(net, precision="auto").attribute(images, target),
                       cls(net, precision="fp32").attribute(images, target))


@pytest.mark.parametrize("cls", [Gradient, GuidedBackprop, IntegratedGradients])
def test_auto_smoothgrad_runs_folded_and_stays_within_rounding(net: nn.Module, images: Tensor,
                                                               cls: type) -> None:
    calls = []
    hook = net.bn1.register_forward_hook(lambda *_: calls.append(1))
    try:
        def run(precision: str) -> Tensor:
            method = cls(net, precision=precision, **({"steps": 5} if cls is
                                                       IntegratedGradients else {}))
            return SmoothGrad(method, n_samples=6, batch_size=4, seed=2).attribute(
                images, torch.tensor([1, 3]))

        fp32 = run("fp32")
        assert calls  # the fp32 noisy passes use the model itself
        calls.clear()
        auto = run("auto")
        assert not calls  # the auto noisy passes ran on the folded copy
    finally:
        hook.remove()
    if noisy_pass_precision("auto", images.device) == "fp32":
        torch.testing.assert_close(auto, fp32, atol=1e-4 * float(fp32.abs().max()), rtol=1e-3)


def test_auto_ig_computes_the_baseline_gradient_once_per_target(net: nn.Module,
                                                                images: Tensor) -> None:
    method = IntegratedGradients(net, precision="auto", steps=4, batch_size=100)
    sizes = []
    original = method.input_grad

    def spy(x: Tensor, targets: Tensor) -> Tensor:
        sizes.append(x.shape[0])
        return original(x, targets)

    method.input_grad = spy  # type: ignore[method-assign]
    SmoothGrad(method, n_samples=5, batch_size=10).attribute(images, torch.tensor([1, 1]))
    assert sizes == [1, 10 * 3]  # one baseline row for the one target, 3 other steps per copy
    sizes.clear()
    method.attribute(images, 1)  # a plain IG map: every step, baseline included
    assert sizes == [2 * 4]


def test_noisy_pass_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    for precision in ("fp32", "bf16"):
        assert noisy_pass_precision(precision, cpu) == precision
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert noisy_pass_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert noisy_pass_precision("auto", cpu) == "fp32"
    for capability, expected in (((7, 5), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16")):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_, c=capability: c)
        assert noisy_pass_precision("auto", torch.device("cuda")) == expected
    check_precision("auto")
    with pytest.raises(ValueError, match="precision must be one of"):
        noisy_pass_precision("fp16", cpu)


def test_auto_precision_context_is_ieee_fp32() -> None:
    with precision_context("cpu", "auto"):
        assert not torch.is_autocast_enabled("cpu")
