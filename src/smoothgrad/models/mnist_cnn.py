"""The convolutional MNIST net of the TensorFlow tutorial (paper Fig 8)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import DataError
from .bundle import ModelBundle


class MnistCNN(nn.Module):
    """conv 5x5x32 -> max-pool -> conv 5x5x64 -> max-pool -> fc 1024 -> dropout -> fc 10."""

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(1024, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_mnist_cnn(weights_path: str | None = None) -> ModelBundle:
    """The MNIST net; inputs are [0, 1] pixels (no normalization), 1 x 28 x 28."""
    net = MnistCNN()
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise DataError(
                f"MNIST checkpoint {path} does not exist; run `dvc repro train_mnist` first"
            )
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return ModelBundle(
        name="mnist_cnn", net=net, input_size=28, mean=(0.0,), std=(1.0,),
        class_names=[str(d) for d in range(10)],
    )
