"""Train and evaluate the MNIST net of Fig 8, on clean inputs or with Gaussian input noise."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn
from tqdm import tqdm

from .device import check_precision, precision_context
from .models.mnist_cnn import MnistCNN

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
    cfg_train: DictConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    noise_level: float,
    seed: int,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    progress: bool = True,
    desc: str = "mnist",
) -> nn.Module:
    """Train `MnistCNN` with Adam (cfg_train: epochs, batch_size, lr, subset) on uint8 images.

    Deterministic for a given seed: the initial weights and dropout masks come from the global
    RNG seeded inside `fork_rng` (the caller's RNG state is untouched), the shuffling and the
    input noise from their own generators. A clean and a noisy run with the same seed therefore
    share initial weights, batch order and dropout masks and differ only by the noise.
    `precision="bf16"` autocasts forward passes (fast on CPUs with AMX). Returns the net in
    eval mode, on `device`.
    """
    check_precision(precision)
    device = torch.device(device)
    if cfg_train.subset is not None:
        images, labels = images[: cfg_train.subset], labels[: cfg_train.subset]
    n, batch_size = len(images), int(cfg_train.batch_size)
    shuffle_gen, noise_gen = _generator(seed, _SHUFFLE), _generator(seed, _NOISE, device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), _deterministic():
        torch.manual_seed(seed)
        # channels_last: oneDNN's fastest convolution layout on the CPU (and fine on GPUs).
        net = MnistCNN().to(device, memory_format=torch.channels_last).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=float(cfg_train.lr))
        bar = tqdm(total=cfg_train.epochs * n, unit="img", unit_scale=True, desc=desc,
                   disable=not progress, dynamic_ncols=True)
        for epoch in range(cfg_train.epochs):
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
                bar.update(len(idx))
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
        bar.close()
    return net.to(memory_format=torch.contiguous_format).eval()


@torch.no_grad()
def evaluate(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 1000,
) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of `net` on uint8 images, in fp32 and eval mode."""
    net.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        x = to_pixels(images[start: start + batch_size]).to(device)
        pred = net(x).argmax(dim=1).cpu()
        correct += int((pred == labels[start: start + batch_size]).sum())
    return correct / len(images)


def save_checkpoint(net: nn.Module, path: str | Path) -> None:
    """`torch.save` of the state dict, byte-identical for identical weights.

    Saving through a buffer fixes the archive's internal folder name (torch.save names it after
    the file, so the same weights saved to two paths would differ); contiguous CPU tensors make
    the bytes independent of the training device and memory format.
    """
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
