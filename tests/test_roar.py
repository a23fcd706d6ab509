"""ROAR (issue 11, L4) on tiny synthetic digits whose label is carried by four fixed pixels:
removing those first must drop the retrained accuracy to chance, a random ranking must not.

`train_mnist` always builds `MnistCNN` (28 x 28, ~3M weights), too slow to retrain a dozen
times in a unit test on a busy CPU, so `roar` takes any `Trainer`; the known-answer tests use
`tiny_trainer` (a linear net on 8 x 8 images, same seed every call), and one smoke test runs
the project's own `mnist_trainer` on a few digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from smoothgrad.attribution import Gradient
from smoothgrad.compute.mnist import TrainSettings
from smoothgrad.compute.roar import (
    fill_value,
    method_rankings,
    mnist_trainer,
    random_rankings,
    rankings,
    remove_top,
    roar,
    roar_curve,
)
from smoothgrad.measures import deletion_order

SIZE = 8
SIGNAL = [9, 22, 41, 54]  # the pixels that carry the label: 255 for class 1, 0 for class 0


def synthetic(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (n, 8, 8) images of uniform noise but for the four SIGNAL pixels, which are
    all 255 (label 1) or all 0 (label 0): no other pixel says anything about the label."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, SIZE * SIZE), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, 2, (n,), generator=gen)
    images[:, SIGNAL] = (labels * 255).to(torch.uint8)[:, None]
    return images.reshape(n, SIZE, SIZE), labels


def tiny_trainer(images: torch.Tensor, labels: torch.Tensor) -> nn.Module:
    """A linear net trained with Adam, full batch, from the same seed on every call."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, 2))
        optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
        x = images.unsqueeze(1).float() / 255 - 0.5
        for _ in range(150):
            optimizer.zero_grad()
            F.cross_entropy(net(x), labels).backward()
            optimizer.step()
    return Centered(net).eval()


class Centered(nn.Module):
    """The net on [0, 1] pixels (what `evaluate` feeds), centred as in training."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x - 0.5)


def test_rankings_order_by_magnitude_with_ties_by_index() -> None:
    maps = np.zeros((2, 3, 2, 2))
    maps[0, 0] = [[0.1, -0.5], [0.0, 0.2]]  # channel sums of |map|: 0.1, 0.5, 0.0, 0.2
    maps[1] = 1.0  # all tied
    orders = rankings(maps)
    assert orders.dtype == np.int64 and orders.shape == (2, 4)
    assert orders[0].tolist() == [1, 3, 0, 2] and orders[1].tolist() == [0, 1, 2, 3]
    gray = np.random.default_rng(0).normal(size=(3, 5, 5))
    np.testing.assert_array_equal(rankings(gray), [deletion_order(np.abs(g)) for g in gray])


def test_random_rankings_are_seeded_permutations() -> None:
    a = random_rankings(4, 3, 3, seed=1)
    assert a.shape == (4, 9)
    assert all(sorted(row) == list(range(9)) for row in a.tolist())
    np.testing.assert_array_equal(a, random_rankings(4, 3, 3, seed=1))
    assert not np.array_equal(a, random_rankings(4, 3, 3, seed=2))
    assert len({tuple(row) for row in a.tolist()}) == 4  # each image its own order


def test_remove_top_sets_exactly_the_top_pixels() -> None:
    images, _ = synthetic(3, 0)
    before = images.clone()
    orders = random_rankings(3, SIZE, SIZE, seed=0)
    out = remove_top(images, orders, 0.25, fill=7)
    assert out.dtype == torch.uint8 and torch.equal(images, before)  # input untouched
    flat, orig = out.reshape(3, -1), images.reshape(3, -1)
    for i in range(3):
        top, rest = orders[i, :16], orders[i, 16:]
        assert (flat[i, top] == 7).all() and torch.equal(flat[i, rest], orig[i, rest])
    assert torch.equal(remove_top(images, orders, 0.0, fill=7), images)
    assert (remove_top(images, orders, 1.0, fill=7) == 7).all()
    assert fill_value(torch.tensor([[0, 255], [255, 255]], dtype=torch.uint8)) == 191
    with pytest.raises(ValueError, match="fraction"):
        remove_top(images, orders, 1.5, fill=7)
    with pytest.raises(ValueError, match="fill"):
        remove_top(images, orders, 0.5, fill=300)
    with pytest.raises(ValueError, match="orders"):
        remove_top(images, orders[:2], 0.5, fill=7)


def test_roar_true_ranking_falls_to_chance_random_stays_high() -> None:
    """The known answer: the gradient of a net trained on the data ranks the four signal
    pixels first (they are all its weight), so removing 10% (6 pixels) removes the label and
    retrained accuracy falls to chance, while a random 10% or 50% leaves most signal pixels
    and accuracy stays near 1; at 90% random removal finally hurts too. At k = 0 both
    rankings share one net (trained once)."""
    train, test = synthetic(400, 1), synthetic(200, 2)
    fill = fill_value(train[0])
    original = tiny_trainer(*train)
    gradient = Gradient(original)
    orders = {
        "gradient": (method_rankings(gradient, *train, batch_size=128),
                     method_rankings(gradient, *test, batch_size=128)),
        "random": (random_rankings(400, SIZE, SIZE, seed=10),
                   random_rankings(200, SIZE, SIZE, seed=11)),
    }
    assert all(set(o[:, :4].ravel().tolist()) == set(SIGNAL) for o in orders["gradient"])
    calls = []

    def counting(images: torch.Tensor, labels: torch.Tensor) -> nn.Module:
        calls.append(1)
        return tiny_trainer(images, labels)

    fractions = [0.0, 0.1, 0.5, 0.9]
    hits = roar(orders, counting, train, test, fractions, fill)
    assert hits["gradient"].shape == (4, 200) and hits["gradient"].dtype == bool
    acc = {kind: h.mean(axis=1) for kind, h in hits.items()}
    assert len(calls) == 1 + 2 * 3
    assert acc["gradient"][0] == acc["random"][0] > 0.95
    assert (acc["gradient"][1:] < 0.65).all()  # chance is 0.5 (200 test images)
    assert (acc["random"][1:3] > 0.9).all()
    assert acc["random"][3] < acc["random"][1]
    single = roar_curve(tiny_trainer, train, test, *orders["gradient"], fractions[:2], fill)
    np.testing.assert_array_equal(single, acc["gradient"][:2])  # same seed: same nets


def test_mnist_trainer_retrains_the_project_cnn() -> None:
    """The production `Trainer` (train_mnist's MnistCNN) runs inside roar on a few 28 x 28
    digits, on all of them (settings.subset is ignored), and is deterministic: the same data
    twice gives the same accuracy."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 28, 28), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, 10, (48,), generator=gen)
    train = mnist_trainer(TrainSettings(epochs=1, batch_size=16, lr=1e-3,
                                        train_noise_level=0.0, subset=8), seed=0)
    orders = random_rankings(48, 28, 28, seed=0)
    hits = roar({"a": (orders, orders), "b": (orders, orders)}, train, (images, labels),
                (images, labels), [0.5], fill_value(images))
    assert np.array_equal(hits["a"], hits["b"]) and hits["a"].shape == (1, 48)
    whole = mnist_trainer(TrainSettings(epochs=1, batch_size=16, lr=1e-3,
                                        train_noise_level=0.0), seed=0)
    a, b = train(images, labels), whole(images, labels)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
