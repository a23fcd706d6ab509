"""The arrays behind Figs 2, 3, 4 and 6, each computed for the images a figure's rule picks and
written as one `.npz` (so changing a swept list replaces the file whole: no stale entries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..attribution import Attribution
from ..data.imagenet import label_to_index
from ..errors import ConfigError
from ..models import ModelBundle
from ..store.arrays import save_npz
from ..store.selection import SelectionRule, select_images, target_index, target_name
from .inputs import image_batch, image_files, read_predictions, stacked_pixels
from .maps import attribute_targets
from .methods import SmoothGradSettings


@dataclass(frozen=True)
class FigureImages:
    """The images one figure's rule picks from the predictions, on the model's grid."""

    entries: list[dict[str, Any]]
    pixels: torch.Tensor  # (K, C, H, W) in [0, 1]
    targets: list[int]  # the class each map explains
    names: list[str]

    @classmethod
    def pick(cls, bundle: ModelBundle, predictions: Path, images_dir: Path,
             rule: SelectionRule, target: str) -> FigureImages:
        entries = select_images(read_predictions(predictions), rule)
        files = image_files(entries, images_dir)
        return cls(entries, stacked_pixels(bundle, [files[e["id"]] for e in entries]),
                   [target_index(e, target) for e in entries],
                   [target_name(e, target) for e in entries])

    def arrays(self, bundle: ModelBundle, maps: np.ndarray,
               values: Sequence[float]) -> dict[str, np.ndarray]:
        """What a sweep stores besides its own settings: the images, their maps (K, V, C, H, W)
        as float16, the swept values and the labels of the rows."""
        return {"pixels": self.pixels.numpy().astype(np.float16),
                "maps": maps.astype(np.float16), "values": np.array(values),
                "model": np.array(bundle.name),
                "ids": np.array([e["id"] for e in self.entries]),
                "class_names": np.array(self.names)}


def noise_sweep(gradient: Attribution, smoothgrad: SmoothGradSettings, bundle: ModelBundle,
                images: FigureImages, levels: Sequence[float], out: Path,
                device: torch.device) -> None:
    """Fig 3: SmoothGrad(gradient) of each image at each noise level; level 0 is the vanilla
    gradient itself (noise 0 would only average n identical maps)."""
    x = bundle.normalize(images.pixels).to(device)
    rows = []
    for k in tqdm(range(len(x)), desc="sweep_noise", unit="img"):
        rows.append(np.concatenate([
            attribute_targets(gradient if level == 0 else
                              smoothgrad.around(gradient, noise_level=level),
                              x[k:k + 1], [images.targets[k]])
            for level in levels]))
    save_npz(out, **images.arrays(bundle, np.stack(rows), levels),
             n_samples=np.array(smoothgrad.n_samples))


def samples_sweep(gradient: Attribution, smoothgrad: SmoothGradSettings, bundle: ModelBundle,
                  images: FigureImages, counts: Sequence[int], noise_level: float, out: Path,
                  device: torch.device) -> None:
    """Fig 4: SmoothGrad(gradient) of each image at each sample count n, read off one run of
    max(counts) samples as running means."""
    counts = sorted(counts)
    sg = smoothgrad.around(gradient, noise_level=noise_level, n_samples=counts[-1])
    x = bundle.normalize(images.pixels).to(device)
    rows = []
    for k in tqdm(range(len(x)), desc="sweep_samples", unit="img"):
        target = torch.tensor([images.targets[k]], device=device)
        running = sg.attribute_running(x[k:k + 1], target, counts)
        rows.append(np.concatenate([running[n].detach().float().cpu().numpy() for n in counts]))
    save_npz(out, **images.arrays(bundle, np.stack(rows), counts),
             noise_level=np.array(noise_level))


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


def line_scan(gradient: Attribution, bundle: ModelBundle, images: FigureImages, *,
              pixel_rule: str | Sequence[int], n_t: int, epsilon_std: float, seed: int,
              batch_size: int, out: Path, device: torch.device) -> tuple[int, int]:
    """Fig 2: dS_c/dx of one pixel's channels along x + t*eps (eps ~ N(0, std^2) in [0, 1]
    pixel space), each divided by max_i |dS_c/dx_i| at that point, for t in [0, 1], for the
    first picked image. Returns the pixel."""
    pixels, target = images.pixels[0], images.targets[0]
    generator = torch.Generator().manual_seed(seed)
    eps = torch.randn(pixels.shape, generator=generator) * epsilon_std
    ts = torch.linspace(0.0, 1.0, n_t)
    values, pixel = [], None
    for start in tqdm(range(0, n_t, batch_size), desc="line_scan", unit="batch"):
        t = ts[start:start + batch_size].view(-1, 1, 1, 1)
        x = bundle.normalize(pixels.unsqueeze(0) + t * eps).to(device)
        grads = gradient.attribute(x, torch.full((len(x),), target, device=device)).float().cpu()
        if pixel is None:
            pixel = choose_pixel(pixel_rule, grads[0])
        scale = grads.abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)
        values.append(grads[:, :, pixel[0], pixel[1]] / scale[:, None])
    save_npz(out, t=ts.numpy(), ratio=torch.cat(values).numpy(), pixel=np.array(pixel),
             x=pixels.numpy(), x_eps=(pixels + eps).clamp(0, 1).numpy(),
             epsilon_std=np.array(epsilon_std), id=np.array(images.entries[0]["id"]),
             model=np.array(bundle.name), class_name=np.array(images.names[0]))
    return pixel


def two_object_maps(methods: Mapping[str, Attribution], bundle: ModelBundle,
                    photos: Sequence[tuple[Path, Sequence[str]]], smoothgrad: SmoothGradSettings,
                    out: Path, device: torch.device) -> None:
    """Fig 6: each method's map of each photo for each of its two classes, (M, 2, C, H, W) per
    photo, the methods in the given order and SmoothGrad (around the gradient, if present)."""
    columns = dict(methods)
    if "gradient" in methods:
        columns["smoothgrad"] = smoothgrad.around(methods["gradient"])
    arrays: dict[str, np.ndarray] = {
        "methods": np.array(list(columns)), "model": np.array(bundle.name),
        "n_samples": np.array(smoothgrad.n_samples),
        "noise_level": np.array(smoothgrad.noise_level)}
    for i, (path, names) in enumerate(tqdm(photos, desc="two_objects", unit="img")):
        classes = [label_to_index(name) for name in names]
        pixels, x = image_batch(bundle, path, len(classes), device)
        arrays[f"{i}/pixels"] = pixels.numpy().astype(np.float16)
        arrays[f"{i}/maps"] = np.stack([attribute_targets(m, x, classes)
                                        for m in columns.values()]).astype(np.float16)
        arrays[f"{i}/classes"] = np.array([bundle.class_names[c] for c in classes])
    save_npz(out, **arrays)
