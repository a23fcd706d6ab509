"""Stage `eval_convergence` (C3): the SmoothGrad map's distance to its largest-n map at each n
of `evaluation.convergence.sample_counts` (running means of one run); one job per image on the
workers of `executor`."""

from omegaconf import OmegaConf

from smoothgrad.compute.evaluation import ConvergenceEvaluation, evaluation_images, image_jobs
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.jobs import run_jobs, stack
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz


def counts(cfg) -> list[int]:
    return sorted(int(n) for n in cfg.evaluation.convergence.sample_counts)


def build_worker(cfg: dict) -> ConvergenceEvaluation:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    smoothgrad = SmoothGradSettings(cfg.smoothgrad.noise_level, counts(cfg)[-1], "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    return ConvergenceEvaluation(bundle, device, gradient_for(cfg, bundle), smoothgrad,
                                 counts(cfg), percentile=cfg.figures.percentile)


def run(cfg, paths) -> str:
    predictions = read_predictions(paths.get("predictions"))
    images = evaluation_images(predictions, cfg.evaluation.convergence.images)
    jobs = image_jobs(images, image_files(predictions, dataset_images(cfg.dataset, paths)))
    _, rows = run_jobs(cfg, build_worker, jobs, desc="C3 sample counts")
    out = paths.get("convergence_eval")
    save_npz(out, ids=[e["id"] for e in images], sample_counts=counts(cfg), **stack(rows))
    return f"{len(images)} images x n in {counts(cfg)} -> {out}"


if __name__ == "__main__":
    stage_main("eval_convergence", run)
