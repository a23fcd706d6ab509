"""The one way to build an attribution method for a model. Config's `methods.<name>` nodes are
partials (`_partial_: true`, instantiated by the stage script); `build_method` completes one with
the model and precision, and `SmoothGradSettings.around` wraps any method in SmoothGrad."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..attribution import Attribution, SmoothGrad
from ..errors import ConfigError
from ..models import ModelBundle

MethodFactory = Callable[..., Attribution]


@dataclass(frozen=True)
class SmoothGradSettings:
    """SmoothGrad's settings for a run (`smoothgrad.*` and `seed` in config)."""

    noise_level: float
    n_samples: int
    aggregate: str
    batch_size: int
    seed: int

    def around(self, method: Attribution, **overrides: Any) -> SmoothGrad:
        return SmoothGrad(method, **{**asdict(self), **overrides})


def ig_baseline(bundle: ModelBundle, kind: str) -> float | torch.Tensor:
    """IG's baseline x' in the model's input space: `black` is a black image (normalized zeros,
    not the zero input, which is mid-gray for a mean-0.5 model); `zero` is the zero input."""
    if kind == "zero":
        return 0.0
    if kind == "black":
        return bundle.normalize(torch.zeros(bundle.channels, bundle.input_size, bundle.input_size))
    raise ConfigError(f"methods.integrated_gradients.baseline={kind!r}: choose black or zero")


def build_method(factory: MethodFactory, bundle: ModelBundle, precision: str,
                 **overrides: Any) -> Attribution:
    """`factory` (a method class or partial) for `bundle`'s net; a baseline given by name
    (`black`, `zero`) becomes the tensor for this model's normalization."""
    keywords = {**getattr(factory, "keywords", {}), **overrides}
    if isinstance(keywords.get("baseline"), str):
        overrides["baseline"] = ig_baseline(bundle, keywords["baseline"])
    return factory(bundle.net, precision=precision, **overrides)


def method_grid(factories: Mapping[str, MethodFactory], bundle: ModelBundle, precision: str,
                smoothgrad: SmoothGradSettings, smooth_overrides: Mapping[str, Mapping] = ()
                ) -> dict[tuple[str, str], Attribution]:
    """(method, variant) -> attribution: each method "plain" and inside SmoothGrad
    ("smoothgrad", whose one run gives every aggregate); `smooth_overrides[name]` changes the
    base method inside SmoothGrad (e.g. fewer IG steps)."""
    smooth_overrides = dict(smooth_overrides)
    grid: dict[tuple[str, str], Attribution] = {}
    for name, factory in factories.items():
        grid[name, "plain"] = build_method(factory, bundle, precision)
        inner = (build_method(factory, bundle, precision, **smooth_overrides[name])
                 if name in smooth_overrides else grid[name, "plain"])
        grid[name, "smoothgrad"] = smoothgrad.around(inner)
    return grid
