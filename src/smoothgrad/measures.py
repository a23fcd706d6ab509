"""Per-map numbers behind the claims (`outputs.claims`), pure numpy on stored arrays.

The noise measures are taken on the map as the figures show it (`viz.abs_grayscale`: |map|
summed over channels, capped at a percentile, scaled to [0, 1]), the picture a reader calls
"noisy", and the form the authors published theirs in. Two measures, so that a verdict does not
hang on one definition of noise: `speckle` (spectral: energy at pixel-scale frequencies) and
`tv` (spatial: total variation per unit of map mass). Both are scale-free, lower =
smoother, and neither can tell smooth-and-right from blurred-away: that is what the structure
measures (deletion AUC, grid pointing game) are for.
"""

from __future__ import annotations

import numpy as np

from .viz import abs_grayscale

NOISE_MEASURES: dict[str, str] = {
    "speckle": "share of the shown map's energy (mean removed) above the cut-off spatial "
               "frequency; lower = smoother",
    "tv": "total variation of the shown map (mean |horizontal| + |vertical| step) over "
                 "its mean; lower = smoother",
}


def speckle(gray: np.ndarray, cutoff: float) -> float:
    """Share of the (H, W) map's energy, mean removed, at spatial frequencies above `cutoff`
    cycles per pixel (0.5 is the Nyquist limit): pixel-scale noise."""
    g = np.asarray(gray, dtype=np.float64)
    power = np.abs(np.fft.rfft2(g - g.mean())) ** 2
    fy = np.fft.fftfreq(g.shape[0])[:, None]
    fx = np.fft.rfftfreq(g.shape[1])[None, :]
    return float(power[np.hypot(fy, fx) > cutoff].sum() / max(power.sum(), 1e-30))


def total_variation(gray: np.ndarray) -> float:
    """Mean absolute step between neighbouring pixels over the mean value of the (H, W) map:
    total variation per unit of mass, so a uniformly scaled map scores the same."""
    g = np.asarray(gray, dtype=np.float64)
    steps = np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()
    return float(steps / max(g.mean(), 1e-12))


def noise_scores(gray: np.ndarray, cutoff: float) -> dict[str, float]:
    """Every noise measure (`NOISE_MEASURES`) of one shown (H, W) map."""
    return {"speckle": speckle(gray, cutoff), "tv": total_variation(gray)}


def shown(attribution: np.ndarray, percentile: float) -> np.ndarray:
    """The map as the ImageNet figures show it (see the module docstring)."""
    return abs_grayscale(attribution, percentile)


def random_map(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """The random-map baseline: i.i.d. uniform values, seeded (an image's id, say)."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def background_uniformity(pixels: np.ndarray, border: float) -> float:
    """How uniform an image's background is, taken as the band of width `border` (a fraction
    of each side) around the image, where the object rarely is: minus the mean absolute step
    between neighbouring gray levels in that band (higher = more uniform)."""
    gray = np.asarray(pixels, dtype=np.float64).mean(axis=0)
    h, w = gray.shape
    band = np.ones((h, w), dtype=bool)
    bh, bw = max(1, round(h * border)), max(1, round(w * border))
    band[bh:h - bh, bw:w - bw] = False
    dy = np.abs(np.diff(gray, axis=0))[band[1:] & band[:-1]]
    dx = np.abs(np.diff(gray, axis=1))[band[:, 1:] & band[:, :-1]]
    return -float(np.concatenate([dy, dx]).mean())


def positive_share(scores: np.ndarray, inside: np.ndarray) -> float:
    """The share of the positive part of an (H, W) map that lies inside the boolean mask
    `inside` (0.5 when the map has no positive value: no evidence either way)."""
    positive = np.clip(np.asarray(scores, dtype=np.float64), 0, None)
    total = positive.sum()
    return float(positive[inside].sum() / total) if total > 0 else 0.5


def deletion_order(scores: np.ndarray) -> np.ndarray:
    """Pixel indices of an (H, W) map, most attributed first (ties broken by index, so the
    order is deterministic)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64).ravel(), kind="stable")
