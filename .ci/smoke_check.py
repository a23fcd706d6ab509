"""CI's determinism check: the smoke pipeline in a clean checkout (`dvc exp run -S profile=smoke`),
then `dvc status --json` (DVC must name no changed stage), `dvc repro` again (`dvc.lock` and every
output unchanged), then `dvc repro -f` (every output byte-identical).

    python .ci/smoke_check.py [--repo .] [--workdir DIR] [--worktree] [--keep] [overrides...]

`--worktree` also copies uncommitted (tracked or untracked, not ignored) files over the clone,
to check a change before committing it. The parent's virtual environment is reused via PATH and
PYTHONPATH (the clone's `src/` first). Exit code 1 with one line per difference on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from smoothgrad.data.manifest import sha256_file


def sha256_tree(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """sha256 of every file under `paths` (files or folders), keyed by path relative to root."""
    hashes: dict[str, str] = {}
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                hashes[file.relative_to(root).as_posix()] = sha256_file(file)
    return hashes


def lock_outputs(root: Path) -> list[Path]:
    """Every output path (outs, metrics, plots) recorded in `dvc.lock`, plus the lock itself."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    paths = [root / "dvc.lock"]
    for stage in lock.get("stages", {}).values():
        paths += [root / out["path"] for out in stage.get("outs", [])]
    return paths


def differences(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """One line per file that appeared, disappeared or changed between two `sha256_tree`s."""
    lines = [f"missing after rerun: {p}" for p in sorted(before.keys() - after.keys())]
    lines += [f"new after rerun: {p}" for p in sorted(after.keys() - before.keys())]
    lines += [f"changed: {p}" for p in sorted(before.keys() & after.keys())
              if before[p] != after[p]]
    return lines


def _run(cmd: list[str], cwd: Path, env: Mapping[str, str], echo: bool = True) -> str:
    print(f"$ {' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=dict(env), text=True, stdout=subprocess.PIPE,
                          stderr=None if not echo else subprocess.STDOUT)
    if echo or proc.returncode:
        print(proc.stdout, end="", flush=True)
    if proc.returncode:
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}")
    return proc.stdout


def checkout(repo: Path, dest: Path, worktree: bool) -> None:
    """A clean clone of `repo`'s HEAD at `dest`; with `worktree`, plus its uncommitted files."""
    subprocess.run(["git", "clone", "--quiet", str(repo), str(dest)], check=True)
    # `dvc exp run` commits the experiment: a CI machine may have no git identity.
    if subprocess.run(["git", "config", "user.email"], cwd=dest, capture_output=True).returncode:
        for key, value in (("user.name", "smoke-check"), ("user.email", "smoke-check@localhost")):
            subprocess.run(["git", "config", key, value], cwd=dest, check=True)
    if not worktree:
        return
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo,
                            check=True, stdout=subprocess.PIPE).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = repo / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def smoke_check(repo: Path, workdir: Path, worktree: bool,
                overrides: list[str]) -> list[str]:
    """Run the check in `workdir/clone`; returns the problems found (empty = deterministic)."""
    clone = workdir / "clone"
    checkout(repo, clone, worktree)
    env = {**os.environ, "PYTHONPATH": str(clone / "src"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    _run([sys.executable, "-m", "smoothgrad.data.fetch"], clone, env)
    _run(["dvc", "commit", "--force", "--quiet", "data.dvc"], clone, env)  # as `make data`
    start = time.monotonic()
    _run(["dvc", "exp", "run", *(arg for o in overrides for arg in ("-S", o))], clone, env)
    print(f"smoke pipeline: {time.monotonic() - start:.0f} s", flush=True)
    first = sha256_tree(lock_outputs(clone), clone)
    status = json.loads(_run(["dvc", "status", "--json"], clone, env, echo=False) or "{}")
    problems = [f"changed although nothing was edited: {name} {status[name]}"
                for name in sorted(status)]
    _run(["dvc", "repro"], clone, env)
    problems += differences(first, sha256_tree(lock_outputs(clone), clone))
    _run(["dvc", "repro", "--force"], clone, env)
    problems += [f"after `dvc repro --force`: {line}"
                 for line in differences(first, sha256_tree(lock_outputs(clone), clone))]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to clone (default: a temporary folder, removed afterwards)")
    parser.add_argument("--worktree", action="store_true",
                        help="include uncommitted files of --repo")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("overrides", nargs="*", default=["profile=smoke"],
                        help="`dvc exp run -S` overrides (default: profile=smoke)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="smoothgrad-smoke-"))
    try:
        problems = smoke_check(args.repo.resolve(), workdir, args.worktree, args.overrides)
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in problems:
        print(f"smoke-check: {line}", file=sys.stderr)
    print(f"smoke-check: {'FAILED' if problems else 'OK'}: "
          f"{len(problems)} problem(s); outputs of two runs compared")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
