"""The pipeline cannot drift from its code: dvc.yaml is generated from the stage specs, every
module a stage runs is among its deps, and every config key a stage reads is among its params."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import yaml
from omegaconf.errors import ConfigAttributeError

from smoothgrad.outputs.figures.catalog import FIGURES
from smoothgrad.pipeline import dvc_yaml
from smoothgrad.pipeline.config import compose_config, restrict
from smoothgrad.pipeline.deps import missing_deps
from smoothgrad.pipeline.stages import STAGES
from smoothgrad.store.paths import REPO_ROOT

DVC_YAML = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())


def test_dvc_yaml_is_generated_from_the_stage_specs() -> None:
    assert dvc_yaml.DVC_YAML.read_text() == dvc_yaml.render(), (
        "dvc.yaml is stale: run `python -m smoothgrad.pipeline.dvc_yaml` and commit it")


def test_every_stage_lists_every_module_it_runs() -> None:
    assert missing_deps(DVC_YAML) == {}


def test_a_removed_dep_is_caught() -> None:
    broken = copy.deepcopy(DVC_YAML)
    broken["stages"]["predict_imagenet"]["deps"].remove("src/smoothgrad/compute/predict.py")
    broken["stages"]["maps"]["deps"].remove("src/smoothgrad/device.py")
    assert missing_deps(broken) == {"predict_imagenet": ["src/smoothgrad/compute/predict.py"],
                                    "maps": ["src/smoothgrad/device.py"]}


def test_import_closure_follows_imports_inside_the_package() -> None:
    files = {p.relative_to(REPO_ROOT).as_posix() for p in STAGES["maps"].code_files()}
    assert {"experiments/compute_maps.py", "src/smoothgrad/compute/maps.py",
            "src/smoothgrad/attribution/smoothgrad.py", "src/smoothgrad/device.py",
            "src/smoothgrad/store/arrays.py", "src/smoothgrad/pipeline/deps.py"} <= files
    # a compute stage does not depend on drawing code, so editing a figure reruns no model
    assert not any(f.startswith("src/smoothgrad/outputs/") for f in files)
    gallery = {p.name for p in STAGES["gallery"].code_files()}
    assert "template.html" in gallery  # package data of an imported package


def _cfg_reads(script: Path) -> set[str]:
    """Dotted config keys a stage script reads (`cfg.a.b`, `cfg.a["b"]`, `cfg.a.get("b")`)."""
    reads = set()
    for node in ast.walk(ast.parse(script.read_text())):
        chain, cur = [], node
        while True:
            if isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            elif isinstance(cur, ast.Subscript) and isinstance(cur.slice, ast.Constant):
                chain.append(str(cur.slice.value))
                cur = cur.value
            elif (isinstance(cur, ast.Call) and isinstance(cur.func, ast.Attribute)
                  and cur.func.attr == "get" and cur.args
                  and isinstance(cur.args[0], ast.Constant)):
                chain.append(str(cur.args[0].value))
                cur = cur.func.value
            else:
                break
        if isinstance(cur, ast.Name) and cur.id == "cfg" and chain:
            reads.add(".".join(k for k in reversed(chain) if k != "get"))
    return reads


def _covered(key: str, params: list[str]) -> bool:
    """A read is covered by a param that is it or above it; a read of a node above a param is
    an intermediate step (`cfg.smoothgrad` then `.noise_level`): `restrict` guards the rest."""
    return any(key == p or key.startswith(p + ".") or p.startswith(key + ".") for p in params)


@pytest.mark.parametrize("name", [n for n, s in STAGES.items() if s.script != "figure.py"])
def test_stage_scripts_read_only_their_declared_params(name: str) -> None:
    """Statically, for the script's own reads; what it passes on (`pipeline.builders`, figure
    options) is guarded at run time by `restrict`, exercised by the smoke pipeline."""
    stage = STAGES[name]
    params = DVC_YAML["stages"][name].get("params", [])
    unread = sorted(k for k in _cfg_reads(stage.script_path) if not _covered(k, params))
    assert unread == [], f"stage {name} reads {unread}, which its dvc.yaml params lack"


def test_the_param_scanner_sees_reads() -> None:
    reads = _cfg_reads(REPO_ROOT / "experiments" / "compute_maps.py")
    assert {"methods.integrated_gradients", "precision", "seed"} <= reads


@pytest.mark.parametrize("spec", FIGURES, ids=lambda s: s.name)
def test_figure_options_read_only_the_figure_params(spec) -> None:
    cfg = restrict(compose_config(), spec.params, spec.name)
    assert spec.options(cfg)  # an undeclared read raises here
    assert DVC_YAML["stages"][spec.name]["params"] == list(spec.params)


def test_restricted_config_refuses_an_undeclared_read() -> None:
    cfg = restrict(compose_config(), ["seed", "smoothgrad.noise_level"], "demo")
    assert cfg.smoothgrad.noise_level == pytest.approx(0.15)
    with pytest.raises(ConfigAttributeError):
        _ = cfg.smoothgrad.n_samples
