"""What every gradient-based attribution method shares: call checks (input, targets, eval mode),
the differentiated score (the class logit), precision, memory format and the input-only gradient;
a call leaves the model and torch's global switches as it found them."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextvars import ContextVar

import torch
from torch import Tensor, nn

from ..device import check_precision, flush_denormals, noisy_pass_precision, precision_context
from ..errors import ModelStateError
from .fold import fold_batchnorm

# (method, model, precision) of the passes on SmoothGrad's noisy copies now running, if any.
_NOISY: ContextVar[tuple[Attribution, nn.Module, str] | None] = ContextVar("noisy", default=None)


def check_input(x: Tensor) -> None:
    """Attribution works on batches; a (C, H, W) image silently treated as a batch of C
    one-channel images would give nonsense, so refuse it."""
    if x.dim() != 4:
        raise ValueError(f"x must be a (B, C, H, W) batch (got shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor (got {x.dtype})")


def check_at_least(name: str, value: float, minimum: float, why: str = "") -> None:
    """Refuse a count or scale below its minimum with a one-line error naming it."""
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}{why} (got {value})")


def check_eval_mode(model: nn.Module) -> None:
    """Refuse a model with any module in training mode: BatchNorm would normalize each image with
    its batch mates' statistics (SmoothGrad's noisy copies, IG's path points) and Dropout would
    drop random units, so the maps would be silently wrong. Checked at each call, not at
    construction, since a user may call `.train()` in between."""
    name = next((name for name, module in model.named_modules() if module.training), None)
    if name is not None:
        where = f" (submodule {name!r} has training=True)" if name else ""
        raise ModelStateError(f"model is in training mode{where}: BatchNorm would mix the images "
                              "of a batch and Dropout randomize the maps; call model.eval() first")


def as_targets(target: int | Tensor, x: Tensor) -> Tensor:
    """An int or a (B,) tensor of class indices -> a (B,) int64 tensor on x's device."""
    batch = x.shape[0]
    if isinstance(target, int):
        return torch.full((batch,), target, dtype=torch.long, device=x.device)
    if not isinstance(target, Tensor) or target.shape != (batch,):
        shape = tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(f"target must be an int or a ({batch},) tensor (got {shape})")
    return target.to(device=x.device, dtype=torch.long)


class Attribution(ABC):
    """Base of the gradient-based methods. Subclasses implement `_attribute` on a prepared batch;
    `SmoothGrad` calls that same batch path on its noisy copies.

    channels_last: None (auto) uses it for 3-channel images, where oneDNN's convolutions are
    faster in NHWC and the layout then propagates through the whole net without touching the
    model's own parameters.

    precision: "fp32" (IEEE fp32 on every device), "bf16" (autocast) or "auto": single passes
    (a plain map) in IEEE fp32 and, inside SmoothGrad, the passes on noisy copies with faster
    numerics (see `noisy_passes`).
    """

    def __init__(self, model: nn.Module, *, precision: str = "fp32",
                 channels_last: bool | None = None) -> None:
        check_precision(precision)
        self.model = model
        self.precision = precision
        self.channels_last = channels_last
        self._folded: tuple[tuple, nn.Module] | None = None

    def attribute(self, x: Tensor, target: int | Tensor) -> Tensor:
        """Attribution map for each image of `x` (model input space) w.r.t. the target logit;
        float32, x's shape and device."""
        return self.finish(self._attribute(*self.prepare(x, target)))

    def prepare(self, x: Tensor, target: int | Tensor) -> tuple[Tensor, Tensor]:
        """Check a call once, before any pass (batch shape, targets, model in eval mode): the
        detached batch and its (B,) int64 targets."""
        check_input(x)
        check_eval_mode(self.model)
        return x.detach(), as_targets(target, x)

    @abstractmethod
    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        """Maps for a batch `x` (detached) and (B,) int64 `targets`."""

    @staticmethod
    def finish(maps: Tensor) -> Tensor:
        """The public output format: float32, contiguous (NCHW)."""
        return maps.to(torch.float32).contiguous()

    def input_grad(self, x: Tensor, targets: Tensor) -> Tensor:
        """d logit[target] / d x for every row. Rows are independent in eval mode, so one backward
        pass of the summed target logits gives all of them; `autograd.grad` w.r.t. the input only
        skips every weight gradient even where parameters are not frozen. Every global switch
        touched here is restored on exit."""
        model, precision = self.model, self.precision
        noisy = _NOISY.get()
        if noisy is not None and noisy[0] is self:
            _, model, precision = noisy
        x = self._layout(x).detach().requires_grad_(True)
        cpu = flush_denormals() if x.device.type == "cpu" else contextlib.nullcontext()
        with (torch.enable_grad(), cpu, precision_context(x.device.type, precision),
              self.rule()):
            logits = model(x)
            score = logits.gather(1, targets[:, None]).float().sum()
            (grad,) = torch.autograd.grad(score, x)
        return grad

    @contextlib.contextmanager
    def noisy_passes(self, device: torch.device) -> Iterator[None]:
        """SmoothGrad runs its passes on noisy copies inside this. Under `precision="auto"` they
        run on the model with BatchNorm folded into its convolutions (`fold.fold_batchnorm`: the
        same function up to rounding), in bf16 where `device` runs it natively
        (`device.noisy_pass_precision`), and IG computes the gradient at its baseline once per
        target instead of once per noisy copy. Averaging over noise hides these rounding
        changes: they move a SmoothGrad map far less than a new noise draw (benchmarks/README).
        Other precisions are unchanged."""
        if self.precision != "auto":
            yield
            return
        token = _NOISY.set((self, self._folded_model(), noisy_pass_precision("auto", device)))
        try:
            yield
        finally:
            _NOISY.reset(token)

    def in_noisy_passes(self) -> bool:
        """Whether this method's passes now run under `noisy_passes` with `auto` numerics."""
        noisy = _NOISY.get()
        return noisy is not None and noisy[0] is self

    def _folded_model(self) -> nn.Module:
        """`fold_batchnorm(self.model)`, rebuilt when the model's tensors change (replaced,
        moved or modified in place)."""
        tensors = [*self.model.parameters(), *self.model.buffers()]
        key = (id(self.model), *((id(t), t._version) for t in tensors))
        if self._folded is None or self._folded[0] != key:
            self._folded = key, fold_batchnorm(self.model)
        return self._folded[1]

    @contextlib.contextmanager
    def rule(self) -> Iterator[None]:
        """Context active during forward and backward that changes the backward rule (Guided
        BackProp overrides it); the plain gradient needs none."""
        yield

    def _layout(self, x: Tensor) -> Tensor:
        use = self.channels_last if self.channels_last is not None else x.shape[1] == 3
        return x.contiguous(memory_format=torch.channels_last if use else torch.contiguous_format)
