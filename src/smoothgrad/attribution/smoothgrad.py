"""SmoothGrad (Smilkov et al. 2017) around any attribution method, with SmoothGrad-squared and
VarGrad, and running aggregates at several sample counts from one run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from .base import Attribution, check_at_least

AGGREGATES = ("mean", "squared", "var")
NOISE_BLOCK = 16  # noisy samples per draw of an image's noise stream


def image_seed(seed: int, image: Tensor) -> int:
    """A noise seed for one image from `seed` and the image's content, so each image gets its
    own noise stream that does not depend on its position in the batch or its batch mates."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(seed.to_bytes(8, "little", signed=True))
    digest.update(image.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return int.from_bytes(digest.digest(), "little") >> 1  # manual_seed wants < 2**63


class NoiseStream:
    """One image's N(0, 1) noise samples, drawn on the image's device by a generator there
    (seeded with `image_seed`), in blocks of `NOISE_BLOCK` samples with one `torch.randn` call
    each. Every draw has the same size whatever is asked for, so sample k is the same for any
    batch size, batch composition or sample count (the first n samples of a run ARE an n-sample
    run); CPU and CUDA share this path but draw different numbers (their generators differ)."""

    def __init__(self, seed: int, image: Tensor) -> None:
        self.generator = torch.Generator(device=image.device)
        self.generator.manual_seed(image_seed(seed, image))
        self.shape, self.device = (NOISE_BLOCK, *image.shape), image.device
        self.first = 0  # index of the first sample in `self.drawn`
        self.drawn = torch.empty((0, *image.shape), device=image.device)

    def take(self, start: int, stop: int) -> Tensor:
        """Samples start..stop-1, float32; calls must ask for increasing samples."""
        end = self.first + self.drawn.shape[0]
        if start > self.first:  # drop whole blocks already used
            skip = min((start - self.first) // NOISE_BLOCK * NOISE_BLOCK, self.drawn.shape[0])
            self.drawn, self.first = self.drawn[skip:], self.first + skip
        blocks = [torch.randn(self.shape, generator=self.generator, device=self.device)
                  for _ in range(-(-(stop - end) // NOISE_BLOCK))]
        if blocks:
            self.drawn = torch.cat([self.drawn, *blocks])
        return self.drawn[start - self.first:stop - self.first]


class SmoothGrad:
    """Average a method's maps over noisy copies x + N(0, sigma^2), sigma = noise_level *
    (max - min) of each image in the model's input space.

    aggregate: "mean" (SmoothGrad), "squared" (mean of squared maps, SmoothGrad-squared) or
    "var" (population variance of the maps, VarGrad).
    batch_size: noisy copies per forward/backward pass; copies of several images share a pass.
    seed: noise comes from a `torch.Generator` per image on x's device (seeded from `seed` and
    the image; see `NoiseStream`), so results are the same for any batch_size and batch
    composition on one device (up to kernel rounding); CPU and CUDA draw different noise.

    The wrapped method's passes on noisy copies run inside its `noisy_passes`: with
    `precision="auto"` they use faster numerics than its single passes (see there).
    """

    def __init__(self, method: Attribution, noise_level: float = 0.15, n_samples: int = 50,
                 aggregate: str = "mean", batch_size: int = 16, seed: int = 0) -> None:
        if not isinstance(method, Attribution):
            raise TypeError(f"method must be an Attribution (got {type(method).__name__})")
        check_at_least("noise_level", noise_level, 0)
        check_at_least("n_samples", n_samples, 1)
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES} (got {aggregate!r})")
        check_at_least("batch_size", batch_size, 1)
        self.method = method
        self.noise_level = noise_level
        self.n_samples = n_samples
        self.aggregate = aggregate
        self.batch_size = batch_size
        self.seed = seed

    def attribute(self, x: Tensor, target: int | Tensor) -> Tensor:
        """The aggregate over `n_samples` noisy copies of each image; float32, x's shape."""
        return self.attribute_running(x, target, [self.n_samples])[self.n_samples]

    def attribute_aggregates(self, x: Tensor, target: int | Tensor,
                             aggregates: Iterable[str] = AGGREGATES) -> dict[str, Tensor]:
        """Several aggregates of the same `n_samples` noisy passes (SmoothGrad,
        SmoothGrad-squared and VarGrad for the price of one): {aggregate: map}."""
        aggregates = tuple(aggregates)
        runs = self._run(x, target, [self.n_samples], aggregates)
        return {name: runs[self.n_samples, name] for name in aggregates}

    def attribute_running(self, x: Tensor, target: int | Tensor,
                          sample_counts: Iterable[int]) -> dict[int, Tensor]:
        """The aggregate after each count in `sample_counts`, all from one run of
        max(sample_counts) samples (the first n samples of a run ARE an n-sample run)."""
        counts = sorted(set(sample_counts))
        runs = self._run(x, target, counts, (self.aggregate,))
        return {n: runs[n, self.aggregate] for n in counts}

    def _run(self, x: Tensor, target: int | Tensor, counts: Sequence[int],
             aggregates: Sequence[str]) -> dict[tuple[int, str], Tensor]:
        """{(n, aggregate): map} after each of `counts` samples, from one run."""
        counts = sorted(set(counts))
        if not counts or counts[0] < 1:
            raise ValueError(f"sample_counts must be a non-empty set of ints >= 1 (got {counts})")
        unknown = [a for a in aggregates if a not in AGGREGATES]
        if unknown or not aggregates:
            raise ValueError(f"aggregates must be some of {AGGREGATES} (got {aggregates})")
        x, targets = self.method.prepare(x, target)
        flat = x.flatten(1)
        sigma = self.noise_level * (flat.amax(1) - flat.amin(1))
        streams = [NoiseStream(self.seed, image) for image in x]
        # float64 sums, added one sample at a time in sample order: exact for any batching.
        total = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
        squares = any(a != "mean" for a in aggregates)
        total_sq = torch.zeros_like(total) if squares else None
        results = {(n, a): torch.empty_like(x, dtype=torch.float32)
                   for n in counts for a in aggregates}
        n_max = counts[-1]
        pairs = [(i, j) for i in range(x.shape[0]) for j in range(n_max)]
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start:start + self.batch_size]
            index = torch.tensor([i for i, _ in chunk], device=x.device)
            # (image, first sample, end) of each image's run of samples in this chunk
            runs = [(i, max(start, i * n_max) - i * n_max,
                     min(start + len(chunk), (i + 1) * n_max) - i * n_max)
                    for i in range(chunk[0][0], chunk[-1][0] + 1)]
            noise = torch.cat([streams[i].take(a, b) for i, a, b in runs])
            noisy = x[index] + sigma[index].view(-1, 1, 1, 1) * noise.to(x.dtype)
            with self.method.noisy_passes(x.device):
                maps = self.method._attribute(noisy, targets[index]).to(torch.float64)
            for (i, j), m in zip(chunk, maps, strict=True):
                total[i] += m
                if total_sq is not None:
                    total_sq[i] += m * m
                if j + 1 in counts:
                    for name in aggregates:
                        sq = None if total_sq is None else total_sq[i]
                        results[j + 1, name][i] = _aggregate(name, total[i], sq, j + 1)
        return {key: Attribution.finish(result) for key, result in results.items()}


def _aggregate(name: str, total: Tensor, total_sq: Tensor | None, n: int) -> Tensor:
    """One image's aggregate `name` from its running sums of maps and squared maps."""
    mean = total / n
    if name == "mean":
        return mean
    mean_sq = total_sq / n
    return mean_sq if name == "squared" else (mean_sq - mean * mean).clamp_min(0)
