"""Stage `eval_convergence` (C3): the SmoothGrad map's distance to its largest-n map at each n
of `evaluation.convergence.sample_counts` (running means of one run), per image."""

from smoothgrad.compute.evaluation import convergence_evaluation, evaluation_images
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    settings = cfg.evaluation.convergence
    counts = sorted(int(n) for n in settings.sample_counts)
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, settings.images)
    gradient = gradient_for(cfg, bundle)
    smoothgrad = SmoothGradSettings(cfg.smoothgrad.noise_level, counts[-1], "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    out = paths.get("convergence_eval")
    convergence_evaluation(gradient, smoothgrad, bundle, images,
                           image_files(predictions, dataset_images(cfg.dataset, paths)), counts,
                           percentile=cfg.figures.percentile, out=out, device=device)
    return f"{len(images)} images x n in {counts} -> {out}"


if __name__ == "__main__":
    stage_main("eval_convergence", run)
