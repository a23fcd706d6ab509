"""One way for every stage to get its config, under `dvc repro` and by hand."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_ROOT / "conf"
PARAMS_FILE = REPO_ROOT / "params.yaml"


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose `conf/` with Hydra overrides, without Hydra writing anything to disk."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def load_config(overrides: Sequence[str] = (), params_file: Path = PARAMS_FILE) -> DictConfig:
    """The stage's config: `params.yaml` (what DVC tracks, written by `dvc exp run -S ...`) when
    no overrides are given, else a fresh composition of `conf/` with them (a run by hand)."""
    if overrides or not params_file.exists():
        return compose_config(overrides)
    return OmegaConf.load(params_file)


def stage_main(run: Callable[[DictConfig], object]) -> None:
    """Thin CLI of a stage script: `python experiments/X.py [hydra overrides...]`."""
    run(load_config(sys.argv[1:]))
