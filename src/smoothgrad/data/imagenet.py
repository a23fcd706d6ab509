"""The 200 ImageNet images of the SmoothGrad website, with their labels as ImageNet-1k indices.

The metadata gives full synset strings ("racket, racquet"); the models give torchvision's short
class names in index order, so the mapping between the two lives here, in one tested place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image

from ..errors import ConfigError, DataError
from ..models.imagenet_classes import IMAGENET_CLASSES

_FIX = "re-run `make data` or check the file"


class ImageReadError(DataError, ValueError):
    """An image (or the metadata) that cannot be read; the message is one line with the fix."""


@dataclass(frozen=True)
class ImageRecord:
    """One of the 200 images: where it is, its ground truth, and what the authors' model said."""

    id: int
    path: Path
    label: str  # full synset string from the metadata
    label_index: int  # ImageNet-1k class index, 0..999
    class_name: str  # torchvision's short name of that class
    authors_top5: tuple[tuple[str, float], ...]  # the authors' Inception v3 top-5
    file: str | None = None  # path under the dataset's image folder; None = the file's name


# In ImageNet's synset list two classes are both called "crane" (the bird, 134, and the machine,
# 517); torchvision renamed the bird "crane bird", so an exact-name lookup alone would silently
# pick the machine for a metadata label that may mean either.
_AMBIGUOUS_LABELS: dict[str, tuple[int, ...]] = {"crane": (134, 517)}


@cache
def _name_to_index() -> dict[str, int]:
    return {name: index for index, name in enumerate(IMAGENET_CLASSES)}


def label_to_index(label: str) -> int:
    """ImageNet-1k index of a full synset string ("racket, racquet") or a short name.

    The whole label, then each comma-separated synonym in order, is looked up among
    torchvision's short names; the first hit wins (synonyms may name other classes too:
    "bathtub, bathing tub, bath, tub" vs "tub"). A label that matches nothing, or is known to
    mean two classes, raises ValueError instead of silently picking one.
    """
    table = _name_to_index()
    label = label.strip()
    if label in _AMBIGUOUS_LABELS:
        names = ", ".join(f"{i} ({IMAGENET_CLASSES[i]})" for i in _AMBIGUOUS_LABELS[label])
        raise ConfigError(f"label {label!r} is ambiguous: it may mean class {names}")
    for name in (label, *(part.strip() for part in label.split(","))):
        if name in table:
            return table[name]
    raise ConfigError(f"label {label!r} matches no ImageNet-1k class name")


def _parse_top5(raw: object) -> tuple[tuple[str, float], ...]:
    if not isinstance(raw, list):
        raise TypeError("top5 is not a list")
    return tuple((str(name), float(prob)) for name, prob in raw)


def load_records(
    images_dir: str | Path, metadata_path: str | Path, n_images: int | None = None
) -> list[ImageRecord]:
    """The images listed in the metadata, sorted by id; the first `n_images` (None = all).

    Raises ImageReadError (one line) when the metadata is missing or malformed, or when an
    image it lists is not in `images_dir`, so a stage fails before any work, not halfway.
    """
    images_dir, metadata_path = Path(images_dir), Path(metadata_path)
    try:
        entries = json.loads(metadata_path.read_text())
        rows = sorted(
            ((int(e["id"]), str(e["label"]), _parse_top5(e["top5"])) for e in entries),
            key=lambda row: row[0],
        )
    except FileNotFoundError:
        raise ImageReadError(
            f"cannot read metadata {metadata_path}: file not found; {_FIX}"
        ) from None
    except (OSError, ValueError, TypeError, KeyError) as err:
        reason = f"{type(err).__name__}: {err}".replace("\n", " ")
        raise ImageReadError(f"cannot read metadata {metadata_path}: {reason}; {_FIX}") from None
    if n_images is not None:
        if not 1 <= n_images <= len(rows):
            raise ConfigError(
                f"imagenet.n_images={n_images} is out of range: choose 1..{len(rows)} or null (all)"
            )
        rows = rows[:n_images]
    records = []
    for image_id, label, top5 in rows:
        path = images_dir / f"{image_id}.png"
        if not path.is_file():
            raise ImageReadError(f"cannot read image {path}: file not found; {_FIX}")
        try:
            index = label_to_index(label)
        except ValueError as err:
            raise ImageReadError(f"cannot read metadata {metadata_path}: {err}; {_FIX}") from None
        records.append(
            ImageRecord(image_id, path, label, index, IMAGENET_CLASSES[index], top5)
        )
    return records


def load_image(path: str | Path) -> Image.Image:
    """The image at `path` as RGB, fully decoded now (a truncated file fails here, not later)."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError:
        raise ImageReadError(f"cannot read image {path}: file not found; {_FIX}") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        reason = f"{type(err).__name__}: {err}".replace("\n", " ")
        raise ImageReadError(f"cannot read image {path}: {reason}; {_FIX}") from None
