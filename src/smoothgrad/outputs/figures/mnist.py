"""Fig 8 (MNIST, training with noise) drawn from the `mnist_maps` stage's arrays. Per digit a 2x2
block, rows {trained without, with noise} x columns {gradient, SmoothGrad}, each signed map capped
symmetrically at a percentile of its |values| on a diverging colour map (the paper's MNIST rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ...viz import signed_diverging

MODELS = {"clean": "trained\nwithout noise", "noisy": "trained\nwith noise"}
METHODS = {"gradient": "gradient", "smoothgrad": "SmoothGrad"}
CMAP = "RdBu_r"  # red = raises the digit's logit, blue = lowers it
DIGITS_PER_ROW = 5
_BLOCK = {"left": 0.04, "right": 0.96, "bottom": 0.03, "top": 0.78, "wspace": 0.06, "hspace": 0.06}
_BAR = (0.2, 0.15, 0.15, 0.7)  # colour bar box in its subfigure's coordinates


def training_with_noise_figure(maps: Mapping[str, np.ndarray], *, percentile: float,
                               title: str) -> Figure:
    """`maps` as `compute.mnist.digit_maps` stores them."""
    n = len(maps["label"])
    bands = -(-n // DIGITS_PER_ROW)
    # A fixed layout: constrained layout's solver gives last-digit differences in the PDF's
    # text positions from run to run. Labels outside the blocks are kept by the tight bbox.
    fig = Figure(figsize=(2.2 * DIGITS_PER_ROW + 1.2, 2.6 * bands))
    grid_fig, bar_fig = fig.subfigures(1, 2, width_ratios=[2.2 * DIGITS_PER_ROW, 1.2])
    blocks = grid_fig.subfigures(bands, DIGITS_PER_ROW, squeeze=False).ravel()
    for k, block in enumerate(blocks[:n]):
        label = int(maps["label"][k])
        wrong = [f"{m} net: {p}" for m in MODELS if (p := int(maps[f"{m}/prediction"][k])) != label]
        head = f"digit {label} (test #{int(maps['index'][k])})"
        block.suptitle(head + ("\npredicted " + ", ".join(wrong) if wrong else ""), fontsize=8,
                       y=0.97, va="top")
        axes = block.subplots(2, 2, gridspec_kw=_BLOCK)
        for (r, model), (c, method) in product(enumerate(MODELS), enumerate(METHODS)):
            ax = axes[r, c]
            ax.imshow(signed_diverging(maps[f"{model}/{method}"][k], percentile), cmap=CMAP,
                      vmin=-1, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(METHODS[method], fontsize=7, pad=2)
            if c == 0 and k % DIGITS_PER_ROW == 0:
                ax.set_ylabel(MODELS[model], fontsize=7)
    bar_fig.colorbar(ScalarMappable(Normalize(-1, 1), CMAP), cax=bar_fig.add_axes(_BAR),
                     label=f"map / {percentile}th percentile of |map|, capped")
    fig.suptitle(title, y=1.0, va="bottom")
    return fig
