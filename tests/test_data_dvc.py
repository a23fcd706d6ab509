"""`dvc repro` never records unverified data.

DVC 3 re-hashes a changed `.dvc` data source during `dvc repro` and writes the new hash into it
(Stage.run only checks that the outputs exist; `frozen: true` still saves and commits), so a
truncated image would be recorded as the truth before any stage fails. Here `data/` is instead
the persisted output of a stage whose command is the fetcher: it repairs the bad file before
DVC hashes `data/`, or fails, and then nothing is recorded.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smoothgrad.data.manifest import COLUMNS, REPO_ROOT

IMAGE = bytes(range(256)) * 8


def _dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, check=check
    )


def _pipeline(tmp_path: Path) -> tuple[Path, Path]:
    """A DVC repo whose `data` stage fetches two images from a mirror, read by a `count` stage;
    run once, so dvc.lock holds the good hash."""
    mirror, repo = tmp_path / "mirror", tmp_path / "repo"
    files = {"images/7.png": IMAGE, "images/8.png": IMAGE[::-1]}
    rows = []
    for rel, content in files.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        rows.append("\t".join([rel, str(len(content)), sha, sha, "-"]))
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("\n".join(["\t".join(COLUMNS), *rows]) + "\n")
    repo.mkdir()
    fetch = [sys.executable, "-m", "smoothgrad.data.fetch", "--manifest", str(manifest)]
    count = [sys.executable, "-c", "import os; print(len(os.listdir('data/images')))"]
    stages = {
        "data": {
            "cmd": shlex.join([*fetch, "--mirror", str(mirror)]),
            "outs": [{"data": {"persist": True}}],  # repaired in place, never deleted first
        },
        "count": {"cmd": shlex.join(count) + " > count.txt", "deps": ["data/images"],
                  "outs": ["count.txt"]},
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    _dvc(repo, "init", "--no-scm", "--quiet")
    _dvc(repo, "repro")
    return repo, mirror


def test_repro_repairs_bad_data_or_records_nothing(tmp_path: Path) -> None:
    """One image truncated: repaired, dvc.lock unchanged. One deleted while the mirror's copy
    is damaged too: `dvc repro` fails, dvc.lock still unchanged."""
    repo, mirror = _pipeline(tmp_path)
    lock = (repo / "dvc.lock").read_text()
    image = repo / "data/images/7.png"
    image.write_bytes(IMAGE[:100])
    result = _dvc(repo, "repro")
    assert "repaired data/images/7.png: sha256 mismatch" in result.stdout
    assert (repo / "dvc.lock").read_text() == lock
    assert image.read_bytes() == IMAGE
    (moved,) = (repo / ".smoothgrad-quarantine").glob("*/images/7.png")
    assert moved.read_bytes() == IMAGE[:100]

    (repo / "data/images/8.png").unlink()
    (mirror / "images/8.png").write_bytes(b"damaged too")
    result = _dvc(repo, "repro", check=False)
    assert result.returncode != 0
    assert "images/8.png: sha256 mismatch in" in result.stderr + result.stdout
    assert (repo / "dvc.lock").read_text() == lock


@pytest.mark.skipif(
    (REPO_ROOT / "data.dvc").exists(),
    reason="data/ is still tracked by data.dvc, which `dvc repro` re-hashes unverified; "
    "move it to a `data` stage as above",
)
def test_the_repository_tracks_data_with_the_fetch_stage() -> None:
    stage = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]["data"]
    assert stage["cmd"].startswith("python -m smoothgrad.data.fetch")
    (out,) = stage["outs"]
    (options,) = out.values()
    assert options["persist"] is True
