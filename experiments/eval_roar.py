"""Stage `eval_roar` (L4, Hooker et al. 2019): ROAR on an MNIST subset, rankings from the clean
net's gradient, SmoothGrad, SmoothGrad-squared and VarGrad maps and at random."""

from smoothgrad.compute.later_work import roar_evaluation
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.compute.mnist import TrainSettings
from smoothgrad.device import resolve_device
from smoothgrad.pipeline.builders import method_factories
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    settings = cfg.evaluation.roar
    smoothgrad = SmoothGradSettings(cfg.smoothgrad.noise_level, settings.n_samples, "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    train = TrainSettings(epochs=settings.epochs, batch_size=cfg.mnist.train.batch_size,
                          lr=cfg.mnist.train.lr, train_noise_level=0.0, subset=None)
    out = paths.get("roar_eval")
    roar_evaluation(method_factories(cfg.methods)["gradient"], paths.get("mnist_clean"),
                    paths.get("mnist_data"), smoothgrad, train,
                    train_images=settings.train_images, test_images=settings.test_images,
                    fractions=list(settings.fractions), seed=cfg.seed, out=out,
                    device=resolve_device(cfg.device), precision=cfg.precision)
    return (f"{settings.train_images} train / {settings.test_images} test digits, fractions "
            f"{list(settings.fractions)}, 5 rankings -> {out}")


if __name__ == "__main__":
    stage_main("eval_roar", run)
