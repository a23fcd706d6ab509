"""Objects the stage scripts build from config (`_target_` / `_partial_` nodes, as in
lightning-hydra-template) before handing them to the library, which never reads config."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from hydra.utils import instantiate

from ..attribution import Attribution, SmoothGrad
from ..compute.methods import MethodFactory, SmoothGradSettings, build_method, method_grid
from ..device import configure_cpu_numerics, resolve_device
from ..errors import ConfigError
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


def gradient_for(cfg: Any, bundle: ModelBundle) -> Attribution:
    """The configured gradient (`methods.gradient`) for `bundle`'s net at `precision`: what the
    sweeps and the single-method evaluations explain with."""
    return build_method(method_factories(cfg.methods)["gradient"], bundle, cfg.precision)


def smoothgrad_settings(cfg: Any, aggregate: str | None = None) -> SmoothGradSettings:
    """SmoothGrad's settings from `smoothgrad.*` and `seed` (`aggregate` overrides the
    configured one, for measurements defined on the mean)."""
    sg = cfg.smoothgrad
    return SmoothGradSettings(sg.noise_level, sg.n_samples, aggregate or sg.aggregate,
                              sg.batch_size, cfg.seed)


def kind_grid(cfg: Any, names: Sequence[str], smoothgrad: SmoothGradSettings,
              key: str) -> Callable[[ModelBundle], dict[str, Attribution | SmoothGrad]]:
    """Map kind ("<method>/plain", "<method>/smoothgrad") -> method, for the methods `names`
    (config key `key`) of `methods`, built for any bundle (an evaluation rebuilds them for
    each randomised copy of the model); a name `methods` lacks is a ConfigError."""
    factories = method_factories(cfg.methods)
    missing = [m for m in names if m not in factories]
    if missing:
        raise ConfigError(f"{key} names {', '.join(missing)}, which `methods` lacks (it holds "
                          f"{', '.join(factories)})")
    chosen = {m: factories[m] for m in names}

    def build(bundle: ModelBundle) -> dict[str, Attribution | SmoothGrad]:
        grid = method_grid(chosen, bundle, cfg.precision, smoothgrad)
        return {f"{m}/{v}": method for (m, v), method in grid.items()}
    return build


def store_methods(cfg: Any, bundle: ModelBundle) -> dict[tuple[str, str], Attribution | SmoothGrad]:
    """The map store's (method, variant) grid: each of `methods` plain and inside SmoothGrad,
    SmoothGrad(IG) with `smoothgrad.ig_steps` IG steps per noisy sample (n x steps passes)."""
    factories = method_factories(cfg.methods)
    inner = {"integrated_gradients": {"steps": cfg.smoothgrad.ig_steps}}
    return method_grid(factories, bundle, cfg.precision, smoothgrad_settings(cfg),
                       {k: v for k, v in inner.items() if k in factories})
