"""Stage `eval_sanity` (L1, Adebayo et al. 2018): every map kind of `evaluation.sanity.methods`
on the model with its blocks re-drawn one by one from the logits down, against the original;
one job per block on the workers of `executor`."""

from pathlib import Path

from omegaconf import OmegaConf

from smoothgrad.compute.evaluation import evaluation_images, image_jobs
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.jobs import run_jobs, stack
from smoothgrad.compute.later_work import SanityEvaluation
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import kind_grid, model_on_device
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz


def build_worker(cfg: dict, images: list[tuple[Path, int]]) -> SanityEvaluation:
    cfg = OmegaConf.create(cfg)
    settings = cfg.evaluation.sanity
    bundle, device = model_on_device(cfg)
    smoothgrad = SmoothGradSettings(cfg.smoothgrad.noise_level, settings.n_samples, "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    grid = kind_grid(cfg, settings.methods, smoothgrad, "evaluation.sanity.methods")
    return SanityEvaluation(bundle, device, grid, images, seed=cfg.seed)


def run(cfg, paths) -> str:
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, cfg.evaluation.sanity.images)
    files = image_jobs(images, image_files(predictions, dataset_images(cfg.dataset, paths)))
    about, rows = run_jobs(cfg, build_worker, lambda about: range(len(about["blocks"])),
                           args=(files,), desc="L1 cascade", unit="block")
    out = paths.get("sanity_eval")
    save_npz(out, blocks=about["blocks"], ids=[e["id"] for e in images],
             **{key: value.T for key, value in stack(rows).items()})
    return (f"{len(images)} images, cascade over the {len(about['blocks'])} blocks of "
            f"{about['model']} -> {out}")


if __name__ == "__main__":
    stage_main("eval_sanity", run)
