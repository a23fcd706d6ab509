"""Figures 1-7 drawn from stored arrays (numpy in, matplotlib Figure out; no model, no files),
following the paper's display rules: |map| in grayscale capped at a percentile for ImageNet,
and class differences on a blue-gray-red scale."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from ...store.map_store import map_key
from ...viz import abs_grayscale, class_difference, rgb, times_input
from .grid import draw_grid


class Column(NamedTuple):
    """One map column of a figure read from the map store."""

    label: str
    method: str
    variant: str  # plain | smoothgrad
    times_image: bool = False


FIG1_COLUMNS = (Column("Vanilla gradient", "gradient", "plain"),)
_FIG5_PLAIN = (
    Column("Vanilla gradient", "gradient", "plain"),
    Column("Integrated\nGradients", "integrated_gradients", "plain"),
    Column("Guided\nBackProp", "guided_backprop", "plain"),
    Column("SmoothGrad", "gradient", "smoothgrad"),
)
FIG5_COLUMNS = _FIG5_PLAIN + tuple(
    Column(f"{c.label}\n× image", c.method, c.variant, True) for c in _FIG5_PLAIN)
FIG7_COLUMNS = (
    Column("Integrated\nGradients", "integrated_gradients", "plain"),
    Column("IG +\nSmoothGrad", "integrated_gradients", "smoothgrad"),
    Column("Guided\nBackProp", "guided_backprop", "plain"),
    Column("Guided BackProp\n+ SmoothGrad", "guided_backprop", "smoothgrad"),
)
FIG6_METHOD_LABELS = {"gradient": "Vanilla gradient",
                      "integrated_gradients": "Integrated\nGradients",
                      "guided_backprop": "Guided\nBackProp", "smoothgrad": "SmoothGrad"}


def abs_map_grid(pixels: Sequence[np.ndarray], maps: Sequence[Sequence[np.ndarray]],
                 row_labels: Sequence[str], col_labels: Sequence[str], *, percentile: float,
                 title: str, cell: float = 1.35) -> Figure:
    """Rows of (image, |map| grayscale capped at `percentile`, ...); maps are (C, H, W)."""
    rows = [[rgb(p), *(abs_grayscale(m, percentile) for m in ms)]
            for p, ms in zip(pixels, maps, strict=True)]
    kinds = ["rgb"] + ["gray"] * len(col_labels)
    return draw_grid(rows, kinds, row_labels, ["Image", *col_labels], title=title, cell=cell)


def store_figure(images: Sequence[Mapping[str, np.ndarray]], targets: Sequence[str],
                 row_labels: Sequence[str], columns: Sequence[Column], *, percentile: float,
                 title: str, cell: float = 1.35) -> Figure:
    """Figs 1, 5, 7: `images` are map-store arrays (`read_image_maps`), `targets` the map target
    ("label" | "prediction") shown for each; "× image" columns multiply by the pixels."""
    maps = []
    for arrays, target in zip(images, targets, strict=True):
        row = []
        for col in columns:
            m = arrays[map_key(target, col.method, col.variant)]
            row.append(times_input(m, arrays["pixels"]) if col.times_image else m)
        maps.append(row)
    return abs_map_grid([a["pixels"] for a in images], maps, row_labels,
                        [c.label for c in columns], percentile=percentile, title=title,
                        cell=cell)


def sweep_figure(pixels: np.ndarray, maps: np.ndarray, row_labels: Sequence[str],
                 col_labels: Sequence[str], *, percentile: float, title: str) -> Figure:
    """Figs 3 and 4: `maps` (K, V, C, H, W), one column per swept value."""
    return abs_map_grid(list(pixels), [list(m) for m in maps], row_labels, col_labels,
                        percentile=percentile, title=title)


def discriminativity_figure(photos: Sequence[tuple[np.ndarray, np.ndarray, Sequence[str]]],
                            methods: Sequence[str], *, percentile: float, title: str) -> Figure:
    """Fig 6: per photo (pixels, maps (M, 2, C, H, W), its two class names), each method's
    difference of the two class maps, each scaled to [0, 1] first: red = first class,
    blue = second."""
    rows, labels = [], []
    for pixels, maps, classes in photos:
        rows.append([rgb(pixels), *(class_difference(m[0], m[1], percentile) for m in maps)])
        labels.append(f"red: {classes[0]}\nblue: {classes[1]}")
    kinds = ["rgb"] + ["signed"] * len(methods)
    cols = ["Image", *(FIG6_METHOD_LABELS.get(m, m) for m in methods)]
    return draw_grid(rows, kinds, labels, cols, title=title)


def line_scan_figure(scan: Mapping[str, np.ndarray], *, title: str) -> Figure:
    """Fig 2: x, the partial derivatives of the chosen pixel's R, G, B along x + t*eps (each
    over the largest |gradient| entry at that point), and x + eps."""
    fig = Figure(figsize=(9.0, 2.8), layout="constrained")
    left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.8, 1]})
    row, col = (int(v) for v in scan["pixel"])
    for ax, key, label in ((left, "x", "x"), (right, "x_eps", "x + ε")):
        ax.imshow(rgb(scan[key]), interpolation="nearest")
        ax.plot([col], [row], marker="o", markersize=8, markerfacecolor="none",
                markeredgecolor="yellow")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label)
    for channel, colour in enumerate(("red", "green", "blue")):
        middle.plot(scan["t"], scan["ratio"][:, channel], color=colour, linewidth=1.0,
                    label=f"∂S/∂x ({colour[0].upper()})")
    middle.axhline(0.0, color="gray", linewidth=0.5)
    middle.set_xlabel("t  (input x + t·ε)")
    middle.set_ylabel("∂S_c/∂x_pixel  /  max_i |∂S_c/∂x_i|")
    middle.set_title(f"pixel (row {row}, col {col})")
    middle.legend(fontsize=7)
    fig.suptitle(title)
    return fig
