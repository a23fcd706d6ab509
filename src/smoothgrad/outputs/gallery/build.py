"""Render the gallery: one small WebP per map plus one self-contained `index.html`.

Reads the maps stage's store (never recomputes a map), the evaluation's per-image map scores
and the authors' reference maps. The page inlines its data, CSS and JS, so it opens from the
file system with no server and no network. Files are written deterministically, so `dvc repro`
twice gives the same hashes.

Per-image scores file (`paths.get("map_scores")`):
{"measures": {name: one-line description (lower = smoother)},
 "images": [{"id", "target", "scores": {"<method>/<variant>": {measure: value}}}]},
one entry per (image, target) of the store and a score of every measure for each of its maps.
"""

from __future__ import annotations

import json
import math
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ...errors import ConfigError, DataError
from ...store.arrays import atomic_path, write_text
from ...store.map_store import SMOOTHGRAD_VARIANTS, TARGETS, map_key, read_image_maps, read_index
from ...viz import abs_grayscale, rgb, times_input
from ..scores import AUTHORS_MAPS, authors_map_path

MAPS_DIR = "maps"
_DATA_MARK = "/*GALLERY_DATA*/null"
_RERUN = "re-run `dvc repro gallery` (the evaluation stage writes them)"

Scores = dict[str, dict[str, float]]  # "<method>/<variant>" -> {measure: value}


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
    # the authors' published maps, keyed by our variant name
    references = {kind.split("/")[1]: authors_map_path(Path(reference_dir or "."), image_id, name)
                  for kind, name in AUTHORS_MAPS.items()}
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


def read_scores(path: Path, index: dict[str, Any]) -> tuple[dict[str, str],
                                                          dict[tuple[int, str], Scores]]:
    """The per-image scores file as ({measure: description}, {(id, target): scores}); refuses,
    in one line, a missing file or one without a score of every map the store holds."""
    if not path.is_file():
        raise DataError(f"no per-image map scores at {path}; {_RERUN}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"map scores {path} are not valid JSON ({err}); {_RERUN}") from None
    measures = dict(data["measures"])
    scores = {(int(e["id"]), e["target"]): e["scores"] for e in data["images"]}
    for entry in index["images"]:
        for target in entry["targets"]:
            held = scores.get((int(entry["id"]), target), {})
            for method in index["methods"]:
                for variant in index["variants"]:
                    key = f"{method}/{variant}"
                    if any(m not in held.get(key, {}) for m in measures):
                        raise DataError(f"map scores {path} lack {key} of image {entry['id']} "
                                        f"({target}); they are older than the map store: "
                                        f"{_RERUN}")
    return measures, scores


def reduction(plain: float, smooth: float) -> float | None:
    """SmoothGrad's relative reduction of a measure, 1 - smooth / plain (0.7: 70% lower, < 0:
    higher); None where it is undefined (plain = 0 or a value not finite)."""
    if plain == 0 or not (math.isfinite(plain) and math.isfinite(smooth)):
        return None
    return 1 - smooth / plain


def _shown_target(row: dict[str, Any], target: str) -> str:
    """The target whose maps a row shows for the page's target control (only wrong rows have
    prediction maps); the page's JS applies the same rule."""
    return target if target in row["targets"] else "label"


def help_orders(rows: list[dict[str, Any]], methods: list[str],
                measures: list[str]) -> dict[str, Any]:
    """The sort orders of the page: {target: {method: {measure: {"most": ids, "least": ids}}}},
    by SmoothGrad's reduction of the measure on the map each row shows (ties by id; rows
    without a reduction last)."""
    orders: dict[str, Any] = {}
    for target in TARGETS:
        for method in methods:
            for measure in measures:
                gain = {r["id"]: r["gains"][_shown_target(r, target)][method][measure]
                        for r in rows}
                known = [i for i in gain if gain[i] is not None]
                unknown = [i for i in gain if gain[i] is None]
                orders.setdefault(target, {}).setdefault(method, {})[measure] = {
                    "most": sorted(known, key=lambda i: (-gain[i], i)) + unknown,
                    "least": sorted(known, key=lambda i: (gain[i], i)) + unknown}
    return orders


def render_page(data: dict[str, Any]) -> str:
    """The page template with `data` inlined as a JS object (`</` escaped so no label can end
    the script element early)."""
    template = files(__package__).joinpath("template.html").read_text(encoding="utf-8")
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False).replace("</", "<\\/")
    if template.count(_DATA_MARK) != 1:
        raise ValueError(f"template.html must contain {_DATA_MARK!r} exactly once")
    return template.replace(_DATA_MARK, payload)


def build_gallery(store: str | Path, out_dir: str | Path, reference_dir: str | Path | None, *,
                  scores: str | Path, thumbnail_size: int, quality: int,
                  confident_threshold: float) -> Path:
    """Write `<out_dir>/index.html` and `<out_dir>/maps/` from the map store and the per-image
    `scores` file; returns the page.

    `maps/` is emptied first so that no thumbnail of an earlier, larger run lingers.
    """
    store, out_dir = Path(store), Path(out_dir)
    reference_dir = None if reference_dir is None else Path(reference_dir)
    if not 0 <= confident_threshold <= 1:
        raise ConfigError(f"gallery.confident_threshold={confident_threshold} must be in [0, 1]")
    index = read_index(store)
    measures, image_scores = read_scores(Path(scores), index)
    settings = index.get("settings", {})
    methods, variants = index["methods"], index["variants"]
    # the SmoothGrad aggregate the figures show (stores from before the aggregates hold the mean)
    smoothgrad = SMOOTHGRAD_VARIANTS[settings.get("aggregate", "mean")]
    compare = "plain" in variants and smoothgrad in variants  # else no reduction, no ranking
    shutil.rmtree(out_dir / MAPS_DIR, ignore_errors=True)
    rows = [_write_image(store, index, out_dir, entry, reference_dir, thumbnail_size, quality)
            for entry in sorted(index["images"], key=lambda e: int(e["id"]))]
    for row in rows:
        held = {t: image_scores[row["id"], t] for t in row["targets"]}
        row["scores"] = {t: {f"{m}/{v}": held[t][f"{m}/{v}"] for m in methods for v in variants}
                         for t in held}
        row["gains"] = {t: {m: {name: reduction(held[t][f"{m}/plain"][name],
                                                held[t][f"{m}/{smoothgrad}"][name])
                                for name in measures} for m in methods}
                        for t in held} if compare else {}
    data = {
        "model": index["model"],
        "settings": settings,
        "threshold": confident_threshold,
        "thumbnailSize": thumbnail_size,
        "methods": methods,
        "variants": variants,
        "smoothgrad": smoothgrad if compare else None,
        "measures": [{"name": k, "description": v} for k, v in measures.items()],
        "orders": help_orders(rows, methods, list(measures)) if compare else {},
        "rows": rows,
    }
    page = out_dir / "index.html"
    write_text(page, render_page(data))
    return page
