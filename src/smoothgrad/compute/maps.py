"""The map store: every method's map of every image, computed once so that drawing a figure or
the gallery never runs the model. Finished images are kept in a resume folder beside the store
until the whole store is written, so an interrupted run loses at most the image in progress."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..attribution import Attribution, SmoothGrad
from ..models import ModelBundle
from ..store.map_store import SMOOTHGRAD_VARIANTS, map_key, write_image_maps, write_index
from .executor import LocalWorkers, Workers
from .inputs import Prediction, image_batch

INDEX_KEYS = ("id", "file", "label", "class_name", "label_index", "prediction_index",
              "prediction_name", "prediction_prob", "correct")


def attribute_targets(method: Attribution | SmoothGrad, x: torch.Tensor,
                      targets: Sequence[int]) -> np.ndarray:
    """Maps of `x` (one row per target) as float32 numpy, (T, C, H, W)."""
    target = torch.tensor(list(targets), device=x.device)
    return method.attribute(x, target).detach().float().cpu().numpy()


def resume_dir(store: Path, key: Mapping[str, Any], files: Iterable[Path]) -> Path:
    """Where finished images wait until the store is assembled (DVC deletes the store itself
    before a rerun). Named by a hash of `key` (settings, device, predictions) and the bytes of
    `files` (the stage's code and its images), so a changed run starts over."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
    for path in files:
        digest.update(path.read_bytes())
    return store.with_name(store.name + ".partial") / digest.hexdigest()[:16]


class ImageMaps:
    """A worker of the maps stage (see `compute.executor`): every (method, variant) of one
    image for each of its targets, per call; built once per worker (the model loaded once).
    A SmoothGrad method gives all its aggregates (`SMOOTHGRAD_VARIANTS`) from one run."""

    def __init__(self, methods: Mapping[tuple[str, str], Attribution | SmoothGrad],
                 bundle: ModelBundle, device: torch.device) -> None:
        self.methods, self.bundle, self.device = methods, bundle, device

    def _variants(self, variant: str, method: Attribution | SmoothGrad) -> list[str]:
        return list(SMOOTHGRAD_VARIANTS.values()) if isinstance(method, SmoothGrad) else [variant]

    def describe(self) -> dict[str, Any]:
        """What the store's index records about the maps, and where they were computed."""
        variants = [v for (_, variant), method in self.methods.items()
                    for v in self._variants(variant, method)]
        return {"model": self.bundle.name,
                "methods": list(dict.fromkeys(name for name, _ in self.methods)),
                "variants": list(dict.fromkeys(variants)),
                "maps_per_target": len(variants), "device": self.device.type}

    def __call__(self, job: tuple[Path, Mapping[str, int]]) -> tuple[np.ndarray, dict]:
        """(pixels, {map_key: map}) of image `job[0]` for targets `job[1]` ({name: class})."""
        path, targets = job
        pixels, x = image_batch(self.bundle, path, len(targets), self.device)
        target = torch.tensor(list(targets.values()), device=x.device)
        maps: dict[str, np.ndarray] = {}
        for (name, variant), method in self.methods.items():
            if isinstance(method, SmoothGrad):
                results = {SMOOTHGRAD_VARIANTS[agg]: m for agg, m in
                           method.attribute_aggregates(x, target, SMOOTHGRAD_VARIANTS).items()}
            else:
                results = {variant: method.attribute(x, target)}
            for shown, result in results.items():
                result = result.detach().float().cpu().numpy()
                for row, target_name in enumerate(targets):
                    maps[map_key(target_name, name, shown)] = result[row]
        return pixels.numpy(), maps


def compute_map_store(methods: Mapping[tuple[str, str], Attribution | SmoothGrad],
                      bundle: ModelBundle, predictions: Sequence[Prediction],
                      images: Mapping[int, Path], store: Path, device: torch.device, *,
                      settings: Mapping[str, Any], resume: Path) -> int:
    """Write `store` (see `store.map_store`): each (method, variant) of `methods` for the label
    and, where the top-1 is wrong, the prediction. Returns the number of maps written.

    `settings` are recorded in the index beside the methods; `resume` is the resume folder
    (`resume_dir`), removed with its stale siblings once the store is complete."""
    return write_map_store(LocalWorkers(ImageMaps(methods, bundle, device)), predictions,
                           images, store, settings=settings, resume=resume)


def write_map_store(workers: Workers, predictions: Sequence[Prediction],
                    images: Mapping[int, Path], store: Path, *, settings: Mapping[str, Any],
                    resume: Path) -> int:
    """`compute_map_store` with the images spread over `workers` (`ImageMaps` built by
    `compute.executor.open_workers`): each finished image goes into `resume` as it comes back,
    so a run stopped anywhere loses only the images in progress."""
    for stale in (p for p in resume.parent.glob("*") if p != resume):
        shutil.rmtree(stale)
    done = {int(p.stem) for p in resume.glob("*.npz")}
    if done:
        print(f"maps: resuming, {len(done)} of {len(predictions)} images already in {resume}")
    entries, jobs = [], []
    for entry in predictions:
        targets = {"label": entry["label_index"]}
        if not entry["correct"]:
            targets["prediction"] = entry["prediction_index"]
        if entry["id"] not in done:
            jobs.append((entry["id"], (images[entry["id"]], targets)))
        entries.append({**{k: entry[k] for k in INDEX_KEYS}, "targets": list(targets)})
    about = workers.call("describe")
    for image_id, (pixels, maps) in tqdm(workers.map(jobs), total=len(jobs), desc="maps",
                                         unit="img"):
        write_image_maps(resume, image_id, pixels, maps)
    n_maps = sum(len(e["targets"]) for e in entries) * about["maps_per_target"]
    shutil.rmtree(store, ignore_errors=True)  # no image of an earlier run may linger
    store.mkdir(parents=True)
    for entry in entries:
        (resume / f"{entry['id']}.npz").replace(store / f"{entry['id']}.npz")
    write_index(store, {"model": about["model"], "settings": dict(settings),
                        "methods": about["methods"], "variants": about["variants"],
                        "images": entries})
    shutil.rmtree(resume.parent)
    return n_maps
