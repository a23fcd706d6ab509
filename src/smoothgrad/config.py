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
    """Compose `conf/` with Hydra overrides (resolved, as DVC's Hydra composition does), without
    Hydra writing anything to disk."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=list(overrides))
    OmegaConf.resolve(cfg)
    return cfg


def params_yaml(overrides: Sequence[str] = ()) -> str:
    """The text `dvc exp run -S ...` writes to params.yaml for these overrides."""
    return OmegaConf.to_yaml(compose_config(overrides))


def load_config(overrides: Sequence[str] = (), params_file: Path = PARAMS_FILE) -> DictConfig:
    """The stage's config: `params.yaml` (what DVC tracks, written by `dvc exp run -S ...`) when
    no overrides are given, else a fresh composition of `conf/` with them (a run by hand)."""
    if overrides or not params_file.exists():
        return compose_config(overrides)
    return OmegaConf.load(params_file)


def main() -> None:
    """`python -m smoothgrad.config [overrides...]`: rewrite params.yaml from `conf/`."""
    PARAMS_FILE.write_text(params_yaml(sys.argv[1:]), encoding="utf-8")
    print(f"wrote {PARAMS_FILE.relative_to(REPO_ROOT)}")


def stage_main(run: Callable[[DictConfig], object]) -> None:
    """Thin CLI of a stage script: `python experiments/X.py [hydra overrides...]`."""
    run(load_config(sys.argv[1:]))


if __name__ == "__main__":
    main()
