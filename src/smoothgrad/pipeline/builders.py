"""Objects the stage scripts build from config (`_target_` / `_partial_` nodes, as in
lightning-hydra-template) before handing them to the library, which never reads config."""

from __future__ import annotations

from typing import Any

import torch
from hydra.utils import instantiate

from ..attribution import Attribution, SmoothGrad
from ..compute.methods import MethodFactory, SmoothGradSettings, method_grid
from ..device import configure_cpu_numerics, resolve_device
from ..models import ModelBundle


def model_on_device(cfg: Any) -> tuple[ModelBundle, torch.device]:
    """The configured model (`model`) on the configured device, after seeding torch."""
    configure_cpu_numerics()
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    return instantiate(cfg.model).to(device), device


def method_factories(node: Any) -> dict[str, MethodFactory]:
    """`methods` (or one `methods.<name>` node given as {name: node}) as partials, in order."""
    return {name: instantiate(spec) for name, spec in node.items()}


def smoothgrad_settings(cfg: Any) -> SmoothGradSettings:
    """SmoothGrad's settings from `smoothgrad.*` and `seed`."""
    sg = cfg.smoothgrad
    return SmoothGradSettings(sg.noise_level, sg.n_samples, sg.aggregate, sg.batch_size, cfg.seed)


def store_methods(cfg: Any, bundle: ModelBundle) -> dict[tuple[str, str], Attribution | SmoothGrad]:
    """The map store's (method, variant) grid: each of `methods` plain and inside SmoothGrad,
    SmoothGrad(IG) with `smoothgrad.ig_steps` IG steps per noisy sample (n x steps passes)."""
    factories = method_factories(cfg.methods)
    inner = {"integrated_gradients": {"steps": cfg.smoothgrad.ig_steps}}
    return method_grid(factories, bundle, cfg.precision, smoothgrad_settings(cfg),
                       {k: v for k, v in inner.items() if k in factories})
