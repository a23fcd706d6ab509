"""Which committed paper-profile results are stale against the code: `dvc status --json` on the
committed `dvc.lock`, reporting the stages whose code, inputs or params changed since the run
that produced the committed results (missing DVC-cached outputs, normal in a fresh clone, are
not staleness). Informational: always exits 0.

    python .ci/stale_results.py [--repo .]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import yaml


def stale_stages(status: dict, uncached: set[str] = frozenset()) -> dict[str, list[str]]:
    """stage -> what changed (deps/params), from `dvc status --json` output. A dep in
    `uncached` (another stage's output, absent from a clone's empty DVC cache) reported
    deleted is not a change."""
    stale: dict[str, list[str]] = {}
    for stage, changes in status.items():
        reasons = []
        for change in changes:
            if not isinstance(change, dict):
                reasons.append(str(change))  # e.g. "changed command"
                continue
            for kind in ("changed deps", "changed params"):
                reasons += [f"{kind[8:]} {name}: {what}"
                            for name, what in change.get(kind, {}).items()
                            if not (what == "deleted" and name in uncached)]
        if reasons:
            stale[stage.split(":")[-1]] = reasons
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path("."))
    args = parser.parse_args()
    if not (args.repo / "dvc.lock").is_file():
        print("stale results: no committed dvc.lock (no paper-profile results committed)")
        return 0
    out = subprocess.run(["dvc", "status", "--json"], cwd=args.repo, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        print(f"stale results: `dvc status` failed: {out.stderr.strip()}")
        return 0
    lock = yaml.safe_load((args.repo / "dvc.lock").read_text())["stages"]
    outputs = {out["path"] for stage in lock.values() for out in stage.get("outs", [])}
    stale = stale_stages(json.loads(out.stdout or "{}"), outputs)
    if not stale:
        print("stale results: none; the committed results match the code and params")
    for stage, reasons in stale.items():
        print(f"stale results: {stage}: {'; '.join(reasons)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
