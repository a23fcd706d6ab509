"""Stage `eval_robustness` (L3, Yeh et al. 2019): max-sensitivity and infidelity of each
method of `evaluation.robustness.methods`, plain and in SmoothGrad; one job per image on the
workers of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.evaluation import evaluation_images, image_jobs
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.jobs import run_jobs, stack
from smoothgrad.compute.later_work import RobustnessEvaluation
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import kind_grid, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz


def build_worker(cfg: dict) -> RobustnessEvaluation:
    cfg = OmegaConf.create(cfg)
    settings = cfg.evaluation.robustness
    bundle, device = model_on_device(cfg)
    grid = kind_grid(cfg, settings.methods, smoothgrad_settings(cfg, aggregate="mean"),
                     "evaluation.robustness.methods")
    return RobustnessEvaluation(bundle, device, grid, radius=settings.radius,
                                perturbations=settings.perturbations,
                                noise_std=settings.noise_std,
                                infidelity_samples=settings.infidelity_samples, seed=cfg.seed)


def run(cfg, paths) -> str:
    settings = cfg.evaluation.robustness
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, settings.images)
    jobs = image_jobs(images, image_files(predictions, dataset_images(cfg.dataset, paths)))
    _, rows = run_jobs(cfg, build_worker, jobs, desc="L3 robustness")
    out = paths.get("robustness_eval")
    save_npz(out, ids=[e["id"] for e in images], **stack(rows))
    return f"{len(images)} images x {2 * len(settings.methods)} map kinds -> {out}"


if __name__ == "__main__":
    stage_main("eval_robustness", run)
