"""The library protects its users: every method refuses a model in training mode, and a call
leaves the model and torch's global switches exactly as it found them (even when it fails)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules import module as module_globals

from smoothgrad.attribution import Gradient, GuidedBackprop, IntegratedGradients, SmoothGrad
from smoothgrad.device import denormals_flushed
from smoothgrad.errors import ModelStateError

pytestmark = [pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require")]

HOOK_KINDS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")

METHODS: dict[str, Callable[[nn.Module, str], Any]] = {
    "gradient": lambda net, p: Gradient(net, precision=p),
    "integrated_gradients": lambda net, p: IntegratedGradients(net, precision=p, steps=3,
                                                               batch_size=2),
    "guided_backprop": lambda net, p: GuidedBackprop(net, precision=p),
    "smoothgrad_gradient": lambda net, p: SmoothGrad(Gradient(net, precision=p), n_samples=2,
                                                     batch_size=3),
    "smoothgrad_ig": lambda net, p: SmoothGrad(IntegratedGradients(net, precision=p, steps=2),
                                               n_samples=2, batch_size=3),
    "smoothgrad_guided": lambda net, p: SmoothGrad(GuidedBackprop(net, precision=p),
                                                   n_samples=2, batch_size=3),
}


class Net(nn.Module):
    """BatchNorm, Dropout and every kind of rectifier Guided BackProp reroutes; one frozen
    layer, so requires_grad flags of both kinds are checked."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu6 = nn.ReLU6()
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * 4 * 4, 5)
        self.conv1.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn(self.conv1(x)))
        x = F.max_pool2d(self.relu6(F.relu(self.conv2(x)) * 3), 2)
        return self.fc(self.drop(x.flatten(1)))


@pytest.fixture
def net() -> Net:
    """Eval-mode net with non-default BatchNorm statistics and a user's forward hook."""
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        net(torch.randn(4, 3, 8, 8) * 2 + 1)  # training mode: moves the running statistics
    net.fc.register_forward_hook(lambda module, args, out: None)
    return net.eval()


@pytest.fixture
def x() -> Tensor:
    return torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def global_state() -> dict[str, Any]:
    """torch's process-wide switches a forward/backward pass could leave changed."""
    return {
        "grad_enabled": torch.is_grad_enabled(),
        "inference_mode": torch.is_inference_mode_enabled(),
        "autocast": [(device, torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
                     for device in ("cpu", "cuda")],
        "tf32": (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32,
                 torch.get_float32_matmul_precision()),
        "cudnn": (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "flush_denormal": denormals_flushed(),
        "function_mode": torch._C._is_torch_function_mode_enabled(),
        "default_dtype": torch.get_default_dtype(),
        "rng": torch.get_rng_state().numpy().tobytes(),
        "global_hooks": [len(getattr(module_globals, f"_global{kind}")) for kind in HOOK_KINDS],
    }


def model_state(net: nn.Module) -> dict[str, Any]:
    """Everything about the model a call could change: weights and buffers (bytes, layout),
    requires_grad and .grad of each parameter, each module's type, mode, hooks and forward."""
    return {
        "state_dict": {k: (v.dtype, v.shape, v.stride(), v.numpy().tobytes())
                       for k, v in net.state_dict().items()},
        "parameters": [(name, p.requires_grad, p.grad is None)
                       for name, p in net.named_parameters()],
        "modules": [(name, type(m), m.training, [len(getattr(m, kind)) for kind in HOOK_KINDS],
                     "forward" in vars(m)) for name, m in net.named_modules()],
    }


@contextlib.contextmanager
def callers_globals(unusual: bool) -> Iterator[None]:
    """The switches a caller holds: torch's defaults, or settings a call must restore rather
    than reset (denormals flushed, TF32 flags flipped, gradients off). Restored after, so a
    failing test does not leak them into the next."""
    previous_flush = denormals_flushed()
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    previous_tf32 = cudnn.allow_tf32, matmul.allow_tf32
    torch.set_flush_denormal(unusual)
    cudnn.allow_tf32, matmul.allow_tf32 = not unusual, unusual
    try:
        with torch.set_grad_enabled(not unusual):
            yield
    finally:
        torch.set_flush_denormal(previous_flush)
        cudnn.allow_tf32, matmul.allow_tf32 = previous_tf32


@pytest.mark.parametrize("unusual", [False, True], ids=["default", "unusual"])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
@pytest.mark.parametrize("method", list(METHODS))
def test_call_leaves_model_and_globals_unchanged(net: Net, x: Tensor, method: str,
                                                 precision: str, unusual: bool) -> None:
    explainer = METHODS[method](net, precision)
    x_before = x.clone()
    with callers_globals(unusual):
        model_before, globals_before = model_state(net), global_state()
        maps = explainer.attribute(x, torch.tensor([1, 3]))
        assert model_state(net) == model_before
        assert global_state() == globals_before
        with pytest.raises(RuntimeError):
            explainer.attribute(x, 5000)  # a bad class index fails inside the pass
        assert model_state(net) == model_before
        assert global_state() == globals_before
    assert maps.abs().amax() > 0
    assert torch.equal(x, x_before) and not x.requires_grad and x.grad is None


@pytest.mark.parametrize("method", list(METHODS))
def test_training_mode_is_refused_at_call_time(net: Net, x: Tensor, method: str) -> None:
    explainer = METHODS[method](net, "fp32")  # built in eval mode, switched afterwards
    calls = []
    net.conv1.register_forward_hook(lambda module, args, out: calls.append(1))
    net.train()
    with pytest.raises(ModelStateError) as error:
        explainer.attribute(x, 0)
    assert str(error.value) == ("model is in training mode: BatchNorm would mix the images of a "
                                "batch and Dropout randomize the maps; call model.eval() first")
    net.eval()
    net.bn.train()  # one submodule is enough to mix the batch
    with pytest.raises(ModelStateError, match=r"^model is in training mode \(submodule 'bn' has "
                                              r"training=True\): .*; call model\.eval\(\) first$"):
        explainer.attribute(x, 0)
    assert calls == [] and net.bn.training  # refused before any pass; the mode is left as is
    net.eval()
    explainer.attribute(x, 0)
    assert calls


class _DenormalProbe(nn.Module):
    """Records whether denormals are flushed during its forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.seen: list[bool] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append(denormals_flushed())
        return self.linear(x.flatten(1))


@pytest.mark.parametrize("flushed_before", [False, True])
def test_denormals_are_flushed_during_each_cpu_pass_only(flushed_before: bool) -> None:
    previous = denormals_flushed()
    probe = _DenormalProbe().eval()
    try:
        torch.set_flush_denormal(flushed_before)
        SmoothGrad(Gradient(probe), n_samples=3, batch_size=1).attribute(torch.rand(1, 1, 2, 2), 0)
        assert probe.seen == [True] * 3
        assert denormals_flushed() == flushed_before
    finally:
        torch.set_flush_denormal(previous)
