"""MNIST: the IDX reader, short seeded training runs on a synthetic digit-like task, and the
Fig 8 stages' functions (both nets trained and scored, each digit's maps stored)."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from smoothgrad.attribution import Gradient
from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.compute.mnist import (
    MODELS,
    TrainingLog,
    TrainSettings,
    add_training_noise,
    digit_maps,
    evaluate,
    save_checkpoint,
    to_pixels,
    train_mnist,
    train_models,
)
from smoothgrad.data.mnist import first_of_each_digit, load_mnist
from smoothgrad.errors import DataError
from smoothgrad.models.mnist_cnn import build_mnist_cnn
from smoothgrad.store.arrays import load_npz


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


def _settings(subset: int | None = None) -> TrainSettings:
    """The `mnist.train` settings, shrunk to one epoch of batches of 32."""
    return TrainSettings(epochs=1, batch_size=32, lr=1e-3, train_noise_level=0.5, subset=subset)


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
    net = train_mnist(_settings(), images, labels, noise_level=0.0, seed=0, progress=False)
    assert not net.training
    assert evaluate(untrained, test_images, test_labels) < 0.3
    assert evaluate(net, test_images, test_labels) > 0.8  # chance is 0.1


def test_same_seed_same_checkpoint_bytes_and_noise_changes_weights(tmp_path: Path) -> None:
    images, labels = _synthetic(96, seed=0)

    def checkpoint(name: str, noise_level: float, seed: int) -> str:
        net = train_mnist(_settings(subset=64), images, labels, noise_level=noise_level, seed=seed,
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
    net = train_mnist(_settings(), images, labels, noise_level=0.0, seed=0, progress=False)
    save_checkpoint(net, tmp_path / "clean.pt")
    loaded = build_mnist_cnn(str(tmp_path / "clean.pt")).net
    x = images[:8].unsqueeze(1).float() / 255
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)


def _mnist_folder(root: Path, n_train: int = 64, n_test: int = 40) -> Path:
    """The four IDX files of a synthetic MNIST (every digit in the test split)."""
    root.mkdir(parents=True)
    for split, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = _synthetic(n, seed)
        labels[:10] = torch.arange(10)
        _write_idx(root / f"{split}-images-idx3-ubyte", 0x803, images.numpy())
        _write_idx(root / f"{split}-labels-idx1-ubyte", 0x801, labels.numpy())
    return root


def test_train_models_saves_both_nets_and_their_clean_accuracy(tmp_path: Path) -> None:
    data = _mnist_folder(tmp_path / "mnist")
    checkpoints = {m: tmp_path / "out" / f"{m}.pt" for m in MODELS}
    logs = {m: tmp_path / "logs" / m for m in MODELS}
    metrics = tmp_path / "metrics" / "mnist.json"
    summary = train_models(_settings(), data, checkpoints, logs, metrics, seed=0,
                           device=torch.device("cpu"), precision="fp32")
    scores = json.loads(metrics.read_text())
    assert set(scores) == {"clean", "noisy"} and scores["noisy"]["train_noise_level"] == 0.5
    test_images, test_labels = load_mnist(data, "test")
    for name in MODELS:  # each checkpoint is the net its accuracy was measured on
        net = build_mnist_cnn(str(checkpoints[name])).net
        assert scores[name]["test_accuracy"] == evaluate(net, test_images, test_labels)
    assert checkpoints["clean"].read_bytes() != checkpoints["noisy"].read_bytes()
    assert summary.startswith(f"clean {scores['clean']['test_accuracy']:.2%}, noisy (sigma=0.5)")


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


LOG_FILES = {"metrics.json", "plots/metrics/train/loss.tsv",
             "plots/metrics/train/epoch_loss.tsv", "plots/metrics/test/accuracy.tsv"}


def test_training_log_windows_the_loss_and_scores_each_epoch(tmp_path: Path) -> None:
    test_images, test_labels = _synthetic(20, seed=1)
    net = build_mnist_cnn().net.train()
    with TrainingLog(tmp_path / "log", test_images, test_labels, every=3) as log:
        for loss in range(1, 8):
            log.batch(float(loss))
        log.end_epoch(net)
    assert net.training  # end_epoch evaluates in eval mode, then restores the mode
    assert _tsv(tmp_path / "log/plots/metrics/train/loss.tsv") == [
        {"step": "3", "loss": "2.0"}, {"step": "6", "loss": "5.0"}, {"step": "7", "loss": "7.0"}]
    assert _tsv(tmp_path / "log/plots/metrics/train/epoch_loss.tsv") == [
        {"step": "7", "epoch_loss": "4.0"}]
    accuracy = evaluate(net, test_images, test_labels)
    assert _tsv(tmp_path / "log/plots/metrics/test/accuracy.tsv") == [
        {"step": "7", "accuracy": str(accuracy)}]
    assert json.loads((tmp_path / "log/metrics.json").read_text()) == {
        "train": {"loss": 7.0, "epoch_loss": 4.0}, "test": {"accuracy": accuracy}, "step": 7}


def test_train_models_logs_both_runs_curves_deterministically(tmp_path: Path) -> None:
    data = _mnist_folder(tmp_path / "mnist")
    settings = replace(_settings(), epochs=2)  # 2 steps per epoch

    def run(name: str) -> dict[str, dict[str, bytes]]:
        out = tmp_path / name
        logs = {m: out / "logs" / m for m in MODELS}
        train_models(settings, data, {m: out / f"{m}.pt" for m in MODELS}, logs,
                     out / "mnist.json", seed=0, device=torch.device("cpu"), precision="fp32")
        return {m: {f.relative_to(logs[m]).as_posix(): f.read_bytes()
                    for f in logs[m].rglob("*") if f.is_file()} for m in MODELS}

    first = run("a")
    assert run("b") == first  # byte-identical: no timestamps, no run-specific names
    for name in MODELS:
        assert set(first[name]) == LOG_FILES  # no dvc.yaml, params, report or images
        log = tmp_path / "a" / "logs" / name / "plots" / "metrics"
        for metric, column in (("train/loss", "loss"), ("train/epoch_loss", "epoch_loss"),
                               ("test/accuracy", "accuracy")):
            rows = _tsv(log / f"{metric}.tsv")
            assert [list(row) for row in rows] == [["step", column]] * 2  # one point per epoch
            assert [row["step"] for row in rows] == ["2", "4"]
        scores = json.loads((tmp_path / "a" / "mnist.json").read_text())
        assert float(rows[-1]["accuracy"]) == scores[name]["test_accuracy"]
    assert first["clean"]["plots/metrics/train/loss.tsv"] != first["noisy"][
        "plots/metrics/train/loss.tsv"]
    # the per-epoch evaluation leaves training untouched: the same weights as without a log
    images, labels = load_mnist(data, "train")
    save_checkpoint(train_mnist(settings, images, labels, noise_level=0.0, seed=0,
                                progress=False), tmp_path / "unlogged.pt")
    assert (tmp_path / "unlogged.pt").read_bytes() == (tmp_path / "a" / "clean.pt").read_bytes()


def test_digit_maps_stores_both_nets_maps_of_one_digit_per_class(tmp_path: Path) -> None:
    data = _mnist_folder(tmp_path / "mnist")
    checkpoints = {}
    for seed, name in enumerate(MODELS):
        torch.manual_seed(seed)
        checkpoints[name] = tmp_path / f"{name}.pt"
        save_checkpoint(build_mnist_cnn().net, checkpoints[name])
    smoothgrad = SmoothGradSettings(noise_level=0.2, n_samples=3, aggregate="mean",
                                    batch_size=2, seed=0)
    out = tmp_path / "maps.npz"
    index = digit_maps(partial(Gradient), checkpoints, data, smoothgrad, out,
                       device=torch.device("cpu"), precision="fp32")
    images, labels = load_mnist(data, "test")
    assert index == first_of_each_digit(labels) == list(range(10))
    maps = load_npz(out)
    assert maps["label"].tolist() == list(range(10)) and maps["index"].tolist() == index
    np.testing.assert_array_equal(maps["image"], to_pixels(images[index])[:, 0].numpy())
    assert (float(maps["noise_level"]), int(maps["n_samples"])) == (0.2, 3)
    x, target = to_pixels(images[index]), labels[index]
    for name in MODELS:
        net = build_mnist_cnn(str(checkpoints[name])).net
        assert maps[f"{name}/prediction"].tolist() == net(x).argmax(1).tolist()
        gradient = Gradient(net).attribute(x, target)[:, 0].numpy()
        np.testing.assert_allclose(maps[f"{name}/gradient"], gradient, rtol=1e-5, atol=1e-7)
        smooth = maps[f"{name}/smoothgrad"]
        assert smooth.shape == (10, 28, 28) and not np.allclose(smooth, gradient)
    assert not np.allclose(maps["clean/gradient"], maps["noisy/gradient"])
