"""torchvision's Inception v3, the paper's model; its weights come from torchvision or a file."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import Inception_V3_Weights, inception_v3

from ..errors import WeightsUnavailableError
from .bundle import ModelBundle
from .imagenet_classes import IMAGENET_CLASSES

WEIGHTS = Inception_V3_Weights.IMAGENET1K_V1


def _load_state_dict(weights_path: str | None) -> dict[str, torch.Tensor]:
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise WeightsUnavailableError(
                f"Inception v3 weights file {path} does not exist; fix model.weights_path "
                f"(torchvision's file: {WEIGHTS.url})"
            )
        return torch.load(path, map_location="cpu", weights_only=True)
    try:
        return WEIGHTS.get_state_dict(progress=True)
    except Exception as err:  # noqa: BLE001 - urllib/SSL/socket errors all mean "no download"
        raise WeightsUnavailableError(
            f"Inception v3 weights could not be downloaded ({type(err).__name__}); download "
            f"{WEIGHTS.url} where there is internet and pass model.weights_path=/path/to/it.pth"
        ) from err


def build_inception_v3(weights_path: str | None = None, pretrained: bool = True) -> ModelBundle:
    """Inception v3 at 299 px with ImageNet mean/std; `pretrained=False` gives random weights
    (for tests and benchmarks)."""
    net = inception_v3(weights=None, aux_logits=True, init_weights=not pretrained,
                       transform_input=pretrained)
    if pretrained:
        net.load_state_dict(_load_state_dict(weights_path))
    net.aux_logits, net.AuxLogits = False, None  # eval-mode logits only; no unused branch
    return ModelBundle(
        name="inception_v3",
        net=net,
        input_size=299,
        resize=299,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        class_names=IMAGENET_CLASSES,
    )
