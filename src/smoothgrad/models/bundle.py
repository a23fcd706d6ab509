"""A classifier together with the preprocessing and class names it was trained with."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn
from torchvision.transforms import functional as TF


@dataclass
class ModelBundle:
    """Everything needed to explain a model: the net (eval mode, frozen, returns logits) and how
    an image becomes its input. Attribution happens in the model's input space (normalized)."""

    name: str
    net: nn.Module
    input_size: int  # square input side (pixels)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: list[str]
    resize: int | None = None  # shorter side before the centre crop; None = resize to input_size

    def __post_init__(self) -> None:
        self.net.eval().requires_grad_(False)

    @property
    def channels(self) -> int:
        return len(self.mean)

    def to(self, device: torch.device | str) -> ModelBundle:
        self.net.to(device)
        return self

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """Resize/crop a PIL image to the model's input grid, as a (C, H, W) tensor in [0, 1]."""
        image = image.convert("RGB" if self.channels == 3 else "L")
        image = TF.resize(image, self.resize or self.input_size, antialias=True)
        image = TF.center_crop(image, [self.input_size, self.input_size])
        return TF.to_tensor(image)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels -> the model's input space (works on (C,H,W) and (B,C,H,W))."""
        mean, std = self._stats(pixels)
        return (pixels - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """The model's input space -> [0, 1] pixels, for display."""
        mean, std = self._stats(x)
        return x * std + mean

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> (C, H, W) model input."""
        return self.normalize(self.pixels(image))

    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (-1, 1, 1)
        mean = torch.tensor(self.mean, dtype=like.dtype, device=like.device).view(shape)
        std = torch.tensor(self.std, dtype=like.dtype, device=like.device).view(shape)
        return mean, std
