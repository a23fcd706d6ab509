"""Stage `sweep_noise` (Fig 3 data): SmoothGrad at every noise level of `smoothgrad.noise_levels`,
all in one file so that changing the list replaces it whole (no stale levels); one job per image
on the workers of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.jobs import run_jobs
from smoothgrad.compute.sweeps import FigureImages, NoiseSweep
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz
from smoothgrad.store.selection import SelectionRule


def levels(cfg) -> list[float]:
    return [float(v) for v in cfg.smoothgrad.noise_levels]


def build_worker(cfg: dict) -> NoiseSweep:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    return NoiseSweep(bundle, device, gradient_for(cfg, bundle), smoothgrad_settings(cfg),
                      levels(cfg))


def run(cfg, paths) -> str:
    images = FigureImages.pick(paths.get("predictions"), dataset_images(cfg.dataset, paths),
                               SelectionRule.of(cfg.figures.fig3), cfg.figures.target)
    about, rows = run_jobs(cfg, build_worker, images.jobs, desc="sweep_noise")
    out = paths.get("noise_sweep")
    save_npz(out, **images.arrays(about, rows, levels(cfg)),
             n_samples=cfg.smoothgrad.n_samples)
    return (f"{len(images.entries)} images x {len(levels(cfg))} noise levels "
            f"(n={cfg.smoothgrad.n_samples}) -> {out}")


if __name__ == "__main__":
    stage_main("sweep_noise", run)
