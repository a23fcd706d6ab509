"""Device settings: config values that cannot work are one-line DeviceErrors, and the denormal
switch can be read and is restored by its context manager."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from smoothgrad.device import denormals_flushed, flush_denormals, resolve_device
from smoothgrad.errors import DeviceError, UserError


def fake_cuda(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize(("name", "message"), [
    ("cuda", "device='cuda' asks for CUDA but none is available; use device=auto or cpu"),
    ("cuda:0", "device='cuda:0' asks for CUDA but none is available; use device=auto or cpu"),
    ("gpu", "device='gpu' is not a supported device; use device=auto, cpu, cuda or cuda:N"),
    ("cuda:x", "device='cuda:x' is not a supported device; use device=auto, cpu, cuda or cuda:N"),
    ("mps", "device='mps' is not a supported device; use device=auto, cpu, cuda or cuda:N"),
])
def test_unusable_device_is_a_one_line_device_error(monkeypatch: pytest.MonkeyPatch, name: str,
                                                    message: str) -> None:
    fake_cuda(monkeypatch, 0)
    with pytest.raises(DeviceError) as error:
        resolve_device(name)
    assert str(error.value) == message
    assert isinstance(error.value, UserError) and isinstance(error.value, RuntimeError)


def test_device_values_that_work(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 0)
    assert resolve_device("auto") == resolve_device("cpu") == torch.device("cpu")
    fake_cuda(monkeypatch, 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceError, match=r"^device='cuda:2' but only 2 CUDA device\(s\) are "
                                          r"visible; use device=auto or cuda:0$"):
        resolve_device("cuda:2")


@pytest.fixture
def restore_flush() -> Iterator[None]:
    previous = denormals_flushed()
    yield
    torch.set_flush_denormal(previous)


@pytest.mark.usefixtures("restore_flush")
@pytest.mark.parametrize("before", [False, True])
def test_flush_denormals_restores_the_callers_setting(before: bool) -> None:
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    torch.set_flush_denormal(before)
    assert denormals_flushed() == before
    with flush_denormals():
        assert denormals_flushed()
        assert torch.tensor([1e-39]).item() == 0.0
    assert denormals_flushed() == before
    with pytest.raises(KeyError), flush_denormals():
        raise KeyError
    assert denormals_flushed() == before
