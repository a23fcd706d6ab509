"""The `executor` config group (issue 12): per-image work in this process or on Ray actors, with
the same bytes; an actor killed mid-run is retried; and DVC's queue runs several experiments."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stage_helpers import clone_under_review

from smoothgrad.compute.executor import CRASH_ONCE_ENV, open_workers
from smoothgrad.errors import ConfigError
from smoothgrad.pipeline.config import compose_config, params_yaml
from smoothgrad.pipeline.runner import declared, run_stage
from smoothgrad.pipeline.stages import STAGES
from smoothgrad.store.paths import REPO_ROOT, Paths

VENV_BIN = Path(sys.executable).parent


def _stage_run(name: str):
    """The `run` of a stage script, loaded as `python experiments/<script>` would."""
    spec = importlib.util.spec_from_file_location(f"stage_{name}", STAGES[name].script_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run


def _tree(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- config and local executor


def test_local_executor_never_imports_ray() -> None:
    code = ("import sys\nfrom smoothgrad.compute.executor import open_workers\n"
            "with open_workers({'name': 'local', 'torch_threads': 1}, lambda: len) as w:\n"
            "    assert list(w.map([(0, 'abc')])) == [(0, 3)]\n"
            "assert 'ray' not in sys.modules, 'executor=local imported ray'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_local_executor_pins_torch_threads() -> None:
    import torch
    before = torch.get_num_threads()
    try:
        with open_workers({"name": "local", "torch_threads": 1}, dict) as workers:
            assert torch.get_num_threads() == 1
            assert workers.call("copy") == {}
    finally:
        torch.set_num_threads(before)


def test_executor_is_not_a_param_but_torch_threads_is() -> None:
    params = declared("maps")["params"]
    assert "executor.torch_threads" in params
    assert not any(p == "executor" or p.startswith("executor.") and p != "executor.torch_threads"
                   for stage in STAGES for p in declared(stage).get("params", []))


def test_ray_settings_need_executor_ray() -> None:
    assert compose_config(["executor=ray"]).executor.workers == 2
    with pytest.raises(ConfigError, match=r"executor.*takes no address.*pass executor=ray"):
        compose_config(["+executor.address=auto"])
    with pytest.raises(ConfigError, match="executor.workers=0 is out of range"):
        compose_config(["executor=ray", "executor.workers=0"])


# ---------------------------------------------------------------- Ray: same bytes, retried


@pytest.fixture(scope="module")
def ray_cluster():
    """A local 2-CPU Ray started in this process (the executor joins it, leaves it running)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """The smoke config with artifacts outside the repository, its predictions, and the map
    store written with executor=local (sha256 per file)."""
    root = tmp_path_factory.mktemp("executor")
    params = root / "params.yaml"
    params.write_text(params_yaml(["profile=smoke", f"paths.artifacts={root / 'artifacts'}",
                                   f"paths.reports={root / 'reports'}"]))
    for name in ("check_config", "predict_imagenet", "maps"):
        run_stage(name, _stage_run(name), params_file=params)
    store = Paths(REPO_ROOT / "data", root / "artifacts", root / "reports").get("map_store")
    return params, store, _tree(store)


RAY = ["executor=ray", "executor.workers=2"]


@pytest.mark.slow
def test_ray_map_store_is_byte_identical_to_local(smoke, ray_cluster) -> None:
    params, store, local = smoke
    shutil.rmtree(store)
    summary = run_stage("maps", _stage_run("maps"), RAY, params_file=params)
    assert "maps of 4 images" in summary
    assert _tree(store) == local
    assert len(local) == 5  # index.json and 4 images


@pytest.mark.slow
def test_killed_actor_is_retried_and_bytes_are_unchanged(smoke, ray_cluster, tmp_path,
                                                         monkeypatch) -> None:
    params, store, local = smoke
    image_id = json.loads((store / "index.json").read_text())["images"][1]["id"]
    flag = tmp_path / "killed"
    monkeypatch.setenv(CRASH_ONCE_ENV, f"{flag}@{image_id}")
    shutil.rmtree(store)
    run_stage("maps", _stage_run("maps"), RAY, params_file=params)
    assert flag.is_file(), "no actor died: the fault was not injected"
    assert _tree(store) == local


@pytest.mark.slow
def test_a_ray_run_resumes_a_local_one(smoke, ray_cluster) -> None:
    """The resume folder does not depend on the executor: finished images are not redone."""
    params, store, local = smoke
    run = _stage_run("maps")
    resumed = []

    def keep_two_then_stop(cfg, paths):  # a local run stopped after 2 images
        import smoothgrad.compute.maps as maps_module
        real = maps_module.write_image_maps

        def write(folder, image_id, pixels, maps):
            real(folder, image_id, pixels, maps)
            resumed.append(image_id)
            if len(resumed) == 2:
                raise KeyboardInterrupt
        maps_module.write_image_maps = write
        try:
            return run(cfg, paths)
        finally:
            maps_module.write_image_maps = real

    shutil.rmtree(store)
    with pytest.raises(KeyboardInterrupt):
        run_stage("maps", keep_two_then_stop, params_file=params)
    partial = next(store.parent.glob("maps.partial/*"))
    assert len(list(partial.glob("*.npz"))) == 2
    run_stage("maps", run, RAY, params_file=params)
    assert _tree(store) == local


# every other stage whose per-image jobs run on the executor's workers (`compute.jobs`)
JOB_STAGES = [name for name, stage in STAGES.items()
              if "executor.torch_threads" in stage.params and name != "maps"]


def test_every_per_image_stage_runs_on_the_executor() -> None:
    """The stages that build a model per image (sweeps, two objects, the evaluations on the
    200 images) are the stages that hand their jobs to the executor."""
    assert set(JOB_STAGES) == {"sweep_noise", "sweep_samples", "line_scan", "two_objects",
                               "eval_sigma", "eval_convergence", "eval_grids", "eval_sanity",
                               "eval_faithfulness", "eval_robustness"}
    for name in JOB_STAGES:
        assert "run_jobs(" in STAGES[name].script_path.read_text(), name


@pytest.mark.slow
@pytest.mark.parametrize("name", JOB_STAGES)
def test_ray_stage_outputs_are_byte_identical_to_local(smoke, ray_cluster, name) -> None:
    params, _, _ = smoke
    root = params.parent
    paths = Paths(REPO_ROOT / "data", root / "artifacts", root / "reports")
    outs = [paths.get(out) for out in STAGES[name].outs]
    run_stage(name, _stage_run(name), params_file=params)
    local = {out: hashlib.sha256(out.read_bytes()).hexdigest() for out in outs}
    for out in outs:
        out.unlink()
    run_stage(name, _stage_run(name), RAY, params_file=params)
    assert {out: hashlib.sha256(out.read_bytes()).hexdigest() for out in outs} == local


# ---------------------------------------------------------------- DVC's queue


def _env(repo: Path) -> dict[str, str]:
    # relative, as the README says: each queued experiment runs its own workspace's code
    env = dict(os.environ, PYTHONPATH="src",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop(CRASH_ONCE_ENV, None)
    return env


def _run(cmd: list[str], repo: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=repo, env=_env(repo), capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


@pytest.mark.slow
def test_dvc_queue_runs_two_noise_levels(tmp_path) -> None:
    """README's recipe: queue two σ on the smoke profile, run them 2 at a time, compare.
    Only the `maps` stage (and what it needs) runs, to keep CI short."""
    repo = tmp_path / "q"
    clone_under_review(repo, "queue")
    _run([sys.executable, "-m", "smoothgrad.pipeline.config", "profile=smoke"], repo)
    _run(["dvc", "commit", "-f", "-q", "data.dvc"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-q", "-m", "smoke profile"], repo)
    for sigma in ("0.1", "0.3"):
        _run(["dvc", "exp", "run", "--queue", "-n", f"sigma-{sigma}", "-S", "profile=smoke",
              "-S", f"smoothgrad.noise_level={sigma}", "-S", f"paths.data={repo / 'data'}",
              "maps"], repo)
    _run(["dvc", "queue", "start", "-j", "2"], repo)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = _run(["dvc", "queue", "status"], repo).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    assert "Failed" not in status, status
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], repo).stdout)
    levels = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            for rev in exp.get("revs", []):
                data = rev.get("data", {})
                sg = data.get("params", {}).get("params.yaml", {}).get("data", {})
                levels[exp.get("name") or rev.get("name")] = sg["smoothgrad"]["noise_level"]
    assert levels == {"sigma-0.1": 0.1, "sigma-0.3": 0.3}, levels
