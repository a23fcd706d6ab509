"""Device and numeric settings shared by every stage."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .errors import DeviceError

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(name: str = "auto") -> torch.device:
    """Map a config value (auto | cpu | cuda | cuda:N) to a device; `auto` prefers CUDA. A value
    that cannot work is refused here, with its fix, instead of by a torch error mid-stage."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:  # torch's message lists a dozen backends this project does not run on
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise DeviceError(f"device={name!r} is not a supported device; use device=auto, cpu, "
                          "cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device={name!r} asks for CUDA but none is available; use device=auto "
                          "or cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise DeviceError(f"device={name!r} but only {torch.cuda.device_count()} CUDA device(s) "
                          "are visible; use device=auto or cuda:0")
    return device


def configure_cpu_numerics() -> None:
    """Flush denormals for the rest of the process (stage entry points): gradients of saturated
    units underflow and slow CPU kernels many-fold. Library calls use `flush_denormals()`."""
    torch.set_flush_denormal(True)


# 2**-149, the smallest float32 denormal, built from its bits so that making it does not depend
# on the flush setting in force at import.
_SMALLEST_DENORMAL = torch.tensor([1], dtype=torch.int32).view(torch.float32)


def denormals_flushed() -> bool:
    """Whether the CPU flushes float32 denormals to zero now. torch has a setter but no getter,
    so this tries it: twice the smallest denormal is 0 only when flushing."""
    return not bool((_SMALLEST_DENORMAL * 2).item())


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush denormals (see `configure_cpu_numerics`) for the duration only: the switch is
    process-global, so a library call restores the caller's setting after."""
    previous = denormals_flushed()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(previous)


def check_precision(precision: str) -> None:
    """Refuse an unknown `precision` before any work is done."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} (got {precision!r})")


def bf16_native(device: torch.device) -> bool:
    """Whether `device` runs bf16 convolutions natively (faster than fp32): a CUDA GPU of compute
    capability 8.0 or later, or a CPU with AVX-512 BF16 or AMX. Without them oneDNN emulates
    bf16 and a pass is about ten times slower (AVX2-only AMD EPYC, torch 2.14)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def noisy_pass_precision(precision: str, device: torch.device) -> str:
    """The precision of SmoothGrad's passes on noisy copies: under `auto`, bf16 where the device
    runs it natively, else fp32; any other value as it is. Single passes (a plain map) never
    come here: under `auto` they are IEEE fp32."""
    check_precision(precision)
    if precision != "auto":
        return precision
    return "bf16" if bf16_native(device) else "fp32"


@contextlib.contextmanager
def precision_context(device_type: str, precision: str) -> Iterator[None]:
    """Numerics for forward and backward passes: `bf16` autocasts; `fp32` (and `auto`, whose
    single passes are fp32; see `noisy_pass_precision`) is IEEE fp32 on every device. CUDA's
    cuDNN convolutions default to TF32 (10-bit mantissa), which moved single
    gradient maps of EfficientNet-Lite0 by up to 31% of their range against the CPU on an H100
    (1e-6 without TF32), so it is switched off for the duration and restored after."""
    check_precision(precision)
    if precision == "bf16":
        with torch.autocast(device_type, dtype=torch.bfloat16):
            yield
        return
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    previous = cudnn.allow_tf32, matmul.allow_tf32
    cudnn.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = previous
