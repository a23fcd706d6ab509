"""The figure stages: each reads only the arrays its compute stage stored (never the model) and
writes `reports/figures/<name>.png/.pdf`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from omegaconf import DictConfig

from ..io import load_npz
from ..map_store import read_image_maps, read_index
from ..selection import select_for, target_name
from .imagenet import (
    FIG1_COLUMNS,
    FIG5_COLUMNS,
    FIG7_COLUMNS,
    Column,
    discriminativity_figure,
    line_scan_figure,
    store_figure,
    sweep_figure,
)
from .style import save_figure


def row_label(class_name: str, image_id: int, prob: float | None = None,
              label: str | None = None) -> str:
    """A row's label: the class shown, the image id, if known the model's confidence, and the
    true label where it differs from the class shown (a wrong top-1)."""
    confidence = f", p={prob:.2f}" if prob is not None else ""
    truth = f"\nlabel: {label}" if label and label != class_name else ""
    return f"{class_name}\n(#{image_id}{confidence}){truth}"


def _store_target(entry: Mapping[str, Any], target: str) -> str:
    """The map-store target holding `target`'s map: the label's map where the top-1 is right."""
    return "prediction" if target == "prediction" and "prediction" in entry["targets"] else "label"


def _from_store(cfg: DictConfig, rule: Mapping[str, Any], columns: Sequence[Column],
                what: str, cell: float = 1.35) -> Figure:
    store = Path(cfg.paths.artifacts) / "maps"
    index = read_index(store)
    entries = select_for(index["images"], rule)
    target, s = cfg.figures.target, index["settings"]
    title = (f"{what}\n{index['model']}, {target} class; SmoothGrad n={s['n_samples']}, "
             f"noise {s['noise_level']:.0%}; IG {s['ig_steps']} steps")
    return store_figure(
        [read_image_maps(store, e["id"]) for e in entries],
        [_store_target(e, target) for e in entries],
        [row_label(target_name(e, target), e["id"], e["prediction_prob"], e["class_name"])
         for e in entries],
        columns, percentile=cfg.figures.percentile, title=title, cell=cell)


def fig1(cfg: DictConfig) -> Figure:
    return _from_store(cfg, cfg.figures.fig1, FIG1_COLUMNS, "Fig 1: a vanilla gradient is noisy",
                       cell=2.8)


def fig5(cfg: DictConfig) -> Figure:
    return _from_store(cfg, cfg.figures.fig5, FIG5_COLUMNS, "Fig 5: methods compared")


def fig7(cfg: DictConfig) -> Figure:
    return _from_store(cfg, cfg.figures.fig7, FIG7_COLUMNS, "Fig 7: SmoothGrad on other methods")


def _sweep(cfg: DictConfig, name: str, col_labels: Callable[[np.ndarray], list[str]],
           title: Callable[[dict[str, np.ndarray]], str]) -> Figure:
    data = load_npz(Path(cfg.paths.artifacts) / "sweeps" / f"{name}.npz")
    rows = [row_label(str(c), int(i)) for c, i in zip(data["class_names"], data["ids"],
                                                      strict=True)]
    return sweep_figure(data["pixels"].astype(np.float32), data["maps"].astype(np.float32),
                        rows, col_labels(data["values"]), percentile=cfg.figures.percentile,
                        title=f"{title(data)} — {data['model']}")


def fig3(cfg: DictConfig) -> Figure:
    def labels(levels: np.ndarray) -> list[str]:
        return [f"σ = {v:.0%}" + (" (gradient)" if v == 0 else "") for v in levels]
    return _sweep(cfg, "noise", labels,
                  lambda d: f"Fig 3: noise level, SmoothGrad n={int(d['n_samples'])}")


def fig4(cfg: DictConfig) -> Figure:
    def labels(counts: np.ndarray) -> list[str]:
        return [f"n = {int(v)}" for v in counts]
    return _sweep(cfg, "samples", labels,
                  lambda d: f"Fig 4: sample size, noise {float(d['noise_level']):.0%}")


def fig2(cfg: DictConfig) -> Figure:
    scan = load_npz(Path(cfg.paths.artifacts) / "sweeps" / "line_scan.npz")
    title = (f"Fig 2: gradients fluctuate — {scan['model']}, {scan['class_name']} "
             f"(#{int(scan['id'])}), "
             f"ε ~ N(0, {float(scan['epsilon_std'])}²) in [0, 1] pixels")
    return line_scan_figure(scan, title=title)


def fig6(cfg: DictConfig) -> Figure:
    data = load_npz(Path(cfg.paths.artifacts) / "two_objects.npz")
    n_photos = len({key.split("/")[0] for key in data if "/" in key})
    photos = [(data[f"{i}/pixels"].astype(np.float32), data[f"{i}/maps"].astype(np.float32),
               [str(c) for c in data[f"{i}/classes"]]) for i in range(n_photos)]
    title = (f"Fig 6: two classes, each map scaled to [0, 1], M1 − M2 — {data['model']}; "
             f"SmoothGrad n={int(data['n_samples'])}, noise {float(data['noise_level']):.0%}")
    return discriminativity_figure(photos, [str(m) for m in data["methods"]],
                                   percentile=cfg.figures.percentile, title=title)


FIGURES: dict[str, Callable[[DictConfig], Figure]] = {
    "fig1_noisy_gradient": fig1,
    "fig2_gradients_fluctuate": fig2,
    "fig3_noise_level": fig3,
    "fig4_sample_size": fig4,
    "fig5_methods_compared": fig5,
    "fig6_discriminativity": fig6,
    "fig7_smoothgrad_on_methods": fig7,
}


def write_figure(fig: Figure, cfg: DictConfig, name: str) -> None:
    """Write `reports/figures/<name>.png/.pdf` and the stage's one summary line."""
    written = save_figure(fig, Path(cfg.paths.reports) / "figures" / name)
    print(f"{name}: wrote {', '.join(str(p) for p in written)}")


def figure_stage(name: str, cfg: DictConfig) -> None:
    """Draw figure `name` from its stored arrays and write it as PNG + PDF."""
    write_figure(FIGURES[name](cfg), cfg, name)
