"""Stage `sweep_noise` (Fig 3 data): SmoothGrad at every noise level of `smoothgrad.noise_levels`,
all in one file so that changing the list replaces it whole (no stale levels)."""

from smoothgrad.compute.sweeps import FigureImages, noise_sweep
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.selection import SelectionRule


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    images = FigureImages.pick(bundle, paths.get("predictions"),
                               dataset_images(cfg.dataset, paths),
                               SelectionRule.of(cfg.figures.fig3), cfg.figures.target)
    levels = [float(v) for v in cfg.smoothgrad.noise_levels]
    noise_sweep(gradient_for(cfg, bundle), smoothgrad_settings(cfg), bundle,
                images, levels, paths.get("noise_sweep"), device)
    return (f"{len(images.entries)} images x {len(levels)} noise levels "
            f"(n={cfg.smoothgrad.n_samples}) -> {paths.get('noise_sweep')}")


if __name__ == "__main__":
    stage_main("sweep_noise", run)
