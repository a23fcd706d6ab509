"""Deterministic writers: `dvc repro` twice must give byte-identical outputs."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Like `np.savez_compressed`, but with fixed zip timestamps and sorted keys, so the same
    arrays always give the same bytes. Keys may contain '/' to group arrays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    tmp.replace(path)


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an `.npz` written by `save_npz` into a dict."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def write_json(path: str | Path, obj: Any) -> None:
    """Pretty, key-sorted JSON (stable bytes for DVC metrics and indexes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
