"""Per-image scores of every map in the store (`map_scores.json`): the noise measures of each
(method, variant) as shown, the random-map baseline, the image's background uniformity and,
for the 200 images of the paper's website, the same measures on the authors' own published
Inception v3 maps. The claims (C1, C5) and the gallery's sort read them.

Format: {"measures": {name: description}, "percentile", "cutoff", "border",
"images": [{"id", "target", "scores": {"<method>/<variant>": {measure: value}},
"random": {measure: value}, "background": float, "authors": {"gradient/plain": {...},
"gradient/smoothgrad": {...}} (only where the authors' maps exist)}]}."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import DataError
from ..measures import NOISE_MEASURES, background_uniformity, noise_scores, random_map, shown
from ..store.arrays import write_json
from ..store.map_store import read_image_maps, read_index

# the authors' file suffix of each map kind they published
AUTHORS_MAPS = {"gradient/plain": "VanillaGrad", "gradient/smoothgrad": "NoisyGrad"}


def authors_map_path(folder: Path, image_id: int, suffix: str) -> Path:
    """Where the authors' map of one kind (`AUTHORS_MAPS` suffix) of an image is."""
    return folder / f"{image_id}_{suffix}.png"


def authors_map(folder: Path, image_id: int, suffix: str) -> np.ndarray:
    """One of the authors' published maps as (H, W) floats in [0, 1] (already shown: |map|
    capped and scaled, as grayscale PNG)."""
    path = authors_map_path(folder, image_id, suffix)
    if not path.is_file():
        raise DataError(f"the authors' map {path} is missing; run `make data`")
    return np.asarray(Image.open(path).convert("L"), dtype=np.float64) / 255.0


def score_store(store: Path, out: Path, *, percentile: float, cutoff: float, border: float,
                authors: Path | None) -> int:
    """Write `out` (see the module docstring) for every (image, target) of the map store;
    `authors` is the folder of the authors' maps, or None for a dataset that has none.
    Returns the number of maps scored."""
    index = read_index(store)
    entries: list[dict[str, Any]] = []
    for image in tqdm(index["images"], desc="map scores", unit="img"):
        arrays = read_image_maps(store, image["id"])
        background = background_uniformity(arrays["pixels"], border)
        for target in image["targets"]:
            scores = {f"{m}/{v}": noise_scores(shown(arrays[f"{target}/{m}/{v}"], percentile),
                                                cutoff)
                      for m in index["methods"] for v in index["variants"]}
            noise = random_map(arrays["pixels"].shape, image["id"])
            entry = {"id": image["id"], "target": target, "scores": scores,
                     "random": noise_scores(shown(noise, percentile), cutoff),
                     "background": background}
            if authors is not None and target == "label":
                entry["authors"] = {kind: noise_scores(authors_map(authors, image["id"], suffix),
                                                       cutoff)
                                    for kind, suffix in AUTHORS_MAPS.items()}
            entries.append(entry)
    write_json(out, {"measures": NOISE_MEASURES, "percentile": percentile, "cutoff": cutoff,
                     "border": border, "images": entries})
    return sum(len(e["scores"]) for e in entries)


def read_scores(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"no map scores at {path}; run `dvc repro score_maps` first")
    return json.loads(path.read_text())
