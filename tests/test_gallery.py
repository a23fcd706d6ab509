"""The gallery builder: every map gets its thumbnail, the page is offline and byte-stable, and
200 images stay under the issue's 60 MB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from smoothgrad.errors import DataError
from smoothgrad.outputs.gallery import build_gallery, map_file
from smoothgrad.store.map_store import map_key, write_image_maps, write_index

# id, label, prediction, top-1 probability; ids 2 and 4 are wrong (maps for both targets).
ROWS = ((1, "goldfish", "goldfish", 0.95), (2, "tabby", "tiger cat", 0.40),
        (3, "ostrich", "ostrich", 0.50), (4, "lorikeet", "macaw", 0.85))
REFERENCE_ID = 1
SETTINGS = {"noise_level": 0.15, "n_samples": 4, "profile": "smoke"}
# What the maps stage stores by default (its index records them; the gallery reads them there).
METHODS = ("gradient", "integrated_gradients", "guided_backprop")
VARIANTS = ("plain", "smoothgrad")


def _smooth_map(rng: np.random.Generator, size: int) -> np.ndarray:
    """A signed (3, size, size) map like a real one: a blob where the object is, plus noise."""
    yy, xx = np.mgrid[:size, :size] / size
    cy, cx = rng.uniform(0.3, 0.7, 2)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.03)
    return blob * rng.normal(size=(3, size, size)) + 0.1 * rng.normal(size=(3, size, size))


def write_store(root: Path, size: int = 48, rows: tuple = ROWS,
                methods: tuple[str, ...] = METHODS) -> tuple[Path, Path]:
    """A map store of `methods` (via map_store's writers) and a reference-maps folder; returns
    both."""
    store, references = root / "store", root / "reference-maps"
    rng = np.random.default_rng(0)
    entries = []
    for image_id, label, prediction, prob in rows:
        targets = ["label"] if label == prediction else ["label", "prediction"]
        maps = {map_key(t, m, v): _smooth_map(rng, size)
                for t in targets for m in methods for v in VARIANTS}
        write_image_maps(store, image_id, rng.uniform(size=(3, size, size)), maps)
        entries.append({"id": image_id, "file": f"{image_id}.png", "label": f"{label}, full",
                        "class_name": label, "label_index": image_id, "prediction_index": 0,
                        "prediction_name": prediction, "prediction_prob": prob,
                        "correct": label == prediction, "targets": targets})
    write_index(store, {"model": "synthetic_net", "settings": SETTINGS, "methods": list(methods),
                        "variants": list(VARIANTS), "images": entries})
    references.mkdir(parents=True, exist_ok=True)
    for name in ("VanillaGrad", "NoisyGrad"):
        gray = (rng.uniform(size=(299, 299)) * 255).astype(np.uint8)
        Image.fromarray(gray, mode="L").save(references / f"{REFERENCE_ID}_{name}.png")
    return store, references


def build(root: Path, out: Path, size: int = 48, rows: tuple = ROWS) -> Path:
    store, references = write_store(root, size, rows)
    return build_gallery(store, out, references, thumbnail_size=160, quality=80,
                         confident_threshold=0.7)


def page_data(page: Path) -> dict:
    match = re.search(r"const DATA = (\{.*?\});\n", page.read_text(encoding="utf-8"))
    assert match, "the page must inline its data"
    return json.loads(match.group(1))


def test_every_map_has_a_thumbnail_and_the_page_lists_every_image(tmp_path: Path) -> None:
    page = build(tmp_path, tmp_path / "gallery")
    data = page_data(page)
    assert [r["id"] for r in data["rows"]] == [1, 2, 3, 4]
    assert data["model"] == "synthetic_net" and data["settings"] == SETTINGS
    assert data["threshold"] == 0.7 and data["methods"] == list(METHODS)
    expected = set()
    for image_id, label, prediction, _ in ROWS:
        targets = ["label"] if label == prediction else ["label", "prediction"]
        expected |= {map_file(image_id, t, m, v, x)
                     for t in targets for m in METHODS for v in VARIANTS for x in (False, True)}
        expected.add(f"maps/{image_id}/image.webp")
    expected |= {f"maps/{REFERENCE_ID}/authors-{v}.webp" for v in VARIANTS}
    written = {p.relative_to(page.parent).as_posix() for p in page.parent.rglob("*.webp")}
    assert written == expected
    assert [r["authors"] for r in data["rows"]] == [True, False, False, False]
    wrong_row_map = map_file(2, "prediction", "guided_backprop", "smoothgrad", True)
    with Image.open(page.parent / wrong_row_map) as im:
        assert im.format == "WEBP" and im.size == (48, 48)
    with Image.open(page.parent / f"maps/{REFERENCE_ID}/authors-plain.webp") as im:
        assert im.size == (160, 160)  # the authors' 299 px maps are shrunk to thumbnails


def test_page_is_offline_and_escapes_its_data(tmp_path: Path) -> None:
    rows = ((1, "a</script><script>alert(1)//", "b", 0.5),)
    html = build(tmp_path, tmp_path / "gallery", rows=rows).read_text(encoding="utf-8")
    assert not re.search(r"https?://|//cdn|<link |@import|fetch\(", html)
    assert html.count("</script>") == 1  # the label cannot close the script element


def test_two_builds_give_identical_bytes_and_drop_stale_files(tmp_path: Path) -> None:
    first = build(tmp_path / "a", tmp_path / "one").parent
    stale = first / "maps" / "999" / "image.webp"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    second = build(tmp_path / "b", tmp_path / "two").parent
    build(tmp_path / "a", first)
    assert not stale.exists()
    files_one = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    files_two = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert files_one == files_two
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files_one)


def test_two_hundred_images_stay_under_60_mb(tmp_path: Path) -> None:
    """Worst case: every image wrong (24 maps) at a 224 px model input, plus the authors' maps."""
    rows = ((1, "a", "b", 0.5), (2, "c", "d", 0.5))
    out = build(tmp_path, tmp_path / "gallery", size=224, rows=rows).parent
    per_image = sum(p.stat().st_size for p in (out / "maps").rglob("*.webp")) / len(rows)
    assert 200 * per_image < 60e6, f"{per_image / 1e3:.0f} kB per image"


def test_missing_map_fails_with_the_fix(tmp_path: Path) -> None:
    store, references = write_store(tmp_path, rows=ROWS[:1])
    np.savez(store / "1.npz", pixels=np.zeros((3, 8, 8), np.float16))
    with pytest.raises(DataError, match="image 1 has no map 'label/gradient/plain'; re-run "
                       "`dvc repro maps`"):
        build_gallery(store, tmp_path / "g", references, thumbnail_size=160, quality=80,
                      confident_threshold=0.7)
