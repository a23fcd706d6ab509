"""Max-sensitivity and infidelity of attribution maps (Yeh et al. 2019, "On the (in)fidelity and
sensitivity of explanations"), through Captum's `captum.metrics.sensitivity_max` and
`captum.metrics.infidelity`, which implement the paper's definitions (checked against the paper
and the authors' code, github.com/chihkuanyeh/saliency_evaluation). Our methods are wrapped into
what Captum expects, and the perturbations are ours: drawn per image from a generator seeded by
(seed, image content), one sample per call, so a score does not depend on the batch, the
`batch_size` or the global RNG (Captum's default sensitivity perturbation draws from the global
CPU RNG and moves it).

The score differentiated and perturbed is the target class logit, as for the maps themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch
from captum.metrics import infidelity as captum_infidelity
from captum.metrics import sensitivity_max
from torch import Tensor, nn

from ..attribution.base import as_targets, check_eval_mode, check_input
from ..attribution.smoothgrad import image_seed


class Explainer(Protocol):
    """What the measures need of a method: `Gradient`, `IntegratedGradients`,
    `GuidedBackprop` and `SmoothGrad` all qualify."""

    def attribute(self, x: Tensor, target: int | Tensor) -> Tensor: ...


def max_sensitivity(method: Explainer, x: Tensor, target: int | Tensor, *, radius: float,
                    n_samples: int = 10, normalize: bool = True, seed: int = 0,
                    batch_size: int | None = None) -> np.ndarray:
    """Max-sensitivity of `method`'s maps for each image of `x`, a (B,) float64 array:

        max over ||d||_inf <= radius of ||map(x + d) - map(x)||_2 / ||map(x)||_2

    estimated, as in the paper and Captum, by the largest of `n_samples` draws of d uniform in
    the L-inf ball of `radius` (model input units); a Monte-Carlo lower bound of the max, so
    compare methods at the same radius and n_samples. Lower = more robust.

    normalize: divide by ||map(x)|| (Captum; the authors' code; a zero map divides by 1) so the
    score is scale-free: otherwise a method wins just by giving smaller maps (a SmoothGrad
    average is smaller than a single gradient). False gives the paper's unnormalised formula.
    SmoothGrad draws its own noise afresh for each perturbed input (seeded by its content), so
    its score includes the Monte-Carlo error of its n_samples, as in the authors' code.
    batch_size: perturbed images per call of `method` (Captum's max_examples_per_batch, rounded
    to whole images' worth); None = all B * n_samples at once.
    """
    check_input(x)
    x = x.detach()
    targets = _target_list(target, x)
    first: list[Tensor] = []

    def explain(inputs: Tensor | tuple[Tensor, ...], target: list[int]) -> tuple[Tensor]:
        # Captum passes x as a 1-tuple and perturbed inputs as a tensor, and iterates over what
        # the first call returns: a bare tensor would be taken row by row, so return a tuple.
        batch = inputs[0] if isinstance(inputs, tuple) else inputs
        maps = method.attribute(batch, torch.tensor(target, device=batch.device))
        if not first:  # Captum's first call is on x itself
            first.append(maps)
        return (maps,)

    def uniform(generator: torch.Generator, shape: torch.Size) -> Tensor:
        return (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * radius

    noise = _PerImageNoise(x, seed, uniform)
    sens = sensitivity_max(explain, x, perturb_func=lambda inputs: inputs + noise(inputs),
                           n_perturb_samples=n_samples, norm_ord="fro",
                           max_examples_per_batch=_examples(batch_size, x, n_samples),
                           target=targets)
    sens = sens.detach().to("cpu", torch.float64)
    if not normalize:
        norms = first[0].detach().flatten(1).to("cpu", torch.float64).norm(dim=1)
        sens = sens * torch.where(norms == 0, 1.0, norms)
    return sens.numpy()


def infidelity(model: nn.Module, x: Tensor, target: int | Tensor, attributions: Tensor, *,
               noise_std: float, n_samples: int = 100, baseline: float | Tensor | None = None,
               normalize: bool = True, seed: int = 0,
               batch_size: int | None = None) -> np.ndarray:
    """Infidelity of the maps `attributions` (x's shape) for each image of `x`, a (B,) float64
    array (Yeh et al. eq. 1): E_I[(I . map - (f(x) - f(x - I)))^2], f the target logit of
    `model` (in eval mode, fp32 forward passes), estimated over `n_samples` perturbations.
    Lower = the map predicts better how the logit responds to perturbations.

    Perturbation: Gaussian, I ~ N(0, noise_std^2) independently per input element (model input
    units), the "local" scheme for maps meant as sensitivities (gradient, Guided BackProp,
    SmoothGrad), for which the gradient of a linear model scores exactly 0.
    baseline: for "global" maps that already include the input factor (Integrated Gradients,
    gradient x input; completeness w.r.t. `baseline`), the dot product uses I / (x - baseline)
    (1 where x == baseline) as Captum's `infidelity_perturb_func_decorator(True)` does, so
    (x - baseline) * gradient of a linear model scores 0.
    normalize: scale each map by the least-squares optimal factor before scoring, as the
    authors' code and Captum's `normalize=True`; otherwise a map's magnitude, not its shape,
    decides (a SmoothGrad average and a gradient differ in scale).
    The authors' MNIST "Gaussian" setting instead removes pixels towards a noisy baseline; it
    is not this function's default scheme.
    """
    check_input(x)
    check_eval_mode(model)
    x = x.detach()
    if attributions.shape != x.shape:
        raise ValueError(f"attributions must have x's shape {tuple(x.shape)} "
                         f"(got {tuple(attributions.shape)})")
    targets = _target_list(target, x)
    base = None if baseline is None else torch.as_tensor(
        baseline, dtype=x.dtype, device=x.device).expand_as(x)

    def gaussian(generator: torch.Generator, shape: torch.Size) -> Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float64) * noise_std

    noise = _PerImageNoise(x, seed, gaussian)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        step = noise(inputs)
        if base is None:
            return step, inputs - step
        delta = inputs - base.repeat_interleave(inputs.shape[0] // x.shape[0], dim=0)
        return step / torch.where(delta == 0, 1.0, delta), inputs - step

    def forward(inputs: Tensor) -> Tensor:
        return model(inputs).float()

    infid = captum_infidelity(forward, perturb, x, attributions.detach().to(x), target=targets,
                              n_perturb_samples=n_samples, normalize=normalize,
                              max_examples_per_batch=_examples(batch_size, x, n_samples))
    # A mean of squares, >= 0; Captum's normalized form (b^2 a2 - 2 b ab + bb, in float32)
    # can land a rounding error below 0 (-3e-10 for an exact map), so clamp.
    return infid.detach().to("cpu", torch.float64).clamp_min(0).numpy()


class _PerImageNoise:
    """Perturbations for Captum's batches: Captum repeats each image k times
    (repeat_interleave) and asks for all B * k at once; image i's k samples come from its own
    generator (seeded from `seed` and the image, on the CPU), one call per sample, so sample j
    of image i is the same however Captum splits the n samples into batches."""

    def __init__(self, x: Tensor, seed: int,
                 draw: Callable[[torch.Generator, torch.Size], Tensor]) -> None:
        self.generators = []
        for image in x:
            generator = torch.Generator()
            generator.manual_seed(image_seed(seed, image))
            self.generators.append(generator)
        self.draw = draw
        self.shape = x.shape[1:]

    def __call__(self, inputs: Tensor) -> Tensor:
        k = inputs.shape[0] // len(self.generators)
        samples = [self.draw(g, self.shape) for g in self.generators for _ in range(k)]
        return torch.stack(samples).to(device=inputs.device, dtype=inputs.dtype)


def _target_list(target: int | Tensor, x: Tensor) -> list[int]:
    """(B,) targets as a list: Captum expands lists per sample for any B (a one-element tensor
    it would leave unexpanded)."""
    return as_targets(target, x).tolist()


def _examples(batch_size: int | None, x: Tensor, n_samples: int) -> int | None:
    """Captum's max_examples_per_batch from ours, kept within the range it accepts
    (B .. B * n_samples) so it does not warn."""
    if batch_size is None:
        return None
    batch = x.shape[0]
    return min(max(batch_size, batch), batch * n_samples)
