"""Model runs behind the paper's claims (issue 10), each writing per-image numbers that
`outputs.claims` turns into estimates with confidence intervals and verdicts:

- C2 `SigmaEvaluation`: SmoothGrad at each noise level, its noise and its deletion AUC;
- C3 `ConvergenceEvaluation`: SmoothGrad's distance to its largest-n map at each n;
- C4 `GridEvaluation`: the grid pointing game on 2x2 mosaics of four classes;
- C6 `mnist_evaluation`: noise of the clean and noise-trained nets' maps on MNIST test digits.

The ImageNet ones are workers (`compute.jobs`) called once per image or mosaic.

Maps are read as the figures show them (`outputs.measures.shown`); pixel orders for deletion
come from the raw |map| summed over channels (the shown map ties every pixel above its cap)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import functional as TF

from ..attribution import Attribution, SmoothGrad
from ..data.imagenet import load_image
from ..data.mnist import load_mnist
from ..errors import DataError
from ..measures import deletion_order, noise_scores, positive_share, random_map, shown
from ..models import ModelBundle
from ..models.mnist_cnn import build_mnist_cnn
from ..store.arrays import save_npz
from .inputs import Prediction, image_batch
from .jobs import ModelWorker
from .methods import MethodFactory, SmoothGradSettings, build_method
from .mnist import MODELS, to_pixels


@dataclass(frozen=True)
class Deletion:
    """Deletion AUC (Petsiuk et al. 2018): the target's probability as the pixels the map ranks
    highest are replaced by a baseline in `steps` equal steps; the area under that curve (mean
    over the steps + 1 points), lower = the map found what the model needs."""

    steps: int
    baseline: str  # "blur": the image blurred with `blur_sigma` px; "mean": its mean colour
    blur_sigma: float

    def baseline_of(self, x: torch.Tensor) -> torch.Tensor:
        """The (1, C, H, W) removal baseline of one model input."""
        if self.baseline == "mean":
            return x.mean(dim=(2, 3), keepdim=True).expand_as(x)
        kernel = 2 * int(3 * self.blur_sigma) + 1
        return TF.gaussian_blur(x, [kernel, kernel], [self.blur_sigma, self.blur_sigma])

    @torch.no_grad()
    def curve(self, net: torch.nn.Module, x: torch.Tensor, attribution: np.ndarray,
              target: int) -> np.ndarray:
        """(steps + 1,) probabilities of `target` for x (1, C, H, W) with 0, 1/steps, ..., all
        of its pixels removed in the order of `attribution` (C, H, W)."""
        _, c, h, w = x.shape
        order = torch.from_numpy(deletion_order(np.abs(attribution).sum(0))).to(x.device)
        counts = [round(k * h * w / self.steps) for k in range(self.steps + 1)]
        rank = torch.empty(h * w, dtype=torch.long, device=x.device)
        rank[order] = torch.arange(h * w, device=x.device)
        removed = torch.stack([(rank < n).view(1, h, w) for n in counts])  # (S+1, 1, H, W)
        batch = torch.where(removed, self.baseline_of(x), x)
        return F.softmax(net(batch).float(), dim=1)[:, target].cpu().numpy()


def evaluation_images(predictions: Sequence[Prediction], count: int) -> list[Prediction]:
    """The first `count` correctly predicted images by id (their label is the class explained);
    too few is an error, never a silently smaller sample."""
    chosen = [e for e in sorted(predictions, key=lambda e: e["id"]) if e["correct"]][:count]
    if len(chosen) < count:
        raise DataError(f"the claims need {count} correctly predicted images but the "
                        f"predictions hold {len(chosen)}; lower the evaluation's image count")
    return chosen


def _input(bundle: ModelBundle, path: Path, device: torch.device) -> torch.Tensor:
    """One image's (1, C, H, W) model input on `device`."""
    return image_batch(bundle, path, 1, device)[1]


def image_jobs(images: Sequence[Prediction], files: Mapping[int, Path]) -> list[tuple[Path, int]]:
    """One job per evaluated image: (its file, its label: the class explained)."""
    return [(files[e["id"]], int(e["label_index"])) for e in images]


class SigmaEvaluation(ModelWorker):
    """C2, one image per call: at each noise level (0 = the plain gradient) the noise measures
    of the shown SmoothGrad map and its deletion curve and AUC: `<measure>` and `deletion_auc`
    (S,), `deletion_curve` (S, steps + 1)."""

    def __init__(self, bundle: ModelBundle, device: torch.device, gradient: Attribution,
                 smoothgrad: SmoothGradSettings, levels: Sequence[float], deletion: Deletion, *,
                 percentile: float, cutoff: float) -> None:
        super().__init__(bundle, device)
        self.methods = [gradient if level == 0 else
                        smoothgrad.around(gradient, noise_level=level) for level in levels]
        self.deletion, self.percentile, self.cutoff = deletion, percentile, cutoff

    def __call__(self, job: tuple[Path, int]) -> dict[str, np.ndarray]:
        path, target = job
        x = _input(self.bundle, path, self.device)
        rows: dict[str, list] = {"deletion_auc": [], "deletion_curve": []}
        for method in self.methods:
            attribution = method.attribute(x, target)[0].float().cpu().numpy()
            for name, value in noise_scores(shown(attribution, self.percentile),
                                            self.cutoff).items():
                rows.setdefault(name, []).append(value)
            curve = self.deletion.curve(self.bundle.net, x, attribution, target)
            rows["deletion_curve"].append(curve)
            rows["deletion_auc"].append(float(curve.mean()))
        return {key: np.array(values, dtype=np.float64) for key, values in rows.items()}


class ConvergenceEvaluation(ModelWorker):
    """C3, one image per call: the relative L2 distance of the shown SmoothGrad map after n
    samples to the one after max(counts), for n in `counts` (running means of one run)."""

    def __init__(self, bundle: ModelBundle, device: torch.device, gradient: Attribution,
                 smoothgrad: SmoothGradSettings, counts: Sequence[int], *,
                 percentile: float) -> None:
        super().__init__(bundle, device)
        self.counts, self.percentile = sorted(counts), percentile
        self.method = smoothgrad.around(gradient, n_samples=self.counts[-1])

    def __call__(self, job: tuple[Path, int]) -> dict[str, np.ndarray]:
        path, target = job
        x = _input(self.bundle, path, self.device)
        running = self.method.attribute_running(x, target, self.counts)
        maps = {n: shown(m[0].float().cpu().numpy(), self.percentile)
                for n, m in running.items()}
        last = maps[self.counts[-1]]
        scale = max(float(np.linalg.norm(last)), 1e-12)
        return {"distance": np.array([float(np.linalg.norm(maps[n] - last)) / scale
                                      for n in self.counts], dtype=np.float64)}


def grid_mosaics(predictions: Sequence[Prediction], count: int, min_prob: float,
                 correct_only: bool, seed: int) -> list[tuple[int, ...]]:
    """`count` mosaics of four image ids with four different predicted classes, each image
    predicted with top-1 probability >= `min_prob` (and correctly, with `correct_only`); drawn
    with a seeded generator. Each cell's class is its image's prediction."""
    eligible = [e for e in sorted(predictions, key=lambda e: e["id"])
                if (e["correct"] or not correct_only) and e["prediction_prob"] >= min_prob]
    by_class: dict[int, list[int]] = {}
    for e in eligible:
        by_class.setdefault(e["prediction_index"], []).append(e["id"])
    if len(by_class) < 4:
        raise DataError(f"the grid pointing game needs 4 classes predicted "
                        f"{'correctly ' if correct_only else ''}with probability >= {min_prob},"
                        f" but only {len(by_class)} are; lower evaluation.grids.min_prob or "
                        "add images")
    rng = np.random.default_rng(seed)
    classes = sorted(by_class)
    return [tuple(int(rng.choice(by_class[c])) for c in rng.choice(classes, 4, replace=False))
            for _ in range(count)]


def mosaic(bundle: ModelBundle, paths: Sequence[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """Four images halved (2x2 average) into the cells of one model-sized input, reading order;
    returns its (C, H, W) [0, 1] pixels and model input."""
    cells = [F.avg_pool2d(bundle.pixels(load_image(p)).unsqueeze(0), 2)[0] for p in paths]
    pixels = torch.cat([torch.cat(cells[:2], dim=2), torch.cat(cells[2:], dim=2)], dim=1)
    size = bundle.input_size
    pixels = F.pad(pixels, (0, size - pixels.shape[2], 0, size - pixels.shape[1]))
    return pixels, bundle.normalize(pixels)


def cell_mask(size: int, cell: int) -> np.ndarray:
    """The (size, size) mask of mosaic cell `cell` (0..3, reading order)."""
    mask = np.zeros((size, size), dtype=bool)
    half = size // 2
    row, col = divmod(cell, 2)
    mask[row * half:(row + 1) * half, col * half:(col + 1) * half] = True
    return mask


def grid_jobs(mosaics: Sequence[tuple[int, ...]], predictions: Sequence[Prediction],
              files: Mapping[int, Path], seed: int) -> list[tuple[int, list[Path], list[int],
                                                                  list[int]]]:
    """One job per mosaic: (its index, its four files, the two cells explained (drawn with a
    seeded generator, in mosaic order), their images' predicted classes)."""
    labels = {e["id"]: e["prediction_index"] for e in predictions}
    rng = np.random.default_rng(seed)
    jobs = []
    for m, ids in enumerate(mosaics):
        cells = sorted(int(c) for c in rng.choice(4, 2, replace=False))
        jobs.append((m, [files[i] for i in ids], cells, [labels[ids[c]] for c in cells]))
    return jobs


class GridEvaluation(ModelWorker):
    """C4, one mosaic per call (`grid_jobs`): two of its four cells are explained, each by its
    image's class; per map kind (`methods` and "random"), the share of the positive
    attribution that falls inside the class's own cell (`share/<kind>`, (2,)), and of the
    positive part of the two classes' difference map, each map shown and scaled first as Fig 6
    does (`difference/<kind>`, (2,): M1 - M2 inside cell 1, M2 - M1 inside cell 2)."""

    def __init__(self, bundle: ModelBundle, device: torch.device,
                 methods: Mapping[str, Attribution | SmoothGrad], *, percentile: float,
                 seed: int) -> None:
        super().__init__(bundle, device)
        self.methods, self.percentile, self.seed = methods, percentile, seed

    def __call__(self, job: tuple[int, list[Path], list[int], list[int]]
                 ) -> dict[str, np.ndarray]:
        m, paths, cells, classes = job
        _, x = mosaic(self.bundle, paths)
        size = self.bundle.input_size
        target = torch.tensor(classes, device=self.device)
        batch = x.unsqueeze(0).repeat(2, 1, 1, 1).to(self.device)
        masks = [cell_mask(size, c) for c in cells]
        row = {}
        for kind in [*self.methods, "random"]:
            if kind == "random":
                maps = random_map((2, self.bundle.channels, size, size),
                                  self.seed * 100_003 + m) - 0.5
            else:
                maps = self.methods[kind].attribute(batch, target).float().cpu().numpy()
            row[f"share/{kind}"] = np.array([positive_share(maps[j].sum(0), masks[j])
                                             for j in range(2)], dtype=np.float64)
            a, b = (shown(maps[j], self.percentile) for j in range(2))
            row[f"difference/{kind}"] = np.array(
                [positive_share(a - b, masks[0]), positive_share(b - a, masks[1])],
                dtype=np.float64)
        return row


def mnist_evaluation(gradient: MethodFactory, checkpoints: Mapping[str, Path], data_dir: Path,
                     smoothgrad: SmoothGradSettings, count: int, *, percentile: float,
                     cutoff: float, out: Path, device: torch.device, precision: str) -> None:
    """C6: on the first `count` MNIST test digits, the noise measures of the shown gradient and
    SmoothGrad maps (true digit) from the clean and the noise-trained net; writes `out` with
    `<model>/<method>/<measure>` (count,)."""
    images, labels = load_mnist(data_dir, "test")
    if count > len(labels):
        raise DataError(f"evaluation.mnist_images={count} but MNIST has {len(labels)} test "
                        "digits")
    x, target = to_pixels(images[:count]).to(device), labels[:count].to(device)
    arrays = {}
    for name in MODELS:
        bundle = build_mnist_cnn(str(checkpoints[name])).to(device)
        plain = build_method(gradient, bundle, precision)
        for method_name, method in (("gradient", plain), ("smoothgrad", smoothgrad.around(plain))):
            maps = method.attribute(x, target).float().cpu().numpy()
            scores = [noise_scores(shown(m, percentile), cutoff) for m in maps]
            for measure in scores[0]:
                arrays[f"{name}/{method_name}/{measure}"] = np.array([s[measure] for s in scores])
    save_npz(out, labels=labels[:count].numpy(), **arrays)
