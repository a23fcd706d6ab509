"""Render the gallery: one small WebP per map plus one self-contained `index.html`.

Reads the maps stage's store (never recomputes a map) and the authors' reference maps. The page
inlines its data, CSS and JS, so it opens from the file system with no server and no network.
Files are written deterministically, so `dvc repro` twice gives the same hashes.
"""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ...errors import ConfigError, DataError
from ...store.arrays import atomic_path, write_text
from ...store.map_store import map_key, read_image_maps, read_index
from ...viz import abs_grayscale, rgb, times_input

MAPS_DIR = "maps"
# The authors' published maps (`<id>_<name>.png`), keyed by our variant name.
REFERENCE_NAMES = {"plain": "VanillaGrad", "smoothgrad": "NoisyGrad"}
_DATA_MARK = "/*GALLERY_DATA*/null"


def map_file(image_id: int, target: str, method: str, variant: str, times_image: bool) -> str:
    """Path of one map's thumbnail relative to the page; the page's JS builds the same names."""
    suffix = "-x" if times_image else ""
    return f"{MAPS_DIR}/{image_id}/{target}-{method}-{variant}{suffix}.webp"


def _save_webp(image: Image.Image, path: Path, size: int, quality: int) -> None:
    """Downscale to `size` px on the longest side and write a lossy WebP with no metadata.
    libwebp is deterministic for fixed settings, so the bytes only depend on the pixels."""
    image = image.copy()
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    with atomic_path(path) as tmp:
        image.save(tmp, format="WEBP", quality=quality, method=6)


def _gray(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(values, 0, 1) * 255).astype(np.uint8), mode="L")


def _rgb(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(rgb(pixels) * 255).astype(np.uint8), mode="RGB")


def _write_image(store: Path, index: dict[str, Any], out_dir: Path, entry: dict[str, Any],
                 reference_dir: Path | None, size: int, quality: int) -> dict[str, Any]:
    """Thumbnails of one image, its maps and (where they exist) the authors' maps; its page row."""
    image_id = int(entry["id"])
    arrays = read_image_maps(store, image_id)
    pixels = arrays["pixels"]
    _save_webp(_rgb(pixels), out_dir / MAPS_DIR / str(image_id) / "image.webp", size, quality)
    for target in entry["targets"]:
        for method in index["methods"]:
            for variant in index["variants"]:
                key = map_key(target, method, variant)
                if key not in arrays:
                    raise DataError(f"map store {store}: image {image_id} has no map {key!r}; "
                                   "re-run `dvc repro maps`")
                attribution = arrays[key]
                for times_image, values in ((False, attribution),
                                            (True, times_input(attribution, pixels))):
                    path = out_dir / map_file(image_id, target, method, variant, times_image)
                    _save_webp(_gray(abs_grayscale(values)), path, size, quality)
    references = {variant: Path(reference_dir or ".") / f"{image_id}_{name}.png"
                  for variant, name in REFERENCE_NAMES.items()}
    has_reference = reference_dir is not None and all(p.is_file() for p in references.values())
    if has_reference:
        for variant, path in references.items():
            with Image.open(path) as ref:
                ref_image = ref.convert("L")
            _save_webp(ref_image, out_dir / MAPS_DIR / str(image_id) / f"authors-{variant}.webp",
                       size, quality)
    return {
        "id": image_id,
        "label": entry["label"],
        "className": entry["class_name"],
        "prediction": entry["prediction_name"],
        "prob": float(entry["prediction_prob"]),
        "correct": bool(entry["correct"]),
        "targets": list(entry["targets"]),
        "authors": has_reference,
    }


def render_page(data: dict[str, Any]) -> str:
    """The page template with `data` inlined as a JS object (`</` escaped so no label can end
    the script element early)."""
    template = files(__package__).joinpath("template.html").read_text(encoding="utf-8")
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False).replace("</", "<\\/")
    if template.count(_DATA_MARK) != 1:
        raise ValueError(f"template.html must contain {_DATA_MARK!r} exactly once")
    return template.replace(_DATA_MARK, payload)


def build_gallery(store: str | Path, out_dir: str | Path, reference_dir: str | Path | None, *,
                  thumbnail_size: int, quality: int, confident_threshold: float) -> Path:
    """Write `<out_dir>/index.html` and `<out_dir>/maps/` from the map store; returns the page.

    `maps/` is emptied first so that no thumbnail of an earlier, larger run lingers.
    """
    store, out_dir = Path(store), Path(out_dir)
    reference_dir = None if reference_dir is None else Path(reference_dir)
    if not 0 <= confident_threshold <= 1:
        raise ConfigError(f"gallery.confident_threshold={confident_threshold} must be in [0, 1]")
    index = read_index(store)
    shutil.rmtree(out_dir / MAPS_DIR, ignore_errors=True)
    rows = [_write_image(store, index, out_dir, entry, reference_dir, thumbnail_size, quality)
            for entry in sorted(index["images"], key=lambda e: int(e["id"]))]
    data = {
        "model": index["model"],
        "settings": index.get("settings", {}),
        "threshold": confident_threshold,
        "thumbnailSize": thumbnail_size,
        "methods": index["methods"],
        "rows": rows,
    }
    page = out_dir / "index.html"
    write_text(page, render_page(data))
    return page
