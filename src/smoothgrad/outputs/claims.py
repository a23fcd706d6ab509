"""The paper's claims C1-C6 measured: each a set of parts (a statistic over images with its
bootstrap CI, `outputs.statistics`), a verdict by the rules in config (`evaluation.rules`) and,
where it applies, the same statistic on the authors' own published maps. Written as DVC
metrics (`claims.json`) and as the curves behind them (CSV files declared as DVC plots)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..measures import NOISE_MEASURES
from ..store.arrays import load_npz, write_json, write_text
from ..store.paths import Paths
from .scores import read_scores
from .statistics import VERDICT_RULE, Bootstrap, Estimate, Rule, verdict


@dataclass(frozen=True)
class Part:
    name: str  # e.g. "gradient.speckle"
    metric: str  # what the number is
    estimate: Estimate
    rule: str  # key of `evaluation.rules`
    authors: Estimate | None = None  # the same statistic on the authors' maps


@dataclass(frozen=True)
class Claim:
    id: str
    text: str  # the paper's claim, or the later work's finding
    parts: list[Part]
    curves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # plot name -> rows
    source: str = "Smilkov et al. 2017"


@dataclass(frozen=True)
class Inputs:
    """What the claims are computed from: the evaluation stages' files and settings."""

    paths: Paths
    bootstrap: Bootstrap
    evaluation: Mapping[str, Any]

    def npz(self, name: str) -> dict[str, np.ndarray]:
        path = self.paths.get(name)
        if not path.is_file():
            raise DataError(f"no evaluation file {path}; run `dvc repro` to make it")
        return load_npz(path)


def _label_entries(inputs: Inputs) -> list[dict[str, Any]]:
    return [e for e in read_scores(inputs.paths.get("map_scores"))["images"]
            if e["target"] == "label"]


def _paired(entries: Sequence[Mapping[str, Any]], key: str, a: str, b: str,
            measure: str) -> np.ndarray:
    """Per image, `measure` of kind a minus kind b, from `entries[i][key]`."""
    return np.array([e[key][a][measure] - e[key][b][measure] for e in entries])


def claim_c1(inputs: Inputs) -> Claim:
    """SmoothGrad is less noisy than the plain method, for each method in the store."""
    entries = _label_entries(inputs)
    kinds = list(entries[0]["scores"])
    methods = [k.split("/")[0] for k in kinds if k.endswith("/plain")]
    parts, rows = [], []
    for method in methods:
        for measure in NOISE_MEASURES:
            diff = _paired(entries, "scores", f"{method}/smoothgrad", f"{method}/plain", measure)
            authors = None
            if method == "gradient" and all("authors" in e for e in entries):
                authors = inputs.bootstrap.mean(_paired(
                    entries, "authors", "gradient/smoothgrad", "gradient/plain", measure))
            parts.append(Part(f"{method}.{measure}", f"mean paired difference of {measure}, "
                              f"SmoothGrad - plain {method}", inputs.bootstrap.mean(diff), "C1",
                              authors))
    for kind in [*kinds, "random"]:
        row: dict[str, Any] = {"map": kind}
        for measure in NOISE_MEASURES:
            values = np.array([(e["random"] if kind == "random" else e["scores"][kind])[measure]
                               for e in entries])
            row.update(_columns(measure, inputs.bootstrap.mean(values)))
        rows.append(row)
    return Claim("C1", "SmoothGrad is less noisy than the gradient; also for IG and Guided "
                 "BackProp (Figs 1, 5, 7)", parts, {"plot_noise": rows})


def claim_c2(inputs: Inputs) -> Claim:
    """Noise and deletion AUC against SmoothGrad's noise level."""
    data, settings = inputs.npz("sigma_eval"), inputs.evaluation["sigma"]
    levels = [float(v) for v in data["noise_levels"]]
    lo, hi = settings["claimed"]
    claimed = [j for j, v in enumerate(levels) if lo <= v <= hi]
    if 0.0 not in levels or settings["degraded"] not in levels or not claimed:
        raise ConfigError("evaluation.sigma.noise_levels must hold 0, a level in "
                          f"evaluation.sigma.claimed={[lo, hi]} and evaluation.sigma.degraded="
                          f"{settings['degraded']} (got {levels})")
    zero, degraded = levels.index(0.0), levels.index(settings["degraded"])
    auc = data["deletion_auc"]
    best = claimed[int(np.argmin(auc[:, claimed].mean(0)))]
    parts = [Part(f"noise_in_range.{measure}", f"mean paired difference of {measure}, "
                  f"mean over sigma in [{lo:g}, {hi:g}] - sigma 0",
                  inputs.bootstrap.mean(data[measure][:, claimed].mean(1) - data[measure][:, zero]),
                  "C2_noise") for measure in NOISE_MEASURES]
    parts.append(Part("degrades.deletion_auc", f"mean paired difference of deletion AUC, sigma "
                      f"{levels[degraded]:g} - sigma {levels[best]:g} (best in range)",
                      inputs.bootstrap.mean(auc[:, degraded] - auc[:, best]), "C2_degrades"))
    parts.append(Part("best_sigma", "noise level with the lowest mean deletion AUC",
                      inputs.bootstrap.estimate(
                          lambda rows: levels[int(np.argmin(auc[rows.astype(int)].mean(0)))],
                          np.arange(len(auc))), "C2_best"))
    rows = [{"sigma": level,
             **{k: v for measure in (*NOISE_MEASURES, "deletion_auc")
                for k, v in _columns(measure, inputs.bootstrap.mean(
                    (auc if measure == "deletion_auc" else data[measure])[:, j])).items()}}
            for j, level in enumerate(levels)]
    return Claim("C2", "10-20% noise balances noise against structure; 50% degrades (Fig 3)",
                 parts, {"plot_sigma": rows})


def claim_c3(inputs: Inputs) -> Claim:
    """Diminishing returns past n = `after`: the share of the whole n = first -> last change of
    the shown map that comes after n = `after`."""
    data, after = inputs.npz("convergence_eval"), inputs.evaluation["convergence"]["after"]
    counts = [int(n) for n in data["sample_counts"]]
    if after not in counts[1:-1]:
        raise ConfigError(f"evaluation.convergence.after={after} must be one of the sample "
                          f"counts between the first and the last ({counts})")
    distance = data["distance"]
    total = np.maximum(distance[:, 0], 1e-12)
    share = distance[:, counts.index(after)] / total
    parts = [Part(f"share_after_{after}", f"|map(n={counts[-1]}) - map(n={after})| / "
                  f"|map(n={counts[-1]}) - map(n={counts[0]})| (shown maps, L2)",
                  inputs.bootstrap.mean(share), "C3")]
    rows = []
    for j, n in enumerate(counts):
        row = {"n": n, **_columns("distance_to_last", inputs.bootstrap.mean(distance[:, j]))}
        if j:
            step = (distance[:, j - 1] - distance[:, j]) / (n - counts[j - 1])
            row.update(_columns("change_per_sample", inputs.bootstrap.mean(step)))
        rows.append(row)
    return Claim("C3", f"diminishing returns past n = {after} samples (Fig 4)", parts,
                 {"plot_convergence": rows})


def claim_c4(inputs: Inputs) -> Claim:
    """The grid pointing game: SmoothGrad against Guided BackProp."""
    data = inputs.npz("grid_eval")
    kinds = [str(k) for k in data["kinds"]]
    need = ["gradient/smoothgrad", "guided_backprop/plain"]
    if any(k not in kinds for k in need):
        raise ConfigError("C4 compares gradient/smoothgrad with guided_backprop/plain: keep "
                          f"gradient and guided_backprop in evaluation.grids.methods (got {kinds})")
    parts = []
    for measure, what in (("share", "share of positive attribution in the class's cell"),
                          ("difference", "share of the positive class-difference map (Fig 6's "
                                         "M1 - M2) in the class's cell")):
        diff = (data[f"{measure}/{need[0]}"] - data[f"{measure}/{need[1]}"]).mean(1)
        parts.append(Part(f"{measure}", f"mean paired difference per mosaic of the {what}, "
                          "SmoothGrad - Guided BackProp", inputs.bootstrap.mean(diff), "C4"))
    rows = [{"map": kind, **_columns("share", inputs.bootstrap.mean(
                data[f"share/{kind}"].mean(1))),
             **_columns("difference", inputs.bootstrap.mean(data[f"difference/{kind}"].mean(1)))}
            for kind in kinds]
    return Claim("C4", "Guided BackProp discriminates two classes worst, SmoothGrad well "
                 "(Fig 6), on 2x2 grids of four classes", parts, {"plot_pointing": rows})


def claim_c5(inputs: Inputs) -> Claim:
    """Rank correlation between SmoothGrad's noise reduction and background uniformity."""
    entries = _label_entries(inputs)
    uniformity = np.array([e["background"] for e in entries])
    parts = []
    for measure in NOISE_MEASURES:
        reduction = -_paired(entries, "scores", "gradient/smoothgrad", "gradient/plain", measure)
        authors = None
        if all("authors" in e for e in entries):
            authors = inputs.bootstrap.spearman(-_paired(
                entries, "authors", "gradient/smoothgrad", "gradient/plain", measure), uniformity)
        parts.append(Part(f"spearman.{measure}", f"Spearman correlation of the {measure} "
                          "reduction (gradient - SmoothGrad) with background uniformity",
                          inputs.bootstrap.spearman(reduction, uniformity), "C5", authors))
    return Claim("C5", "SmoothGrad helps most where the background is uniform (Fig 5)", parts)


MNIST_COMPARISONS = (  # (a, b): a - b < 0 is claimed
    ("noisy/gradient", "clean/gradient"),
    ("noisy/smoothgrad", "clean/smoothgrad"),
    ("noisy/smoothgrad", "noisy/gradient"),
)


def claim_c6(inputs: Inputs) -> Claim:
    """Training with noise denoises the gradient, and SmoothGrad adds to it (MNIST)."""
    data = inputs.npz("mnist_eval")
    parts = [Part(f"{a.replace('/', '_')}_vs_{b.replace('/', '_')}.{measure}",
                  f"mean paired difference of {measure}, {a} - {b}",
                  inputs.bootstrap.mean(data[f"{a}/{measure}"] - data[f"{b}/{measure}"]), "C6")
             for a, b in MNIST_COMPARISONS for measure in NOISE_MEASURES]
    rows = [{"map": f"{model}/{method}",
             **{k: v for measure in NOISE_MEASURES
                for k, v in _columns(measure, inputs.bootstrap.mean(
                    data[f"{model}/{method}/{measure}"])).items()}}
            for model in ("clean", "noisy") for method in ("gradient", "smoothgrad")]
    return Claim("C6", "training with noise also denoises, and the two effects add (Fig 8)",
                 parts, {"plot_mnist": rows})


def claim_l1(inputs: Inputs) -> Claim:
    """Cascading randomisation: Guided BackProp's maps stay more similar to the original."""
    data = inputs.npz("sanity_eval")
    blocks = [str(b) for b in data["blocks"]]
    kinds = sorted({k.rsplit("/", 1)[0] for k in data if k.count("/") == 2})
    gbp = "guided_backprop/plain"
    others = [k for k in ("gradient/plain", "gradient/smoothgrad") if k in kinds]
    if gbp not in kinds or not others:
        raise ConfigError("L1 compares guided_backprop/plain with the gradient and SmoothGrad: "
                          "keep gradient and guided_backprop in evaluation.sanity.methods")
    parts = [Part(f"{measure}.guided_backprop_vs_{other.replace('/', '_')}",
                  f"mean over the cascade of {measure} to the original map, Guided BackProp "
                  f"- {other}", inputs.bootstrap.mean(
                      data[f"{gbp}/{measure}"].mean(1) - data[f"{other}/{measure}"].mean(1)),
                  "L1")
             for measure in ("ssim", "spearman_abs") for other in others]
    rows = [{"block": j + 1, "randomized_to": name,
             **{f"{kind}": float(np.nanmean(data[f"{kind}/spearman_abs"][:, j]))
                for kind in kinds}} for j, name in enumerate(blocks)]
    return Claim("L1", "Guided BackProp fails the model-randomisation sanity check; the "
                 "gradient and SmoothGrad pass it", parts, {"plot_sanity": rows},
                 "Adebayo et al. 2018")


def claim_l2(inputs: Inputs) -> Claim:
    """Deletion and insertion AUC of each map kind against the random map."""
    data = inputs.npz("faithfulness_eval")
    kinds = [str(k) for k in data["kinds"] if str(k) != "random"]
    parts = []
    for kind in kinds:
        for curve, rule in (("deletion", "L2_deletion"), ("insertion", "L2_insertion")):
            parts.append(Part(f"{kind.replace('/', '_')}.{curve}", f"mean paired difference of "
                              f"{curve} AUC, {kind} - random map",
                              inputs.bootstrap.mean(data[f"{kind}/{curve}_auc"]
                                                    - data[f"random/{curve}_auc"]), rule))
    rows = [{"map": kind, **_columns("deletion_auc", inputs.bootstrap.mean(
                data[f"{kind}/deletion_auc"])),
             **_columns("insertion_auc", inputs.bootstrap.mean(data[f"{kind}/insertion_auc"]))}
            for kind in [*kinds, "random"]]
    steps = data[f"{kinds[0]}/deletion_curve"].shape[1]
    curve_rows = [{"removed": j / (steps - 1),
                   **{kind: float(data[f"{kind}/deletion_curve"][:, j].mean())
                      for kind in [*kinds, "random"]}} for j in range(steps)]
    return Claim("L2", "the maps find what the model needs: deletion AUC below and insertion "
                 "AUC above a random map's", parts,
                 {"plot_faithfulness": rows, "plot_deletion": curve_rows}, "Petsiuk et al. 2018")


def claim_l3(inputs: Inputs) -> Claim:
    """Smoothing lowers max-sensitivity and infidelity."""
    data = inputs.npz("robustness_eval")
    methods = sorted({k.split("/")[0] for k in data if k.endswith("/plain/sensitivity")})
    parts = [Part(f"{method}.{measure}", f"mean paired difference of {measure}, SmoothGrad - "
                  f"plain {method}", inputs.bootstrap.mean(
                      data[f"{method}/smoothgrad/{measure}"] - data[f"{method}/plain/{measure}"]),
                  "L3")
             for method in methods for measure in ("sensitivity", "infidelity")]
    rows = [{"map": f"{method}/{variant}",
             **{k: v for measure in ("sensitivity", "infidelity")
                for k, v in _columns(measure, inputs.bootstrap.mean(
                    data[f"{method}/{variant}/{measure}"])).items()}}
            for method in methods for variant in ("plain", "smoothgrad")]
    return Claim("L3", "smoothing lowers max-sensitivity and infidelity", parts,
                 {"plot_robustness": rows}, "Yeh et al. 2019")


ROAR_BEATS = ("gradient/smoothgrad_squared", "gradient/vargrad")
ROAR_NOT = ("gradient/plain", "gradient/smoothgrad")


def claim_l4(inputs: Inputs) -> Claim:
    """ROAR: per test digit, right under each ranking minus right under the random ranking,
    averaged over the fractions removed (k > 0); CI over test digits."""
    data = inputs.npz("roar_eval")
    fractions = [float(f) for f in data["fractions"]]
    removed = [j for j, f in enumerate(fractions) if f > 0]
    random = data["random"][removed].astype(np.float64).mean(0)
    parts = [Part(kind.replace("/", "_"), f"test accuracy after ROAR minus the random "
                  f"ranking's, mean over fractions {[fractions[j] for j in removed]}",
                  inputs.bootstrap.mean(data[kind][removed].astype(np.float64).mean(0) - random),
                  rule)
             for kinds, rule in ((ROAR_BEATS, "L4_beats"), (ROAR_NOT, "L4_not"))
             for kind in kinds]
    kinds = ["random", *ROAR_NOT, *ROAR_BEATS]
    rows = [{"removed": fraction, **{kind: float(data[kind][j].mean()) for kind in kinds}}
            for j, fraction in enumerate(fractions)]
    return Claim("L4", "under ROAR, SmoothGrad-squared and VarGrad beat a random ranking; the "
                 "plain gradient and SmoothGrad do not", parts, {"plot_roar": rows},
                 "Hooker et al. 2019")


CLAIMS: dict[str, Callable[[Inputs], Claim]] = {
    "C1": claim_c1, "C2": claim_c2, "C3": claim_c3, "C4": claim_c4, "C5": claim_c5,
    "C6": claim_c6, "L1": claim_l1, "L2": claim_l2, "L3": claim_l3, "L4": claim_l4}


def _columns(name: str, estimate: Estimate) -> dict[str, float]:
    return {name: estimate.value, f"{name}_ci_low": estimate.low,
            f"{name}_ci_high": estimate.high}


def to_metrics(claim: Claim, rules: Mapping[str, Rule], confidence: float) -> dict[str, Any]:
    """One claim as `claims.json` holds it: the headline (first part) with its CI, the verdict,
    the rule, and every part."""
    statuses = [rules[p.rule].status(p.estimate) for p in claim.parts]
    parts = {}
    for part, status in zip(claim.parts, statuses, strict=True):
        parts[part.name] = {"metric": part.metric, **part.estimate.fields(), "status": status,
                            "rule": part.rule,
                            **(part.authors.fields("authors_") if part.authors else {})}
    head = claim.parts[0]
    rules_used = dict.fromkeys(p.rule for p in claim.parts)
    return {"claim": claim.text, "source": claim.source, "verdict": verdict(statuses),
            "metric": head.metric,
            **head.estimate.fields(), **(head.authors.fields("authors_") if head.authors else {}),
            "rule": "; ".join(f"{rules[r].text}: {rules[r].describe(confidence)}"
                              for r in rules_used) + f". {VERDICT_RULE}",
            "parts": parts}


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV (the union of their columns, in order; floats to 6 significant digits)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    return out.getvalue()


def write_claims(inputs: Inputs, rules: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Measure every claim, write `claims.json` and the plot files; returns the metrics."""
    parsed = {key: Rule.of(node) for key, node in rules.items()}
    claims = [build(inputs) for build in CLAIMS.values()]
    missing = sorted({p.rule for c in claims for p in c.parts} - set(parsed))
    if missing:
        raise ConfigError(f"evaluation.rules lacks {', '.join(missing)}; every claim part "
                          "needs its rule")
    metrics = {c.id: to_metrics(c, parsed, inputs.bootstrap.confidence) for c in claims}
    write_json(inputs.paths.get("claims"), metrics)
    for claim in claims:
        for plot, rows in claim.curves.items():
            write_text(inputs.paths.get(plot), csv_text(rows))
    return metrics


def read_claims(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"no claims at {path}; run `dvc repro claims` first")
    return json.loads(path.read_text())
