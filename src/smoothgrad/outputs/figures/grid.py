"""The one grid layout every map figure uses: an image column, then map columns, with the row and
column labels the paper uses and a colour bar whenever signed values are shown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import Colormap, LinearSegmentedColormap
from matplotlib.figure import Figure

from . import style  # noqa: F401  (the shared rcParams)

# Fig 6's colours: -1 blue, 0 gray, +1 red (paper section 4).
BLUE_GRAY_RED = LinearSegmentedColormap.from_list(
    "blue_gray_red", [(0.0, "#2166ac"), (0.5, "#bdbdbd"), (1.0, "#b2182b")])

KINDS = ("rgb", "gray", "signed")


def draw_grid(rows: Sequence[Sequence[np.ndarray]], kinds: Sequence[str],
              row_labels: Sequence[str], col_labels: Sequence[str], *, title: str = "",
              signed_cmap: Colormap | str = BLUE_GRAY_RED, cell: float = 1.35) -> Figure:
    """A len(rows) x len(kinds) grid of panels. `kinds[j]` says how column j is shown: `rgb`
    (H, W, 3), `gray` (H, W) in [0, 1], or `signed` (H, W) in [-1, 1] on `signed_cmap` with a
    colour bar. Labels go above the first row and left of each row."""
    n_rows, n_cols = len(rows), len(kinds)
    if any(len(row) != n_cols for row in rows) or len(col_labels) != n_cols:
        raise ValueError("every row and the column labels need one entry per column")
    if len(row_labels) != n_rows:
        raise ValueError("need one label per row")
    if unknown := set(kinds) - set(KINDS):
        raise ValueError(f"unknown panel kinds {sorted(unknown)}; choose from {KINDS}")
    signed = "signed" in kinds
    fig = Figure(figsize=(cell * n_cols + (0.6 if signed else 0.0), cell * n_rows + 0.5),
                 layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    image = None
    for i, row in enumerate(rows):
        for j, (panel, kind) in enumerate(zip(row, kinds, strict=True)):
            ax = axes[i, j]
            if kind == "rgb":
                ax.imshow(panel, interpolation="nearest")
            elif kind == "gray":
                ax.imshow(panel, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                image = ax.imshow(panel, cmap=signed_cmap, vmin=-1.0, vmax=1.0,
                                  interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(col_labels[j])
        axes[i, 0].set_ylabel(row_labels[i])
    if title:
        fig.suptitle(title)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8)
    return fig
