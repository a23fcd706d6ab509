"""Images as a model sees them: loaded, resized to its grid, normalized, on its device."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..data.imagenet import load_image
from ..errors import DataError
from ..models import ModelBundle

Prediction = dict[str, Any]


def image_batch(bundle: ModelBundle, path: str | Path, n: int,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """An image's [0, 1] pixels on the model's grid and `n` copies of its model input (one per
    target, so every class of an image is explained in one batched call)."""
    pixels = bundle.pixels(load_image(path))
    x = bundle.normalize(pixels).unsqueeze(0).repeat(n, 1, 1, 1).to(device)
    return pixels, x


def stacked_pixels(bundle: ModelBundle, paths: Sequence[Path]) -> torch.Tensor:
    """[0, 1] pixels of several images on the model's grid, (K, C, H, W)."""
    return torch.stack([bundle.pixels(load_image(p)) for p in paths])


def read_predictions(path: Path) -> list[Prediction]:
    """The `predict_imagenet` stage's output: one entry per configured image, sorted by id."""
    if not path.is_file():
        raise DataError(f"no predictions at {path}; run `dvc repro predict_imagenet` first")
    return json.loads(path.read_text())


def image_files(predictions: Sequence[Mapping[str, Any]], images_dir: Path) -> dict[int, Path]:
    """Image id -> file for the predicted images."""
    return {int(e["id"]): images_dir / e["file"] for e in predictions}
