"""Stage `two_objects` (Fig 6 data): each method's map of each two-object photo for both of its
classes; one job per photo on the workers of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.jobs import run_jobs
from smoothgrad.compute.methods import build_method
from smoothgrad.compute.sweeps import TwoObjectMaps
from smoothgrad.pipeline.builders import method_factories, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz


def build_worker(cfg: dict) -> TwoObjectMaps:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    methods = {name: build_method(factory, bundle, cfg.precision)
               for name, factory in method_factories(cfg.methods).items()}
    return TwoObjectMaps(bundle, device, methods, smoothgrad_settings(cfg))


def run(cfg, paths) -> str:
    photos = [(paths.get("two_object_photos") / p.file, list(p.classes))
              for p in cfg.figures.fig6.photos]
    about, rows = run_jobs(cfg, build_worker, photos, desc="two_objects")
    out = paths.get("two_objects")
    save_npz(out, methods=about["methods"], model=about["model"],
             n_samples=cfg.smoothgrad.n_samples, noise_level=cfg.smoothgrad.noise_level,
             **{f"{i}/{name}": value for i, row in enumerate(rows) for name, value in row.items()})
    return (f"{len(photos)} photos x {len(about['methods'])} map columns x 2 classes -> {out}")


if __name__ == "__main__":
    stage_main("two_objects", run)
