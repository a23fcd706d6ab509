"""The on-disk store of ImageNet attribution maps: written once by the `maps` stage, read by the
figures and the gallery, so nothing is computed twice.

Layout of a store folder (e.g. `artifacts/maps`):
- `index.json`: {"model": name, "settings": {...}, "methods": [...], "variants": [...],
  "images": [entry, ...]}; `methods` and `variants` say which maps the store holds (readers
  take them from here, never from a constant), and each image entry is
  {"id", "file", "label", "class_name", "label_index", "prediction_index", "prediction_name",
  "prediction_prob", "correct", "targets"}; `targets` is ["label"] or, where the top-1 is
  wrong, ["label", "prediction"].
- `<id>.npz` (see `store.arrays.save_npz`): "pixels" (C, H, W) float16 in [0, 1], the model's
  input grid as shown; and one "<target>/<method>/<variant>" (C, H, W) float16 raw signed
  attribution (model input space) per target in `targets` and method and
  variant in the index's lists. "x image" maps are derived at display time as map * pixels.
  Variants: "plain" (the method itself) and, from the same noisy passes, SmoothGrad's three
  aggregates (`SMOOTHGRAD_VARIANTS`); settings["aggregate"] names the one figures show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .arrays import load_npz, save_npz, write_json

TARGETS = ("label", "prediction")
# SmoothGrad's aggregate -> the store variant that holds it
SMOOTHGRAD_VARIANTS = {"mean": "smoothgrad", "squared": "smoothgrad_squared", "var": "vargrad"}


def map_key(target: str, method: str, variant: str) -> str:
    """The array name of one map inside an image's `.npz`."""
    return f"{target}/{method}/{variant}"


def write_image_maps(store: str | Path, image_id: int, pixels: np.ndarray,
                     maps: dict[str, np.ndarray]) -> None:
    """Write one image's pixels and maps (keys from `map_key`) as float16."""
    arrays = {"pixels": pixels, **maps}
    save_npz(Path(store) / f"{image_id}.npz",
             **{k: np.asarray(v, dtype=np.float16) for k, v in arrays.items()})


def read_image_maps(store: str | Path, image_id: int) -> dict[str, np.ndarray]:
    """All arrays of one image, as float32."""
    return {k: v.astype(np.float32) for k, v in load_npz(Path(store) / f"{image_id}.npz").items()}


def write_index(store: str | Path, index: dict[str, Any]) -> None:
    write_json(Path(store) / "index.json", index)


def read_index(store: str | Path) -> dict[str, Any]:
    path = Path(store) / "index.json"
    if not path.is_file():
        raise DataError(f"no map store at {path.parent}; run `dvc repro maps` first")
    return json.loads(path.read_text())


def require_methods(index: dict[str, Any], methods: set[str] | list[str] | tuple[str, ...],
                    what: str) -> None:
    """Refuse, in one line naming them, to draw `what` from a store that lacks `methods`."""
    missing = [m for m in methods if m not in index["methods"]]
    if missing:
        raise DataError(f"{what} needs the {', '.join(missing)} map(s), but the map store holds "
                        f"only {', '.join(index['methods'])}; add them to `methods` and rerun "
                        "the maps stage")
