"""The 200 ImageNet images: labels -> class indices, records, and one-line read errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from smoothgrad.data.imagenet import (
    ImageReadError,
    ImageRecord,
    label_to_index,
    load_image,
    load_records,
)
from smoothgrad.models.imagenet_classes import IMAGENET_CLASSES

REPO = Path(__file__).resolve().parents[1]
REAL_MIRROR = Path(os.environ.get("SMOOTHGRAD_DATA_MIRROR") or REPO.parent / "shared" / "data")
needs_mirror = pytest.mark.skipif(not REAL_MIRROR.is_dir(), reason=f"no mirror at {REAL_MIRROR}")


@needs_mirror
def test_all_200_labels_map_to_one_index() -> None:
    pair = REAL_MIRROR / "pair-saliency"
    records = load_records(pair / "images", pair / "metadata_smoothgrad.json")
    assert [r.id for r in records] == list(range(1, 201))
    for record in records:
        # The first synonym is torchvision's short name for every one of the 200.
        assert record.class_name == record.label.split(",")[0].strip()
        assert IMAGENET_CLASSES.index(record.class_name) == record.label_index
        assert len(record.authors_top5) == 5
    first = load_image(records[0].path)
    assert (first.mode, first.size) == ("RGB", (299, 299))


@pytest.mark.parametrize(
    ("label", "index"),
    [
        ("racket, racquet", 752),
        ("racket", 752),
        ("Samoyed, Samoyede", 258),
        ("bathtub, bathing tub, bath, tub", 435),  # "tub" is class 876: the first hit wins
        ("tub, vat", 876),
        ("  tabby, tabby cat ", 281),
        ("gold fish, goldfish, Carassius auratus", 1),  # no first-name hit: a later synonym
    ],
)
def test_label_to_index(label: str, index: int) -> None:
    assert label_to_index(label) == index


@pytest.mark.parametrize(
    ("label", "match"), [("crane", "ambiguous.*134.*517"), ("unicorn, pegasus", "matches no")]
)
def test_label_to_index_rejects(label: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        label_to_index(label)


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """Three 8x8 images and metadata listing them out of order."""
    images = tmp_path / "images"
    images.mkdir()
    meta = []
    for image_id, label in [(3, "tabby, tabby cat"), (1, "racket, racquet"), (2, "tub, vat")]:
        Image.new("L", (8, 8), color=image_id).save(images / f"{image_id}.png")
        meta.append({"id": image_id, "label": label, "top5": [[label, 0.5], ["tub, vat", 0.1]]})
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps(meta))
    return images, metadata


def test_load_records(tiny: tuple[Path, Path]) -> None:
    images, metadata = tiny
    records = load_records(images, metadata, n_images=2)
    assert records == [
        ImageRecord(1, images / "1.png", "racket, racquet", 752, "racket",
                    (("racket, racquet", 0.5), ("tub, vat", 0.1))),
        ImageRecord(2, images / "2.png", "tub, vat", 876, "tub",
                    (("tub, vat", 0.5), ("tub, vat", 0.1))),
    ]  # fmt: skip
    assert [r.id for r in load_records(images, metadata)] == [1, 2, 3]
    image = load_image(records[0].path)
    assert (image.mode, image.size, image.getpixel((0, 0))) == ("RGB", (8, 8), (1, 1, 1))


@pytest.mark.parametrize("n_images", [0, 4, -1])
def test_load_records_n_images_out_of_range(tiny: tuple[Path, Path], n_images: int) -> None:
    with pytest.raises(ValueError, match=r"n_images=.* choose 1..3"):
        load_records(*tiny, n_images=n_images)


def _assert_one_liner(err: pytest.ExceptionInfo[ImageReadError], path: Path, reason: str) -> None:
    message = str(err.value)
    assert "\n" not in message
    kind = "metadata" if path.suffix == ".json" else "image"
    assert message.startswith(f"cannot read {kind} {path}: ")
    assert reason in message
    assert message.endswith("re-run `make data` or check the file")


def test_load_records_errors(tiny: tuple[Path, Path]) -> None:
    images, metadata = tiny
    (images / "2.png").unlink()
    with pytest.raises(ImageReadError) as err:
        load_records(images, metadata)
    _assert_one_liner(err, images / "2.png", "file not found")
    with pytest.raises(ImageReadError) as err:
        load_records(images, metadata.with_name("nope.json"))
    _assert_one_liner(err, metadata.with_name("nope.json"), "file not found")
    metadata.write_text('[{"id": 1, "label": "unicorn", "top5": []}]')
    with pytest.raises(ImageReadError) as err:
        load_records(images, metadata)
    _assert_one_liner(err, metadata, "matches no ImageNet-1k class")
    metadata.write_text("[{")
    with pytest.raises(ImageReadError) as err:
        load_records(images, metadata)
    _assert_one_liner(err, metadata, "JSONDecodeError")


def test_unreadable_image(tiny: tuple[Path, Path]) -> None:
    images, _ = tiny
    garbage, truncated = images / "1.png", images / "2.png"
    garbage.write_bytes(b"not a png at all")
    truncated.write_bytes(truncated.read_bytes()[:40])
    for path in (garbage, truncated):
        with pytest.raises(ImageReadError) as err:
            load_image(path)
        _assert_one_liner(err, path, "Error")
    with pytest.raises(ImageReadError) as err:
        load_image(images / "9.png")
    _assert_one_liner(err, images / "9.png", "file not found")
