"""Model-randomisation sanity check: blocks of the project's models in forward order, re-drawn
copies that leave the original alone and keep BatchNorm statistics, a seeded nested cascade,
and the similarity measures' known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from torch import Tensor, nn

from smoothgrad.attribution import Gradient
from smoothgrad.compute.sanity import (
    cascading_randomization,
    map_similarity,
    model_blocks,
    randomize_blocks,
    spearman,
    ssim,
)
from smoothgrad.models.efficientnet_lite import build_efficientnet_lite0
from smoothgrad.models.mnist_cnn import MnistCNN


def mnist_cnn() -> nn.Module:
    torch.manual_seed(0)
    return MnistCNN().eval()


def resnet18() -> nn.Module:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10).eval()
    for module in net.modules():  # trained-looking BatchNorm statistics, not the defaults
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return net


def forward_order(model: nn.Module, x: Tensor, paths: list[str]) -> list[str]:
    """The paths in the order their modules first run in a forward pass."""
    seen: list[str] = []
    hooks = [model.get_submodule(p).register_forward_hook(
        lambda *_, p=p: seen.append(p) if p not in seen else None) for p in paths]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return seen


def params_by_id(model: nn.Module) -> set[int]:
    return {id(p) for p in model.parameters()}


@pytest.mark.parametrize("name, build, size, expected", [
    ("mnist_cnn", mnist_cnn, 28, ["classifier.4", "classifier.1", "features.3", "features.0"]),
    ("resnet18", resnet18, 64, ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0",
                                "layer2.1", "layer2.0", "layer1.1", "layer1.0", "conv1+bn1"]),
    ("efficientnet_lite0", lambda: build_efficientnet_lite0().net.eval(), 224,
     ["_fc", "_conv_head+_bn1", *(f"_blocks.{i}" for i in range(15, -1, -1)),
      "_conv_stem+_bn0"]),
])
def test_blocks_run_from_output_to_input_and_cover_every_parameter(
        name: str, build, size: int, expected: list[str]) -> None:
    model = build()
    blocks = model_blocks(model)
    assert [b.name for b in blocks] == expected
    heads = [b.modules[0] for b in blocks]
    channels = 1 if name == "mnist_cnn" else 3
    assert forward_order(model, torch.rand(1, channels, size, size), heads) == heads[::-1]
    covered = [id(p) for b in blocks for path in b.modules
               for p in model.get_submodule(path).parameters()]
    assert len(covered) == len(set(covered)) and set(covered) == params_by_id(model)


def test_single_layer_model_is_one_block_and_own_parameters_are_refused() -> None:
    assert [b.modules for b in model_blocks(nn.Linear(3, 2))] == [("",)]

    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))
            self.fc = nn.Linear(3, 2)

    with pytest.raises(ValueError, match="parameters of its own"):
        model_blocks(Odd())


def test_copy_redraws_only_its_blocks_and_leaves_the_original_untouched() -> None:
    model = mnist_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    blocks = model_blocks(model)
    randomized = randomize_blocks(model, blocks[:2], seed=3)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not params_by_id(model) & params_by_id(randomized)
    new = randomized.state_dict()
    for key in before:
        top = key.startswith(("classifier.4.", "classifier.1."))
        assert torch.equal(before[key], new[key]) != top, key
    assert not randomized.training


def test_batchnorm_statistics_kept_and_weights_redrawn_from_the_init_distribution() -> None:
    model = resnet18()
    blocks = {b.name: b for b in model_blocks(model)}
    randomized = randomize_blocks(model, [blocks["conv1+bn1"]], seed=0)
    bn, new_bn = model.bn1, randomized.bn1
    assert torch.equal(bn.running_mean, new_bn.running_mean)
    assert torch.equal(bn.running_var, new_bn.running_var)
    assert torch.equal(bn.num_batches_tracked, new_bn.num_batches_tracked)
    assert torch.equal(new_bn.weight, torch.ones_like(bn.weight))
    assert torch.equal(new_bn.bias, torch.zeros_like(bn.bias))
    # nn.Conv2d's default init: kaiming-uniform with a = sqrt(5), i.e. U(-b, b), b = 1/sqrt(fan_in)
    w = randomized.conv1.weight
    bound = 1 / math.sqrt(w[0].numel())
    assert not torch.equal(w, model.conv1.weight)
    assert w.abs().max() <= bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    # other blocks' BatchNorm untouched
    assert torch.equal(randomized.layer1[0].bn1.weight, model.layer1[0].bn1.weight)


def test_cascade_is_seeded_nested_and_leaves_the_global_rng_alone() -> None:
    model = mnist_cnn()
    blocks = model_blocks(model)
    rng = torch.get_rng_state()
    cascade = list(cascading_randomization(model, seed=7))
    assert torch.equal(rng, torch.get_rng_state())
    assert [block for block, _ in cascade] == blocks
    for k, (_, copy_k) in enumerate(cascade, start=1):
        alone = randomize_blocks(model, blocks[:k], seed=7)
        assert all(torch.equal(a, b) for a, b in zip(copy_k.state_dict().values(),
                                                     alone.state_dict().values(), strict=True))
    other = randomize_blocks(model, blocks[:1], seed=8)
    assert not torch.equal(other.classifier[4].weight, cascade[0][1].classifier[4].weight)


def test_module_without_reset_parameters_needs_init() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.full((3,), 5.0))

        def forward(self, x: Tensor) -> Tensor:
            return x * self.w

    model = nn.Sequential(nn.Linear(3, 3), Scale())
    top = model_blocks(model)[:1]
    with pytest.raises(TypeError, match="reset_parameters"):
        randomize_blocks(model, top)
    randomized = randomize_blocks(model, top, init=lambda m: nn.init.zeros_(m.w))
    assert torch.equal(randomized[1].w, torch.zeros(3))
    assert torch.equal(model[1].w, torch.full((3,), 5.0))


def test_identical_maps_score_one() -> None:
    m = np.random.default_rng(0).standard_normal((3, 16, 16))
    assert map_similarity(m, m) == pytest.approx(
        {"spearman_abs": 1.0, "spearman": 1.0, "ssim": 1.0})
    # an unchanged model gives the same gradient maps
    model = mnist_cnn()
    x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    same = randomize_blocks(model, [])
    a, b = Gradient(model).attribute(x, 3)[0], Gradient(same).attribute(x, 3)[0]
    assert map_similarity(a, b) == pytest.approx(
        {"spearman_abs": 1.0, "spearman": 1.0, "ssim": 1.0})


def test_independent_random_maps_score_near_zero() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 100, 100))
    n = a.size
    assert abs(spearman(a, b, absolute=False)) < 4 / math.sqrt(n)
    assert abs(spearman(a, b, absolute=True)) < 4 / math.sqrt(n)
    assert abs(ssim(np.abs(a), np.abs(b))) < 0.05


def test_rank_measures_see_sign_and_ignore_monotone_rescaling() -> None:
    a = np.random.default_rng(2).standard_normal((20, 20))
    assert spearman(a, -a, absolute=False) == pytest.approx(-1.0)
    assert spearman(a, -a, absolute=True) == pytest.approx(1.0)
    assert spearman(a, np.exp(3 * a), absolute=False) == pytest.approx(1.0)
    assert ssim(a, 5 * a + 2) == pytest.approx(1.0)
    assert math.isnan(spearman(a, np.zeros_like(a), absolute=True))
    with pytest.raises(ValueError, match="same shape"):
        spearman(a, a[:10], absolute=True)
