"""verify_inputs: the check run before each stage, so a stage never computes from wrong data."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import yaml

from smoothgrad.data.manifest import COLUMNS, REPO_ROOT, DataError, verify_inputs

GOOD = b"good image bytes\n" * 20


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """A repository-like folder: data/images/{a,b}.png, data/meta.json, and their manifest."""
    files = {"images/a.png": GOOD, "images/b.png": GOOD[::-1], "meta.json": b"{}"}
    for rel, content in files.items():
        (tmp_path / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / rel).write_bytes(content)
    rows = [
        "\t".join([rel, str(len(c)), _sha(c), _sha(c), "-"]) for rel, c in files.items()
    ]
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("\n".join(["\t".join(COLUMNS), *rows]) + "\n")
    return tmp_path, manifest


def test_intact_inputs_pass_whatever_the_current_folder(
    repo: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, manifest = repo
    monkeypatch.chdir(root / "data" / "images")  # relative paths are the repository's
    assert verify_inputs(["data/images", "data/meta.json"], root=root, manifest=manifest) == 3
    assert verify_inputs(["data/images/a.png", "data/images"], root=root, manifest=manifest) == 2
    assert verify_inputs([root / "data"], root=root, manifest=manifest) == 3


def test_truncated_file(repo: tuple[Path, Path]) -> None:
    root, manifest = repo
    (root / "data/images/b.png").write_bytes(GOOD[::-1][:100])
    with pytest.raises(DataError) as err:
        verify_inputs(["data/images"], root=root, manifest=manifest)
    assert str(err.value) == (
        f"data/images/b.png: sha256 mismatch (expected {_sha(GOOD[::-1])}, got "
        f"{_sha(GOOD[::-1][:100])}); run `make data` to repair it"
    )
    assert verify_inputs(["data/meta.json"], root=root, manifest=manifest) == 1  # not read


def test_missing_file(repo: tuple[Path, Path]) -> None:
    root, manifest = repo
    (root / "data/images/a.png").unlink()
    with pytest.raises(DataError, match=r"^data/images/a.png: missing; run `make data` to repair"):
        verify_inputs(["data/images"], root=root, manifest=manifest)
    with pytest.raises(DataError, match=r"^data/images/a.png: missing; run `make data` to repair"):
        verify_inputs(["data/images/a.png"], root=root, manifest=manifest)


def test_missing_folder(repo: tuple[Path, Path]) -> None:
    root, manifest = repo
    for png in (root / "data/images").iterdir():
        png.unlink()
    (root / "data/images").rmdir()
    with pytest.raises(DataError, match=r"^data/images: folder missing; run `make data` to repair"):
        verify_inputs(["data/images"], root=root, manifest=manifest)


@pytest.mark.parametrize(
    ("path", "match"), [("src/x.py", "is not in"), ("data/nowhere", "no file of the manifest")]
)
def test_paths_outside_the_manifest_are_a_caller_bug(
    repo: tuple[Path, Path], path: str, match: str
) -> None:
    root, manifest = repo
    with pytest.raises(ValueError, match=match):
        verify_inputs([path], root=root, manifest=manifest)


@pytest.mark.skipif(not (REPO_ROOT / "data").is_dir(), reason="data/ not fetched (make data)")
def test_every_data_dependency_of_the_pipeline_is_in_the_manifest() -> None:
    """The real inputs: each raw-data file a stage verifies (`meta` in dvc.yaml) is checkable,
    and fast to check."""
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    deps = sorted({f"data/{rest}" for stage in stages.values()
                   for rest in stage.get("meta", {}).get("data", [])})
    assert deps
    start = time.perf_counter()
    checked = verify_inputs(deps)
    elapsed = time.perf_counter() - start
    assert checked > 600
    assert elapsed < 10  # ~0.2 s on a quiet machine: 78 MB of sha256; 10 s leaves room for load
