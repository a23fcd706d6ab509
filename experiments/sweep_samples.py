"""Stage `sweep_samples` (Fig 4 data): SmoothGrad at every n of `smoothgrad.sample_counts`, as
running means of one run of the largest n, in one file (changing the list replaces it)."""

from smoothgrad.compute.sweeps import FigureImages, samples_sweep
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.selection import SelectionRule


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    images = FigureImages.pick(bundle, paths.get("predictions"),
                               dataset_images(cfg.dataset, paths),
                               SelectionRule.of(cfg.figures.fig4), cfg.figures.target)
    counts = sorted(int(v) for v in cfg.smoothgrad.sample_counts)
    level = float(cfg.smoothgrad.sweep_noise_level)
    samples_sweep(gradient_for(cfg, bundle), smoothgrad_settings(cfg),
                  bundle, images, counts, level, paths.get("samples_sweep"), device)
    return (f"{len(images.entries)} images x n in {counts} (noise {level:.0%}, one run of "
            f"{counts[-1]}) -> {paths.get('samples_sweep')}")


if __name__ == "__main__":
    stage_main("sweep_samples", run)
