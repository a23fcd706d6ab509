"""The configured dataset (`dataset` config node): the paper's 200 images (`pair200`) or a folder
of the user's own images (`image_folder`), and the one place that says where its images are.

A folder's labels come from, in this order: `<root>/labels.csv` (`file,label`, the file relative
to the root), the class sub-folders (`<root>/<class>/<image>`, the folder named after an
ImageNet-1k class: `tiger cat`, `tiger_cat` or a full synset string), or nowhere: then an image
is unlabelled and the pipeline explains the model's prediction (label = prediction).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..models.imagenet_classes import IMAGENET_CLASSES
from ..store.paths import REPO_ROOT, Paths
from .imagenet import ImageRecord, label_to_index

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
LABELS_CSV = "labels.csv"


def dataset_images(dataset: Mapping[str, Any], paths: Paths, root: Path = REPO_ROOT) -> Path:
    """The folder the configured dataset's images (predictions.json's `file`s) are in."""
    if dataset["name"] == "pair200":
        return paths.get("imagenet_images")
    return root / str(dataset["root"])


def _label_index(label: str, where: str) -> int:
    try:
        return label_to_index(label)
    except ConfigError:
        spaced = label.replace("_", " ")
        try:
            return label_to_index(spaced)
        except ConfigError as err:
            raise DataError(f"{where}: {err}; use an ImageNet-1k class name "
                            "(e.g. 'tiger cat' or tiger_cat)") from None


def _read_csv(path: Path) -> dict[str, str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read {path}: {err}") from None
    if rows and not {"file", "label"} <= set(rows[0]):
        raise DataError(f"{path}: the header must be `file,label`")
    return {row["file"].strip(): row["label"].strip() for row in rows}


def folder_records(root: str | Path, n_images: int | None = None) -> list[ImageRecord]:
    """The images under `root` (sorted by path, ids 1..N; the first `n_images`, all if None or
    fewer), labelled as the module docstring says; an unlabelled image has label '' and
    label_index -1 (the predict stage fills in the prediction)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset.root={root} is not a folder of images; fix dataset.root")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in
                   IMAGE_SUFFIXES and not any(part.startswith(".") for part in
                                              p.relative_to(root).parts))
    if not files:
        raise DataError(f"dataset.root={root} holds no images "
                        f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    if n_images is not None:
        files = files[:n_images]
    table = _read_csv(root / LABELS_CSV) if (root / LABELS_CSV).is_file() else None
    records = []
    for image_id, path in enumerate(files, start=1):
        rel = path.relative_to(root).as_posix()
        if table is not None:
            label, where = table.get(rel, ""), f"{root / LABELS_CSV}, {rel}"
        else:
            label, where = ("" if len(path.relative_to(root).parts) == 1
                            else path.relative_to(root).parts[0]), f"{root}, folder of {rel}"
        index = _label_index(label, where) if label else -1
        records.append(ImageRecord(image_id, path, label, index,
                                   IMAGENET_CLASSES[index] if index >= 0 else "", (), file=rel))
    return records
