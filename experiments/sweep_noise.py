"""Stage `sweep_noise` (Fig 3 data): SmoothGrad at every noise level of `smoothgrad.noise_levels`,
all in one file so that changing the list replaces it whole (no stale levels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.io import save_npz
from smoothgrad.maps import noise_sweep, selected_inputs, setup_model, sweep_arrays


def run(cfg: DictConfig) -> None:
    bundle, device = setup_model(cfg)
    entries, pixels, targets = selected_inputs(cfg, bundle, cfg.figures.fig3)
    levels = [float(v) for v in cfg.smoothgrad.noise_levels]
    maps = noise_sweep(cfg, bundle, bundle.normalize(pixels).to(device), targets, levels)
    out = Path(cfg.paths.artifacts) / "sweeps" / "noise.npz"
    save_npz(out, **sweep_arrays(cfg, bundle, entries, pixels, maps, levels),
             n_samples=np.array(cfg.smoothgrad.n_samples))
    print(f"sweep_noise: {len(entries)} images x {len(levels)} noise levels "
          f"(n={cfg.smoothgrad.n_samples}) -> {out}")


if __name__ == "__main__":
    stage_main(run)
