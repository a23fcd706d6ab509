"""Guided BackProp (Springenberg et al. 2014) that sees every rectifier, not just nn.ReLU modules.

torchvision's Inception v3 calls `F.relu` and EfficientNet-Lite reuses one `nn.ReLU6` module
(`F.hardtanh(x, 0, 6)`) several times per block, so module hooks either miss rectifiers or
mix up their saved state. Instead a TorchFunctionMode, active only while the attribution runs,
reroutes each rectifier call to an autograd Function with the guided backward rule. The model
itself is never modified, so nothing can be left behind, even when an exception is raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..errors import ConfigError
from .base import Attribution

Rectifier = tuple[Tensor, float, float | None, bool]  # input, lower, upper (None: +inf), inplace


class _GuidedRectifier(torch.autograd.Function):
    """clamp(x, lower, upper) forward; backward passes the gradient only where it is positive
    and the input was in the linear region (lower < x < upper)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, lower: float, upper: float | None, inplace: bool) -> Tensor:
        ctx.bounds = lower, upper
        if inplace:
            ctx.mark_dirty(x)
            out = x.clamp_(lower, upper)
        else:
            out = x.clamp(lower, upper)
        # lower < x < upper exactly where lower < out < upper: the output holds the mask, as
        # in torch's own hardtanh backward (one fused kernel each way instead of five)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        (out,) = ctx.saved_tensors
        lower, upper = ctx.bounds
        if upper is None:
            linear = torch.ops.aten.threshold_backward(grad, out, lower)
        else:
            linear = torch.ops.aten.hardtanh_backward(grad, out, lower, upper)
        return linear.clamp_min_(0), None, None, None


def _relu(input: Tensor, inplace: bool = False) -> Rectifier:
    return input, 0.0, None, inplace


def _relu_(input: Tensor) -> Rectifier:
    return input, 0.0, None, True


def _relu6(input: Tensor, inplace: bool = False) -> Rectifier:
    return input, 0.0, 6.0, inplace


def _relu6_(input: Tensor) -> Rectifier:
    return input, 0.0, 6.0, True


def _hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
              inplace: bool = False) -> Rectifier:
    return input, min_val, max_val, inplace


def _hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Rectifier:
    return input, min_val, max_val, True


# Every public spelling of a rectifier: F.*, torch.*, Tensor methods and the C entry points.
_RECTIFIERS: dict[Callable, Callable[..., Rectifier]] = {
    F.relu: _relu, F.relu_: _relu_, torch.relu: _relu, torch.relu_: _relu_,
    Tensor.relu: _relu, Tensor.relu_: _relu_,
    F.relu6: _relu6, torch._C._nn.relu6: _relu6, torch._C._nn.relu6_: _relu6_,
    F.hardtanh: _hardtanh, F.hardtanh_: _hardtanh_,
    torch._C._nn.hardtanh: _hardtanh, torch._C._nn.hardtanh_: _hardtanh_,
}


# Non-linearities that are not rectifiers: Guided BackProp's rule is defined for ReLU networks
# only, and would silently pass their plain gradient through (a different method), so a model
# with one of them is refused. Modules are checked up front; functional calls as they happen.
NON_RECTIFIER_MODULES: tuple[type[nn.Module], ...] = (
    nn.GELU, nn.SiLU, nn.Hardswish, nn.Mish, nn.ELU, nn.SELU, nn.CELU, nn.LeakyReLU, nn.PReLU,
    nn.RReLU, nn.Softplus)
NON_RECTIFIER_CALLS: dict[Callable, str] = {
    F.gelu: "gelu", F.silu: "silu", F.hardswish: "hardswish", F.mish: "mish", F.elu: "elu",
    F.selu: "selu", F.celu: "celu", F.leaky_relu: "leaky_relu", F.softplus: "softplus",
    torch._C._nn.gelu: "gelu", torch._C._nn.silu: "silu", torch._C._nn.hardswish: "hardswish",
    torch._C._nn.mish: "mish", torch._C._nn.elu: "elu", torch._C._nn.leaky_relu: "leaky_relu",
    torch._C._nn.softplus: "softplus", torch.selu: "selu", torch.celu: "celu",
}
_REFUSE = ("guided_backprop is defined for rectifier (ReLU) networks only, and this model uses "
           "{what}; drop the method (`~methods.guided_backprop`) or use a ReLU model")


def check_rectifier_model(model: nn.Module) -> None:
    """Refuse (ConfigError, one line) a model with a non-rectifier activation module."""
    for name, module in model.named_modules():
        if isinstance(module, NON_RECTIFIER_MODULES):
            raise ConfigError(_REFUSE.format(
                what=f"{type(module).__name__} (at {name or 'the model'})"))


class _GuidedMode(TorchFunctionMode):
    """Reroutes rectifiers to `_GuidedRectifier`. A hardtanh whose lower bound is not 0 is a
    saturating nonlinearity, not a rectifier, and keeps its ordinary gradient."""

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in NON_RECTIFIER_CALLS:
            raise ConfigError(_REFUSE.format(what=f"{NON_RECTIFIER_CALLS[func]} (a call)"))
        parse = _RECTIFIERS.get(func)
        if parse is not None:
            x, lower, upper, inplace = parse(*args, **kwargs)
            if lower == 0:
                return _GuidedRectifier.apply(x, lower, upper, inplace)
        return func(*args, **kwargs)


class GuidedBackprop(Attribution):
    """Gradient in which every ReLU / ReLU6 passes only positive gradients where its input was
    in the linear region."""

    @contextlib.contextmanager
    def rule(self) -> Iterator[None]:
        check_rectifier_model(self.model)
        with _GuidedMode():
            yield

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        return self.input_grad(x, targets)
