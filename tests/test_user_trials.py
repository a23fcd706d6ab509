"""A new user's trials (issue 13), replayed: each bad `dvc exp run -S ...` fails in one line
before any stage runs or deletes an output, a stage run by hand starts from `params.yaml`, and
stages find their files from the repository root whatever the current folder.

The `slow` tests run the trials for real, through DVC, in a throwaway clone that has run the
smoke pipeline once; the others check the same behaviour one level down, in-process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra.utils import instantiate
from omegaconf import OmegaConf
from stage_helpers import clone_under_review

from smoothgrad.errors import ConfigError, UserError
from smoothgrad.models import inception
from smoothgrad.outputs.plots import PLOTS
from smoothgrad.pipeline import runner
from smoothgrad.pipeline.config import compose_config, load_config, params_yaml
from smoothgrad.store.paths import REPO_ROOT

VENV_BIN = Path(sys.executable).parent
ADVICE = "git show HEAD:params.yaml > params.yaml"


# ---------------------------------------------------------------- helpers


def _env(repo: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(repo / "src"),
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)
    env.pop("SMOOTHGRAD_DATA_MIRROR", None)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str],
         timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _tree(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _stage_errors(output: str, stage: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{stage}: error:")]


# ---------------------------------------------------------------- the throwaway clone


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory) -> Path:
    """A clone that has run the smoke pipeline once (`dvc repro`), its dvc.lock committed.

    The clone takes the working tree's code (src/, experiments/, conf/, dvc.yaml) on top of
    HEAD, so the tests check the code under review, committed or not."""
    repo = tmp_path_factory.mktemp("trials") / "repo"
    env = _env(repo)
    clone_under_review(repo, "trials")
    steps = [
        [sys.executable, "-m", "smoothgrad.pipeline.config", "profile=smoke"],
        ["dvc", "commit", "-f", "-q", "data.dvc"],
        ["dvc", "repro", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "smoke run"],
    ]
    for cmd in steps:
        done = _run(cmd, repo, env, timeout=1800)
        assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return repo


@pytest.fixture
def trial(smoke_repo):
    """Run one command in the clone; afterwards restore params.yaml and every output."""
    env = _env(smoke_repo, TORCH_HOME=str(smoke_repo.parent / "torch-home-empty"))

    def run(cmd: list[str], cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess:
        return _run(cmd, cwd or smoke_repo, {**env, **extra})

    base = _run(["git", "rev-parse", "HEAD"], smoke_repo, env).stdout.strip()
    yield run
    # params.yaml, dvc.lock and the uncached metrics (git-tracked in the clone), back to the
    # smoke run's commit
    _run(["git", "reset", "-q", "--hard", base], smoke_repo, env)
    # git may see no change in the params.yaml DVC rewrote (same size, stat cache): write it
    (smoke_repo / "params.yaml").write_text(
        _run(["git", "show", f"{base}:params.yaml"], smoke_repo, env).stdout)
    restored = _run(["dvc", "checkout", "-f", "-q"], smoke_repo, env)
    assert restored.returncode == 0, restored.stderr
    status = _run(["dvc", "status", "-q"], smoke_repo, env)
    assert status.returncode == 0, f"clone not restored: {status.stdout}{status.stderr}"


def _rejected_by_check_config(run, smoke_repo: Path, override: str) -> str:
    """`dvc exp run -S profile=smoke -S <override>`: DVC composes and writes params.yaml, then the
    first stage, check_config, rejects it; no other stage runs and no output is deleted.
    Returns check_config's one error line."""
    maps = smoke_repo / "artifacts" / "maps"
    committed = (smoke_repo / "params.yaml").read_text()
    before = _tree(smoke_repo / "artifacts"), _tree(smoke_repo / "reports")
    assert _tree(maps), "the smoke run left no maps"
    done = run(["dvc", "exp", "run", "-S", "profile=smoke", "-S", override])
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    errors = _stage_errors(output, "check_config")
    assert len(errors) == 1, output
    assert ADVICE in errors[0]
    for stage in ("predict_imagenet", "train_mnist", "maps"):
        assert f"{stage}:" not in output, f"{stage} ran after a rejected config:\n{output}"
    after = _tree(smoke_repo / "artifacts"), _tree(smoke_repo / "reports")
    assert (smoke_repo / "params.yaml").read_text() != committed  # DVC wrote the bad config
    restore = run(["bash", "-c", ADVICE])  # the advice in the error line
    assert restore.returncode == 0, restore.stderr
    assert (smoke_repo / "params.yaml").read_text() == committed, "the advice did not restore"
    before[0].pop("config_checked.txt", None)  # check_config's own output, rewritten by checkout
    after[0].pop("config_checked.txt", None)
    assert after == before, "a rejected config changed or deleted a stage's output"
    return errors[0]


# ---------------------------------------------------------------- through DVC (slow)


@pytest.mark.slow
@pytest.mark.parametrize(("override", "named", "allowed"), [
    ("+smoothgrad.noise_levle=0.2", "smoothgrad.noise_levle",  # a typo'd new key
     "did you mean smoothgrad.noise_level?"),
    ("precision=fp16", "precision='fp16'", "fp32, bf16"),
    ("seed=abc", "seed='abc'", "not an integer"),
])
def test_bad_value_fails_in_check_config(trial, smoke_repo, override, named, allowed) -> None:
    line = _rejected_by_check_config(trial, smoke_repo, override)
    assert named in line and allowed in line


@pytest.mark.slow
def test_unknown_model_option_fails_in_dvc_composition_briefly(trial, smoke_repo) -> None:
    params_before = (smoke_repo / "params.yaml").read_text()
    maps_before = _tree(smoke_repo / "artifacts" / "maps")
    done = trial(["dvc", "exp", "run", "-S", "profile=smoke", "-S", "model=resnet50"])
    output = (done.stdout + done.stderr).strip()
    print(f"dvc exp run -S model=resnet50 printed:\n{output}")
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    # DVC's own Hydra error (10 lines: the message, the options, Hydra's search path, DVC's
    # support line), not a traceback; the project cannot shorten it (it fails before any stage)
    assert "Could not find 'model/resnet50'" in output.splitlines()[0], output
    assert "efficientnet_lite0" in output and "inception_v3" in output, output
    assert len(output.splitlines()) < 15, output
    assert (smoke_repo / "params.yaml").read_text() == params_before
    assert _tree(smoke_repo / "artifacts" / "maps") == maps_before


@pytest.mark.slow
def test_inception_offline_fails_in_one_line_naming_weights_path(trial, smoke_repo) -> None:
    done = trial(["dvc", "exp", "run", "-S", "profile=smoke", "-S", "model=inception_v3"])
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    errors = _stage_errors(output, "predict_imagenet")
    assert len(errors) == 1, output
    assert "Inception v3 weights" in errors[0] and "model.weights_path" in errors[0]
    assert "exited with 2" in output, output  # DVC's report of the stage's exit status
    assert "maps:" not in output


@pytest.mark.slow
def test_stage_by_hand_starts_from_params_yaml(trial, smoke_repo) -> None:
    done = trial([sys.executable, "experiments/compute_maps.py", "device=cpu"])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    summary = [line for line in done.stdout.splitlines() if line.startswith("maps: ")]
    assert summary, output
    assert " of 4 images " in summary[0], summary  # smoke (4 images), not paper (200)
    assert "no longer match dvc.lock" in done.stdout
    assert "['device=cpu']" in done.stdout


@pytest.mark.slow
def test_stage_from_another_folder(trial, smoke_repo, tmp_path) -> None:
    stamp = smoke_repo / "artifacts" / "config_checked.txt"
    stamp.unlink()
    done = trial([sys.executable, str(smoke_repo / "experiments" / "check_config.py")],
                 cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("check_config: params.yaml is valid")
    assert stamp.is_file()
    assert not (tmp_path / "artifacts").exists()

    done = trial([sys.executable, str(smoke_repo / "experiments" / "predict_imagenet.py"),
                  "paths.data=no_such_data"], cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = _stage_errors(done.stderr, "predict_imagenet")
    assert len(errors) == 1, done.stderr
    assert str(smoke_repo / "no_such_data") in errors[0], errors[0]


# ---------------------------------------------------------------- one level down (fast)


def _params_with(tmp_path: Path, edit) -> Path:
    """A smoke params.yaml as DVC would write it, optionally edited as Hydra would."""
    cfg = yaml.safe_load(params_yaml(["profile=smoke"]))
    edit(cfg)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda c: c["smoothgrad"].update(noise_levle=0.2),
     ["smoothgrad.noise_levle", "did you mean smoothgrad.noise_level?"]),
    (lambda c: c.update(precision="fp16"), ["precision='fp16'", "fp32, bf16"]),
    (lambda c: c.update(seed="abc"), ["seed='abc'", "not an integer"]),
])
def test_check_config_stage_rejects_written_params(tmp_path, capsys, monkeypatch, edit,
                                                   expected) -> None:
    params = _params_with(tmp_path, edit)
    with pytest.raises(ConfigError):
        load_config([], params_file=params)
    real = runner.run_stage
    monkeypatch.setattr(runner, "run_stage",
                        lambda name, run, overrides=(): real(name, run, overrides, params))
    with pytest.raises(SystemExit) as exit_:
        runner.stage_main("check_config", lambda cfg, paths: "ran", [])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("check_config: error: config: ")
    for text in (*expected, ADVICE):
        assert text in err


def test_unknown_model_option_composition_names_it() -> None:
    with pytest.raises(ConfigError) as err:
        compose_config(["profile=smoke", "model=resnet50"])
    assert "model/resnet50" in str(err.value) and "\n" not in str(err.value)


def test_inception_missing_weights_are_a_user_error(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "inception.pth"
    with pytest.raises(UserError, match="model.weights_path") as err:
        inception.build_inception_v3(weights_path=str(missing))
    assert str(missing) in str(err.value) and "\n" not in str(err.value)

    class Offline:
        url = inception.WEIGHTS.url

        def get_state_dict(self, progress=True):
            raise OSError("no network")

    monkeypatch.setattr(inception, "WEIGHTS", Offline())
    with pytest.raises(UserError, match="model.weights_path") as err:
        inception.build_inception_v3()
    assert "\n" not in str(err.value)


def test_stage_turns_missing_weights_into_one_line(tmp_path, capsys) -> None:
    """Stages build models with Hydra's `instantiate`, which wraps what the target raises in an
    InstantiationException: the stage must still print the UserError's one line, exit 2."""
    node = OmegaConf.load(REPO_ROOT / "conf" / "model" / "inception_v3.yaml")
    node.weights_path = str(tmp_path / "inception.pth")
    with pytest.raises(SystemExit) as exit_:
        runner.stage_main("check_config", lambda cfg, paths: instantiate(node), [])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("check_config: error: Inception v3 weights file ")
    assert "model.weights_path" in err


# ------------------------------------------------- the claims through DVC (issue 10, same clone)


@pytest.mark.slow
def test_metrics_and_plots_diff_compare_the_claims(trial, smoke_repo, tmp_path) -> None:
    """An experiment that changes the claims' bootstrap reruns only `claims` and the report;
    `dvc metrics diff` names every claim's changed CI and `dvc plots diff` renders every
    declared curve (the claims' and the DVCLive training curves) for both revisions."""
    done = trial(["dvc", "exp", "run", "-S", "profile=smoke",
                  "-S", "evaluation.bootstrap.n_resamples=300"])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Running stage 'claims'" in output and "Running stage 'maps'" not in output
    metrics = trial(["dvc", "metrics", "diff", "--all", "--json"])
    assert metrics.returncode == 0, metrics.stderr
    diff = json.loads(metrics.stdout)["reports/metrics/claims.json"]
    claims = {*(f"C{i}" for i in range(1, 7)), *(f"L{i}" for i in range(1, 5))}
    assert {key.split(".")[0] for key in diff} == claims
    # fewer resamples move some CIs (at smoke size many resamples repeat, so not every one)
    assert any(v.get("diff") not in (None, 0) for k, v in diff.items() if "ci_" in k)
    plots = trial(["dvc", "plots", "diff", "HEAD", "-o", str(tmp_path / "plots")])
    assert plots.returncode == 0, plots.stderr
    page = (tmp_path / "plots" / "index.html").read_text()
    for plot in PLOTS:
        assert plot.id in page, plot.id
    assert "workspace" in page and "HEAD" in page


# ------------------------------------------------- a fresh clone's first run (issue 13, point 7)


def test_committed_lock_covers_every_stage() -> None:
    """The committed `dvc.lock` (of the committed paper-profile run) has an entry for every
    stage of `dvc.yaml`: without one, DVC warns "No file hash info found" for each output of
    that stage on a fresh clone's first `dvc exp run`."""
    lock = REPO_ROOT / "dvc.lock"
    assert lock.is_file(), "no committed dvc.lock: commit the paper-profile run's lock"
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    locked = yaml.safe_load(lock.read_text())["stages"]
    assert sorted(set(stages) - set(locked)) == []


@pytest.mark.slow
def test_first_dvc_exp_run_of_a_fresh_clone_is_quiet(tmp_path) -> None:
    """What a new user does first: clone, fetch the data, `dvc exp run` one stage; DVC prints no
    warning (the committed lock gives every output its hash, so no "No file hash info")."""
    repo = tmp_path / "fresh"
    clone_under_review(repo, "newcomer")
    env = _env(repo)
    for cmd in (["dvc", "commit", "-f", "-q", "data.dvc"],
                ["dvc", "exp", "run", "-S", "profile=smoke", "check_config"]):
        done = _run(cmd, repo, env)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert "WARNING" not in output, output
