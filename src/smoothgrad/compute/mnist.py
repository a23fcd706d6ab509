"""The MNIST side of the pipeline (Fig 8): train the net on clean inputs and with Gaussian input
noise (logging its curves with DVCLive), evaluate it, and store the gradient and SmoothGrad maps
of one test digit per class."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..data.mnist import first_of_each_digit, load_mnist
from ..device import check_precision, precision_context
from ..models.mnist_cnn import MnistCNN, build_mnist_cnn
from ..store.arrays import save_npz, write_bytes, write_json
from .methods import MethodFactory, SmoothGradSettings, build_method

MODELS = ("clean", "noisy")
LOG_EVERY = 25  # optimizer steps between two `train/loss` points of the training log


@dataclass(frozen=True)
class TrainSettings:
    """How the two nets are trained (`mnist.train` in config)."""

    epochs: int
    batch_size: int
    lr: float
    train_noise_level: float  # std of the input noise of the noise-trained net, [0, 1] range
    subset: int | None = None  # first N training images; None = all 60k

# Independent random streams drawn from one seed.
_SHUFFLE, _NOISE = 0, 1


def _generator(seed: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator for one stream of `seed`; SeedSequence keeps (seed, stream) pairs apart."""
    state = int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])
    return torch.Generator(device=device).manual_seed(state)


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1], the net's input space."""
    return images.unsqueeze(1).float().div_(255)


def add_training_noise(
    x: torch.Tensor, noise_level: float, generator: torch.Generator
) -> torch.Tensor:
    """x + N(0, noise_level^2), noise_level being a fraction of the [0, 1] pixel range.

    Not clipped to [0, 1]: the noise stays exactly Gaussian with the stated std, as in
    SmoothGrad's own noise at explanation time (also unclipped). Clipping would shift the
    mostly-black MNIST background up by ~0.4 * noise_level on average, a different perturbation.
    """
    if noise_level == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + noise_level * noise


class TrainingLog:
    """The curves of one training run, written by DVCLive to `folder` against `step`, the count
    of optimizer steps so far: `train/loss`, the mean batch loss since the previous point (every
    `every` steps and at each epoch's end), and per epoch `train/epoch_loss` and `test/accuracy`
    (on the clean test images). Files: `plots/metrics/{train/loss,train/epoch_loss,
    test/accuracy}.tsv` (columns `step` and the metric's last name part) and `metrics.json` (the
    last values). No timestamps, dvc.yaml, params, report or DVC experiment: the bytes depend on
    the logged numbers only. A context manager; the files are complete on exit."""

    def __init__(self, folder: str | Path, test_images: torch.Tensor, test_labels: torch.Tensor,
                 *, device: torch.device | str = "cpu", every: int = LOG_EVERY) -> None:
        self._test, self._device, self._every = (test_images, test_labels), device, every
        self._step = 0
        self._window: list[float] = []
        self._epoch: list[float] = []
        from dvclive import Live  # ~1 s of imports, here: the mnist_maps stage never logs

        self._live = Live(dir=str(folder), save_dvc_exp=False, dvcyaml=False, report=None)

    def __enter__(self) -> TrainingLog:
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.__exit__(*exc_info)

    def _log(self, name: str, value: float) -> None:
        self._live.step = self._step
        self._live.log_metric(name, value, timestamp=False)

    def _flush(self) -> None:
        if self._window:
            self._log("train/loss", sum(self._window) / len(self._window))
            self._window.clear()

    def batch(self, loss: float) -> None:
        """Record one optimizer step's batch loss."""
        self._step += 1
        self._window.append(loss)
        self._epoch.append(loss)
        if len(self._window) == self._every:
            self._flush()

    def end_epoch(self, net: nn.Module) -> None:
        """Log the epoch's mean loss and `net`'s test accuracy (`net` keeps its mode)."""
        self._flush()
        self._log("train/epoch_loss", sum(self._epoch) / len(self._epoch))
        self._epoch.clear()
        training = net.training
        self._log("test/accuracy", evaluate(net, *self._test, device=self._device))
        net.train(training)


@contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic kernels for the duration (warn_only: CUDA lacks some, the CPU has all)."""
    previous, previous_warn = (torch.are_deterministic_algorithms_enabled(),
                               torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def train_mnist(
    settings: TrainSettings,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    noise_level: float,
    seed: int,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    progress: bool = True,
    desc: str = "mnist",
    log: TrainingLog | None = None,
) -> nn.Module:
    """Train `MnistCNN` with Adam (epochs, batch_size, lr, subset of `settings`) on uint8 images.

    Deterministic for a given seed: the initial weights and dropout masks come from the global
    RNG seeded inside `fork_rng` (the caller's RNG state is untouched), the shuffling and the
    input noise from their own generators. A clean and a noisy run with the same seed therefore
    share initial weights, batch order and dropout masks and differ only by the noise.
    `precision="bf16"` autocasts forward passes (fast on CPUs with AMX). `log`, if given, gets
    every batch loss and each epoch's end (its evaluation draws no random numbers). Returns the
    net in eval mode, on `device`.
    """
    check_precision(precision)
    device = torch.device(device)
    if settings.subset is not None:
        images, labels = images[: settings.subset], labels[: settings.subset]
    n, batch_size = len(images), int(settings.batch_size)
    shuffle_gen, noise_gen = _generator(seed, _SHUFFLE), _generator(seed, _NOISE, device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), _deterministic():
        torch.manual_seed(seed)
        # channels_last: oneDNN's fastest convolution layout on the CPU (and fine on GPUs).
        net = MnistCNN().to(device, memory_format=torch.channels_last).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=float(settings.lr))
        bar = tqdm(total=settings.epochs * n, unit="img", unit_scale=True, desc=desc,
                   disable=not progress, dynamic_ncols=True)
        for epoch in range(settings.epochs):
            order = torch.randperm(n, generator=shuffle_gen)
            for start in range(0, n, batch_size):
                idx = order[start: start + batch_size]
                x = to_pixels(images[idx]).to(device, memory_format=torch.channels_last)
                x = add_training_noise(x, noise_level, noise_gen)
                with precision_context(device.type, precision):
                    loss = F.cross_entropy(net(x), labels[idx].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_value = loss.item()
                if log is not None:
                    log.batch(loss_value)
                bar.update(len(idx))
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_value:.3f}", refresh=False)
            if log is not None:
                log.end_epoch(net)
        bar.close()
    return net.to(memory_format=torch.contiguous_format).eval()


@torch.no_grad()
def correct(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
            device: torch.device | str = "cpu", batch_size: int = 1000) -> np.ndarray:
    """(N,) bool: whether `net` (fp32, eval mode) gets each uint8 image right."""
    net.eval()
    hits = []
    for start in range(0, len(images), batch_size):
        x = to_pixels(images[start: start + batch_size]).to(device)
        with torch.no_grad():
            pred = net(x).argmax(dim=1).cpu()
        hits.append((pred == labels[start: start + batch_size]).numpy())
    return np.concatenate(hits)


def evaluate(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
             device: torch.device | str = "cpu", batch_size: int = 1000) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of `net` on uint8 images, in fp32 and eval mode."""
    return float(correct(net, images, labels, device=device, batch_size=batch_size).mean())


def save_checkpoint(net: nn.Module, path: str | Path) -> None:
    """`torch.save` of the state dict, byte-identical for identical weights.

    Saving through a buffer fixes the archive's internal folder name (torch.save names it after
    the file, so the same weights saved to two paths would differ); contiguous CPU tensors make
    the bytes independent of the training device and memory format.
    """
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes(path, buf.getvalue())  # atomic: a killed save leaves no truncated checkpoint


def train_models(settings: TrainSettings, data_dir: Path, checkpoints: dict[str, Path],
                 logs: dict[str, Path], metrics: Path, *, seed: int, device: torch.device,
                 precision: str) -> str:
    """Train the clean and the noise-trained net with the same seed, save both checkpoints
    (keys of `MODELS` in `checkpoints`), their training curves (`TrainingLog` folders, same keys
    in `logs`) and their clean test accuracy as a metric (no timings there, so that the metric
    is deterministic). Returns the stage's summary line."""
    train_images, train_labels = load_mnist(data_dir, "train")
    test_images, test_labels = load_mnist(data_dir, "test")
    accuracy: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    for name, noise_level in zip(MODELS, (0.0, settings.train_noise_level), strict=True):
        with TrainingLog(logs[name], test_images, test_labels, device=device) as log:
            net = train_mnist(settings, train_images, train_labels, noise_level=noise_level,
                              seed=seed, device=device, precision=precision, desc=name, log=log)
        save_checkpoint(net, checkpoints[name])
        accuracy[name] = {"test_accuracy": evaluate(net, test_images, test_labels,
                                                    device=device)}
    accuracy["noisy"]["train_noise_level"] = settings.train_noise_level
    write_json(metrics, accuracy)
    return (f"clean {accuracy['clean']['test_accuracy']:.2%}, noisy "
            f"(sigma={settings.train_noise_level}) {accuracy['noisy']['test_accuracy']:.2%} "
            f"clean test accuracy; {settings.epochs} epochs x 2 models in "
            f"{time.perf_counter() - start:.0f} s on {device} ({precision})")


def digit_maps(gradient: MethodFactory, checkpoints: dict[str, Path], data_dir: Path,
               smoothgrad: SmoothGradSettings, out: Path, *, device: torch.device,
               precision: str) -> list[int]:
    """Fig 8's arrays: for the first test image of each digit, the gradient and SmoothGrad of
    the true digit's logit from each net. Writes `out` with `index`, `label`, `image`
    (10, 28, 28) in [0, 1] and, per model in MODELS, `<model>/prediction` and
    `<model>/{gradient,smoothgrad}` (10, 28, 28). Returns the test indices."""
    images, labels = load_mnist(data_dir, "test")
    index = first_of_each_digit(labels)
    x, target = to_pixels(images[index]).to(device), labels[index].to(device)
    arrays = {"index": np.array(index), "label": labels[index].numpy(),
              "image": x[:, 0].cpu().numpy()}
    for name in MODELS:
        bundle = build_mnist_cnn(str(checkpoints[name])).to(device)
        method = build_method(gradient, bundle, precision)
        with torch.no_grad():
            arrays[f"{name}/prediction"] = bundle.net(x).argmax(1).cpu().numpy()
        arrays[f"{name}/gradient"] = method.attribute(x, target)[:, 0].cpu().numpy()
        arrays[f"{name}/smoothgrad"] = (smoothgrad.around(method).attribute(x, target)[:, 0]
                                        .cpu().numpy())
    save_npz(out, **arrays, noise_level=np.array(smoothgrad.noise_level),
             n_samples=np.array(smoothgrad.n_samples))
    return index
