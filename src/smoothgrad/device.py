"""Device and numeric settings shared by every stage."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """Map a config value (auto | cpu | cuda | cuda:N) to a device; `auto` prefers CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={name!r} asked for CUDA but none is available; use device=auto or cpu"
        )
    return device


def configure_cpu_numerics() -> None:
    """Flush denormals: gradients of saturated units underflow and slow CPU kernels many-fold."""
    torch.set_flush_denormal(True)
