"""ROAR, RemOve And Retrain (Hooker et al. 2019), the second of the later critiques of
SmoothGrad (issue 11, L4): deletion scores a map on images the model never saw (out of its
training distribution), so ROAR removes each image's top-k% pixels by a method's ranking from
the train AND test images, retrains the net from scratch on the modified train set and reads
its test accuracy. A ranking that found the informative pixels makes accuracy fall faster with
k than a random ranking does; Hooker et al. found SmoothGrad-squared and VarGrad do, plain
gradients and SmoothGrad (mean) hardly.

Design for a CPU budget: maps are computed for a train subset only (the caller passes the
first N train images; the retrained nets train on those N), in batches; every retraining uses
the same seed and settings, so at k = 0 all rankings give the same net, trained once. Removed
pixels take one fixed value, the train subset's mean gray (`fill_value`, ~33/255 on MNIST), as
in Hooker et al. (the per-channel dataset mean) rather than black, which MNIST's background
already is and so would remove nothing there. The library half only: tensors and modules in,
numpy out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ..attribution import Attribution, SmoothGrad
from .faithfulness import attribution_maps
from .mnist import TrainSettings, correct, to_pixels, train_mnist

# uint8 (N, H, W) train images and (N,) labels -> a trained net in eval mode. Deterministic:
# the same data must give the same net (same seed and settings on every call).
Trainer = Callable[[torch.Tensor, torch.Tensor], nn.Module]


def mnist_trainer(settings: TrainSettings, *, seed: int, device: torch.device | str = "cpu",
                  precision: str = "fp32") -> Trainer:
    """The project's own MNIST training (`train_mnist`: MnistCNN, Adam, clean inputs) as a
    `Trainer`: every call starts from the same seed, so the retrained nets differ only by the
    pixels removed. `settings.subset` is ignored: the caller passes the train subset whose
    maps it computed, and all of it is trained on."""
    settings = replace(settings, subset=None)

    def train(images: torch.Tensor, labels: torch.Tensor) -> nn.Module:
        return train_mnist(settings, images, labels, noise_level=0.0, seed=seed, device=device,
                           precision=precision, progress=False)
    return train


def rankings(maps: np.ndarray) -> np.ndarray:
    """(N, H*W) int64 pixel orders of (N, C, H, W) or (N, H, W) maps: |map| summed over
    channels, most attributed first, ties by pixel index (stable sort: deterministic), as
    `measures.deletion_order` orders one map."""
    maps = np.asarray(maps, dtype=np.float64)
    scores = np.abs(maps).sum(axis=1) if maps.ndim == 4 else np.abs(maps)
    return np.argsort(-scores.reshape(len(scores), -1), axis=1, kind="stable")


def random_rankings(count: int, height: int, width: int, seed: int) -> np.ndarray:
    """(count, H*W) int64 orders, each row an independent uniform permutation from one
    seeded generator: ROAR's random baseline (use different seeds for train and test)."""
    rows = np.tile(np.arange(height * width, dtype=np.int64), (count, 1))
    return np.random.default_rng(seed).permuted(rows, axis=1)


def method_rankings(method: Attribution | SmoothGrad, images: torch.Tensor,
                    labels: torch.Tensor, *, batch_size: int,
                    device: torch.device | str = "cpu") -> np.ndarray:
    """(N, H*W) orders of `method`'s maps of uint8 (N, H, W) digits for their true labels
    (ROAR explains the class the retrained net must predict), computed `batch_size` at a
    time on `device`."""
    maps = attribution_maps(method, to_pixels(images), labels, batch_size, device)
    return rankings(maps)


def fill_value(images: torch.Tensor) -> int:
    """The mean gray of uint8 images, rounded: the value removed pixels take."""
    return int(round(float(images.double().mean())))


def remove_top(images: torch.Tensor, orders: np.ndarray, fraction: float,
               fill: int) -> torch.Tensor:
    """A copy of uint8 (N, H, W) images whose first round(fraction * H * W) pixels in each
    image's order (N, H*W) are set to `fill`; the input is left untouched."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1] (got {fraction})")
    if not 0 <= fill <= 255:
        raise ValueError(f"fill must be a uint8 value in [0, 255] (got {fill})")
    n, h, w = images.shape
    if orders.shape != (n, h * w):
        raise ValueError(f"orders has shape {orders.shape}, expected {(n, h * w)}")
    count = round(fraction * h * w)
    out = images.clone().reshape(n, h * w)
    top = torch.from_numpy(np.ascontiguousarray(orders[:, :count])).long()
    out.scatter_(1, top, fill)
    return out.reshape(n, h, w)


def roar_curve(train: Trainer, train_data: tuple[torch.Tensor, torch.Tensor],
               test_data: tuple[torch.Tensor, torch.Tensor], train_orders: np.ndarray,
               test_orders: np.ndarray, fractions: Sequence[float], fill: int, *,
               device: torch.device | str = "cpu") -> np.ndarray:
    """(K,) test accuracies, one per fraction k in `fractions`: the top k of every train and
    test image (uint8 (N, H, W), labels (N,)) by its order replaced with `fill`, a net
    retrained from scratch by `train` on the modified train images and evaluated on the
    modified test images."""
    hits = roar({"ranking": (train_orders, test_orders)}, train, train_data, test_data,
                fractions, fill, device=device)["ranking"]
    return hits.mean(axis=1)


def roar(orders: Mapping[str, tuple[np.ndarray, np.ndarray]], train: Trainer,
         train_data: tuple[torch.Tensor, torch.Tensor],
         test_data: tuple[torch.Tensor, torch.Tensor], fractions: Sequence[float], fill: int,
         *, device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
    """For each ranking kind in `orders` ((train orders, test orders) per kind, e.g. each
    method and "random"): kind -> (K, N_test) bool, whether the net retrained at each fraction
    gets each test image right (per image, so a CI can be bootstrapped over test images). A
    fraction of 0 removes nothing, so its net is trained once and shared by all kinds."""
    (x_train, y_train), (x_test, y_test) = train_data, test_data
    unchanged: np.ndarray | None = None
    out: dict[str, np.ndarray] = {}
    for kind, (train_orders, test_orders) in orders.items():
        rows = []
        for fraction in fractions:
            removes_nothing = round(fraction * x_train[0].numel()) == 0
            if removes_nothing and unchanged is not None:
                rows.append(unchanged)
                continue
            net = train(remove_top(x_train, train_orders, fraction, fill), y_train)
            hits = correct(net, remove_top(x_test, test_orders, fraction, fill), y_test,
                           device=device)
            if removes_nothing:
                unchanged = hits
            rows.append(hits)
        out[kind] = np.stack(rows)
    return out
