"""The compute stages' functions at smoke size on a tiny net and one tiny image: what they store,
in which shapes, and that the sweeps agree with the plain methods they are built from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import smoothgrad.maps as maps_module
from smoothgrad.config import compose_config
from smoothgrad.map_store import METHODS, VARIANTS, map_key, read_image_maps, read_index
from smoothgrad.maps import (
    TWO_OBJECT_METHODS,
    base_method,
    choose_pixel,
    compute_map_store,
    image_batch,
    line_scan,
    noise_sweep,
    samples_sweep,
    two_object_maps,
)
from smoothgrad.models import ModelBundle

SIZE = 16


@pytest.fixture()
def setup(tmp_path: Path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                        nn.Flatten(), nn.Linear(16, 1000))
    bundle = ModelBundle(name="tiny", net=net, input_size=SIZE, mean=(0.5,) * 3,
                         std=(0.5,) * 3, class_names=[str(i) for i in range(1000)])
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(images / "1.png")
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps([{"id": 1, "label": "goldfish", "top5": [["goldfish", 0.9]]}]))
    cfg = compose_config([f"imagenet.images_dir={images}", f"imagenet.metadata={metadata}",
                          "smoothgrad.n_samples=2", "smoothgrad.batch_size=3",
                          "smoothgrad.ig_steps=2", "methods.integrated_gradients.steps=2",
                          "device=cpu"])
    return cfg, bundle, images / "1.png"


def test_map_store_has_every_method_and_both_targets(setup, tmp_path: Path) -> None:
    cfg, bundle, _ = setup
    entry = {"id": 1, "file": "1.png", "label": "goldfish", "class_name": "goldfish",
             "label_index": 1, "prediction_index": 7, "prediction_name": "cock",
             "prediction_prob": 0.3, "correct": False}
    store = tmp_path / "store"
    n_maps = compute_map_store(cfg, bundle, [entry], store, torch.device("cpu"))
    assert n_maps == 2 * len(METHODS) * len(VARIANTS)
    index = read_index(store)
    assert index["images"][0]["targets"] == ["label", "prediction"]
    assert index["settings"]["smoothgrad_ig_steps"] == 2
    assert index["settings"]["precision"] == cfg.precision  # shown in the gallery's header
    arrays = read_image_maps(store, 1)
    assert arrays["pixels"].shape == (3, SIZE, SIZE)
    for key in (map_key(t, m, v) for t in ("label", "prediction") for m in METHODS
                for v in VARIANTS):
        assert arrays[key].shape == (3, SIZE, SIZE) and np.abs(arrays[key]).sum() > 0
    assert not np.allclose(arrays["label/gradient/plain"], arrays["prediction/gradient/plain"])



def test_an_interrupted_map_store_resumes_and_writes_the_same_bytes(setup, tmp_path: Path,
                                                                     monkeypatch) -> None:
    """The maps stage keeps each finished image outside DVC's output, so a rerun after a crash
    computes only the images not yet done, and the store equals an uninterrupted run's."""
    cfg, bundle, first = setup
    Image.open(first).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(first.with_name("2.png"))
    entries = [{"id": i, "file": f"{i}.png", "label": "goldfish", "class_name": "goldfish",
                "label_index": 1, "prediction_index": 1, "prediction_name": "goldfish",
                "prediction_prob": 0.9, "correct": True} for i in (1, 2)]
    Path(cfg.imagenet.metadata).write_text(json.dumps(
        [{"id": i, "label": "goldfish", "top5": [["goldfish", 0.9]]} for i in (1, 2)]))
    device = torch.device("cpu")
    compute_map_store(cfg, bundle, entries, tmp_path / "whole", device)

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
        compute_map_store(cfg, bundle, entries, store, device)
    assert not store.exists() and calls == [1, 2]
    noise_level = cfg.smoothgrad.noise_level
    cfg.smoothgrad.noise_level = 0.3  # other settings: image 1 is computed again
    compute_map_store(cfg, bundle, entries, store, device)
    assert calls == [1, 2, 1, 2]
    cfg.smoothgrad.noise_level = noise_level
    with pytest.raises(KeyboardInterrupt):
        compute_map_store(cfg, bundle, entries, store, device)
    compute_map_store(cfg, bundle, entries, store, device)
    assert calls == [1, 2, 1, 2, 1, 2, 2]  # the last run took image 1 from the interrupted one
    assert not (tmp_path / "resumed.partial").exists()
    for name in ("1.npz", "2.npz", "index.json"):
        assert (store / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_sweeps_match_the_methods_they_extend(setup) -> None:
    cfg, bundle, path = setup
    _, x = image_batch(bundle, path, 1, torch.device("cpu"))
    noise = noise_sweep(cfg, bundle, x, [1], [0.0, 0.2])
    assert noise.shape == (1, 2, 3, SIZE, SIZE)
    gradient = base_method(cfg, "gradient", bundle).attribute(x, 1).numpy()
    np.testing.assert_allclose(noise[0, 0], gradient[0])  # level 0 = the vanilla gradient
    samples = samples_sweep(cfg, bundle, x, [1], [1, 3], noise_level=0.2)
    assert samples.shape == (1, 2, 3, SIZE, SIZE)
    assert not np.allclose(samples[0, 0], samples[0, 1])


def test_line_scan_and_two_objects(setup) -> None:
    cfg, bundle, path = setup
    pixels, x = image_batch(bundle, path, 2, torch.device("cpu"))
    scan = line_scan(bundle, pixels, 1, pixel_rule="max_gradient", n_t=5, epsilon_std=0.01,
                     seed=0, batch_size=2, precision="fp32", device=torch.device("cpu"))
    assert scan["ratio"].shape == (5, 3) and np.abs(scan["ratio"]).max() <= 1.0
    assert scan["t"][0] == 0.0 and scan["t"][-1] == 1.0
    maps = two_object_maps(cfg, bundle, x, [1, 2])
    assert maps.shape == (len(TWO_OBJECT_METHODS), 2, 3, SIZE, SIZE)


def test_choose_pixel() -> None:
    grad = torch.zeros(3, 4, 5)
    grad[1, 3, 2] = -2.0
    assert choose_pixel("center", grad) == (2, 2)
    assert choose_pixel("max_gradient", grad) == (3, 2)
    assert choose_pixel([1, 4], grad) == (1, 4)
    with pytest.raises(ValueError, match="fig2.pixel"):
        choose_pixel("corner", grad)
