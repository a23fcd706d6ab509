"""Stage `sweep_samples` (Fig 4 data): SmoothGrad at every n of `smoothgrad.sample_counts`, as
running means of one run of the largest n, in one file (changing the list replaces it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.io import save_npz
from smoothgrad.maps import samples_sweep, selected_inputs, setup_model, sweep_arrays


def run(cfg: DictConfig) -> None:
    bundle, device = setup_model(cfg)
    entries, pixels, targets = selected_inputs(cfg, bundle, cfg.figures.fig4)
    counts = sorted(int(v) for v in cfg.smoothgrad.sample_counts)
    level = float(cfg.smoothgrad.sweep_noise_level)
    maps = samples_sweep(cfg, bundle, bundle.normalize(pixels).to(device), targets, counts, level)
    out = Path(cfg.paths.artifacts) / "sweeps" / "samples.npz"
    save_npz(out, **sweep_arrays(cfg, bundle, entries, pixels, maps, counts),
             noise_level=np.array(level))
    print(f"sweep_samples: {len(entries)} images x n in {counts} (noise {level:.0%}, one run "
          f"of {counts[-1]}) -> {out}")


if __name__ == "__main__":
    stage_main(run)
