"""Deletion and insertion AUC (issue 11, L2) on a linear model, where the exact attribution is
known: w * (x - baseline) ranks the pixels by how much each one moves the logit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from known_cases import linear_case

from smoothgrad.attribution import Gradient, SmoothGrad
from smoothgrad.compute.evaluation import Deletion
from smoothgrad.compute.faithfulness import (
    attribution_maps,
    faithfulness_scores,
    insertion_curve,
    smoothgrad_maps,
)
from smoothgrad.measures import random_map

MEAN = Deletion(steps=8, baseline="mean", blur_sigma=1.0)


def test_insertion_auc_scores_the_true_attribution_best() -> None:
    """Inserting the exact attribution's top pixels restores the evidence fastest: its
    insertion AUC is above a random map's, which is above the reversed order's; a constant map
    (pixel-index order) scores like a random one."""
    x, net, truth = linear_case(0)
    auc = {name: insertion_curve(MEAN, net, x, m, 0).mean() for name, m in {
        "truth": truth, "reversed": truth.max() - truth,
        "random": random_map((1, 8, 8), 1), "constant": np.ones((1, 8, 8))}.items()}
    assert auc["truth"] > auc["random"] > auc["reversed"]
    assert abs(auc["constant"] - auc["random"]) < abs(auc["truth"] - auc["random"])


@pytest.mark.parametrize("baseline", ["mean", "blur"])
def test_insertion_mirrors_deletion(baseline: str) -> None:
    """Insertion runs from the baseline to the image, deletion from the image to the baseline,
    through the same masks: with the reversed order, each is the other's curve backwards."""
    x, net, truth = linear_case(1)
    deletion = Deletion(steps=8, baseline=baseline, blur_sigma=1.0)
    inserted = insertion_curve(deletion, net, x, truth, 0)
    deleted = deletion.curve(net, x, truth, 0)
    assert inserted.shape == deleted.shape == (9,)
    assert inserted[0] == pytest.approx(deleted[-1]) and inserted[-1] == pytest.approx(deleted[0])
    # 64 pixels in 8 steps: exact counts, so the reversed order's curve is exactly reversed
    rank = np.empty(64)
    rank[np.argsort(-truth.ravel(), kind="stable")] = np.arange(64)
    reversed_map = rank.reshape(1, 8, 8)  # most attributed pixel last
    np.testing.assert_allclose(deletion.curve(net, x, reversed_map, 0), inserted[::-1],
                               rtol=1e-6)


def test_faithfulness_scores_batch() -> None:
    """The batch helper: per image, the same numbers as the single-image curves, the random
    baseline keyed "random" and drawn per image id; truth best in both directions."""
    cases = [linear_case(s) for s in (0, 2, 3)]
    # one net for the batch: use the first case's weights, and its exact attribution per image
    net = cases[0][1]
    x = torch.cat([c[0] for c in cases])
    w = net.w.detach()
    truth = (w * (x - x.mean(dim=(2, 3), keepdim=True))).numpy()
    constant = np.ones_like(truth)
    scores = faithfulness_scores(net, x, [0, 0, 0], {"truth": truth, "constant": constant},
                                 MEAN, seed=5, ids=[10, 11, 12])
    assert set(scores) == {f"{k}/{d}_{v}" for k in ("truth", "constant", "random")
                           for d in ("deletion", "insertion") for v in ("auc", "curve")}
    assert scores["truth/deletion_curve"].shape == (3, 9)
    assert scores["random/insertion_auc"].shape == (3,)
    np.testing.assert_allclose(scores["truth/deletion_auc"][1],
                               MEAN.curve(net, x[1:2], truth[1], 0).mean(), rtol=1e-6)
    np.testing.assert_allclose(
        scores["random/insertion_curve"][2],
        insertion_curve(MEAN, net, x[2:3], random_map((1, 8, 8), 5 * 100_003 + 12), 0),
        rtol=1e-6)
    np.testing.assert_allclose(scores["truth/insertion_auc"],
                               scores["truth/insertion_curve"].mean(1))
    # image 0 is the case the net was built for: every pixel's evidence is positive there
    assert scores["truth/deletion_auc"][0] < scores["random/deletion_auc"][0]
    assert scores["truth/insertion_auc"][0] > scores["random/insertion_auc"][0]
    for direction in ("deletion", "insertion"):
        random_auc = scores[f"random/{direction}_auc"][0]
        assert (abs(scores[f"constant/{direction}_auc"][0] - random_auc)
                < abs(scores[f"truth/{direction}_auc"][0] - random_auc))
    with pytest.raises(ValueError, match="reserved"):
        faithfulness_scores(net, x, [0, 0, 0], {"random": truth}, MEAN, seed=0)
    with pytest.raises(ValueError, match="shape"):
        faithfulness_scores(net, x, [0, 0, 0], {"truth": truth[:2]}, MEAN, seed=0)


def test_attribution_maps_are_batched_and_batch_size_free() -> None:
    """Maps in batches equal the maps in one call, for a plain method and for SmoothGrad
    (whose noise is seeded per image)."""
    _, net, _ = linear_case(0)
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    targets = torch.tensor([0, 1, 0, 1, 0])
    gradient = Gradient(net)
    whole = attribution_maps(gradient, x, targets, batch_size=5)
    assert whole.shape == (5, 1, 8, 8) and whole.dtype == np.float32
    np.testing.assert_array_equal(attribution_maps(gradient, x, targets, batch_size=2), whole)
    smooth = SmoothGrad(gradient, n_samples=4, batch_size=4, seed=0)
    np.testing.assert_allclose(attribution_maps(smooth, x, targets, batch_size=2),
                               attribution_maps(smooth, x, targets, batch_size=5), atol=1e-6)


def test_smoothgrad_maps_give_each_aggregate_from_one_run() -> None:
    """The aggregates in batches equal SmoothGrad run with each aggregate on its own."""
    _, net, _ = linear_case(0)
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(8))
    targets = torch.tensor([0, 0, 1])
    smooth = SmoothGrad(Gradient(net), n_samples=4, batch_size=4, seed=0)
    maps = smoothgrad_maps(smooth, x, targets, batch_size=2)
    assert set(maps) == {"mean", "squared", "var"}
    for aggregate, m in maps.items():
        alone = SmoothGrad(Gradient(net), n_samples=4, batch_size=4, seed=0,
                           aggregate=aggregate)
        np.testing.assert_allclose(m, alone.attribute(x, targets).numpy(), atol=1e-6)
