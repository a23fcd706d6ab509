"""Deletion and insertion AUC (Petsiuk et al. 2018, RISE), the first of the later critiques of
SmoothGrad (issue 11, L2): a map that looks clean need not rank the pixels the model uses, so
each map kind is scored by how fast removing its top pixels destroys the target's probability
(deletion, lower = better) and how fast inserting them into a baseline restores it (insertion,
higher = better), against a random map of the same image.

Insertion reuses `evaluation.Deletion` (its steps, baseline and pixel order) so that the two
curves of one map differ only by direction: deletion step k shows the image with its top-k
share replaced by the baseline, insertion step k shows the baseline with that same share taken
from the image. The library half only: tensors and modules in, numpy out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..attribution import Attribution, SmoothGrad
from ..attribution.smoothgrad import AGGREGATES
from ..measures import deletion_order, random_map
from .evaluation import Deletion

RANDOM = "random"  # the key of the random-map baseline in `faithfulness_scores`


def _top_masks(attribution: np.ndarray, steps: int, h: int, w: int,
               device: torch.device) -> torch.Tensor:
    """(steps + 1, 1, H, W) masks of the pixels `Deletion.curve` has removed at each step: the
    top round(k * H * W / steps) of |attribution| summed over channels (ties by index)."""
    order = torch.from_numpy(deletion_order(np.abs(attribution).sum(0))).to(device)
    counts = [round(k * h * w / steps) for k in range(steps + 1)]
    rank = torch.empty(h * w, dtype=torch.long, device=device)
    rank[order] = torch.arange(h * w, device=device)
    return torch.stack([(rank < n).view(1, h, w) for n in counts])


@torch.no_grad()
def insertion_curve(deletion: Deletion, net: nn.Module, x: torch.Tensor,
                    attribution: np.ndarray, target: int) -> np.ndarray:
    """(steps + 1,) probabilities of `target` as x (1, C, H, W)'s pixels are put back into its
    `deletion` baseline (blur or mean) in the order of `attribution` (C, H, W): the exact
    mirror of `deletion.curve` (same steps, baseline and order), starting from the baseline
    and ending at x. Its mean is the insertion AUC, higher = the map found what the model
    needs."""
    _, _, h, w = x.shape
    inserted = _top_masks(attribution, deletion.steps, h, w, x.device)
    batch = torch.where(inserted, x, deletion.baseline_of(x))
    return F.softmax(net(batch).float(), dim=1)[:, target].cpu().numpy()


def attribution_maps(method: Attribution | SmoothGrad, x: torch.Tensor,
                     targets: torch.Tensor, batch_size: int,
                     device: torch.device | str = "cpu") -> np.ndarray:
    """`method`'s (N, C, H, W) float32 maps of x (N, C, H, W) for (N,) targets, `batch_size`
    images per call, each batch moved to `device` (the model's): thousands of maps (ROAR's
    train subset) never sit in one autograd graph or on the device at once. SmoothGrad seeds
    its noise per image, so the maps do not depend on `batch_size`."""
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        tb = targets[start:start + batch_size].to(device)
        out.append(method.attribute(xb, tb).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, *x.shape[1:]), dtype=np.float32)


def smoothgrad_maps(method: SmoothGrad, x: torch.Tensor, targets: torch.Tensor,
                    batch_size: int, device: torch.device | str = "cpu",
                    aggregates: Iterable[str] = AGGREGATES) -> dict[str, np.ndarray]:
    """`attribution_maps` for several SmoothGrad aggregates ("mean", "squared", "var": the
    critiques single out SmoothGrad-squared and VarGrad) from the same noisy passes, one run
    per batch: {aggregate: (N, C, H, W) float32 maps}."""
    aggregates = tuple(aggregates)
    out: dict[str, list[np.ndarray]] = {a: [] for a in aggregates}
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        tb = targets[start:start + batch_size].to(device)
        for name, maps in method.attribute_aggregates(xb, tb, aggregates).items():
            out[name].append(maps.float().cpu().numpy())
    return {a: np.concatenate(m) if m else np.zeros((0, *x.shape[1:]), dtype=np.float32)
            for a, m in out.items()}


def faithfulness_scores(net: nn.Module, x: torch.Tensor, targets: Sequence[int] | torch.Tensor,
                        maps: Mapping[str, np.ndarray], deletion: Deletion, *, seed: int,
                        ids: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Deletion and insertion curves and AUCs of every map kind in `maps` (each (B, C, H, W),
    aligned with x (B, C, H, W) and its B targets) and of a random map per image
    (`measures.random_map` seeded with seed * 100_003 + id, as the C4 grids draw theirs; ids
    default to 0..B-1), keyed for `save_npz`: `<kind>/deletion_auc`, `<kind>/insertion_auc`
    (B,) and `<kind>/deletion_curve`, `<kind>/insertion_curve` (B, steps + 1); kind "random"
    is the baseline, so `maps` may not use that name. `net` must be in eval mode."""
    if RANDOM in maps:
        raise ValueError(f"map kind {RANDOM!r} is reserved for the random-map baseline")
    targets = [int(t) for t in targets]
    ids = list(range(len(x))) if ids is None else [int(i) for i in ids]
    if not len(targets) == len(ids) == len(x):
        raise ValueError(f"{len(x)} images but {len(targets)} targets and {len(ids)} ids")
    for kind, m in maps.items():
        if m.shape[0] != len(x) or m.shape[2:] != tuple(x.shape[2:]):
            raise ValueError(f"maps[{kind!r}] has shape {m.shape}, images {tuple(x.shape)}")
    curves: dict[str, dict[str, list[np.ndarray]]] = {
        k: {"deletion": [], "insertion": []} for k in [*maps, RANDOM]}
    for b in range(len(x)):
        xb = x[b:b + 1]
        per_kind = {k: m[b] for k, m in maps.items()}
        per_kind[RANDOM] = random_map(tuple(x.shape[1:]), seed * 100_003 + ids[b])
        for kind, attribution in per_kind.items():
            curves[kind]["deletion"].append(deletion.curve(net, xb, attribution, targets[b]))
            curves[kind]["insertion"].append(
                insertion_curve(deletion, net, xb, attribution, targets[b]))
    out: dict[str, np.ndarray] = {}
    for kind, by_direction in curves.items():
        for direction, rows in by_direction.items():
            curve = np.array(rows, dtype=np.float64).reshape(len(x), deletion.steps + 1)
            out[f"{kind}/{direction}_curve"] = curve
            out[f"{kind}/{direction}_auc"] = curve.mean(axis=1)
    return out
