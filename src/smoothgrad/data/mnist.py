"""MNIST from the uncompressed IDX files that the fetch step writes into `data/mnist/`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .manifest import FIX, DataError

# IDX magic: two zero bytes, the element type (0x08 = uint8) and the number of dimensions.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_PREFIX = {"train": "train", "test": "t10k"}


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Read an IDX file of uint8 elements, checking its magic number and its size (kept rather
    than torchvision's reader, which checks them with bare asserts: no message, gone under -O)."""
    if not path.is_file():
        raise DataError(f"{path}: missing; {FIX}")
    raw = path.read_bytes()
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        shown = "none (file too short)" if found is None else f"0x{found:08x}"
        raise DataError(f"{path}: bad IDX magic number {shown}, expected 0x{magic:08x} (a gzipped"
                        f" or corrupt file?); {FIX}")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: header says shape {shape} but holds {data.size} values; {FIX}")
    return data.reshape(shape)


def load_mnist(
    data_dir: str | Path, split: Literal["train", "test"]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The `split` images as uint8 (N, 28, 28) and labels as int64 (N,)."""
    if split not in _PREFIX:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    data_dir = Path(data_dir)
    prefix = _PREFIX[split]
    images = _read_idx(data_dir / f"{prefix}-images-idx3-ubyte", _IMAGES_MAGIC)
    labels = _read_idx(data_dir / f"{prefix}-labels-idx1-ubyte", _LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"{data_dir}: {len(images)} {split} images but {len(labels)} labels; {FIX}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def first_of_each_digit(labels: torch.Tensor) -> list[int]:
    """Index of the first image of each digit 0-9: Fig 8's examples, picked by a fixed rule
    rather than by hand."""
    index = []
    for digit in range(10):
        hits = (labels == digit).nonzero()
        if len(hits) == 0:
            raise ValueError(f"no image of digit {digit} among {len(labels)} labels")
        index.append(int(hits[0]))
    return index
