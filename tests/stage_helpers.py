"""Shared by the tests that drive stages: a stage script's `run`, a tiny model, and a clone
of the repository with the code under review."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import torch
from torch import nn

from smoothgrad.models import ModelBundle
from smoothgrad.pipeline.stages import STAGES
from smoothgrad.store.paths import REPO_ROOT

SIZE = 16


def stage_run(name: str):
    """The `run` of a stage script, loaded as `python experiments/<script>` would."""
    stage = STAGES[name]
    spec = importlib.util.spec_from_file_location(f"stage_{name}", stage.script_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.figure_run(name) if stage.script == "figure.py" else module.run


def tiny_bundle(weights_path: str | None = None) -> ModelBundle:
    """A seeded 16 px net over the 1000 ImageNet classes; also a `model._target_` for stage
    runs (`weights_path` only to take the config node's key)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                            nn.Flatten(), nn.Linear(16, 1000))
    return ModelBundle(name="tiny", net=net, input_size=SIZE, mean=(0.5,) * 3, std=(0.5,) * 3,
                       class_names=[str(i) for i in range(1000)])


def clone_under_review(repo: Path, user: str) -> None:
    """`git clone` of this repository into `repo` with the working tree's code (src/,
    experiments/, conf/, dvc.yaml: committed or not) and data/, and a git identity `user`."""
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(repo)], check=True)
    for name in ("src", "experiments", "conf"):
        shutil.rmtree(repo / name)
        shutil.copytree(REPO_ROOT / name, repo / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "dvc.yaml", repo / "dvc.yaml")
    shutil.copytree(REPO_ROOT / "data", repo / "data")
    for key, value in (("user.email", f"{user}@example.invalid"), ("user.name", user)):
        subprocess.run(["git", "config", key, value], cwd=repo, check=True)
