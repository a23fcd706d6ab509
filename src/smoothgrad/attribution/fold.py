"""A copy of a model with every eval-mode BatchNorm folded into the convolution that feeds it
(and a symmetric zero padding in front of that convolution folded into its `padding`), for
SmoothGrad's noisy passes under `precision="auto"`.

In eval mode BatchNorm is a per-channel affine map, so conv -> BN is one convolution with scaled
weights and a shifted bias: the same function, up to float rounding. On a 2-core CPU BatchNorm's
forward and backward were ~30 % of an EfficientNet-Lite0 gradient pass and the explicit padding
(fill + copy, forward and backward) another ~10 %. The rounding change flips a few ReLU6 masks
near 0 and 6, which moves a single gradient by up to ~1 % of its maximum: far less than a new
noise draw moves a SmoothGrad map, but not IEEE-identical, hence only for the noisy passes.

The graph comes from `torch.fx`; a model it cannot trace is used as it is. The original model is
never modified: folded convolutions are new modules, the others are shared.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.nn.utils import skip_init
from torch.nn.utils.fusion import fuse_conv_bn_weights

_CONV_CALLS = (F.conv2d, torch.conv2d)
_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_CONV_DEFAULTS = {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}


def _pair(value: int | tuple | list) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _attr(gm: fx.GraphModule, node: fx.Node | None) -> torch.Tensor | None:
    if node is None:
        return None
    if not (isinstance(node, fx.Node) and node.op == "get_attr"):
        raise TypeError("not a parameter")
    return gm.get_parameter(node.target)


def _conv_spec(gm: fx.GraphModule, node: fx.Node) -> dict | None:
    """The input node and hyper-parameters of a 2-d convolution node (a call of an exact
    `nn.Conv2d` module or of `F.conv2d` on a module's parameters), or None."""
    if node.op == "call_module":
        conv = gm.get_submodule(node.target)
        if type(conv) is not nn.Conv2d or conv.padding_mode != "zeros" or len(node.args) != 1:
            return None
        if sum(1 for n in gm.graph.nodes if n.op == "call_module" and n.target == node.target) > 1:
            return None  # one module called twice: folding one call would change the other
        return {"input": node.args[0], "weight": conv.weight, "bias": conv.bias,
                "stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation,
                "groups": conv.groups}
    if node.op == "call_function" and node.target in _CONV_CALLS:
        spec = {**_CONV_DEFAULTS, **dict(zip(_CONV_ARGS, node.args, strict=False)), **node.kwargs}
        try:
            spec["weight"], spec["bias"] = _attr(gm, spec["weight"]), _attr(gm, spec["bias"])
        except (TypeError, AttributeError):
            return None
        if spec["weight"] is None or isinstance(spec["padding"], str):
            return None
        return spec
    return None


def _fold_padding(gm: fx.GraphModule, spec: dict) -> None:
    """A symmetric `nn.ZeroPad2d` used only by this convolution becomes the conv's padding."""
    source = spec["input"]
    if not (isinstance(source, fx.Node) and source.op == "call_module"
            and len(source.users) == 1 and _pair(spec["padding"]) == (0, 0)):
        return
    pad = gm.get_submodule(source.target)
    if type(pad) is not nn.ZeroPad2d:
        return
    left, right, top, bottom = pad.padding
    if left == right and top == bottom:
        spec["input"], spec["padding"] = source.args[0], (top, left)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """`model` with conv -> BatchNorm2d pairs folded (see the module docstring), in eval mode;
    `model` itself if nothing could be folded or it cannot be traced."""
    try:
        gm = fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - any tracing failure: run the model as it is
        return model
    folded = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module":
            continue
        bn = gm.get_submodule(node.target)
        if (type(bn) is not nn.BatchNorm2d or bn.training or bn.running_mean is None
                or len(node.args) != 1 or not isinstance(node.args[0], fx.Node)):
            continue
        source = node.args[0]
        spec = _conv_spec(gm, source) if len(source.users) == 1 else None
        if spec is None:
            continue
        _fold_padding(gm, spec)
        weight, bias = fuse_conv_bn_weights(spec["weight"], spec["bias"], bn.running_mean,
                                            bn.running_var, bn.eps, bn.weight, bn.bias)
        # skip_init: no random initialization, which would advance the caller's global RNG
        conv = skip_init(nn.Conv2d, weight.shape[1] * spec["groups"], weight.shape[0],
                         weight.shape[2:], stride=_pair(spec["stride"]),
                         padding=_pair(spec["padding"]), dilation=_pair(spec["dilation"]),
                         groups=spec["groups"], device=weight.device, dtype=weight.dtype)
        conv.weight = nn.Parameter(weight.detach(), requires_grad=False)
        conv.bias = nn.Parameter(bias.detach(), requires_grad=False)
        name = f"_folded_conv_{folded}"
        gm.add_submodule(name, conv)
        with gm.graph.inserting_after(node):
            call = gm.graph.call_module(name, (spec["input"],))
        node.replace_all_uses_with(call)
        folded += 1
    if not folded:
        return model
    gm.graph.eliminate_dead_code()
    gm.recompile()
    gm.delete_all_unused_submodules()
    return gm.eval()
