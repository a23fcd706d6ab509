"""Stage `eval_grids` (C4): the grid pointing game, 2x2 mosaics of four correctly and
confidently predicted classes, for each of `evaluation.grids.methods` plain and in SmoothGrad."""

from smoothgrad.compute.evaluation import grid_evaluation, grid_mosaics
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import kind_grid, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    settings = cfg.evaluation.grids
    grid = kind_grid(cfg, settings.methods, smoothgrad_settings(cfg, aggregate="mean"),
                     "evaluation.grids.methods")
    bundle, device = model_on_device(cfg)
    methods = grid(bundle)
    predictions = read_predictions(paths.get("predictions"))
    mosaics = grid_mosaics(predictions, settings.mosaics, settings.min_prob,
                           settings.correct_only, cfg.seed)
    out = paths.get("grid_eval")
    grid_evaluation(methods, bundle, mosaics, predictions,
                    image_files(predictions, dataset_images(cfg.dataset, paths)),
                    percentile=cfg.figures.percentile, seed=cfg.seed, out=out, device=device)
    return f"{len(mosaics)} mosaics x 2 classes x {len(methods) + 1} map kinds -> {out}"


if __name__ == "__main__":
    stage_main("eval_grids", run)
