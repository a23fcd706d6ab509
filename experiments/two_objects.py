"""Stage `two_objects` (Fig 6 data): each method's map of each two-object photo for both of its
classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm

from smoothgrad.config import stage_main
from smoothgrad.data.imagenet import label_to_index
from smoothgrad.io import save_npz
from smoothgrad.maps import TWO_OBJECT_METHODS, image_batch, setup_model, two_object_maps


def run(cfg: DictConfig) -> None:
    bundle, device = setup_model(cfg)
    photos = cfg.figures.fig6.photos
    arrays: dict[str, np.ndarray] = {
        "methods": np.array(TWO_OBJECT_METHODS), "model": np.array(bundle.name),
        "n_samples": np.array(cfg.smoothgrad.n_samples),
        "noise_level": np.array(cfg.smoothgrad.noise_level)}
    for i, photo in enumerate(tqdm(photos, desc="two_objects", unit="img")):
        classes = [label_to_index(name) for name in photo.classes]
        pixels, x = image_batch(bundle, Path(cfg.imagenet.two_objects_dir) / photo.file,
                                len(classes), device)
        arrays[f"{i}/pixels"] = pixels.numpy().astype(np.float16)
        arrays[f"{i}/maps"] = two_object_maps(cfg, bundle, x, classes).astype(np.float16)
        arrays[f"{i}/classes"] = np.array([bundle.class_names[c] for c in classes])
    out = Path(cfg.paths.artifacts) / "two_objects.npz"
    save_npz(out, **arrays)
    print(f"two_objects: {len(photos)} photos x {len(TWO_OBJECT_METHODS)} methods x 2 classes "
          f"-> {out}")


if __name__ == "__main__":
    stage_main(run)
