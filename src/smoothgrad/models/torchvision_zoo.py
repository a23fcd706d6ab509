"""Any torchvision classification model (`model=torchvision model.arch=... model.weights=...`).

`weights` is a weights enum name of the arch (`IMAGENET1K_V1`, `DEFAULT`; downloaded once into
torch's hub cache, or read from it offline) or a local state-dict file. The preprocessing is the
weights enum's (resize, centre crop, mean/std); for a file, the arch's default weights' (its
input size), or ImageNet's (256, 224, ImageNet mean/std) where the arch has no weights enum.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import torch
import torchvision.models as tvm
from torch import nn

from ..errors import ConfigError, WeightsUnavailableError
from .bundle import ModelBundle
from .imagenet_classes import IMAGENET_CLASSES

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def classification_models() -> list[str]:
    """torchvision's classification model names (not detection, segmentation, video...)."""
    return tvm.list_models(module=tvm)


def _check_arch(arch: str) -> None:
    names = classification_models()
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=5, cutoff=0.5)
        hint = f"close names: {', '.join(close)}" if close else f"choose one of {', '.join(names)}"
        raise ConfigError(f"model.arch={arch!r} is not a torchvision classification model; "
                          f"{hint}")


def _weights_enum(arch: str) -> Any | None:
    try:
        return tvm.get_model_weights(arch)
    except (ValueError, KeyError):
        return None


def _looks_like_file(weights: str) -> bool:
    return "/" in weights or "\\" in weights or Path(weights).suffix in (".pth", ".pt", ".bin")


def _net_from_file(arch: str, path: Path) -> nn.Module:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - pickle/zip/OS errors all mean "not a state dict"
        raise WeightsUnavailableError(f"model.weights={path} is not a readable state dict "
                                      f"({type(err).__name__}); pass a file saved with "
                                      "torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"model.weights={path} holds a {type(state).__name__}, "
                                      "not a state dict; save model.state_dict()")
    head = [v for k, v in state.items() if k.endswith(".weight") and v.ndim == 2]
    kwargs = {"num_classes": head[-1].shape[0]} if head else {}
    net = tvm.get_model(arch, weights=None, **kwargs)
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        first = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), "")
        raise ConfigError(f"model.weights={path} does not fit model.arch={arch}: "
                          f"{first}") from None
    bad = [*result.missing_keys, *result.unexpected_keys]
    if bad:
        raise ConfigError(f"model.weights={path} does not fit model.arch={arch}: "
                          f"{len(result.missing_keys)} missing and "
                          f"{len(result.unexpected_keys)} unexpected keys (first: {bad[0]})")
    return net


def _last_linear(net: nn.Module) -> nn.Module | None:
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def _net_from_enum(arch: str, weights: Any) -> nn.Module:
    try:
        return tvm.get_model(arch, weights=weights)
    except Exception as err:  # noqa: BLE001 - urllib/SSL/socket errors all mean "no download"
        raise WeightsUnavailableError(
            f"torchvision weights {arch} {weights.name} are neither in torch's hub cache nor "
            f"downloadable ({type(err).__name__}); download {weights.url} where there is "
            "internet and pass model.weights=/path/to/it.pth") from err


def build_torchvision(arch: str, weights: str = "DEFAULT") -> ModelBundle:
    """torchvision's `arch` with `weights` (an enum name of the arch, or a state-dict file)."""
    _check_arch(arch)
    enum = _weights_enum(arch)
    names = list(enum.__members__) if enum is not None else []
    if weights in names:
        chosen = enum[weights]
        net = _net_from_enum(arch, chosen)
    elif Path(weights).is_file():
        chosen = enum.DEFAULT if enum is not None else None
        net = _net_from_file(arch, Path(weights))
    elif _looks_like_file(weights) or not names:
        raise WeightsUnavailableError(
            f"model.weights={weights} is not a file; pass a state-dict file"
            + (f" or one of {', '.join(names)}" if names else ""))
    else:
        raise ConfigError(f"model.weights={weights!r} is neither a file nor a weights name of "
                          f"{arch}; choose one of {', '.join(names)} or pass a state-dict file")
    resize, size, mean, std = 256, 224, IMAGENET_MEAN, IMAGENET_STD
    class_names = IMAGENET_CLASSES
    if chosen is not None:
        transforms = chosen.transforms()
        resize, size = transforms.resize_size[0], transforms.crop_size[0]
        mean, std = tuple(transforms.mean), tuple(transforms.std)
        if weights in names:
            class_names = list(chosen.meta.get("categories") or IMAGENET_CLASSES)
    n_classes = getattr(_last_linear(net), "out_features", len(class_names))
    if n_classes != len(class_names):  # a state dict fine-tuned to other classes
        class_names = [f"class {i}" for i in range(n_classes)]
    if isinstance(net, tvm.Inception3):  # eval-mode logits only; no unused branch
        net.aux_logits, net.AuxLogits = False, None
    return ModelBundle(name=arch, net=net, input_size=size, resize=resize, mean=mean, std=std,
                       class_names=class_names)
