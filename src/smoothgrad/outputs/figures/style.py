"""Shared look of every figure and a byte-stable writer (same inputs -> same PNG/PDF bytes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ...store.arrays import atomic_path  # noqa: E402

# No timestamps or version strings in the files, so `dvc repro` twice gives the same hashes.
_METADATA = {
    ".png": {"Software": None},
    ".pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}

plt.rcParams.update({
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "pdf.compression": 9,
    "svg.hashsalt": "smoothgrad",
})


def save_figure(fig: Figure, path: str | Path) -> list[Path]:
    """Write `fig` as `<path>.png` and `<path>.pdf` (any suffix on `path` is replaced), each
    through `atomic_path`; the format is given because the temp name's suffix is `.tmp`."""
    base = Path(path).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, metadata in _METADATA.items():
        out = base.with_suffix(suffix)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=suffix[1:], metadata=metadata, bbox_inches="tight")
        written.append(out)
    plt.close(fig)
    return written
