"""The arrays behind Figs 2, 3, 4 and 6, each computed for the images a figure's rule picks and
written as one `.npz` (so changing a swept list replaces the file whole: no stale entries).
Each is a worker (`compute.jobs`) called once per image, photo or scan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..attribution import Attribution
from ..data.imagenet import label_to_index, load_image
from ..errors import ConfigError
from ..models import ModelBundle
from ..store.selection import SelectionRule, select_images, target_index, target_name
from .inputs import image_batch, image_files, read_predictions
from .jobs import ModelWorker
from .maps import attribute_targets
from .methods import SmoothGradSettings


@dataclass(frozen=True)
class FigureImages:
    """The images one figure's rule picks from the predictions, and the class each map explains
    (read by the stage's workers: `compute.jobs`)."""

    entries: list[dict[str, Any]]
    files: list[Path]
    targets: list[int]
    names: list[str]

    @classmethod
    def pick(cls, predictions: Path, images_dir: Path, rule: SelectionRule,
             target: str) -> FigureImages:
        entries = select_images(read_predictions(predictions), rule)
        files = image_files(entries, images_dir)
        return cls(entries, [files[e["id"]] for e in entries],
                   [target_index(e, target) for e in entries],
                   [target_name(e, target) for e in entries])

    @property
    def jobs(self) -> list[tuple[Path, int]]:
        """One job per image: (file, the class its map explains)."""
        return list(zip(self.files, self.targets, strict=True))

    def arrays(self, about: Mapping[str, Any], rows: Sequence[Mapping[str, np.ndarray]],
               values: Sequence[float]) -> dict[str, np.ndarray]:
        """What a sweep stores besides its own settings: the images and their maps
        (K, V, C, H, W) as float16 (the workers' `rows`), the swept values and the labels."""
        return {"pixels": np.stack([r["pixels"] for r in rows]).astype(np.float16),
                "maps": np.stack([r["maps"] for r in rows]).astype(np.float16),
                "values": np.array(values), "model": np.array(about["model"]),
                "ids": np.array([e["id"] for e in self.entries]),
                "class_names": np.array(self.names)}


class NoiseSweep(ModelWorker):
    """Fig 3, one image per call: SmoothGrad(gradient) at each noise level; level 0 is the
    vanilla gradient itself (noise 0 would only average n identical maps)."""

    def __init__(self, bundle: ModelBundle, device: torch.device, gradient: Attribution,
                 smoothgrad: SmoothGradSettings, levels: Sequence[float]) -> None:
        super().__init__(bundle, device)
        self.methods = [gradient if level == 0 else
                        smoothgrad.around(gradient, noise_level=level) for level in levels]

    def __call__(self, job: tuple[Path, int]) -> dict[str, np.ndarray]:
        path, target = job
        pixels, x = image_batch(self.bundle, path, 1, self.device)
        return {"pixels": pixels.numpy(), "maps": np.concatenate(
            [attribute_targets(method, x, [target]) for method in self.methods])}


class SamplesSweep(ModelWorker):
    """Fig 4, one image per call: SmoothGrad(gradient) at each sample count n, read off one run
    of max(counts) samples as running means."""

    def __init__(self, bundle: ModelBundle, device: torch.device, gradient: Attribution,
                 smoothgrad: SmoothGradSettings, counts: Sequence[int],
                 noise_level: float) -> None:
        super().__init__(bundle, device)
        self.counts = sorted(counts)
        self.method = smoothgrad.around(gradient, noise_level=noise_level,
                                        n_samples=self.counts[-1])

    def __call__(self, job: tuple[Path, int]) -> dict[str, np.ndarray]:
        path, target = job
        pixels, x = image_batch(self.bundle, path, 1, self.device)
        running = self.method.attribute_running(x, torch.tensor([target], device=self.device),
                                                self.counts)
        return {"pixels": pixels.numpy(), "maps": np.concatenate(
            [running[n].detach().float().cpu().numpy() for n in self.counts])}


def choose_pixel(rule: str | Sequence[int], grad: torch.Tensor) -> tuple[int, int]:
    """Fig 2's pixel: `center`, `max_gradient` (largest |dS/dx| summed over channels at x), or
    an explicit [row, col]."""
    height, width = grad.shape[-2:]
    if isinstance(rule, str):
        if rule == "center":
            return height // 2, width // 2
        if rule == "max_gradient":
            flat = int(grad.abs().sum(dim=0).argmax())
            return flat // width, flat % width
        raise ConfigError(f"figures.fig2.pixel={rule!r}: choose center, max_gradient or "
                          "[row, col]")
    row, col = (int(v) for v in rule)
    return row, col


class LineScan(ModelWorker):
    """Fig 2, one image per call (the stage's only job): dS_c/dx of one pixel's channels along
    x + t*eps (eps ~ N(0, std^2) in [0, 1] pixel space), each divided by max_i |dS_c/dx_i| at
    that point, for `n_t` values of t in [0, 1]; the pixel is chosen at t = 0."""

    def __init__(self, bundle: ModelBundle, device: torch.device, gradient: Attribution, *,
                 pixel_rule: str | Sequence[int], n_t: int, epsilon_std: float, seed: int,
                 batch_size: int) -> None:
        super().__init__(bundle, device)
        self.gradient, self.pixel_rule, self.n_t = gradient, pixel_rule, n_t
        self.epsilon_std, self.seed, self.batch_size = epsilon_std, seed, batch_size

    def __call__(self, job: tuple[Path, int]) -> dict[str, np.ndarray]:
        path, target = job
        pixels = self.bundle.pixels(load_image(path))
        eps = torch.randn(pixels.shape, generator=torch.Generator().manual_seed(self.seed))
        eps = eps * self.epsilon_std
        ts = torch.linspace(0.0, 1.0, self.n_t)
        values, pixel = [], None
        for start in range(0, self.n_t, self.batch_size):
            t = ts[start:start + self.batch_size].view(-1, 1, 1, 1)
            x = self.bundle.normalize(pixels.unsqueeze(0) + t * eps).to(self.device)
            grads = self.gradient.attribute(
                x, torch.full((len(x),), target, device=self.device)).float().cpu()
            if pixel is None:
                pixel = choose_pixel(self.pixel_rule, grads[0])
            scale = grads.abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)
            values.append(grads[:, :, pixel[0], pixel[1]] / scale[:, None])
        return {"t": ts.numpy(), "ratio": torch.cat(values).numpy(), "pixel": np.array(pixel),
                "x": pixels.numpy(), "x_eps": (pixels + eps).clamp(0, 1).numpy(),
                "epsilon_std": np.array(self.epsilon_std)}


class TwoObjectMaps(ModelWorker):
    """Fig 6, one photo per call: each method's map for each of the photo's two classes,
    (M, 2, C, H, W), the methods in the given order and SmoothGrad (around the gradient, if
    present)."""

    def __init__(self, bundle: ModelBundle, device: torch.device,
                 methods: Mapping[str, Attribution], smoothgrad: SmoothGradSettings) -> None:
        super().__init__(bundle, device)
        self.columns = dict(methods)
        if "gradient" in methods:
            self.columns["smoothgrad"] = smoothgrad.around(methods["gradient"])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "methods": list(self.columns)}

    def __call__(self, job: tuple[Path, Sequence[str]]) -> dict[str, np.ndarray]:
        path, names = job
        classes = [label_to_index(name) for name in names]
        pixels, x = image_batch(self.bundle, path, len(classes), self.device)
        return {"pixels": pixels.numpy().astype(np.float16),
                "maps": np.stack([attribute_targets(m, x, classes)
                                  for m in self.columns.values()]).astype(np.float16),
                "classes": np.array([self.bundle.class_names[c] for c in classes])}
