"""Stage `train_mnist`: the Fig 8 MNIST net trained on clean inputs and with Gaussian input noise,
their training curves (DVCLive, one folder per net) and their clean test accuracy (a metric)."""

from smoothgrad.compute.mnist import MODELS, TrainSettings, train_models
from smoothgrad.device import resolve_device
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    return train_models(TrainSettings(**cfg.mnist.train), paths.get("mnist_data"),
                        {m: paths.get(f"mnist_{m}") for m in MODELS},
                        {m: paths.get("mnist_training_log") / m for m in MODELS},
                        paths.get("mnist_accuracy"), seed=cfg.seed,
                        device=resolve_device(cfg.device), precision=cfg.precision)


if __name__ == "__main__":
    stage_main("train_mnist", run)
