"""Model runs behind the later critiques of SmoothGrad (issue 11), each writing per-image numbers
that `outputs.claims` turns into estimates, CIs and verdicts against the published finding:

- L1 `sanity_evaluation`: cascading randomisation (`compute.sanity`), each map kind's
  similarity to its original map after each block;
- L2 `faithfulness_evaluation`: deletion and insertion AUC of the map store's maps
  (`compute.faithfulness`) against a random map;
- L3 `robustness_evaluation`: max-sensitivity and infidelity (`compute.robustness`);
- L4 `roar_evaluation`: ROAR on MNIST (`compute.roar`), per test image and fraction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..attribution import Attribution, SmoothGrad
from ..data.mnist import load_mnist
from ..models import ModelBundle
from ..models.mnist_cnn import build_mnist_cnn
from ..store.arrays import save_npz
from ..store.map_store import SMOOTHGRAD_VARIANTS, read_image_maps
from .evaluation import Deletion
from .faithfulness import faithfulness_scores, smoothgrad_maps
from .inputs import Prediction, stacked_pixels
from .methods import MethodFactory, SmoothGradSettings, build_method
from .mnist import TrainSettings, to_pixels
from .roar import (
    fill_value,
    method_rankings,
    mnist_trainer,
    random_rankings,
    rankings,
    roar,
)
from .robustness import infidelity, max_sensitivity
from .sanity import cascading_randomization, map_similarity

MethodGrid = Callable[[ModelBundle], Mapping[str, Attribution | SmoothGrad]]


def _batch(bundle: ModelBundle, images: Sequence[Prediction], files: Mapping[int, Path],
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The images' model inputs (K, C, H, W) and label targets (K,)."""
    x = bundle.normalize(stacked_pixels(bundle, [files[e["id"]] for e in images])).to(device)
    return x, torch.tensor([e["label_index"] for e in images], device=device)


def map_kinds(methods: Mapping[str, Attribution | SmoothGrad], x: torch.Tensor,
              target: torch.Tensor) -> dict[str, np.ndarray]:
    """Every map kind of `methods` ({"<method>/plain": method, "<method>/smoothgrad":
    SmoothGrad}) for x: a SmoothGrad gives its three aggregates from one run
    (`SMOOTHGRAD_VARIANTS`), as the map store does."""
    maps = {}
    for kind, method in methods.items():
        name = kind.split("/")[0]
        if isinstance(method, SmoothGrad):
            for aggregate, result in method.attribute_aggregates(x, target,
                                                                 SMOOTHGRAD_VARIANTS).items():
                maps[f"{name}/{SMOOTHGRAD_VARIANTS[aggregate]}"] = result.cpu().numpy()
        else:
            maps[kind] = method.attribute(x, target).cpu().numpy()
    return maps


def sanity_evaluation(grid: MethodGrid, bundle: ModelBundle, images: Sequence[Prediction],
                      files: Mapping[int, Path], *, seed: int, out: Path,
                      device: torch.device) -> None:
    """L1: the maps of every kind on the original model, then on copies with the top 1, 2, ...
    blocks re-drawn (Adebayo's cascade); per kind and similarity measure (Spearman of |map|,
    signed Spearman, SSIM) a (K, B) array `<kind>/<measure>`, plus `blocks` (B,)."""
    x, target = _batch(bundle, images, files, device)
    original = map_kinds(grid(bundle), x, target)
    scores: dict[str, list] = {}
    names = []
    cascade = cascading_randomization(bundle.net, seed=seed)
    for block, net in tqdm(cascade, desc="L1 cascade", unit="block"):
        names.append(block.name)
        randomized = map_kinds(grid(replace(bundle, net=net)), x, target)
        for kind, maps in randomized.items():
            per_image = [map_similarity(a, b) for a, b in zip(original[kind], maps,
                                                              strict=True)]
            for measure in per_image[0]:
                scores.setdefault(f"{kind}/{measure}", []).append(
                    [s[measure] for s in per_image])
    save_npz(out, blocks=np.array(names), ids=np.array([e["id"] for e in images]),
             **{k: np.array(v, dtype=np.float64).T for k, v in scores.items()})


def faithfulness_evaluation(bundle: ModelBundle, store: Path, kinds: Sequence[str],
                            images: Sequence[Prediction], files: Mapping[int, Path],
                            deletion: Deletion, *, seed: int, out: Path,
                            device: torch.device) -> None:
    """L2: deletion and insertion curves and AUCs (`faithfulness_scores`) of the map store's
    label maps of each kind in `kinds` and of a random map, per image."""
    x, target = _batch(bundle, images, files, device)
    maps = {kind: [] for kind in kinds}
    for entry in images:
        arrays = read_image_maps(store, entry["id"])
        for kind in kinds:
            maps[kind].append(arrays[f"label/{kind}"])
    scores = {}
    for i, entry in enumerate(tqdm(images, desc="L2 deletion/insertion", unit="img")):
        one = faithfulness_scores(bundle.net, x[i:i + 1], target[i:i + 1].tolist(),
                                  {k: np.stack(v[i:i + 1]) for k, v in maps.items()}, deletion,
                                  seed=seed, ids=[entry["id"]])
        for key, value in one.items():
            scores.setdefault(key, []).append(value[0])
    save_npz(out, ids=np.array([e["id"] for e in images]), kinds=np.array([*kinds, "random"]),
             **{k: np.stack(v) for k, v in scores.items()})


def robustness_evaluation(grid: MethodGrid, bundle: ModelBundle, images: Sequence[Prediction],
                          files: Mapping[int, Path], *, radius: float, perturbations: int,
                          noise_std: float, infidelity_samples: int, seed: int, out: Path,
                          device: torch.device) -> None:
    """L3: per map kind of `grid` (plain and SmoothGrad of each method), the max-sensitivity
    and the infidelity of each image's map, `<kind>/sensitivity` and `<kind>/infidelity` (K,)."""
    x, target = _batch(bundle, images, files, device)
    arrays = {}
    for kind, method in tqdm(grid(bundle).items(), desc="L3 robustness", unit="kind"):
        arrays[f"{kind}/sensitivity"] = max_sensitivity(
            method, x, target, radius=radius, n_samples=perturbations, seed=seed)
        maps = method.attribute(x, target)
        arrays[f"{kind}/infidelity"] = infidelity(
            bundle.net, x, target, maps, noise_std=noise_std, n_samples=infidelity_samples,
            seed=seed)
    save_npz(out, ids=np.array([e["id"] for e in images]), **arrays)


def roar_evaluation(gradient: MethodFactory, checkpoint: Path, data_dir: Path,
                    smoothgrad: SmoothGradSettings, train: TrainSettings, *, train_images: int,
                    test_images: int, fractions: Sequence[float], seed: int, out: Path,
                    device: torch.device, precision: str) -> None:
    """L4: the first `train_images` MNIST train and `test_images` test digits ranked by the
    clean net's gradient, SmoothGrad, SmoothGrad-squared and VarGrad maps (true digit) and at
    random; for each ranking and fraction (0 added) a net retrained from scratch (`roar`);
    writes `<kind>` (K, N_test) bool, each test digit right or wrong, `fractions` and `fill`."""
    data = {"train": tuple(t[:train_images] for t in load_mnist(data_dir, "train")),
            "test": tuple(t[:test_images] for t in load_mnist(data_dir, "test"))}
    bundle = build_mnist_cnn(str(checkpoint)).to(device)
    plain = build_method(gradient, bundle, precision)
    orders: dict[str, list[np.ndarray]] = {"random": [
        random_rankings(len(data[part][0]), 28, 28, seed + k) for k, part in enumerate(data)]}
    for images, labels in tqdm(data.values(), desc="L4 rankings", unit="split"):
        orders.setdefault("gradient/plain", []).append(
            method_rankings(plain, images, labels, batch_size=256, device=device))
        smooth = smoothgrad_maps(smoothgrad.around(plain), to_pixels(images).to(device),
                                 labels.to(device), 256, device)
        for aggregate, maps in smooth.items():
            orders.setdefault(f"gradient/{SMOOTHGRAD_VARIANTS[aggregate]}", []).append(
                rankings(maps))
    fill = fill_value(data["train"][0])
    hits = roar({kind: tuple(pair) for kind, pair in orders.items()},
                mnist_trainer(train, seed=seed, device=device, precision=precision),
                data["train"], data["test"], [0.0, *fractions], fill, device=device)
    save_npz(out, fractions=np.array([0.0, *fractions]), fill=np.array(fill), **hits)
