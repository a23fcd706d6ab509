"""Guided BackProp: parity with Captum where Captum works, and correctness where module hooks
fail (F.relu, a reused ReLU6 module, in-place ReLUs); the model is never left modified."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop as CaptumGBP
from torch import nn

from smoothgrad.attribution import Gradient, GuidedBackprop
from smoothgrad.models import build_model

pytestmark = [
    pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU"),
    pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require"),
]


class GuidedByHook(nn.Module):
    """Reference rule, written independently: the rectifier's own backward masks to the linear
    region and a tensor hook on its output keeps only positive incoming gradients."""

    def __init__(self, upper: float | None = None) -> None:
        super().__init__()
        self.upper = upper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.clamp(0, self.upper)
        if y.requires_grad:
            y.register_hook(lambda grad: grad.clamp(min=0))
        return y


class TinyNet(nn.Module):
    """One set of weights, several ways of writing the rectifiers."""

    def __init__(self, style: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 5)
        self.style = style
        acts = {"modules": [nn.ReLU(), nn.ReLU()], "inplace": [nn.ReLU(inplace=True)] * 2,
                "relu6_shared": [nn.ReLU6()] * 2, "hooked_relu": [GuidedByHook()] * 2,
                "hooked_relu6": [GuidedByHook(6.0)] * 2}
        self.acts = nn.ModuleList(acts.get(style, []))

    def act(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if self.style == "functional":
            return F.relu(x)
        if self.style == "tensor_method":
            return x.relu_() if i else torch.relu(x)
        return self.acts[i](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(0, self.conv1(x) * 3)  # scaled so ReLU6 saturates somewhere
        x = F.max_pool2d(self.act(1, self.conv2(x)), 2)
        return self.fc(x.flatten(1))


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))


TARGET = torch.tensor([1, 3])


def test_matches_captum_on_relu_modules(x: torch.Tensor) -> None:
    net = TinyNet("modules").eval()
    ours = GuidedBackprop(net).attribute(x, TARGET)
    torch.testing.assert_close(ours, CaptumGBP(net).attribute(x.clone(), target=TARGET),
                               atol=1e-6, rtol=1e-5)
    assert not torch.allclose(ours, Gradient(net).attribute(x, TARGET), atol=1e-4)


@pytest.mark.parametrize("style", ["functional", "inplace", "tensor_method", "hooked_relu"])
def test_same_result_however_relu_is_written(x: torch.Tensor, style: str) -> None:
    reference = GuidedBackprop(TinyNet("modules").eval()).attribute(x, TARGET)
    net = TinyNet(style).eval()
    attribution = GuidedBackprop if style != "hooked_relu" else Gradient
    torch.testing.assert_close(attribution(net).attribute(x, TARGET), reference,
                               atol=1e-6, rtol=1e-5)


def test_captum_misses_functional_relu(x: torch.Tensor) -> None:
    """Why the function mode exists: Captum's module hooks see no nn.ReLU and silently return
    the plain gradient."""
    net = TinyNet("functional").eval()
    captum = CaptumGBP(net).attribute(x.clone(), target=TARGET)
    torch.testing.assert_close(captum, Gradient(net).attribute(x, TARGET), atol=1e-6, rtol=1e-5)
    assert not torch.allclose(captum, GuidedBackprop(net).attribute(x, TARGET), atol=1e-4)


def test_shared_relu6_module_matches_hook_reference(x: torch.Tensor) -> None:
    ours = GuidedBackprop(TinyNet("relu6_shared").eval()).attribute(x, TARGET)
    reference = Gradient(TinyNet("hooked_relu6").eval()).attribute(x, TARGET)
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=1e-5)
    relu = GuidedBackprop(TinyNet("modules").eval()).attribute(x, TARGET)
    assert not torch.allclose(ours, relu, atol=1e-4)  # the upper bound 6 matters here


def test_efficientnet_lite_matches_hook_reference() -> None:
    net = build_model("efficientnet_lite0").net
    reference_net = copy.deepcopy(net)
    for module in list(reference_net.modules()):
        if isinstance(getattr(module, "_swish", None), nn.ReLU6):
            module._swish = GuidedByHook(6.0)
    reference_net.eval()  # a new module starts in training mode
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ours = GuidedBackprop(net).attribute(x, 10)
    torch.testing.assert_close(ours, Gradient(reference_net).attribute(x, 10),
                               atol=1e-5, rtol=1e-4)
    assert not torch.allclose(ours, Gradient(net).attribute(x, 10), atol=1e-3)


def snapshot(net: nn.Module) -> tuple[dict, list]:
    hooks = [
        (name, {k: dict(getattr(m, k)) for k in ("_forward_hooks", "_forward_pre_hooks",
                                                 "_backward_hooks", "_backward_pre_hooks")},
         m.forward)
        for name, m in net.named_modules()
    ]
    return {k: v.clone() for k, v in net.state_dict().items()}, hooks


def test_inception_differs_from_gradient_and_is_left_unchanged() -> None:
    net = build_model("inception_v3", pretrained=False).net
    x = torch.randn(1, 3, 80, 80, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before_out = net(x)
    state, hooks = snapshot(net)
    guided = GuidedBackprop(net).attribute(x, 7)
    plain = Gradient(net).attribute(x, 7)
    cosine = F.cosine_similarity(guided.flatten(), plain.flatten(), dim=0)
    assert cosine < 0.9, cosine  # Captum's module hooks give cosine 1 here (F.relu)
    with pytest.raises(RuntimeError):
        GuidedBackprop(net).attribute(x, 5000)  # bad class index fails inside the mode
    assert not torch._C._is_torch_function_mode_enabled()
    after_state, after_hooks = snapshot(net)
    assert after_hooks == hooks
    assert state.keys() == after_state.keys()
    assert all(torch.equal(state[k], after_state[k]) for k in state)
    with torch.no_grad():
        assert torch.equal(net(x), before_out)
    torch.testing.assert_close(Gradient(net).attribute(x, 7), plain)


@pytest.mark.parametrize("upper", [None, 6.0])
@pytest.mark.parametrize("inplace", [False, True])
def test_guided_rectifier_backward_matches_its_definition(upper: float | None,
                                                          inplace: bool) -> None:
    """The mask read off the output (as torch's own hardtanh backward does) is the definition:
    gradient kept where it is positive and lower < input < upper, also exactly at the bounds."""
    from smoothgrad.attribution.guided_backprop import _GuidedRectifier

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 64, generator=gen) * 5
    x[0, :4] = torch.tensor([0.0, 6.0, -0.0, 1e-30])
    grad = torch.randn(4, 64, generator=gen)
    grad[1, :3] = torch.tensor([0.0, -0.0, 1e-30])
    leaf = x.clone().requires_grad_(True)
    out = _GuidedRectifier.apply(leaf.clone() if inplace else leaf, 0.0, upper, inplace)
    (got,) = torch.autograd.grad(out, leaf, grad)
    linear = (x > 0) if upper is None else (x > 0) & (x < upper)
    assert torch.equal(got, torch.where(linear & (grad > 0), grad, torch.zeros_like(grad)))
    assert torch.equal(out, x.clamp(0.0, upper))
