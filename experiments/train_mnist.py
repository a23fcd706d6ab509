"""Stage train_mnist: the Fig 8 MNIST net trained on clean inputs and with Gaussian input noise.

Writes `<mnist.checkpoint_dir>/{clean,noisy}.pt` and `reports/metrics/mnist.json` (clean test
accuracy of both; no timings there, so that the metric is deterministic).
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.data.mnist import load_mnist
from smoothgrad.device import configure_cpu_numerics, resolve_device
from smoothgrad.io import write_json
from smoothgrad.mnist_training import evaluate, save_checkpoint, train_mnist


def run(cfg: DictConfig) -> None:
    configure_cpu_numerics()
    device = resolve_device(cfg.device)
    train_images, train_labels = load_mnist(cfg.mnist.data_dir, "train")
    test_images, test_labels = load_mnist(cfg.mnist.data_dir, "test")
    noise = float(cfg.mnist.train.train_noise_level)
    metrics: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    for name, noise_level in (("clean", 0.0), ("noisy", noise)):
        net = train_mnist(cfg.mnist.train, train_images, train_labels, noise_level=noise_level,
                          seed=cfg.seed, device=device, precision=cfg.precision, desc=name)
        save_checkpoint(net, Path(cfg.mnist.checkpoint_dir) / f"{name}.pt")
        metrics[name] = {"test_accuracy": evaluate(net, test_images, test_labels, device=device)}
    metrics["noisy"]["train_noise_level"] = noise
    write_json(Path(cfg.paths.reports) / "metrics" / "mnist.json", metrics)
    print(f"train_mnist: clean {metrics['clean']['test_accuracy']:.2%}, noisy (sigma={noise}) "
          f"{metrics['noisy']['test_accuracy']:.2%} clean test accuracy; "
          f"{cfg.mnist.train.epochs} epochs x 2 models in {time.perf_counter() - start:.0f} s "
          f"on {device} ({cfg.precision})")


if __name__ == "__main__":
    stage_main(run)
