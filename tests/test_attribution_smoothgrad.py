"""SmoothGrad: reduces to the wrapped method, converges to known expectations, scales noise by
each image's range, and is reproducible however the work is batched."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from smoothgrad.attribution import Gradient, IntegratedGradients, SmoothGrad
from smoothgrad.attribution.base import Attribution
from smoothgrad.attribution.smoothgrad import NoiseStream
from smoothgrad.models import build_model


class Cubic(nn.Module):
    """Logits (S, -S) with S(x) = sum w x^3: E[dS/dx] under N(0, s^2) noise is 3 w (x^2 + s^2)."""

    def __init__(self, w: Tensor) -> None:
        super().__init__()
        self.w = w

    def forward(self, x: Tensor) -> Tensor:
        s = (self.w * x**3).flatten(1).sum(1)
        return torch.stack([s, -s], 1)


class NoisyInput(Attribution):
    """Returns the (noisy) input itself, exposing the noise SmoothGrad adds."""

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        return x.clone()


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return build_model("mnist_cnn").net


@pytest.fixture(scope="module")
def images() -> Tensor:
    return torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(2))


def test_no_noise_single_sample_equals_method(net: nn.Module, images: Tensor) -> None:
    for method in (Gradient(net), IntegratedGradients(net, steps=5)):
        smooth = SmoothGrad(method, noise_level=0.0, n_samples=1, batch_size=3)
        assert torch.equal(smooth.attribute(images, 4), method.attribute(images, 4))


def test_mean_squared_and_var_converge_to_known_expectations() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 4, 4, generator=gen) * 2 - 1
    x[0, 0, 0, :2] = torch.tensor([-1.0, 1.0])  # pin the range to 2, so sigma = 0.2 * 2
    w = torch.rand(1, 1, 4, 4, generator=gen) + 0.5
    sigma, n = 0.4, 4000
    method = Gradient(Cubic(w).eval())

    def run(aggregate: str) -> Tensor:
        return SmoothGrad(method, noise_level=0.2, n_samples=n, aggregate=aggregate,
                          batch_size=1000).attribute(x, 0)

    mean = 3 * w * (x**2 + sigma**2)
    var = 9 * w**2 * (4 * x**2 * sigma**2 + 2 * sigma**4)
    standard_error = (var / n).sqrt()
    assert ((run("mean") - mean).abs() < 5 * standard_error).all()
    torch.testing.assert_close(run("squared"), var + mean**2, rtol=0.1, atol=0)
    torch.testing.assert_close(run("var"), var, rtol=0.15, atol=0)


def test_squared_and_var_are_exact_on_two_samples(net: nn.Module, images: Tensor) -> None:
    """Same seed, same noise: the two maps m1, m2 follow from the running means at n = 1, 2."""
    def run(aggregate: str) -> dict[int, Tensor]:
        return SmoothGrad(Gradient(net), n_samples=2, aggregate=aggregate,
                          seed=5).attribute_running(images, 1, [1, 2])

    means = run("mean")
    m1 = means[1].double()
    m2 = 2 * means[2].double() - m1
    squared, var = run("squared")[2].double(), run("var")[2].double()
    torch.testing.assert_close(squared, (m1**2 + m2**2) / 2, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(var, ((m1 - m2) / 2) ** 2, atol=1e-6, rtol=1e-4)
    assert torch.equal(run("var")[1], torch.zeros_like(images))


def test_aggregates_of_one_run_equal_separate_runs(net: nn.Module, images: Tensor) -> None:
    """SmoothGrad, SmoothGrad-squared and VarGrad from the same noisy passes (the map store's
    three variants) are bit-identical to three runs of one aggregate each."""
    together = SmoothGrad(Gradient(net), n_samples=3, batch_size=2, seed=4).attribute_aggregates(
        images, 1)
    assert list(together) == ["mean", "squared", "var"]
    for aggregate, result in together.items():
        alone = SmoothGrad(Gradient(net), n_samples=3, aggregate=aggregate, batch_size=2,
                           seed=4).attribute(images, 1)
        assert torch.equal(result, alone), aggregate
    with pytest.raises(ValueError, match="aggregates must be some of"):
        SmoothGrad(Gradient(net)).attribute_aggregates(images, 1, ["median"])


def test_sigma_scales_with_each_image_range() -> None:
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    x[1] = x[1] * 10 + 3
    ranges = (x.amax((1, 2, 3)) - x.amin((1, 2, 3))).view(2, 1, 1, 1)
    var = SmoothGrad(NoisyInput(nn.Identity().eval()), noise_level=0.1, n_samples=3000,
                     aggregate="var", batch_size=500).attribute(x, 0)
    sigma = var.mean((1, 2, 3), keepdim=True).sqrt()
    torch.testing.assert_close(sigma, 0.1 * ranges, rtol=0.02, atol=0)
    mean = SmoothGrad(NoisyInput(nn.Identity().eval()), noise_level=0.1, n_samples=3000,
                      batch_size=500).attribute(x, 0)
    assert ((mean - x).abs() < 5 * 0.1 * ranges / 3000**0.5).all()


def test_running_means_equal_separate_runs(net: nn.Module, images: Tensor) -> None:
    smooth = SmoothGrad(Gradient(net), n_samples=10, batch_size=4, seed=3)
    running = smooth.attribute_running(images, 2, [1, 2, 5, 10])
    assert list(running) == [1, 2, 5, 10]
    for n, result in running.items():
        alone = SmoothGrad(Gradient(net), n_samples=n, batch_size=4, seed=3).attribute(images, 2)
        torch.testing.assert_close(result, alone, atol=1e-7, rtol=1e-6)
    assert not torch.allclose(running[1], running[10])


def test_reproducible_and_independent_of_batching(net: nn.Module, images: Tensor) -> None:
    def run(x: Tensor, batch_size: int, seed: int = 0) -> Tensor:
        return SmoothGrad(Gradient(net), n_samples=8, batch_size=batch_size,
                          seed=seed).attribute(x, torch.arange(x.shape[0]))

    reference = run(images, 7)
    assert torch.equal(run(images, 7), reference)  # same seed: bit for bit
    assert not torch.allclose(run(images, 7, seed=1), reference)
    torch.testing.assert_close(run(images, 1), reference, atol=1e-7, rtol=1e-6)
    torch.testing.assert_close(run(images[:1], 7), reference[:1], atol=1e-7, rtol=1e-6)
    # per-image noise: two different images in one batch do not get the same noise
    noise = SmoothGrad(NoisyInput(nn.Identity().eval()), n_samples=1).attribute(images, 0) - images
    assert not torch.allclose(noise[0], noise[1])


def test_argument_errors(net: nn.Module) -> None:
    method = Gradient(net)
    with pytest.raises(ValueError, match=r"^noise_level must be >= 0 \(got -0.1\)$"):
        SmoothGrad(method, noise_level=-0.1)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        SmoothGrad(method, n_samples=0)
    with pytest.raises(ValueError, match="aggregate must be one of"):
        SmoothGrad(method, aggregate="median")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        SmoothGrad(method, batch_size=0)
    with pytest.raises(TypeError, match="method must be an Attribution"):
        SmoothGrad(net)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_counts must be"):
        SmoothGrad(method).attribute_running(torch.rand(1, 1, 28, 28), 0, [0, 5])


def test_same_maps_for_batch_sizes_1_7_50(net: nn.Module, images: Tensor) -> None:
    """An image's noise stream is drawn on its device in fixed blocks (`NoiseStream`), so how
    samples are cut into batches, and which images share a batch, cannot change it."""
    def run(x: Tensor, batch_size: int) -> Tensor:
        return SmoothGrad(Gradient(net), n_samples=20, batch_size=batch_size,
                          seed=4).attribute(x, torch.arange(x.shape[0]) + 1)

    reference = run(images, 7)
    for batch_size in (1, 50):
        torch.testing.assert_close(run(images, batch_size), reference, atol=1e-7, rtol=1e-6)
    for k in range(images.shape[0]):  # each image alone, target as in the batch
        alone = SmoothGrad(Gradient(net), n_samples=20, batch_size=7,
                           seed=4).attribute(images[k:k + 1], k + 1)
        torch.testing.assert_close(alone, reference[k:k + 1], atol=1e-7, rtol=1e-6)
    # with other images around it (and at another position), its map does not change
    others = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(9))
    mixed = torch.cat([others[:1], images[1:2], others[1:]])
    result = SmoothGrad(Gradient(net), n_samples=20, batch_size=7,
                        seed=4).attribute(mixed, torch.tensor([0, 2, 5]))
    torch.testing.assert_close(result[1:2], reference[1:2], atol=1e-7, rtol=1e-6)


def test_noise_is_the_same_stream_however_it_is_cut(images: Tensor) -> None:
    """The raw noise: samples 0..39 of an image taken in odd pieces equal one 40-sample take,
    and the noise SmoothGrad adds is exactly sigma times that stream."""
    whole = NoiseStream(3, images[0]).take(0, 40)
    stream = NoiseStream(3, images[0])
    pieces = [stream.take(a, b) for a, b in ((0, 1), (1, 8), (8, 9), (9, 33), (33, 40))]
    assert torch.equal(torch.cat(pieces), whole)
    assert whole.device == images.device and whole.dtype == torch.float32
    x = images[:1]
    sigma = 0.15 * (x.max() - x.min())
    smooth = SmoothGrad(NoisyInput(nn.Identity().eval()), n_samples=3, batch_size=2, seed=3,
                        aggregate="mean")
    running = smooth.attribute_running(x, 0, [1, 2, 3])
    first = x[0] + sigma * whole[0]
    torch.testing.assert_close(running[1][0], first, atol=1e-6, rtol=0)
    torch.testing.assert_close(running[3][0], x[0] + sigma * whole[:3].mean(0), atol=1e-6,
                               rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_noise_is_drawn_on_the_device_and_batch_independent(net: nn.Module,
                                                                 images: Tensor) -> None:
    cuda_net, x = copy.deepcopy(net).to("cuda"), images.to("cuda")
    stream = NoiseStream(0, x[0])
    assert stream.take(0, 5).device.type == "cuda"
    runs = [SmoothGrad(Gradient(cuda_net), n_samples=20, batch_size=b, seed=4).attribute(x, 1)
            for b in (1, 7, 50)]
    for run in runs[1:]:
        torch.testing.assert_close(run, runs[0], atol=1e-6, rtol=1e-5)
    alone = SmoothGrad(Gradient(cuda_net), n_samples=20, batch_size=7, seed=4).attribute(x[1:2], 1)
    torch.testing.assert_close(alone, runs[0][1:2], atol=1e-6, rtol=1e-5)
