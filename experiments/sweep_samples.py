"""Stage `sweep_samples` (Fig 4 data): SmoothGrad at every n of `smoothgrad.sample_counts`, as
running means of one run of the largest n, in one file (changing the list replaces it); one job
per image on the workers of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.jobs import run_jobs
from smoothgrad.compute.sweeps import FigureImages, SamplesSweep
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz
from smoothgrad.store.selection import SelectionRule


def counts(cfg) -> list[int]:
    return sorted(int(v) for v in cfg.smoothgrad.sample_counts)


def build_worker(cfg: dict) -> SamplesSweep:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    return SamplesSweep(bundle, device, gradient_for(cfg, bundle), smoothgrad_settings(cfg),
                        counts(cfg), float(cfg.smoothgrad.sweep_noise_level))


def run(cfg, paths) -> str:
    images = FigureImages.pick(paths.get("predictions"), dataset_images(cfg.dataset, paths),
                               SelectionRule.of(cfg.figures.fig4), cfg.figures.target)
    about, rows = run_jobs(cfg, build_worker, images.jobs, desc="sweep_samples")
    level, out = float(cfg.smoothgrad.sweep_noise_level), paths.get("samples_sweep")
    save_npz(out, **images.arrays(about, rows, counts(cfg)), noise_level=level)
    return (f"{len(images.entries)} images x n in {counts(cfg)} (noise {level:.0%}, one run of "
            f"{counts(cfg)[-1]}) -> {out}")


if __name__ == "__main__":
    stage_main("sweep_samples", run)
