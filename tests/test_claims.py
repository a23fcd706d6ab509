"""The claims' measures, statistics and verdicts on cases whose answer is known (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from known_cases import linear_case

from smoothgrad.compute.evaluation import Deletion, cell_mask, grid_mosaics
from smoothgrad.errors import ConfigError, DataError
from smoothgrad.measures import (
    background_uniformity,
    positive_share,
    random_map,
    speckle,
    total_variation,
)
from smoothgrad.outputs.claims import Inputs, write_claims
from smoothgrad.outputs.statistics import Bootstrap, Estimate, Rule, verdict
from smoothgrad.pipeline.config import compose_config, to_dict
from smoothgrad.store.arrays import save_npz, write_json
from smoothgrad.store.paths import Paths

BOOT = Bootstrap(confidence=0.95, n_resamples=300, method="percentile", seed=0)


def blob(size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (2 * (size / 6) ** 2))


def test_noise_measures_rank_smooth_below_random_and_ignore_scale() -> None:
    smooth, noisy = blob(), random_map((32, 32), 0)
    assert speckle(smooth, 0.25) < 0.01 < speckle(noisy, 0.25)
    assert total_variation(smooth) < total_variation(noisy)
    assert total_variation(3 * noisy) == pytest.approx(total_variation(noisy))
    assert speckle(3 * noisy, 0.25) == pytest.approx(speckle(noisy, 0.25))


def test_positive_share_and_cells() -> None:
    inside = cell_mask(4, 3)
    assert inside.sum() == 4 and inside[2:, 2:].all()
    assert positive_share(np.where(inside, 1.0, -1.0), inside) == 1.0
    assert positive_share(np.ones((4, 4)), inside) == 0.25  # a constant map: chance
    assert positive_share(-np.ones((4, 4)), inside) == 0.5  # no positive evidence


def test_background_uniformity_prefers_a_flat_border() -> None:
    flat = np.zeros((3, 32, 32))
    textured = np.random.default_rng(0).random((3, 32, 32))
    assert background_uniformity(flat, 0.125) == 0.0
    assert background_uniformity(textured, 0.125) < 0.0


def test_deletion_auc_scores_the_true_attribution_best() -> None:
    """On a linear model the exact attribution w * (x - baseline) removes the evidence fastest:
    its deletion AUC is below a random map's, which is below the reversed order's; a constant
    map scores like a random one (it orders pixels by index)."""
    x, net, truth = linear_case(0)  # truth >= 0 everywhere by construction
    deletion = Deletion(steps=8, baseline="mean", blur_sigma=1.0)
    auc = {name: deletion.curve(net, x, m, 0).mean() for name, m in {
        "truth": truth, "reversed": truth.max() - truth,
        "random": random_map((1, 8, 8), 1), "constant": np.ones((1, 8, 8))}.items()}
    assert auc["truth"] < auc["random"] < auc["reversed"]
    assert abs(auc["constant"] - auc["random"]) < abs(auc["truth"] - auc["random"])


def test_bootstrap_interval_and_rules() -> None:
    values = np.random.default_rng(0).normal(-1.0, 1.0, 200)
    estimate = BOOT.mean(values)
    assert estimate.low < values.mean() < estimate.high < 0
    assert BOOT.mean(np.full(5, 2.0)) == Estimate(2.0, 2.0, 2.0, 5)
    alone = BOOT.mean(np.array([3.0]))  # one image: no CI, and no rule can hold on it
    assert alone.fields() == {"value": 3.0, "ci_low": None, "ci_high": None, "n": 1}
    assert Rule("above", 0.0, "x").status(alone) == "inconclusive"
    constant = BOOT.spearman(np.arange(6.0), np.ones(6))  # undefined correlation
    assert constant.fields()["value"] is None and constant.fields()["ci_low"] is None
    below, above = Rule("below", 0.0, "x"), Rule("above", 0.0, "x")
    within = Rule("within", (0.1, 0.2), "x")
    assert below.status(estimate) == "holds" and above.status(estimate) == "contradicted"
    assert below.status(Estimate(0, -1, 1, 9)) == "inconclusive"
    assert within.status(Estimate(0.15, 0.1, 0.2, 9)) == "holds"
    assert within.status(Estimate(0.4, 0.3, 0.5, 9)) == "contradicted"
    assert verdict(["holds", "holds"]) == "holds"
    assert verdict(["holds", "contradicted"]) == "mixed"
    assert verdict(["inconclusive", "contradicted"]) == "does not hold"
    assert verdict(["inconclusive"]) == "inconclusive"
    assert "95% CI lies wholly below 0" in below.describe(0.95)
    absent = Rule("below", 0.0, "x", expect=False)  # the finding: no effect
    assert absent.status(estimate) == "contradicted"
    assert absent.status(Estimate(0, -1, 1, 9)) == "holds"
    assert "holds unless the 95% CI lies wholly below 0" in absent.describe(0.95)


def test_grid_mosaics_have_four_classes_and_refuse_too_few() -> None:
    predictions = [{"id": i, "correct": i != 5, "prediction_prob": 0.9, "prediction_index": i % 6,
                    "label_index": i % 6} for i in range(12)]
    mosaics = grid_mosaics(predictions, 20, 0.5, True, seed=0)
    assert len(mosaics) == 20 and mosaics == grid_mosaics(predictions, 20, 0.5, True, seed=0)
    for ids in mosaics:
        assert len({i % 6 for i in ids}) == 4 and 5 not in ids
    with pytest.raises(DataError, match="needs 4 classes"):
        grid_mosaics(predictions[:3], 1, 0.5, True, seed=0)


def synthetic_run(root: Path, smoothgrad_helps: bool) -> Paths:
    """Evaluation files where SmoothGrad clearly helps (or clearly hurts), on 40 images."""
    paths = Paths(root / "data", root / "artifacts", root / "reports")
    rng = np.random.default_rng(0)
    k = 40
    sign = 1.0 if smoothgrad_helps else -1.0
    images = []
    background = rng.normal(size=k)
    for i in range(k):
        plain = {"speckle": 0.5 + rng.normal(0, 0.01), "tv": 2.0 + rng.normal(0, 0.05)}
        gain = 0.2 + 0.05 * background[i]  # the reduction is sign * gain
        smooth = {m: v - sign * gain * (1 if m == "speckle" else 4) for m, v in plain.items()}
        scores = {"gradient/plain": plain, "gradient/smoothgrad": smooth}
        images.append({"id": i, "target": "label", "scores": scores, "background":
                       float(background[i]), "random": {"speckle": 0.8, "tv": 5.0},
                       "authors": scores})
    write_json(paths.get("map_scores"), {"measures": {}, "images": images})
    levels = np.array([0.0, 0.1, 0.2, 0.5])
    noise = 0.5 - sign * np.array([0.0, 0.2, 0.25, 0.3]) + rng.normal(0, 0.01, (k, 4))
    auc = 0.3 + sign * np.array([0.0, -0.1, -0.08, 0.1]) + rng.normal(0, 0.01, (k, 4))
    save_npz(paths.get("sigma_eval"), noise_levels=levels, speckle=noise, tv=noise * 4,
             deletion_auc=auc, deletion_curve=np.zeros((k, 4, 3)), ids=np.arange(k))
    counts = np.array([1, 2, 5, 10, 20, 50, 100])
    distance = (1 / np.sqrt(counts) - 0.1 if smoothgrad_helps  # converges early, or only last
                else np.array([1.0, 0.95, 0.9, 0.9, 0.9, 0.9, 0.0]))
    save_npz(paths.get("convergence_eval"), sample_counts=counts, ids=np.arange(k),
             distance=np.tile(distance, (k, 1)) + rng.normal(0, 0.001, (k, 7)))
    kinds = ["gradient/plain", "gradient/smoothgrad", "guided_backprop/plain", "random"]
    share = {"gradient/plain": 0.5, "gradient/smoothgrad": 0.5 + 0.3 * sign,
             "guided_backprop/plain": 0.5, "random": 0.25}
    save_npz(paths.get("grid_eval"), kinds=np.array(kinds), ids=np.zeros((k, 4)),
             cells=np.zeros((k, 2)),
             **{f"{m}/{kind}": share[kind] + rng.normal(0, 0.01, (k, 2))
                for kind in kinds for m in ("share", "difference")})
    mnist = {f"{model}/{method}/{measure}": base - sign * (0.1 * (model == "noisy")
                                                           + 0.1 * (method == "smoothgrad"))
             + rng.normal(0, 0.01, k)
             for model in ("clean", "noisy") for method in ("gradient", "smoothgrad")
             for measure, base in (("speckle", 0.5), ("tv", 2.0))}
    save_npz(paths.get("mnist_eval"), labels=np.arange(k), **mnist)
    # the later critiques: Guided BackProp stays similar (or not), maps beat random (or not)
    similar = {"guided_backprop/plain": 0.9 if smoothgrad_helps else 0.1,
               "gradient/plain": 0.5, "gradient/smoothgrad": 0.5}
    save_npz(paths.get("sanity_eval"), blocks=np.array(["fc", "head", "stem"]), ids=np.arange(k),
             **{f"{kind}/{m}": value + rng.normal(0, 0.01, (k, 3))
                for kind, value in similar.items() for m in ("ssim", "spearman_abs", "spearman")})
    auc = {"gradient/plain": (0.2, 0.6) if smoothgrad_helps else (0.6, 0.2), "random": (0.4, 0.4)}
    save_npz(paths.get("faithfulness_eval"), ids=np.arange(k), kinds=np.array(list(auc)),
             **{f"{kind}/{c}_auc": v[j] + rng.normal(0, 0.01, k)
                for kind, v in auc.items() for j, c in enumerate(("deletion", "insertion"))},
             **{f"{kind}/{c}_curve": np.full((k, 5), 0.5)
                for kind in auc for c in ("deletion", "insertion")})
    save_npz(paths.get("robustness_eval"), ids=np.arange(k),
             **{f"gradient/{v}/{m}": 1.0 - sign * 0.5 * (v == "smoothgrad") + rng.normal(0, 0.01, k)
                for v in ("plain", "smoothgrad") for m in ("sensitivity", "infidelity")})
    n_test = 400
    right = rng.random((2, n_test)) < 0.9  # the random ranking's hits at k = 0 and 0.5
    worse = right & (rng.random((2, n_test)) < 0.5)  # a ranking that removed what matters
    better = right | (rng.random((2, n_test)) < 0.9)
    save_npz(paths.get("roar_eval"), fractions=np.array([0.0, 0.5]), fill=np.array(33),
             random=right, **{"gradient/plain": right if smoothgrad_helps else worse,
                              "gradient/smoothgrad": right if smoothgrad_helps else worse,
                              "gradient/smoothgrad_squared": worse if smoothgrad_helps else better,
                              "gradient/vargrad": worse if smoothgrad_helps else better})
    return paths


@pytest.mark.parametrize("helps", [True, False])
def test_claims_follow_the_evidence(tmp_path: Path, helps: bool) -> None:
    """Every claim holds where the synthetic evidence says so, and does not hold where it is
    reversed; claims.json carries value, CI, rule, verdict and the authors' value."""
    paths = synthetic_run(tmp_path, helps)
    evaluation = to_dict(compose_config([]).evaluation)
    evaluation["convergence"]["after"] = 50
    metrics = write_claims(Inputs(paths, BOOT, evaluation), evaluation["rules"])
    assert list(metrics) == ["C1", "C2", "C3", "C4", "C5", "C6", "L1", "L2", "L3", "L4"]
    expected = "holds" if helps else "does not hold"
    assert {key: claim["verdict"] for key, claim in metrics.items()} == dict.fromkeys(
        metrics, expected)
    c1 = json.loads(paths.get("claims").read_text())["C1"]
    assert c1["ci_low"] <= c1["value"] <= c1["ci_high"] and "holds if" in c1["rule"]
    assert c1["authors_value"] == pytest.approx(c1["value"])
    for plot in ("plot_noise", "plot_sigma", "plot_convergence", "plot_pointing", "plot_mnist",
                 "plot_faithfulness", "plot_robustness"):
        header = paths.get(plot).read_text().splitlines()[0]
        assert "_ci_low" in header, plot
    assert metrics["L4"]["source"] == "Hooker et al. 2019"
    assert metrics["L4"]["parts"]["gradient_plain"]["rule"] == "L4_not"
    for plot in ("plot_sanity", "plot_deletion", "plot_roar"):
        assert paths.get(plot).read_text().count("\n") > 1, plot


def test_claims_refuse_a_missing_input_and_an_inconsistent_config(tmp_path: Path) -> None:
    paths = synthetic_run(tmp_path, True)
    evaluation = to_dict(compose_config([]).evaluation)
    paths.get("grid_eval").unlink()
    with pytest.raises(DataError, match="grids.npz"):
        write_claims(Inputs(paths, BOOT, evaluation), evaluation["rules"])
    paths = synthetic_run(tmp_path, True)
    evaluation["sigma"]["degraded"] = 0.3
    with pytest.raises(ConfigError, match="evaluation.sigma.degraded"):
        write_claims(Inputs(paths, BOOT, evaluation), evaluation["rules"])
