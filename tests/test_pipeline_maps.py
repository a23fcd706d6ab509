"""The compute stages' functions at smoke size on a tiny net and tiny images: what they store, in
which shapes, and that the sweeps agree with the plain methods they are built from; and the maps
stage run as `dvc repro` runs it (params.yaml + overrides, through the stage runner)."""

from __future__ import annotations

import json
import runpy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from stage_helpers import SIZE, tiny_bundle

import smoothgrad.compute.maps as maps_module
from smoothgrad.compute.maps import compute_map_store, resume_dir
from smoothgrad.compute.methods import SmoothGradSettings, build_method, method_grid
from smoothgrad.compute.sweeps import (
    FigureImages,
    LineScan,
    NoiseSweep,
    SamplesSweep,
    TwoObjectMaps,
    choose_pixel,
)
from smoothgrad.data.imagenet import load_image
from smoothgrad.errors import ConfigError
from smoothgrad.models import ModelBundle
from smoothgrad.pipeline.builders import method_factories
from smoothgrad.pipeline.config import compose_config
from smoothgrad.pipeline.runner import run_stage
from smoothgrad.store.arrays import write_json
from smoothgrad.store.map_store import SMOOTHGRAD_VARIANTS, map_key, read_image_maps, read_index
from smoothgrad.store.paths import REPO_ROOT
from smoothgrad.store.selection import SelectionRule

CPU = torch.device("cpu")
SETTINGS = SmoothGradSettings(noise_level=0.15, n_samples=2, aggregate="mean", batch_size=3,
                              seed=0)
VARIANTS = ["plain", *SMOOTHGRAD_VARIANTS.values()]
SMOOTH_IG = {"integrated_gradients": {"steps": 2}}  # SmoothGrad(IG) with fewer steps


def entry(image_id: int, correct: bool = True) -> dict:
    """A `predict_imagenet` entry for `<id>.png`, a goldfish (1) predicted as a cock (7) when
    wrong."""
    return {"id": image_id, "file": f"{image_id}.png", "label": "goldfish",
            "class_name": "goldfish", "label_index": 1,
            "prediction_index": 1 if correct else 7,
            "prediction_name": "goldfish" if correct else "cock",
            "prediction_prob": 0.9 if correct else 0.3, "correct": correct}


@pytest.fixture(scope="module")
def factories() -> dict:
    """The configured methods as partials, as the stage scripts build them, IG at 2 steps."""
    return method_factories(compose_config(["methods.integrated_gradients.steps=2"]).methods)


@pytest.fixture()
def bundle() -> ModelBundle:
    return tiny_bundle()


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """A folder with two 20 px images, `1.png` and its mirror image `2.png`."""
    folder = tmp_path / "images"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "1.png")
    Image.fromarray(pixels[:, ::-1]).save(folder / "2.png")
    return folder


def test_map_store_has_every_method_and_both_targets(factories, bundle, images: Path,
                                                     tmp_path: Path) -> None:
    methods = method_grid(factories, bundle, "fp32", SETTINGS, SMOOTH_IG)
    assert methods["integrated_gradients", "smoothgrad"].method.steps == 2
    store = tmp_path / "store"
    settings = {"noise_level": 0.15, "n_samples": 2, "precision": "fp32"}
    files = {1: images / "1.png"}
    n_maps = compute_map_store(methods, bundle, [entry(1, correct=False)], files, store, CPU,
                               settings=settings,
                               resume=resume_dir(store, settings, files.values()))
    assert n_maps == 2 * len(factories) * len(VARIANTS)
    index = read_index(store)
    assert index["methods"] == list(factories) and index["variants"] == VARIANTS
    assert index["model"] == "tiny" and index["settings"] == settings
    assert index["images"][0]["targets"] == ["label", "prediction"]
    arrays = read_image_maps(store, 1)
    assert arrays["pixels"].shape == (3, SIZE, SIZE)
    for key in (map_key(t, m, v) for t in ("label", "prediction") for m in factories
                for v in VARIANTS):
        assert arrays[key].shape == (3, SIZE, SIZE) and np.abs(arrays[key]).sum() > 0
    assert not np.allclose(arrays["label/gradient/plain"], arrays["prediction/gradient/plain"])
    assert not (tmp_path / "store.partial").exists()


def test_an_interrupted_map_store_resumes_and_writes_the_same_bytes(
        factories, bundle, images: Path, tmp_path: Path, monkeypatch) -> None:
    """The maps stage keeps each finished image outside DVC's output, so a rerun after a crash
    computes only the images not yet done, and the store equals an uninterrupted run's."""
    entries = [entry(1), entry(2)]
    files = {i: images / f"{i}.png" for i in (1, 2)}

    def compute(store: Path, noise_level: float = 0.15) -> int:
        smoothgrad = replace(SETTINGS, noise_level=noise_level)
        key = {"noise_level": noise_level}  # the stage's key: its config, device, predictions
        return compute_map_store(method_grid(factories, bundle, "fp32", smoothgrad, SMOOTH_IG),
                                 bundle, entries, files, store, CPU, settings=key,
                                 resume=resume_dir(store, key, files.values()))

    compute(tmp_path / "whole")

    calls: list[int] = []
    real = maps_module.image_batch

    def crash_on_calls_2_and_6(bundle, path, n, device):
        calls.append(int(Path(path).stem))
        if len(calls) in (2, 6):
            raise KeyboardInterrupt
        return real(bundle, path, n, device)

    store = tmp_path / "resumed"
    monkeypatch.setattr(maps_module, "image_batch", crash_on_calls_2_and_6)
    with pytest.raises(KeyboardInterrupt):
        compute(store)
    assert not store.exists() and calls == [1, 2]
    compute(store, noise_level=0.3)  # other settings: image 1 is computed again
    assert calls == [1, 2, 1, 2]
    with pytest.raises(KeyboardInterrupt):
        compute(store)
    compute(store)
    assert calls == [1, 2, 1, 2, 1, 2, 2]  # the last run took image 1 from the interrupted one
    assert not (tmp_path / "resumed.partial").exists()
    for name in ("1.npz", "2.npz", "index.json"):
        assert (store / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


@pytest.fixture()
def picked(images: Path, tmp_path: Path) -> FigureImages:
    """Image 1, picked from predictions.json as a figure's rule picks it."""
    predictions = tmp_path / "predictions.json"
    write_json(predictions, [entry(1), entry(2)])
    return FigureImages.pick(predictions, images, SelectionRule((), 1, 1), "label")


def test_sweeps_match_the_methods_they_extend(factories, bundle, picked: FigureImages) -> None:
    gradient = build_method(factories["gradient"], bundle, "fp32")
    (job,) = picked.jobs
    x, target = bundle.normalize(bundle.pixels(load_image(job[0]))[None]), torch.tensor([1])
    assert picked.targets == [1] and [e["id"] for e in picked.entries] == [1]

    def stored(result: torch.Tensor) -> np.ndarray:  # as the sweeps store maps
        return result.numpy().astype(np.float16)

    about = {"model": bundle.name}
    noise = picked.arrays(about, [NoiseSweep(bundle, CPU, gradient, SETTINGS, [0.0, 0.2])(job)],
                          [0.0, 0.2])
    assert noise["maps"].shape == (1, 2, 3, SIZE, SIZE)
    assert noise["pixels"].shape == (1, 3, SIZE, SIZE)
    assert noise["values"].tolist() == [0.0, 0.2]
    assert noise["ids"].tolist() == [1] and noise["class_names"].tolist() == ["goldfish"]
    # level 0 = the vanilla gradient; level 0.2 = SmoothGrad of it at that level
    np.testing.assert_array_equal(noise["maps"][0, 0], stored(gradient.attribute(x, target))[0])
    smooth = SETTINGS.around(gradient, noise_level=0.2).attribute(x, target)
    np.testing.assert_array_equal(noise["maps"][0, 1], stored(smooth)[0])

    samples = picked.arrays(about, [SamplesSweep(bundle, CPU, gradient, SETTINGS, [3, 1],
                                                 0.2)(job)], [1, 3])
    assert samples["maps"].shape == (1, 2, 3, SIZE, SIZE)
    assert not np.allclose(samples["maps"][0, 0], samples["maps"][0, 1])
    full = SETTINGS.around(gradient, noise_level=0.2, n_samples=3).attribute(x, target)
    scale = float(full.abs().max())  # n = 3 read off the running means = a run of n = 3
    np.testing.assert_allclose(samples["maps"][0, 1].astype(np.float32), full.numpy()[0],
                               atol=2e-3 * scale)


def test_line_scan_and_two_objects(factories, bundle, picked: FigureImages,
                                   images: Path) -> None:
    gradient = build_method(factories["gradient"], bundle, "fp32")
    scan = LineScan(bundle, CPU, gradient, pixel_rule="max_gradient", n_t=5, epsilon_std=0.01,
                    seed=0, batch_size=2)(picked.jobs[0])
    assert scan["ratio"].shape == (5, 3) and np.abs(scan["ratio"]).max() <= 1.0
    assert scan["t"][0] == 0.0 and scan["t"][-1] == 1.0
    x = bundle.normalize(torch.from_numpy(scan["x"])[None])
    at_x = gradient.attribute(x, torch.tensor(picked.targets))[0]
    assert tuple(scan["pixel"]) == choose_pixel("max_gradient", at_x)

    methods = {name: build_method(f, bundle, "fp32") for name, f in factories.items()}
    worker = TwoObjectMaps(bundle, CPU, methods, SETTINGS)
    two = worker((images / "1.png", ["goldfish", "tench"]))
    assert worker.describe()["methods"] == [*factories, "smoothgrad"]
    assert two["maps"].shape == (len(factories) + 1, 2, 3, SIZE, SIZE)
    assert two["classes"].tolist() == ["1", "0"]  # the model's names of goldfish and tench
    assert not np.allclose(two["maps"][:, 0], two["maps"][:, 1])


def test_choose_pixel() -> None:
    grad = torch.zeros(3, 4, 5)
    grad[1, 3, 2] = -2.0
    assert choose_pixel("center", grad) == (2, 2)
    assert choose_pixel("max_gradient", grad) == (3, 2)
    assert choose_pixel([1, 4], grad) == (1, 4)
    with pytest.raises(ConfigError, match="fig2.pixel"):
        choose_pixel("corner", grad)


def test_maps_stage_records_its_settings(tmp_path: Path) -> None:
    """The `maps` stage as `dvc repro` runs it (params.yaml + overrides, the runner's data check
    and declared params), on the tiny net and the first two of the website's images."""
    artifacts = tmp_path / "artifacts"
    write_json(artifacts / "imagenet" / "predictions.json", [entry(1, correct=False), entry(2)])
    stage = runpy.run_path(str(REPO_ROOT / "experiments" / "compute_maps.py"))
    summary = run_stage("maps", stage["run"], [
        f"paths.artifacts={artifacts}", f"model._target_={__name__}.tiny_bundle", "device=cpu",
        "smoothgrad.n_samples=2", "smoothgrad.batch_size=3", "smoothgrad.ig_steps=2",
        "methods.integrated_gradients.steps=3"])
    store = artifacts / "maps"
    per_target = 3 * len(VARIANTS)  # three methods, each plain + SmoothGrad's 3 aggregates
    assert summary == f"{3 * per_target} maps of 2 images (tiny) -> {store}"
    index = read_index(store)
    settings = index["settings"]
    assert (settings["smoothgrad_ig_steps"], settings["ig_steps"]) == (2, 3)
    assert settings["precision"] == "auto"  # shown in the gallery's header
    assert settings["ig_baseline"] == "black" and settings["n_samples"] == 2
    assert index["methods"] == ["gradient", "integrated_gradients", "guided_backprop"]
    assert [e["targets"] for e in index["images"]] == [["label", "prediction"], ["label"]]
    assert json.loads((store / "index.json").read_text()) == index
    assert not (artifacts / "maps.partial").exists()
