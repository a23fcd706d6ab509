"""Stage `eval_sanity` (L1, Adebayo et al. 2018): every map kind of `evaluation.sanity.methods`
on the model with its blocks re-drawn one by one from the logits down, against the original."""

from smoothgrad.compute.evaluation import evaluation_images
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.later_work import sanity_evaluation
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import kind_grid, model_on_device
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    settings = cfg.evaluation.sanity
    bundle, device = model_on_device(cfg)
    smoothgrad = SmoothGradSettings(cfg.smoothgrad.noise_level, settings.n_samples, "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, settings.images)
    out = paths.get("sanity_eval")
    sanity_evaluation(kind_grid(cfg, settings.methods, smoothgrad, "evaluation.sanity.methods"),
                      bundle, images, image_files(predictions, dataset_images(cfg.dataset, paths)),
                      seed=cfg.seed, out=out, device=device)
    return f"{len(images)} images, cascade over every block of {bundle.name} -> {out}"


if __name__ == "__main__":
    stage_main("eval_sanity", run)
