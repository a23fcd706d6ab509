"""Stage `line_scan` (Fig 2 data): one pixel's gradient along a tiny random line x + t*eps, as
one job on a worker of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.jobs import run_jobs
from smoothgrad.compute.sweeps import FigureImages, LineScan
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz
from smoothgrad.store.selection import SelectionRule


def build_worker(cfg: dict) -> LineScan:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    rule = cfg.figures.fig2
    return LineScan(bundle, device, gradient_for(cfg, bundle), pixel_rule=rule.pixel,
                    n_t=rule.n_t, epsilon_std=rule.epsilon_std, seed=cfg.seed,
                    batch_size=cfg.smoothgrad.batch_size)


def run(cfg, paths) -> str:
    images = FigureImages.pick(paths.get("predictions"), dataset_images(cfg.dataset, paths),
                               SelectionRule.of(cfg.figures.fig2), cfg.figures.target)
    about, (scan,) = run_jobs(cfg, build_worker, images.jobs[:1], desc="line_scan")
    out = paths.get("line_scan")
    save_npz(out, **scan, id=images.entries[0]["id"], model=about["model"],
             class_name=images.names[0])
    return (f"image {images.entries[0]['id']}, pixel {tuple(scan['pixel'])}, "
            f"{cfg.figures.fig2.n_t} values of t -> {out}")


if __name__ == "__main__":
    stage_main("line_scan", run)
