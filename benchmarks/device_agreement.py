"""Do the maps on another device or precision match the CPU's fp32 maps? Every method of the
map store, plain and with SmoothGrad (the configured settings), for the first images of the
predict stage's output; prints, per map, max |diff| / max |reference| and the Spearman rank
correlation of |map| summed over channels, and exits 1 if the worst correlation is below
--min-spearman. SmoothGrad's noise comes from CPU generators, so the same noise is used on
every device and fp32 maps should agree to rounding.

    .venv/bin/python benchmarks/device_agreement.py --device cuda --images 2
    .venv/bin/python benchmarks/device_agreement.py --device cuda --precision bf16 --min-spearman 0
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from scipy.stats import spearmanr

from smoothgrad.compute.inputs import image_batch, image_files, read_predictions
from smoothgrad.pipeline.builders import model_on_device, store_methods
from smoothgrad.pipeline.config import compose_config
from smoothgrad.store.paths import Paths


def store_maps(overrides: list[str], n_images: int) -> dict[tuple[int, str, str], np.ndarray]:
    """(image id, method, variant) -> map of the label class, computed as the maps stage
    (`experiments/compute_maps.py`) does."""
    cfg = compose_config(overrides)
    paths = Paths.from_config(cfg.paths)
    bundle, device = model_on_device(cfg)
    methods = store_methods(cfg, bundle)
    predictions = read_predictions(paths.get("predictions"))[:n_images]
    images = image_files(predictions, paths.get("imagenet_images"))
    maps = {}
    for entry in predictions:
        _, x = image_batch(bundle, images[entry["id"]], 1, device)
        target = torch.tensor([entry["label_index"]], device=device)
        for (name, variant), method in methods.items():
            result = method.attribute(x, target)
            maps[entry["id"], name, variant] = result.detach().float().cpu().numpy()[0]
    return maps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="device to check against the CPU")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--min-spearman", type=float, default=0.99)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for both runs")
    args = parser.parse_args()
    reference = store_maps([*args.overrides, "device=cpu", "precision=fp32"], args.images)
    checked = store_maps([*args.overrides, f"device={args.device}",
                          f"precision={args.precision}"], args.images)
    worst = 1.0
    for key, ref in reference.items():
        other = checked[key]
        rel = float(np.abs(other - ref).max() / np.abs(ref).max())
        rho = float(spearmanr(np.abs(ref).sum(0).ravel(), np.abs(other).sum(0).ravel())[0])
        worst = min(worst, rho)
        print(f"image {key[0]} {key[1]}/{key[2]}: max|diff|/max|cpu| {rel:.2e}, "
              f"Spearman {rho:.4f}")
    print(f"{args.device} {args.precision} vs cpu fp32: worst Spearman {worst:.4f} "
          f"(threshold {args.min_spearman})")
    sys.exit(0 if worst >= args.min_spearman else 1)


if __name__ == "__main__":
    main()
