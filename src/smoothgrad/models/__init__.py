"""Models by name: each a `ModelBundle` carrying its preprocessing and class names."""

from __future__ import annotations

from collections.abc import Callable

from hydra.utils import instantiate
from omegaconf import DictConfig

from ..errors import ConfigError, WeightsUnavailableError
from .bundle import ModelBundle
from .efficientnet_lite import build_efficientnet_lite0
from .inception import build_inception_v3
from .mnist_cnn import MnistCNN, build_mnist_cnn
from .torchvision_zoo import build_torchvision

BUILDERS: dict[str, Callable[..., ModelBundle]] = {
    "efficientnet_lite0": build_efficientnet_lite0,
    "inception_v3": build_inception_v3,
    "mnist_cnn": build_mnist_cnn,
    "torchvision": build_torchvision,
}


def build_model(name: str, **kwargs) -> ModelBundle:
    """Build a model by name (efficientnet_lite0 | inception_v3 | mnist_cnn | torchvision)."""
    if name not in BUILDERS:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(BUILDERS)}")
    return BUILDERS[name](**kwargs)


def model_from_config(cfg: DictConfig) -> ModelBundle:
    """Build the model a config node (`_target_` + arguments) describes."""
    return instantiate(cfg)


__all__ = [
    "BUILDERS", "MnistCNN", "ModelBundle", "WeightsUnavailableError", "build_efficientnet_lite0",
    "build_inception_v3", "build_mnist_cnn", "build_model", "build_torchvision",
    "model_from_config",
]
