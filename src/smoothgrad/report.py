"""`reports/README.md`: every figure with a caption that says what was run (model, settings) and
what the paper claims it shows, plus the accuracy metrics, so a reader can judge the match."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from .figures.stages import FIGURES
from .io import load_npz
from .map_store import read_image_maps, read_index
from .viz import abs_grayscale, class_difference

FIG8 = "fig8_training_with_noise"

# What the paper found, per figure (FIGURES.md, "What the paper found").
CLAIMS = {
    "fig1_noisy_gradient": "Raw gradients are visually noisy: scattered pixels light up beyond "
                           "the object.",
    "fig2_gradients_fluctuate": "The partial derivatives fluctuate sharply over tiny input "
                                "changes, although x + ε looks the same as x and the score "
                                "barely moves.",
    "fig3_noise_level": "10-20% noise balances sharpness against keeping the image's "
                        "structure; at 50% the map degrades.",
    "fig4_sample_size": "The map gets smoother as n grows, with diminishing returns past "
                        "n ≈ 50.",
    "fig5_methods_compared": "SmoothGrad maps are more coherent than vanilla gradients, most "
                             "where the background is uniform; Guided BackProp is the sharpest "
                             "but fails on uniform backgrounds.",
    "fig6_discriminativity": "SmoothGrad separates the two classes well (red and blue on "
                             "different objects); Guided BackProp discriminates worst.",
    "fig7_smoothgrad_on_methods": "SmoothGrad also sharpens Integrated Gradients and Guided "
                                  "BackProp.",
    FIG8: "Training with noise denoises the maps too, and the two effects add: noise-trained "
          "model + SmoothGrad gives the most coherent maps.",
}


def rule_text(rule: Mapping[str, Any]) -> str:
    """A figure's image-choice rule in words (see `selection.select_images`)."""
    return (f"images: up to {rule['per_class']} per wanted class {list(rule['classes'])}, "
            f"{rule['count']} in all, the rest the most confident correctly classified images")


def settings_line(name: str, cfg: DictConfig) -> str:
    """The settings a figure was produced with, in words."""
    sg, fig = cfg.smoothgrad, cfg.figures
    smooth = f"SmoothGrad n = {sg.n_samples} at noise {sg.noise_level:.0%}"
    ig_cfg = cfg.methods.integrated_gradients
    ig = f"IG {ig_cfg.steps} steps, {ig_cfg.baseline} baseline"
    target = f"maps of the {fig.target} class, |map| capped at the {fig.percentile}th percentile"
    lines = {
        "fig1_noisy_gradient": f"Vanilla gradient; {target}; {rule_text(fig.fig1)}.",
        "fig2_gradients_fluctuate": (
            f"{fig.fig2.n_t} values of t, ε ~ N(0, {fig.fig2.epsilon_std}²) in [0, 1] pixel "
            f"space, pixel rule `{fig.fig2.pixel}`; {rule_text(fig.fig2)}."),
        "fig3_noise_level": (
            f"SmoothGrad n = {sg.n_samples}, noise levels {list(sg.noise_levels)} "
            f"(the 5% column is unsure in the paper); {target}; {rule_text(fig.fig3)}."),
        "fig4_sample_size": (
            f"Noise {sg.sweep_noise_level:.0%}, n in {list(sg.sample_counts)} (unsure in the "
            f"paper), running means of one run; {target}; {rule_text(fig.fig4)}."),
        "fig5_methods_compared": (
            f"{smooth} (on the gradient); {ig}; plain and × image; {target}; "
            f"{rule_text(fig.fig5)}."),
        "fig6_discriminativity": (
            f"{smooth}; {ig}; each class map |·| scaled to [0, 1], difference shown on "
            f"blue-gray-red [-1, 1]; photos and classes: "
            f"{[(p.file, list(p.classes)) for p in fig.fig6.photos]}."),
        "fig7_smoothgrad_on_methods": (
            f"{smooth}; {ig}; SmoothGrad(IG) uses {sg.ig_steps} IG steps per noisy sample; "
            f"{target}; {rule_text(fig.fig7)}."),
        FIG8: (f"MNIST CNN trained {cfg.mnist.train.epochs} epoch(s) clean and with noise "
               f"{cfg.mnist.train.train_noise_level:.0%} of the [0, 1] range (unsure in the "
               f"paper); signed maps, diverging colour map."),
    }
    return lines[name]


def speckle(maps: np.ndarray | list[np.ndarray]) -> float:
    """Mean share of each map's energy (channel-summed, mean removed) at spatial frequencies
    above 1/4 cycle per pixel: pixel-scale noise, the "noisy" look of raw gradients. Lower =
    smoother; it cannot tell smooth-and-right from blurred-away (judge that by eye)."""
    shares = []
    for m in maps:
        s = np.asarray(m, dtype=np.float64).sum(axis=0)
        power = np.abs(np.fft.rfft2(s - s.mean())) ** 2
        fy = np.fft.fftfreq(s.shape[0])[:, None]
        fx = np.fft.rfftfreq(s.shape[1])[None, :]
        fine = np.hypot(fy, fx) > 0.25
        shares.append(power[fine].sum() / max(power.sum(), 1e-30))
    return float(np.mean(shares))


SPECKLE = ("Speckle (share of the map's energy at spatial frequencies above 1/4 cycle per "
           "pixel; lower = smoother)")


def _yes(flag: bool) -> str:
    return "**yes**" if flag else "**no**"


def measurements(artifacts: Path, percentile: float) -> dict[str, str]:
    """Numbers behind each figure's claim, computed from the stored arrays, with a plain
    verdict, so the report says where the paper's finding does not show."""
    out: dict[str, str] = {}
    store = artifacts / "maps"
    if (store / "index.json").is_file():
        ids = [e["id"] for e in read_index(store)["images"]]
        methods = ("gradient", "integrated_gradients", "guided_backprop")
        keys = [(m, v) for m in methods for v in ("plain", "smoothgrad")]
        per_image = []  # one image at a time: the paper profile's store is ~1 GB as float32
        for image_id in ids:
            arrays = read_image_maps(store, image_id)
            per_image.append([speckle([arrays[f"label/{m}/{v}"]]) for m, v in keys])
        share = dict(zip(keys, np.mean(per_image, axis=0).tolist(), strict=True))
        table = ", ".join(f"{m}{' + SmoothGrad' if v == 'smoothgrad' else ''} {r:.3f}"
                          for (m, v), r in share.items())
        smoother = [m for m in methods if share[m, "smoothgrad"] < share[m, "plain"]]
        text = (f"{SPECKLE} over all {len(ids)} stored images (label class): {table}. "
                f"SmoothGrad less speckled than the vanilla gradient: "
                f"{_yes('gradient' in smoother)}; than every plain method: "
                f"{_yes(len(smoother) == len(methods))}.")
        for name in ("fig1_noisy_gradient", "fig5_methods_compared", "fig7_smoothgrad_on_methods"):
            out[name] = text
    noise = artifacts / "sweeps" / "noise.npz"
    if noise.is_file():
        data = load_npz(noise)
        levels = [float(v) for v in data["values"]]
        share = [speckle(list(data["maps"][:, j].astype(np.float32)))
                 for j in range(len(levels))]
        mid = [r for v, r in zip(levels, share, strict=True) if 0.1 <= v <= 0.2]
        out["fig3_noise_level"] = (
            f"{SPECKLE} by noise level: " + ", ".join(
                f"{v:.0%} {r:.3f}" for v, r in zip(levels, share, strict=True))
            + (f". 10-20% smoother than the gradient: {_yes(max(mid) < share[0])}"
               if mid and levels[0] == 0 else ". No 10-20% level in the list")
            + "; whether 50% has lost the object is for the eye, not this number.")
    samples = artifacts / "sweeps" / "samples.npz"
    if samples.is_file():
        data = load_npz(samples)
        counts = [int(v) for v in data["values"]]
        shown = [[abs_grayscale(m, percentile) for m in image]
                 for image in data["maps"].astype(np.float32)]
        change = [float(np.mean([np.abs(image[j] - image[j - 1]).mean() for image in shown]))
                  for j in range(1, len(counts))]
        steps = [f"{a}→{b} {c:.3f}"
                 for a, b, c in zip(counts[:-1], counts[1:], change, strict=True)]
        out["fig4_sample_size"] = (
            "Mean |change| of the shown map between successive n: " + ", ".join(steps)
            + (f". Diminishing returns (last step {steps[-1]} smaller than first {steps[0]}): "
               f"{_yes(change[-1] < change[0])}." if len(change) > 1 else "."))
    two = artifacts / "two_objects.npz"
    if two.is_file():
        data = load_npz(two)
        methods = [str(m) for m in data["methods"]]
        n_photos = len({k.split("/")[0] for k in data if "/" in k})
        contrast = {m: float(np.mean([
            np.abs(class_difference(*data[f"{i}/maps"][j].astype(np.float32), percentile)).mean()
            for i in range(n_photos)])) for j, m in enumerate(methods)}
        worst = min(contrast, key=contrast.get)
        out["fig6_discriminativity"] = (
            "Mean |M1 − M2| (higher = the two classes' maps differ more): " + ", ".join(
                f"{m} {c:.3f}" for m, c in contrast.items())
            + f". Guided BackProp discriminates worst: {_yes(worst == 'guided_backprop')}.")
    mnist = artifacts / "mnist" / "maps.npz"
    if mnist.is_file():
        data = load_npz(mnist)
        cells = {(model, method): speckle([m[None] for m in data[f"{model}/{method}"]])
                 for model in ("clean", "noisy") for method in ("gradient", "smoothgrad")}
        out[FIG8] = (
            f"{SPECKLE} of the 10 digits' maps: " + ", ".join(
                f"{model}-trained {method} {r:.3f}" for (model, method), r in cells.items())
            + f". Training with noise smooths the gradient: "
            f"{_yes(cells['noisy', 'gradient'] < cells['clean', 'gradient'])}; noise-trained "
            f"model + SmoothGrad smoothest of the four: "
            f"{_yes(min(cells, key=cells.get) == ('noisy', 'smoothgrad'))}.")
    return out


def read_metrics(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _scalars(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """`key = value` for every scalar, nested keys joined with dots."""
    lines = []
    for key, value in sorted(values.items()):
        if isinstance(value, Mapping):
            lines += _scalars(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            lines.append(f"{prefix}{key} = {value}")
    return lines


def metrics_table(metrics: Mapping[str, Mapping[str, Any] | None]) -> str:
    """One markdown row per metric file: every scalar it holds."""
    rows = ["| metrics file | values |", "|---|---|"]
    for name, values in metrics.items():
        shown = "missing" if values is None else ", ".join(_scalars(values))
        rows.append(f"| `{name}` | {shown} |")
    return "\n".join(rows)


def build_report(cfg: DictConfig, figures_dir: Path,
                 metrics: Mapping[str, Mapping[str, Any] | None],
                 measured: Mapping[str, str] | None = None) -> str:
    """The report's markdown; figures are linked relative to `reports/`."""
    model = (metrics.get("imagenet_accuracy.json") or {}).get("model", "unknown")
    parts = [
        "# SmoothGrad reproduction: results",
        "",
        f"Generated by the `report` stage (`dvc repro`); profile `{cfg.profile_name}`, ImageNet "
        f"model `{model}`, seed {cfg.seed}. Each caption gives the settings, the paper's claim "
        "and, where a number can stand for it, what was measured here with a plain yes/no."
        + (" The `smoke` profile is far too small to show the paper's effects (a few samples "
           "and IG steps): judge the `paper` profile's figures." if cfg.profile_name == "smoke"
           else ""),
        "",
        "## Accuracy",
        "",
        metrics_table(metrics),
        "",
    ]
    for number, name in enumerate([*FIGURES, FIG8], start=1):
        png = figures_dir / f"{name}.png"
        parts += [f"## Fig {number}: {name.split('_', 1)[1].replace('_', ' ')}", ""]
        if png.is_file():
            parts.append(f"![{name}](figures/{png.name})")
        else:
            parts.append(f"*(not produced: `{png}` is missing)*")
        parts += ["", f"**Settings.** {settings_line(name, cfg)}", "",
                  f"**Paper's claim.** {CLAIMS[name]}", ""]
        if measured and name in measured:
            parts += [f"**Measured here.** {measured[name]}", ""]
    return "\n".join(parts)
