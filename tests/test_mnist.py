"""MNIST: the IDX reader, and short, seeded training runs on a synthetic digit-like task."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from smoothgrad.data.mnist import first_of_each_digit, load_mnist
from smoothgrad.errors import DataError
from smoothgrad.mnist_training import (
    add_training_noise,
    evaluate,
    save_checkpoint,
    train_mnist,
)
from smoothgrad.models.mnist_cnn import build_mnist_cnn


def _write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _synthetic(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class c = a bright 6x6 square at one of 10 places (jittered) on a noisy background:
    learnable in a few hundred steps, unlike real MNIST, and needs no download."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, 28, 28))
    for image, c in zip(images, labels, strict=True):
        r, col = 3 + (c // 5) * 14 + rng.integers(-1, 2), 1 + (c % 5) * 5 + rng.integers(0, 2)
        image[r: r + 6, col: col + 6] = 255
    return torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels)


def _cfg(subset: int | None = None) -> DictConfig:
    """The `mnist.train` node, shrunk to one epoch of batches of 32."""
    return OmegaConf.create({"epochs": 1, "batch_size": 32, "lr": 1e-3, "train_noise_level": 0.5,
                             "subset": subset})


def test_load_mnist_reads_idx(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (5, 28, 28)), np.array([3, 1, 4, 1, 5])
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", 0x803, images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", 0x801, labels)
    x, y = load_mnist(tmp_path, "test")
    assert x.dtype == torch.uint8 and x.shape == (5, 28, 28)
    assert y.dtype == torch.int64 and y.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_array_equal(x.numpy(), images)


def test_load_mnist_rejects_bad_magic(tmp_path: Path) -> None:
    _write_idx(tmp_path / "train-images-idx3-ubyte", 0x803, np.zeros((2, 28, 28)))
    # A gzipped labels file left undecompressed: its magic is 1f 8b 08 ...
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x1f\x8b\x08\x00" + bytes(8))
    with pytest.raises(DataError, match="bad IDX magic number 0x1f8b0800, expected 0x00000801"):
        load_mnist(tmp_path, "train")


def test_load_mnist_rejects_a_truncated_file(tmp_path: Path) -> None:
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", 0x803, np.zeros((2, 28, 28)))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", 0x801, np.zeros(2))
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"shape \(2, 28, 28\) but holds 84 values; run"):
        load_mnist(tmp_path, "test")


def test_load_mnist_missing_file_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train-images-idx3-ubyte: missing; run `make data`"):
        load_mnist(tmp_path, "train")


def test_first_of_each_digit() -> None:
    labels = torch.tensor([7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4, 8])
    assert first_of_each_digit(labels) == [3, 2, 1, 18, 4, 8, 11, 0, 20, 7]
    with pytest.raises(ValueError, match="no image of digit 8"):
        first_of_each_digit(labels[:20])


def test_training_noise_has_the_configured_std() -> None:
    x = torch.full((64, 1, 28, 28), 0.5)
    noisy = add_training_noise(x, 0.5, torch.Generator().manual_seed(0))
    diff = noisy - x
    assert abs(diff.mean().item()) < 0.01
    assert diff.std().item() == pytest.approx(0.5, rel=0.02)
    assert noisy.min() < 0 and noisy.max() > 1  # unclipped, as documented
    assert add_training_noise(x, 0.0, torch.Generator()) is x


def test_short_training_run_learns() -> None:
    images, labels = _synthetic(400, seed=0)
    test_images, test_labels = _synthetic(200, seed=1)
    untrained = build_mnist_cnn().net
    net = train_mnist(_cfg(), images, labels, noise_level=0.0, seed=0, progress=False)
    assert not net.training
    assert evaluate(untrained, test_images, test_labels) < 0.3
    assert evaluate(net, test_images, test_labels) > 0.8  # chance is 0.1


def test_same_seed_same_checkpoint_bytes_and_noise_changes_weights(tmp_path: Path) -> None:
    images, labels = _synthetic(96, seed=0)

    def checkpoint(name: str, noise_level: float, seed: int) -> str:
        net = train_mnist(_cfg(subset=64), images, labels, noise_level=noise_level, seed=seed,
                          progress=False)
        path = tmp_path / name / "model.pt"
        save_checkpoint(net, path)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    first = checkpoint("a", 0.5, seed=0)
    assert checkpoint("b", 0.5, seed=0) == first
    assert checkpoint("c", 0.0, seed=0) != first  # the noise is applied
    assert checkpoint("d", 0.5, seed=1) != first  # the seed matters


def test_checkpoint_loads_into_build_mnist_cnn(tmp_path: Path) -> None:
    images, labels = _synthetic(64, seed=0)
    net = train_mnist(_cfg(), images, labels, noise_level=0.0, seed=0, progress=False)
    save_checkpoint(net, tmp_path / "clean.pt")
    loaded = build_mnist_cnn(str(tmp_path / "clean.pt")).net
    x = images[:8].unsqueeze(1).float() / 255
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)
