"""Stage `eval_sigma` (C2): SmoothGrad of the gradient at each noise level of
`evaluation.sigma.noise_levels`, its noise measures and deletion AUC; one job per image on the
workers of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.evaluation import (
    Deletion,
    SigmaEvaluation,
    evaluation_images,
    image_jobs,
)
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.jobs import run_jobs, stack
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz


def levels(cfg) -> list[float]:
    return [float(v) for v in cfg.evaluation.sigma.noise_levels]


def build_worker(cfg: dict) -> SigmaEvaluation:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    smoothgrad = SmoothGradSettings(0.0, cfg.evaluation.sigma.n_samples, "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    return SigmaEvaluation(bundle, device, gradient_for(cfg, bundle), smoothgrad, levels(cfg),
                           Deletion(**cfg.evaluation.deletion),
                           percentile=cfg.figures.percentile, cutoff=cfg.evaluation.cutoff)


def run(cfg, paths) -> str:
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, cfg.evaluation.sigma.images)
    jobs = image_jobs(images, image_files(predictions, dataset_images(cfg.dataset, paths)))
    _, rows = run_jobs(cfg, build_worker, jobs, desc="C2 noise levels")
    out = paths.get("sigma_eval")
    save_npz(out, ids=[e["id"] for e in images], noise_levels=levels(cfg), **stack(rows))
    return (f"{len(images)} images x noise levels {levels(cfg)} "
            f"(n={cfg.evaluation.sigma.n_samples}) -> {out}")


if __name__ == "__main__":
    stage_main("eval_sigma", run)
