"""Model-randomisation sanity check (Adebayo et al. 2018, "Sanity checks for saliency maps"):
re-draw a trained model's weights block by block from the logits down (cascading), recompute
the maps on each randomised copy and measure how similar they stay to the original maps. A
method whose maps survive the loss of the learned weights does not explain the model.

The functions take built objects and return models or floats; which methods, images and blocks
to run is the caller's (the pipeline's) business.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import stats
from torch import nn

# Modules that only hold other modules: the rule looks through them.
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# Normalisation layers join the block before them (a conv and its BatchNorm are one layer).
NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)

Init = Callable[[nn.Module], None]


@dataclass(frozen=True)
class Block:
    """One unit of the cascade: `name` for reports ("conv1+bn1") and the qualified names of its
    modules (`model.get_submodule(path)`), so a block found on a model also names the same
    modules in any deep copy of it."""

    name: str
    modules: tuple[str, ...]


def model_blocks(model: nn.Module) -> list[Block]:
    """The model's blocks from the output to the input (the cascade's order).

    Rule, config-free: walk the module tree in registration order, looking through containers
    (Sequential, ModuleList, ModuleDict); every other module holding parameters is a unit, and a
    normalisation layer joins the unit before it. So: MnistCNN -> its 2 Linear and 2 Conv layers
    (Adebayo's layer-wise MNIST cascade); EfficientNet-Lite0 -> _fc, conv_head+bn1, the 16
    MBConv blocks, conv_stem+bn0; torchvision ResNets -> fc, each residual block, conv1+bn1
    (their block-wise Inception cascade). Registration order is taken as forward order (true of
    these models; the tests check it with hooks). A model that is itself a single layer is one
    block named ""."""
    if next(model.parameters(recurse=False), None) is not None and any(model.children()):
        raise ValueError(f"{type(model).__name__} holds parameters of its own besides its "
                         "submodules; no block rule covers them")
    groups: list[list[str]] = []
    for path, module in _units(model, ""):
        if isinstance(module, NORMS) and groups:
            groups[-1].append(path)
        else:
            groups.append([path])
    if not groups and next(model.parameters(), None) is not None:
        groups = [[""]]
    return [Block("+".join(g), tuple(g)) for g in reversed(groups)]


def _units(module: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    for name, child in module.named_children():
        path = prefix + name
        if isinstance(child, CONTAINERS):
            yield from _units(child, path + ".")
        elif next(child.parameters(), None) is not None:
            yield path, child


def randomize_blocks(model: nn.Module, blocks: Sequence[Block], *, seed: int = 0,
                     init: Init | None = None) -> nn.Module:
    """A deep copy of `model` with every parameter of `blocks` re-drawn from its initial
    distribution; the other blocks' weights and every buffer are kept, `model` is untouched.

    Weights: each module holding parameters is re-initialised by `init` (default: its own
    `reset_parameters`, i.e. PyTorch's default init, not a model family's own scheme such as
    torchvision's kaiming-normal for ResNets; pass `init` for that). The draw runs on a CPU copy
    of the module with the CPU generator seeded from (seed, block name), then is copied in: the
    same weights on any device, for any set of blocks (so the cascade's k-th copy is nested in
    the (k+1)-th), and the global RNG state is left as it was.

    BatchNorm: its affine weight and bias are parameters and are re-drawn (to 1 and 0); its
    running mean and variance are buffers and are KEPT. Adebayo et al. re-initialise the layer
    weights and leave the rest of the network as trained; running statistics are no weights but
    the trained network's normalisation of its own activations. Resetting them to (0, 1), as
    Quantus' MPRT does, is a second intervention that changes every normalised layer's output
    beyond the re-drawn weights, a known deviation from the protocol.
    """
    randomized = copy.deepcopy(model)
    for block in blocks:
        _redraw_block(randomized, block, seed, init)
    return randomized


def cascading_randomization(model: nn.Module, *, seed: int = 0,
                            blocks: Sequence[Block] | None = None,
                            init: Init | None = None) -> Iterator[tuple[Block, nn.Module]]:
    """Adebayo's cascade: for k = 1..K, (k-th block from the top, copy of `model` with the top
    k blocks re-drawn), each copy equal to `randomize_blocks(model, blocks[:k], seed=seed)`.
    `blocks` defaults to `model_blocks(model)`. Copies are made one at a time (lazily), so a
    caller holding one at a time holds one extra model."""
    blocks = model_blocks(model) if blocks is None else list(blocks)
    current = model
    for block in blocks:
        current = copy.deepcopy(current)
        _redraw_block(current, block, seed, init)
        yield block, current


def block_seed(seed: int, block: Block) -> int:
    """The seed of one block's draw: from `seed` and the block's name, not its position, so a
    block gets the same weights whichever other blocks are re-drawn."""
    digest = hashlib.blake2b(f"{seed}\0{block.name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # manual_seed wants < 2**63


def _redraw_block(model: nn.Module, block: Block, seed: int, init: Init | None) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(block_seed(seed, block))
        for path in block.modules:
            for name, module in model.get_submodule(path).named_modules(prefix=path):
                if next(module.parameters(recurse=False), None) is not None:
                    _redraw_module(name, module, init)


def _redraw_module(path: str, module: nn.Module, init: Init | None) -> None:
    """Re-draw `module`'s own parameters (not its buffers) in place."""
    fresh = copy.deepcopy(module).to(device="cpu", dtype=torch.float32)
    if init is not None:
        init(fresh)
    elif callable(getattr(fresh, "reset_parameters", None)):
        fresh.reset_parameters()
    else:
        raise TypeError(f"module {path!r} ({type(module).__name__}) has parameters but no "
                        "reset_parameters(); pass init= to re-draw it")
    fresh_params = dict(fresh.named_parameters(recurse=False))
    with torch.no_grad():
        for name, param in module.named_parameters(recurse=False):
            param.copy_(fresh_params[name])


# --- similarity of a randomised map to the original -------------------------------------------

def spearman(a: ArrayLike, b: ArrayLike, *, absolute: bool) -> float:
    """Spearman rank correlation of two maps of the same shape, over all elements; of |map| when
    `absolute` (Adebayo's "abs" variant: does the map rank the same pixels as important?) or of
    the signed map. Invariant to any increasing rescaling, so no normalisation is needed. NaN
    when a map is constant (e.g. an all-zero map of a dead randomised net): rank correlation is
    undefined there, and a NaN is not silently read as "uncorrelated"."""
    x, y = _pair(a, b)
    if absolute:
        x, y = np.abs(x), np.abs(y)
    x, y = x.ravel(), y.ravel()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def ssim(a: ArrayLike, b: ArrayLike) -> float:
    """Structural similarity (scikit-image defaults: 7 x 7 uniform window) of two (H, W) maps,
    each first min-max scaled to [0, 1] (a constant map -> all 0) with data_range 1, so the
    maps' different magnitudes do not count, only their spatial structure. (C, H, W) maps are
    compared channel by channel (channel axis 0) and averaged."""
    from skimage.metrics import structural_similarity

    x, y = (_unit_range(m) for m in _pair(a, b))
    if x.ndim not in (2, 3):
        raise ValueError(f"ssim needs (H, W) or (C, H, W) maps (got shape {x.shape})")
    return float(structural_similarity(x, y, data_range=1.0,
                                       channel_axis=0 if x.ndim == 3 else None))


def map_similarity(original: ArrayLike, randomized: ArrayLike) -> dict[str, float]:
    """Adebayo's measures of one image's map on the randomised model vs the original, for
    (C, H, W) or (H, W) maps: channels are summed first ("spearman" on the signed sum,
    "spearman_abs" and "ssim" on the sum of |map|, the map as the figures show it). Near 1 =
    the map ignored the re-drawn weights; near 0 = it changed completely."""
    x, y = _pair(original, randomized)
    if x.ndim == 3:
        signed = x.sum(0), y.sum(0)
        magnitude = np.abs(x).sum(0), np.abs(y).sum(0)
    elif x.ndim == 2:
        signed, magnitude = (x, y), (np.abs(x), np.abs(y))
    else:
        raise ValueError(f"maps must be (C, H, W) or (H, W) (got shape {x.shape})")
    return {"spearman_abs": spearman(*magnitude, absolute=True),
            "spearman": spearman(*signed, absolute=False),
            "ssim": ssim(*magnitude)}


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = (_as_numpy(m) for m in (a, b))
    if x.shape != y.shape:
        raise ValueError(f"maps must have the same shape (got {x.shape} and {y.shape})")
    return x, y


def _as_numpy(m: ArrayLike) -> np.ndarray:
    if isinstance(m, torch.Tensor):
        m = m.detach().to("cpu", torch.float64).numpy()
    return np.asarray(m, dtype=np.float64)


def _unit_range(m: np.ndarray) -> np.ndarray:
    span = np.ptp(m)
    return (m - m.min()) / span if span > 0 else np.zeros_like(m)
