"""Model runs behind the later critiques of SmoothGrad (issue 11), each writing per-image numbers
that `outputs.claims` turns into estimates, CIs and verdicts against the published finding:

- L1 `SanityEvaluation`: cascading randomisation (`compute.sanity`), each map kind's
  similarity to its original map after each block (one job per block);
- L2 `FaithfulnessEvaluation`: deletion and insertion AUC of the map store's maps
  (`compute.faithfulness`) against a random map;
- L3 `RobustnessEvaluation`: max-sensitivity and infidelity (`compute.robustness`);
- L4 `roar_evaluation`: ROAR on MNIST (`compute.roar`), per test image and fraction.

L1-L3 are workers (`compute.jobs`); ROAR retrains nets on MNIST in this
process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

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
from .inputs import image_batch
from .jobs import ModelWorker
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
from .sanity import map_similarity, model_blocks, randomize_blocks

MethodGrid = Callable[[ModelBundle], Mapping[str, Attribution | SmoothGrad]]


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


class SanityEvaluation(ModelWorker):
    """L1, one block per call (its index k in `model_blocks`, top first): the maps of every kind
    of all `images` ((file, label) pairs) on a copy of the model with the top k + 1 blocks
    re-drawn (Adebayo's cascade; `randomize_blocks` gives the cascade's (k + 1)-th copy), each
    against the original maps (computed once per worker); per kind and similarity measure
    (Spearman of |map|, signed Spearman, SSIM) a (K,) array `<kind>/<measure>` over the images.
    Jobs are blocks, not images, because every randomised copy is prepared once (BatchNorm
    folding included) for all the images, which are few."""

    def __init__(self, bundle: ModelBundle, device: torch.device, grid: MethodGrid,
                 images: Sequence[tuple[Path, int]], *, seed: int) -> None:
        super().__init__(bundle, device)
        self.grid, self.seed = grid, seed
        self.blocks = model_blocks(bundle.net)
        self.x = torch.cat([image_batch(bundle, path, 1, device)[1] for path, _ in images])
        self.target = torch.tensor([label for _, label in images], device=device)
        self._original: dict[str, np.ndarray] | None = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "blocks": [b.name for b in self.blocks]}

    def __call__(self, k: int) -> dict[str, np.ndarray]:
        if self._original is None:
            self._original = map_kinds(self.grid(self.bundle), self.x, self.target)
        net = randomize_blocks(self.bundle.net, self.blocks[:k + 1], seed=self.seed)
        randomized = map_kinds(self.grid(replace(self.bundle, net=net)), self.x, self.target)
        scores: dict[str, list[float]] = {}
        for kind, maps in randomized.items():
            for original, changed in zip(self._original[kind], maps, strict=True):
                for measure, value in map_similarity(original, changed).items():
                    scores.setdefault(f"{kind}/{measure}", []).append(value)
        return {key: np.array(values, dtype=np.float64) for key, values in scores.items()}


class FaithfulnessEvaluation(ModelWorker):
    """L2, one image per call ((id, file, label)): deletion and insertion curves and AUCs
    (`faithfulness_scores`) of the map store's label maps of each kind in `kinds` and of a
    random map."""

    def __init__(self, bundle: ModelBundle, device: torch.device, store: Path,
                 kinds: Sequence[str], deletion: Deletion, *, seed: int) -> None:
        super().__init__(bundle, device)
        self.store, self.kinds, self.deletion, self.seed = store, list(kinds), deletion, seed

    def __call__(self, job: tuple[int, Path, int]) -> dict[str, np.ndarray]:
        image_id, path, label = job
        arrays = read_image_maps(self.store, image_id)
        x = image_batch(self.bundle, path, 1, self.device)[1]
        scores = faithfulness_scores(self.bundle.net, x, [label],
                                     {k: arrays[f"label/{k}"][None] for k in self.kinds},
                                     self.deletion, seed=self.seed, ids=[image_id])
        return {key: value[0] for key, value in scores.items()}


class RobustnessEvaluation(ModelWorker):
    """L3, one image per call (`evaluation.image_jobs`): per map kind of `grid` (plain and
    SmoothGrad of each method), the max-sensitivity and the infidelity of the image's map,
    `<kind>/sensitivity` and `<kind>/infidelity` (each image's perturbations drawn from a
    generator seeded by the image itself: `compute.robustness`)."""

    def __init__(self, bundle: ModelBundle, device: torch.device, grid: MethodGrid, *,
                 radius: float, perturbations: int, noise_std: float, infidelity_samples: int,
                 seed: int) -> None:
        super().__init__(bundle, device)
        self.methods = grid(bundle)
        self.radius, self.perturbations, self.seed = radius, perturbations, seed
        self.noise_std, self.infidelity_samples = noise_std, infidelity_samples

    def __call__(self, job: tuple[Path, int]) -> dict[str, np.ndarray]:
        path, label = job
        x = image_batch(self.bundle, path, 1, self.device)[1]
        target = torch.tensor([label], device=self.device)
        row = {}
        for kind, method in self.methods.items():
            row[f"{kind}/sensitivity"] = max_sensitivity(
                method, x, target, radius=self.radius, n_samples=self.perturbations,
                seed=self.seed)[0]
            row[f"{kind}/infidelity"] = infidelity(
                self.bundle.net, x, target, method.attribute(x, target),
                noise_std=self.noise_std, n_samples=self.infidelity_samples, seed=self.seed)[0]
        return row


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
