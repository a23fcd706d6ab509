"""Stage `eval_grids` (C4): the grid pointing game, 2x2 mosaics of four correctly and
confidently predicted classes, for each of `evaluation.grids.methods` plain and in SmoothGrad;
one job per mosaic on the workers of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.evaluation import GridEvaluation, grid_jobs, grid_mosaics
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.jobs import run_jobs, stack
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import kind_grid, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz


def build_worker(cfg: dict) -> GridEvaluation:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    grid = kind_grid(cfg, cfg.evaluation.grids.methods,
                     smoothgrad_settings(cfg, aggregate="mean"), "evaluation.grids.methods")
    return GridEvaluation(bundle, device, grid(bundle), percentile=cfg.figures.percentile,
                          seed=cfg.seed)


def run(cfg, paths) -> str:
    settings = cfg.evaluation.grids
    predictions = read_predictions(paths.get("predictions"))
    mosaics = grid_mosaics(predictions, settings.mosaics, settings.min_prob,
                           settings.correct_only, cfg.seed)
    jobs = grid_jobs(mosaics, predictions,
                     image_files(predictions, dataset_images(cfg.dataset, paths)), cfg.seed)
    _, rows = run_jobs(cfg, build_worker, jobs, desc="C4 grids", unit="mosaic")
    out = paths.get("grid_eval")
    arrays = stack(rows)
    kinds = [key.split("/", 1)[1] for key in arrays if key.startswith("share/")]
    save_npz(out, ids=mosaics, cells=[job[2] for job in jobs], kinds=kinds, **arrays)
    return f"{len(mosaics)} mosaics x 2 classes x {len(kinds)} map kinds -> {out}"


if __name__ == "__main__":
    stage_main("eval_grids", run)
