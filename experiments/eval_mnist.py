"""Stage `eval_mnist` (C6): noise of the gradient and SmoothGrad maps of the clean and the
noise-trained MNIST nets on `evaluation.mnist_images` test digits."""

from smoothgrad.compute.evaluation import mnist_evaluation
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.compute.mnist import MODELS
from smoothgrad.device import resolve_device
from smoothgrad.pipeline.builders import method_factories
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    sg = cfg.smoothgrad
    smoothgrad = SmoothGradSettings(sg.noise_level, sg.n_samples, "mean", sg.batch_size, cfg.seed)
    out = paths.get("mnist_eval")
    mnist_evaluation(method_factories(cfg.methods)["gradient"],
                     {m: paths.get(f"mnist_{m}") for m in MODELS}, paths.get("mnist_data"),
                     smoothgrad, cfg.evaluation.mnist_images, percentile=cfg.figures.percentile,
                     cutoff=cfg.evaluation.cutoff, out=out, device=resolve_device(cfg.device),
                     precision=cfg.precision)
    return f"{cfg.evaluation.mnist_images} test digits x 2 nets x 2 maps -> {out}"


if __name__ == "__main__":
    stage_main("eval_mnist", run)
