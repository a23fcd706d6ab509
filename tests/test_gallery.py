"""The gallery builder: every map gets its thumbnail, each row its per-image scores and the page
its sort orders by SmoothGrad's reduction of each measure; the page is offline and byte-stable,
and 200 images stay under the issue's 60 MB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from smoothgrad.errors import DataError
from smoothgrad.outputs.gallery import build_gallery, map_file
from smoothgrad.outputs.gallery.build import reduction
from smoothgrad.pipeline.config import compose_config
from smoothgrad.store.map_store import (
    SMOOTHGRAD_VARIANTS,
    map_key,
    read_index,
    write_image_maps,
    write_index,
)

# id, label, prediction, top-1 probability; ids 2 and 4 are wrong (maps for both targets).
ROWS = ((1, "goldfish", "goldfish", 0.95), (2, "tabby", "tiger cat", 0.40),
        (3, "ostrich", "ostrich", 0.50), (4, "lorikeet", "macaw", 0.85))
REFERENCE_ID = 1
SETTINGS = {"noise_level": 0.15, "n_samples": 4, "aggregate": "mean", "profile": "smoke"}
# What the maps stage stores by default (its index records them; the gallery reads them there).
METHODS = ("gradient", "integrated_gradients", "guided_backprop")
VARIANTS = ("plain", *SMOOTHGRAD_VARIANTS.values())
MEASURES = {"speckle": "high-frequency energy share; lower = smoother",
            "tv": "total variation; lower = smoother"}
# Speckle of the SmoothGrad maps of (image, target); every plain map has speckle 1 and tv 2, and
# SmoothGrad's tv is 2 (1 - speckle), so its tv reduction ranks the rows the other way round.
SMOOTH_SPECKLE = {(1, "label"): 0.5, (2, "label"): 0.2, (2, "prediction"): 0.95,
                  (3, "label"): 0.9, (4, "label"): 0.4, (4, "prediction"): 0.1}


def _smooth_map(rng: np.random.Generator, size: int) -> np.ndarray:
    """A signed (3, size, size) map like a real one: a blob where the object is, plus noise."""
    yy, xx = np.mgrid[:size, :size] / size
    cy, cx = rng.uniform(0.3, 0.7, 2)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.03)
    return blob * rng.normal(size=(3, size, size)) + 0.1 * rng.normal(size=(3, size, size))


def write_store(root: Path, size: int = 48, rows: tuple = ROWS,
                methods: tuple[str, ...] = METHODS, variants: tuple[str, ...] = VARIANTS,
                settings: dict = SETTINGS) -> tuple[Path, Path]:
    """A map store of `methods` x `variants` (via map_store's writers) and a reference-maps
    folder; returns both."""
    store, references = root / "store", root / "reference-maps"
    rng = np.random.default_rng(0)
    entries = []
    for image_id, label, prediction, prob in rows:
        targets = ["label"] if label == prediction else ["label", "prediction"]
        maps = {map_key(t, m, v): _smooth_map(rng, size)
                for t in targets for m in methods for v in variants}
        write_image_maps(store, image_id, rng.uniform(size=(3, size, size)), maps)
        entries.append({"id": image_id, "file": f"{image_id}.png", "label": f"{label}, full",
                        "class_name": label, "label_index": image_id, "prediction_index": 0,
                        "prediction_name": prediction, "prediction_prob": prob,
                        "correct": label == prediction, "targets": targets})
    write_index(store, {"model": "synthetic_net", "settings": settings, "methods": list(methods),
                        "variants": list(variants), "images": entries})
    references.mkdir(parents=True, exist_ok=True)
    for name in ("VanillaGrad", "NoisyGrad"):
        gray = (rng.uniform(size=(299, 299)) * 255).astype(np.uint8)
        Image.fromarray(gray, mode="L").save(references / f"{REFERENCE_ID}_{name}.png")
    return store, references


def map_scores(image_id: int, target: str, variant: str) -> dict[str, float]:
    """The scores `write_scores` gives one map (any method)."""
    if variant == "plain":
        return {"speckle": 1.0, "tv": 2.0}
    smooth = SMOOTH_SPECKLE.get((image_id, target), 0.5)
    return {"speckle": smooth, "tv": 2 * (1 - smooth)}


def write_scores(store: Path) -> Path:
    """The evaluation's per-image scores file for every map of `store`, beside it."""
    index = read_index(store)
    images = [{"id": e["id"], "target": t,
               "scores": {f"{m}/{v}": map_scores(e["id"], t, v)
                          for m in index["methods"] for v in index["variants"]}}
              for e in index["images"] for t in e["targets"]]
    path = store.parent / "map_scores.json"
    path.write_text(json.dumps({"measures": MEASURES, "images": images}))
    return path


def build(root: Path, out: Path, size: int = 48, rows: tuple = ROWS, **store: object) -> Path:
    store_dir, references = write_store(root, size, rows, **store)
    return build_gallery(store_dir, out, references, scores=write_scores(store_dir),
                         thumbnail_size=160, quality=80, confident_threshold=0.7)


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
    assert data["variants"] == list(VARIANTS) and data["smoothgrad"] == "smoothgrad"
    assert data["measures"] == [{"name": k, "description": v} for k, v in MEASURES.items()]
    expected = set()
    for image_id, label, prediction, _ in ROWS:
        targets = ["label"] if label == prediction else ["label", "prediction"]
        expected |= {map_file(image_id, t, m, v, x)
                     for t in targets for m in METHODS for v in VARIANTS for x in (False, True)}
        expected.add(f"maps/{image_id}/image.webp")
    expected |= {f"maps/{REFERENCE_ID}/authors-{v}.webp" for v in ("plain", "smoothgrad")}
    written = {p.relative_to(page.parent).as_posix() for p in page.parent.rglob("*.webp")}
    assert written == expected
    assert [r["authors"] for r in data["rows"]] == [True, False, False, False]
    wrong_row_map = map_file(2, "prediction", "guided_backprop", "smoothgrad", True)
    with Image.open(page.parent / wrong_row_map) as im:
        assert im.format == "WEBP" and im.size == (48, 48)
    with Image.open(page.parent / f"maps/{REFERENCE_ID}/authors-plain.webp") as im:
        assert im.size == (160, 160)  # the authors' 299 px maps are shrunk to thumbnails


def test_each_row_has_its_scores_and_smoothgrads_reduction(tmp_path: Path) -> None:
    """Every row carries the scores of each of its maps and, per target, method and measure,
    SmoothGrad's reduction against plain: the pair the page shows side by side by default."""
    data = page_data(build(tmp_path, tmp_path / "gallery"))
    for row, (image_id, label, prediction, _) in zip(data["rows"], ROWS, strict=True):
        targets = ["label"] if label == prediction else ["label", "prediction"]
        assert row["scores"] == {t: {f"{m}/{v}": map_scores(image_id, t, v)
                                     for m in METHODS for v in VARIANTS} for t in targets}
        smooth = {t: SMOOTH_SPECKLE[image_id, t] for t in targets}
        assert row["gains"] == {t: {m: {"speckle": pytest.approx(1 - smooth[t]),
                                        "tv": pytest.approx(smooth[t])} for m in METHODS}
                                for t in targets}
    assert reduction(0.0, 0.3) is None and reduction(2.0, 0.5) == 0.75


def test_the_compared_smoothgrad_is_the_figures_aggregate(tmp_path: Path) -> None:
    """settings["aggregate"] picks the SmoothGrad variant shown beside plain and ranked."""
    data = page_data(build(tmp_path, tmp_path / "gallery",
                           settings={**SETTINGS, "aggregate": "var"}))
    assert data["smoothgrad"] == "vargrad"


def test_sort_orders_by_smoothgrads_reduction(tmp_path: Path) -> None:
    orders = page_data(build(tmp_path, tmp_path / "gallery"))["orders"]
    # speckle reductions: label 1: .5, 2: .8, 3: .1, 4: .6; prediction (wrong 2, 4): 2: .05, 4: .9
    assert orders["label"]["gradient"]["speckle"] == {"most": [2, 4, 1, 3],
                                                      "least": [3, 1, 4, 2]}
    assert orders["prediction"]["guided_backprop"]["speckle"] == {"most": [4, 1, 3, 2],
                                                                  "least": [2, 3, 1, 4]}
    assert orders["label"]["integrated_gradients"]["tv"]["most"] == [3, 1, 4, 2]


def test_a_store_with_fewer_methods_and_variants_builds(tmp_path: Path) -> None:
    """A `methods` override drops methods; a store without the figures' SmoothGrad still shows
    its maps and scores, with nothing to compare or rank."""
    methods = ("gradient", "guided_backprop")
    page = build(tmp_path / "a", tmp_path / "fewer", methods=methods)
    data = page_data(page)
    assert data["methods"] == list(methods) and set(data["orders"]["label"]) == set(methods)
    assert set(data["rows"][0]["scores"]["label"]) == {f"{m}/{v}" for m in methods
                                                       for v in VARIANTS}
    assert not any("integrated_gradients" in p.name for p in page.parent.rglob("*.webp"))
    data = page_data(build(tmp_path / "b", tmp_path / "no-mean", variants=("plain", "vargrad")))
    assert data["variants"] == ["plain", "vargrad"]
    assert data["smoothgrad"] is None and data["orders"] == {} and data["rows"][0]["gains"] == {}


def test_missing_or_stale_scores_fail_in_one_line(tmp_path: Path) -> None:
    store, references = write_store(tmp_path, rows=ROWS[:2])
    missing = tmp_path / "nowhere" / "map_scores.json"

    def build_with(scores: Path) -> None:
        build_gallery(store, tmp_path / "g", references, scores=scores, thumbnail_size=160,
                      quality=80, confident_threshold=0.7)

    with pytest.raises(DataError) as caught:
        build_with(missing)
    assert str(caught.value).startswith(f"no per-image map scores at {missing}; re-run")
    assert "\n" not in str(caught.value)
    scores = write_scores(store)
    stale = json.loads(scores.read_text())
    stale["images"] = [e for e in stale["images"] if e["target"] != "prediction"]
    scores.write_text(json.dumps(stale))
    with pytest.raises(DataError, match="lack gradient/plain of image 2 \\(prediction\\)"):
        build_with(scores)


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
    """Worst case at the configured thumbnail settings: every image wrong (48 maps) at a 224 px
    model input, plus the authors' maps."""
    settings = compose_config().gallery
    rows = ((1, "a", "b", 0.5), (2, "c", "d", 0.5))
    store, references = write_store(tmp_path, 224, rows)
    out = build_gallery(store, tmp_path / "gallery", references, scores=write_scores(store),
                        thumbnail_size=settings.thumbnail_size, quality=settings.quality,
                        confident_threshold=0.7).parent
    per_image = sum(p.stat().st_size for p in (out / "maps").rglob("*.webp")) / len(rows)
    assert 200 * per_image < 60e6, f"{per_image / 1e3:.0f} kB per image"


def test_missing_map_fails_with_the_fix(tmp_path: Path) -> None:
    store, references = write_store(tmp_path, rows=ROWS[:1])
    np.savez(store / "1.npz", pixels=np.zeros((3, 8, 8), np.float16))
    with pytest.raises(DataError, match="image 1 has no map 'label/gradient/plain'; re-run "
                       "`dvc repro maps`"):
        build_gallery(store, tmp_path / "g", references, scores=write_scores(store),
                      thumbnail_size=160, quality=80, confident_threshold=0.7)
