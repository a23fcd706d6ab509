"""`dvc repro` never records unverified data.

DVC 3 re-hashes a changed `.dvc` data source during `dvc repro` when a stage depends on its
files, and writes the new hash into it before any stage runs (`frozen: true` does not stop it),
so a truncated image would be recorded as the truth. So no stage depends on `data/` itself: each
depends on the manifest that pins every file's sha256 and verifies the files it reads against it
before it runs (`meta.data` in dvc.yaml). `data.dvc` is then never part of a repro's plan.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from smoothgrad.data.manifest import COLUMNS, REPO_ROOT

IMAGE = bytes(range(256)) * 8


def _dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, check=check
    )


def _pipeline(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A DVC repo whose `data/` (two images) is tracked by data.dvc and read by a `count` stage
    that depends on the manifest and verifies the images first, as the project's stages do;
    run once, so data.dvc and dvc.lock hold the good hashes."""
    mirror, repo = tmp_path / "mirror", tmp_path / "repo"
    files = {"images/7.png": IMAGE, "images/8.png": IMAGE[::-1]}
    rows = []
    for rel, content in files.items():
        for root in (mirror, repo / "data"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        rows.append("\t".join([rel, str(len(content)), sha, sha, "-"]))
    manifest = repo / "manifest.tsv"
    manifest.write_text("\n".join(["\t".join(COLUMNS), *rows]) + "\n")
    count = ("from smoothgrad.data.manifest import verify_inputs; import os; "
             "verify_inputs(['data/images'], 'data', root='.', manifest='manifest.tsv'); "
             "print(len(os.listdir('data/images')))")
    stages = {"count": {"cmd": shlex.join([sys.executable, "-c", count]) + " > count.txt",
                        "deps": ["manifest.tsv"], "meta": {"data": ["images"]},
                        "outs": ["count.txt"]}}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    _dvc(repo, "init", "--no-scm", "--quiet")
    _dvc(repo, "add", "--quiet", "data")
    _dvc(repo, "repro")
    return repo, mirror, manifest


def test_repro_never_records_unverified_data(tmp_path: Path) -> None:
    """One image truncated: `dvc repro` leaves data.dvc alone; a stage that reads it fails in
    one line naming the file; the fetcher repairs it and data.dvc still holds the good hash."""
    repo, mirror, manifest = _pipeline(tmp_path)
    tracked, lock = (repo / "data.dvc").read_text(), (repo / "dvc.lock").read_text()
    image = repo / "data/images/7.png"
    image.write_bytes(IMAGE[:100])
    _dvc(repo, "repro")
    assert (repo / "data.dvc").read_text() == tracked
    result = _dvc(repo, "repro", "--force", check=False)
    assert result.returncode != 0
    assert "data/images/7.png: sha256 mismatch" in result.stderr
    assert (repo / "data.dvc").read_text() == tracked
    assert (repo / "dvc.lock").read_text() == lock

    image.unlink()
    result = _dvc(repo, "repro", "--force", check=False)
    assert result.returncode != 0 and "7.png: missing" in result.stderr
    fetched = subprocess.run([sys.executable, "-m", "smoothgrad.data.fetch", "--manifest",
                              str(manifest), "--mirror", str(mirror), "--data-dir",
                              str(repo / "data")], capture_output=True, text=True, check=True)
    assert "1 fetched" in fetched.stdout
    _dvc(repo, "repro")  # the stage's output, removed by the failed forced run, comes back
    assert _dvc(repo, "status", "--json").stdout.strip() == "{}"
    assert (repo / "data.dvc").read_text() == tracked
    assert (repo / "dvc.lock").read_text() == lock


def test_no_stage_of_the_pipeline_depends_on_raw_data() -> None:
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert not [d for d in stage["deps"] if d.startswith("${paths.data}")], name
        if "meta" in stage:
            assert "src/smoothgrad/data/manifest.tsv" in stage["deps"], name
    assert stages["maps"]["meta"]["data"] == ["pair-saliency/images"]
