"""Deterministic writers: `dvc repro` twice must give byte-identical outputs."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

_EPOCH = (1980, 1, 1, 0, 0, 0)
TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`, renamed over it once the block succeeds.

    A kill mid-write then leaves `path` absent or its previous complete version, never
    truncated. The temp name is `path`'s name plus `.tmp`, so readers' globs (`*.npz`, `*.png`)
    never take it for an output and a rerun overwrites one a kill left; it is removed if the
    block raises. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Like `np.savez_compressed`, but with fixed zip timestamps and sorted keys, so the same
    arrays always give the same bytes. Keys may contain '/' to group arrays."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w",
                                                   compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an `.npz` written by `save_npz` into a dict."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def write_json(path: str | Path, obj: Any) -> None:
    """Pretty, key-sorted JSON (stable bytes for DVC metrics and indexes)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    """Write `text` as UTF-8 through `atomic_path`, so a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` through `atomic_path`, so a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
