"""Stage `eval_sigma` (C2): SmoothGrad of the gradient at each noise level of
`evaluation.sigma.noise_levels`, its noise measures and deletion AUC, per image."""

from smoothgrad.compute.evaluation import Deletion, evaluation_images, sigma_evaluation
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    settings = cfg.evaluation.sigma
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, settings.images)
    gradient = gradient_for(cfg, bundle)
    smoothgrad = SmoothGradSettings(0.0, settings.n_samples, "mean", cfg.smoothgrad.batch_size,
                                    cfg.seed)
    levels = [float(v) for v in settings.noise_levels]
    out = paths.get("sigma_eval")
    sigma_evaluation(gradient, smoothgrad, bundle, images,
                     image_files(predictions, dataset_images(cfg.dataset, paths)), levels,
                     Deletion(**cfg.evaluation.deletion), percentile=cfg.figures.percentile,
                     cutoff=cfg.evaluation.cutoff, out=out, device=device)
    return f"{len(images)} images x noise levels {levels} (n={settings.n_samples}) -> {out}"


if __name__ == "__main__":
    stage_main("eval_sigma", run)
