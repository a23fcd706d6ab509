"""One way for every stage to get its config, under `dvc repro` and by hand.

`params.yaml` is the composition of `conf/` that DVC tracks (`dvc exp run -S ...` rewrites it).
A stage always starts from it, so a hand run means what `dvc repro` means; overrides given on
the command line apply on top. Hydra writes nothing to disk here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..errors import ConfigError
from ..store.paths import REPO_ROOT
from .schema import validate_config

CONF_DIR = REPO_ROOT / "conf"
PARAMS_FILE = REPO_ROOT / "params.yaml"
_ABSENT = object()


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose `conf/` with Hydra overrides (resolved, as DVC's Hydra composition does), and
    validate the result against the schema."""
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose(config_name="config", overrides=list(overrides))
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"config: {_first_line(err)}") from None
    validate_config(cfg)
    return cfg


def params_yaml(overrides: Sequence[str] = ()) -> str:
    """The text `dvc exp run -S ...` writes to params.yaml for these overrides."""
    return OmegaConf.to_yaml(compose_config(overrides))


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _group_packages() -> dict[str, str]:
    """Config group -> the node it fills, from the defaults list (`model` -> `model`,
    `method@methods.gradient` -> `methods.gradient`; `_global_` groups map to '')."""
    defaults = yaml.safe_load((CONF_DIR / "config.yaml").read_text())["defaults"]
    packages = {}
    for entry in defaults:
        if isinstance(entry, dict):
            ((key, _),) = entry.items()
            group, _, package = key.partition("@")
            packages[package or group] = group
    return packages


def apply_overrides(cfg: DictConfig, overrides: Iterable[str]) -> DictConfig:
    """`key=value` overrides on top of a composed config: a value (parsed as YAML, as Hydra
    does), or a group option for a node a group fills (`model=inception_v3`). Profiles change
    many keys at once and are composed only by `dvc exp run -S profile=...`."""
    cfg = cfg.copy()
    packages = _group_packages()
    for override in overrides:
        if override.startswith("~"):  # Hydra's deletion, e.g. ~methods.integrated_gradients
            parent, _, leaf = override[1:].rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if node is None or leaf not in node:
                raise ConfigError(f"config: cannot delete {override[1:]!r}: no such key")
            del node[leaf]
            continue
        key, sep, value = override.partition("=")
        key = key.lstrip("+")
        if not sep or not key:
            raise ConfigError(f"config: override {override!r} is not key=value")
        if key == "profile":
            raise ConfigError("config: profile=... changes many settings: run "
                              f"`dvc exp run -S profile={value}` (it rewrites params.yaml)")
        if key in packages:
            option = CONF_DIR / packages[key] / f"{value}.yaml"
            if not option.is_file():
                choices = sorted(p.stem for p in option.parent.glob("*.yaml"))
                raise ConfigError(f"config: {key}={value} is not an option; choose one of "
                                  f"{', '.join(choices)}")
            OmegaConf.update(cfg, key, OmegaConf.load(option), merge=False)
        else:
            if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
                raise ConfigError(f"config: unknown key {key!r}; see params.yaml for the keys")
            OmegaConf.update(cfg, key, yaml.safe_load(value), merge=False)
    return cfg


def load_config(overrides: Sequence[str] = (), params_file: Path = PARAMS_FILE) -> DictConfig:
    """The stage's config: `params.yaml` (what DVC tracks) with `overrides` applied on top,
    validated against the schema."""
    if not params_file.is_file():
        raise ConfigError(f"config: {params_file} is missing; run `python -m "
                          "smoothgrad.pipeline.config` to write it from conf/")
    cfg = apply_overrides(OmegaConf.load(params_file), overrides)
    validate_config(cfg)
    return cfg


def restrict(cfg: DictConfig, keys: Iterable[str], stage: str) -> DictConfig:
    """Only `keys` of `cfg` (dotted, as in `dvc.yaml`'s params), read-only, so a stage cannot
    read a setting that DVC does not track for it: such a read fails at once."""
    out = OmegaConf.create({})
    for key in keys:
        value: Any = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is _ABSENT:
            raise ConfigError(f"config: stage {stage} needs {key!r}, which params.yaml lacks; "
                              "rewrite it with `python -m smoothgrad.pipeline.config`")
        OmegaConf.update(out, key, value, merge=False)
    OmegaConf.set_readonly(out, True)
    OmegaConf.set_struct(out, True)
    return out


def to_dict(node: Any) -> Any:
    """A config node as plain Python (dicts, lists, scalars), interpolations resolved."""
    return OmegaConf.to_container(node, resolve=True)


def main() -> None:
    """`python -m smoothgrad.pipeline.config [overrides...]`: rewrite params.yaml from conf/."""
    PARAMS_FILE.write_text(params_yaml(sys.argv[1:]), encoding="utf-8")
    print(f"wrote {PARAMS_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
