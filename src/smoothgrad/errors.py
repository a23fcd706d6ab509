"""The project's own errors: a user can fix each from its one-line message, so stage entry
points print that line and exit with status 2 instead of a traceback (anything else keeps its
traceback: it is a bug)."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad config, missing or corrupt data, missing weights, no
    CUDA, an unreadable image). Its message is one line that names the problem and the fix."""


class ConfigError(UserError, ValueError):
    """A config value that is unknown, of the wrong type or out of range."""


class DataError(UserError):
    """An input file that is missing, corrupt (sha256 mismatch) or unreadable."""


class WeightsUnavailableError(UserError, RuntimeError):
    """Pretrained weights could neither be loaded from a file nor downloaded."""


class DeviceError(UserError, RuntimeError):
    """The configured device is not available (e.g. `device=cuda` on a machine without CUDA)."""


class ModelStateError(UserError, ValueError):
    """A model handed to an attribution method is in a state that gives wrong maps (training
    mode: BatchNorm would mix the noisy copies of a batch)."""
