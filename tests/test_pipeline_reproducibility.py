"""The determinism check's pieces on a toy tree (the full check runs in CI: `make smoke-check`)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import yaml

from smoothgrad.store.paths import REPO_ROOT

# CI tooling lives outside the runtime package, in .ci/.
_SPEC = importlib.util.spec_from_file_location("smoke_check", REPO_ROOT / ".ci" / "smoke_check.py")
smoke_check = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(smoke_check)
checkout, differences = smoke_check.checkout, smoke_check.differences
lock_outputs, sha256_tree = smoke_check.lock_outputs, smoke_check.sha256_tree


def _toy(root: Path) -> None:
    (root / "out").mkdir(parents=True)
    (root / "out" / "a.npz").write_bytes(b"a")
    (root / "fig.png").write_bytes(b"png")
    lock = {"schema": "2.0", "stages": {
        "s1": {"cmd": "x", "outs": [{"path": "out", "md5": "1.dir"}]},
        "s2": {"cmd": "y", "deps": [{"path": "out"}], "outs": [{"path": "fig.png"}]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))


def test_hashes_of_lock_outputs_detect_every_change(tmp_path: Path) -> None:
    _toy(tmp_path)
    paths = lock_outputs(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["dvc.lock", "out", "fig.png"]
    before = sha256_tree(paths, tmp_path)
    assert set(before) == {"dvc.lock", "out/a.npz", "fig.png"}
    assert differences(before, sha256_tree(paths, tmp_path)) == []
    (tmp_path / "fig.png").write_bytes(b"png2")
    (tmp_path / "out" / "a.npz").unlink()
    (tmp_path / "out" / "b.npz").write_bytes(b"b")
    assert differences(before, sha256_tree(paths, tmp_path)) == [
        "missing after rerun: out/a.npz", "new after rerun: out/b.npz", "changed: fig.png"]


def test_checkout_is_clean_unless_worktree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    (repo / "committed.txt").write_text("1")
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "c"], check=True)
    (repo / "committed.txt").write_text("2")
    (repo / "new.txt").write_text("n")
    checkout(repo, tmp_path / "clean", worktree=False)
    assert (tmp_path / "clean" / "committed.txt").read_text() == "1"
    assert not (tmp_path / "clean" / "new.txt").exists()
    checkout(repo, tmp_path / "dirty", worktree=True)
    assert (tmp_path / "dirty" / "committed.txt").read_text() == "2"
    assert (tmp_path / "dirty" / "new.txt").read_text() == "n"
