"""The paper's rules for turning attribution maps into images (section 3). Pure functions:
numpy or torch (C, H, W) or (H, W) in, numpy float32 out."""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _as_numpy(a: ArrayLike) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().to("cpu", torch.float32).numpy()
    a = np.asarray(a, dtype=np.float32)
    if a.ndim not in (2, 3):
        raise ValueError(f"expected a (C, H, W) or (H, W) map (got shape {a.shape})")
    return a


def _cap(values: np.ndarray, percentile: float) -> float:
    """The percentile of |values|; capping there keeps a few extreme pixels from washing out
    the rest of the map."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100] (got {percentile})")
    return float(np.percentile(np.abs(values), percentile))


def _summed_and_capped(a: np.ndarray, percentile: float, lower: float) -> np.ndarray:
    """The rule both displays share: sum over channels, divide by the percentile cap of |map|,
    clip to [lower, 1] (all zeros for an all-zero map). Returns (H, W)."""
    m = a.sum(0) if a.ndim == 3 else a
    cap = _cap(m, percentile)
    if cap == 0:
        return np.zeros_like(m)
    return np.clip(m / cap, lower, 1).astype(np.float32)


def abs_grayscale(attribution: ArrayLike, percentile: float = 99) -> np.ndarray:
    """ImageNet rule: |map| summed over channels, capped at the percentile, scaled to [0, 1]
    by dividing by the cap (so 0 stays 'no sensitivity'). Returns (H, W)."""
    return _summed_and_capped(np.abs(_as_numpy(attribution)), percentile, 0)


def signed_diverging(attribution: ArrayLike, percentile: float = 99) -> np.ndarray:
    """MNIST rule: the signed map (summed over channels) capped symmetrically at the percentile
    of |map| and scaled to [-1, 1], for a diverging colour map centred on 0. Returns (H, W)."""
    return _summed_and_capped(_as_numpy(attribution), percentile, -1)


def rgb(pixels: np.ndarray) -> np.ndarray:
    """(C, H, W) [0, 1] pixels -> (H, W, 3) for display (gray images repeated to 3 channels)."""
    image = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, 1.0)
    if image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    return image.transpose(1, 2, 0)


def times_input(attribution: ArrayLike, pixels: ArrayLike) -> np.ndarray:
    """Map x input ('gradient x image'), element-wise; zero wherever the input is 0 (black)."""
    a, p = _as_numpy(attribution), _as_numpy(pixels)
    if a.shape != p.shape:
        raise ValueError(f"map and pixels must have the same shape (got {a.shape}, {p.shape})")
    return a * p


def class_difference(map_a: ArrayLike, map_b: ArrayLike, percentile: float = 99) -> np.ndarray:
    """Fig 6: each class's map scaled to [0, 1] (abs_grayscale), then M_a - M_b in [-1, 1];
    positive where the map favours class a."""
    return abs_grayscale(map_a, percentile) - abs_grayscale(map_b, percentile)
