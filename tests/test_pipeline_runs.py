"""The smoke pipeline run stage by stage through the stage runner (as `dvc repro` runs the
scripts), with every output moved by `paths.*` overrides, then with a `methods` override."""

from __future__ import annotations

from pathlib import Path

import pytest
from stage_helpers import stage_run

from smoothgrad.errors import DataError
from smoothgrad.pipeline.config import params_yaml
from smoothgrad.pipeline.runner import run_stage
from smoothgrad.pipeline.stages import STAGES
from smoothgrad.store.paths import REPO_ROOT, Paths

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory) -> tuple[Path, Path]:
    """The whole smoke pipeline with artifacts and reports outside the repository."""
    root = tmp_path_factory.mktemp("elsewhere")
    params = root / "params.yaml"
    params.write_text(params_yaml(["profile=smoke", f"paths.artifacts={root / 'artifacts'}",
                                   f"paths.reports={root / 'reports'}"]))
    before = {p: p.stat().st_mtime_ns for p in (REPO_ROOT / "artifacts").rglob("*")
              if p.is_file()} if (REPO_ROOT / "artifacts").exists() else {}
    for name in STAGES:
        run_stage(name, stage_run(name), params_file=params)
    after = {p: p.stat().st_mtime_ns for p in (REPO_ROOT / "artifacts").rglob("*")
             if p.is_file()} if (REPO_ROOT / "artifacts").exists() else {}
    assert after == before, "a stage wrote into the repository's artifacts/"
    return root, params


def test_paths_override_runs_the_whole_smoke_pipeline_elsewhere(elsewhere) -> None:
    root, _ = elsewhere
    paths = Paths(REPO_ROOT / "data", root / "artifacts", root / "reports")
    for stage in STAGES.values():
        for name in (*stage.outs, *stage.metrics, *stage.uncached):
            assert paths.get(name).exists(), f"{stage.name} did not write {paths.get(name)}"
    assert "fig8_training_with_noise" in paths.get("report").read_text()


def test_methods_override_builds_what_can_be_built(elsewhere) -> None:
    root, params = elsewhere
    only = ["~methods.integrated_gradients"]
    for name in ("maps", "two_objects", "gallery", "fig1_noisy_gradient", "fig6_discriminativity"):
        run_stage(name, stage_run(name), only, params_file=params)
    paths = Paths(REPO_ROOT / "data", root / "artifacts", root / "reports")
    assert '"methods": ["gradient", "guided_backprop"]' in paths.get("gallery_page").read_text()
    for name in ("fig5_methods_compared", "fig7_smoothgrad_on_methods"):
        with pytest.raises(DataError, match="needs the integrated_gradients map") as err:
            run_stage(name, stage_run(name), only, params_file=params)
        assert "\n" not in str(err.value)
