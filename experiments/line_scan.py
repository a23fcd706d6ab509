"""Stage `line_scan` (Fig 2 data): one pixel's gradient along a tiny random line x + t*eps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.io import save_npz
from smoothgrad.maps import line_scan, selected_inputs, setup_model
from smoothgrad.selection import target_name


def run(cfg: DictConfig) -> None:
    bundle, device = setup_model(cfg)
    rule = cfg.figures.fig2
    entries, pixels, targets = selected_inputs(cfg, bundle, rule)
    scan = line_scan(bundle, pixels[0], targets[0], pixel_rule=rule.pixel, n_t=rule.n_t,
                     epsilon_std=rule.epsilon_std, seed=cfg.seed,
                     batch_size=cfg.smoothgrad.batch_size, precision=cfg.precision, device=device)
    out = Path(cfg.paths.artifacts) / "sweeps" / "line_scan.npz"
    save_npz(out, **scan, id=np.array(entries[0]["id"]), model=np.array(bundle.name),
             class_name=np.array(target_name(entries[0], cfg.figures.target)))
    print(f"line_scan: image {entries[0]['id']}, pixel {tuple(int(v) for v in scan['pixel'])}, "
          f"{rule.n_t} values of t -> {out}")


if __name__ == "__main__":
    stage_main(run)
