"""Numbers behind the figures' claims, computed from the stored arrays (never the model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..viz import abs_grayscale, class_difference

SPECKLE = ("Speckle (share of the map's energy at spatial frequencies above 1/4 cycle per "
           "pixel; lower = smoother)")


def speckle(maps: np.ndarray | Sequence[np.ndarray]) -> float:
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


def successive_change(maps: np.ndarray, percentile: float) -> list[float]:
    """Mean |change| of the shown (grayscale) map between successive columns of (K, V, C, H, W)
    sweeps, averaged over the K images."""
    shown = [[abs_grayscale(m, percentile) for m in image] for image in maps]
    return [float(np.mean([np.abs(image[j] - image[j - 1]).mean() for image in shown]))
            for j in range(1, maps.shape[1])]


def class_contrast(pairs: Sequence[np.ndarray], percentile: float) -> float:
    """Mean |M1 - M2| of each (2, C, H, W) pair of class maps, each scaled to [0, 1] first
    (higher = the two classes' maps differ more)."""
    return float(np.mean([np.abs(class_difference(p[0], p[1], percentile)).mean()
                          for p in pairs]))


def yes(flag: bool) -> str:
    return "**yes**" if flag else "**no**"
