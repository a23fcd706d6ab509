"""Stage `eval_robustness` (L3, Yeh et al. 2019): max-sensitivity and infidelity of each
method of `evaluation.robustness.methods`, plain and in SmoothGrad."""

from smoothgrad.compute.evaluation import evaluation_images
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.later_work import robustness_evaluation
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import kind_grid, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    settings = cfg.evaluation.robustness
    bundle, device = model_on_device(cfg)
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, settings.images)
    out = paths.get("robustness_eval")
    grid = kind_grid(cfg, settings.methods, smoothgrad_settings(cfg, aggregate="mean"),
                     "evaluation.robustness.methods")
    robustness_evaluation(grid, bundle, images,
                          image_files(predictions, dataset_images(cfg.dataset, paths)),
                          radius=settings.radius, perturbations=settings.perturbations,
                          noise_std=settings.noise_std,
                          infidelity_samples=settings.infidelity_samples, seed=cfg.seed,
                          out=out, device=device)
    return f"{len(images)} images x {2 * len(settings.methods)} map kinds -> {out}"


if __name__ == "__main__":
    stage_main("eval_robustness", run)
