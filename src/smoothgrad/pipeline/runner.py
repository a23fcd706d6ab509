"""The thin CLI behind every stage script: `python experiments/<stage>.py [key=value ...]`.

It loads `params.yaml` (plus any overrides), verifies the raw data the stage reads against the
manifest, hands the stage only the params its spec declares, prints the stage's one summary line,
and turns the project's own errors into one line on stderr and exit status 2 (anything else keeps
its traceback: that is a bug)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from omegaconf import DictConfig

from ..data.manifest import verify_inputs
from ..errors import ConfigError, UserError
from ..store.paths import REPO_ROOT, Paths
from .config import PARAMS_FILE, load_config, restrict

StageRun = Callable[[DictConfig, Paths], str]


def declared(name: str, dvc_yaml: Path = REPO_ROOT / "dvc.yaml") -> dict:
    """Stage `name` as `dvc.yaml` declares it (generated from `pipeline.stages`; read here so a
    stage imports only the code it runs, and its deps stay its own)."""
    return yaml.safe_load(dvc_yaml.read_text())["stages"][name]


def run_stage(name: str, run: StageRun, overrides: Sequence[str] = (),
              params_file: Path = PARAMS_FILE) -> str:
    """Run stage `name` with its declared params, after verifying the raw data it reads;
    returns its summary line."""
    stage = declared(name)
    cfg = load_config(overrides, params_file)
    paths = Paths.from_config(cfg.paths)
    meta = stage.get("meta", {})
    # the 200 images' files (`meta.dataset`) are read only with dataset=pair200
    unread = set(meta.get("dataset", ())) if cfg.dataset.name != "pair200" else set()
    verify_inputs([paths.data / rest for rest in meta.get("data", []) if rest not in unread],
                  paths.data)
    # Like `paths`, the `executor` node (where per-image work runs: this process or Ray) goes to
    # every stage without being a DVC param: the results do not depend on it (each image's noise
    # is seeded from its content), so switching executor must not rerun a stage. The one
    # setting that does change the bytes, `executor.torch_threads`, is a param of the stages
    # that read it.
    return run(restrict(cfg, [*stage.get("params", ()), "executor"], name), paths)


def _user_error(err: BaseException | None) -> UserError | None:
    """The project's error behind `err`: itself, or the cause of a wrapper such as Hydra's
    InstantiationException (`instantiate` re-raises whatever its target raises)."""
    while err is not None:
        if isinstance(err, UserError):
            return err
        err = err.__cause__
    return None


def stage_main(name: str, run: StageRun, argv: Sequence[str] | None = None) -> None:
    """Entry point of a stage script; `argv` (default: the command line) are overrides."""
    overrides = list(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    try:
        summary = run_stage(name, run, overrides)
    except Exception as caught:  # noqa: BLE001 - re-raised unless a UserError is behind it
        err = _user_error(caught)
        if err is None:
            raise
        advice = (" (after a rejected `dvc exp run -S`, `git show HEAD:params.yaml > params.yaml` "
                  "restores the committed config)" if isinstance(err, ConfigError) else "")
        print(f"{name}: error: {err}{advice}", file=sys.stderr)
        sys.exit(2)
    print(f"{name}: {summary} [{time.perf_counter() - start:.0f} s]")
    if overrides:
        print(f"{name}: run by hand with overrides {overrides}: its outputs no longer match "
              "dvc.lock (`dvc status` shows the stage as changed; `dvc repro` restores them)")
