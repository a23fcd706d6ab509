"""Stage `eval_grids` (C4): the grid pointing game, 2x2 mosaics of four correctly and
confidently predicted classes, for each of `evaluation.grids.methods` plain and in SmoothGrad."""

from smoothgrad.compute.evaluation import grid_evaluation, grid_mosaics
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.methods import SmoothGradSettings, method_grid
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.errors import ConfigError
from smoothgrad.pipeline.builders import method_factories, model_on_device
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    settings = cfg.evaluation.grids
    factories = method_factories(cfg.methods)
    missing = [m for m in settings.methods if m not in factories]
    if missing:
        raise ConfigError(f"evaluation.grids.methods names {', '.join(missing)}, which "
                          f"`methods` lacks (it holds {', '.join(factories)})")
    bundle, device = model_on_device(cfg)
    smoothgrad = SmoothGradSettings(cfg.smoothgrad.noise_level, cfg.smoothgrad.n_samples, "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    grid = method_grid({m: factories[m] for m in settings.methods}, bundle, cfg.precision,
                       smoothgrad)
    predictions = read_predictions(paths.get("predictions"))
    mosaics = grid_mosaics(predictions, settings.mosaics, settings.min_prob,
                           settings.correct_only, cfg.seed)
    out = paths.get("grid_eval")
    grid_evaluation({f"{m}/{v}": method for (m, v), method in grid.items()}, bundle, mosaics,
                    predictions, image_files(predictions, dataset_images(cfg.dataset, paths)),
                    percentile=cfg.figures.percentile, seed=cfg.seed, out=out, device=device)
    return f"{len(mosaics)} mosaics x 2 classes x {len(grid) + 1} map kinds -> {out}"


if __name__ == "__main__":
    stage_main("eval_grids", run)
