"""The composed config: params.yaml stays in sync with conf/, profiles and overrides compose."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException

from smoothgrad.config import PARAMS_FILE, REPO_ROOT, compose_config, params_yaml


def test_params_yaml_is_a_fresh_composition_of_conf() -> None:
    assert PARAMS_FILE.read_text(encoding="utf-8") == params_yaml(), (
        "params.yaml is stale: run `python -m smoothgrad.config` and commit it"
    )


def test_paper_profile_is_the_default_and_has_the_papers_settings() -> None:
    cfg = compose_config()
    assert cfg.profile_name == "paper"
    assert cfg.imagenet.n_images is None
    assert cfg.smoothgrad.n_samples == 50
    assert cfg.smoothgrad.noise_level == pytest.approx(0.15)
    assert cfg.methods.integrated_gradients.steps == 50
    assert cfg.model._target_.endswith("build_efficientnet_lite0")


def test_smoke_profile_shrinks_everything() -> None:
    paper, smoke = compose_config(), compose_config(["profile=smoke"])
    assert smoke.profile_name == "smoke"
    assert smoke.imagenet.n_images < 200
    assert smoke.smoothgrad.n_samples < paper.smoothgrad.n_samples
    assert len(smoke.smoothgrad.noise_levels) < len(paper.smoothgrad.noise_levels)
    assert smoke.methods.integrated_gradients.steps < paper.methods.integrated_gradients.steps
    assert smoke.mnist.train.subset is not None


def test_overrides_win_over_the_profile_and_groups_swap() -> None:
    cfg = compose_config(["profile=smoke", "smoothgrad.noise_levels=[0.0,0.2]",
                          "model=inception_v3"])
    assert list(cfg.smoothgrad.noise_levels) == [0.0, 0.2]
    assert cfg.model._target_.endswith("build_inception_v3")
    assert cfg.paths.data == "data" and cfg.imagenet.images_dir == "data/pair-saliency/images"


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ConfigCompositionException, match="model"):
        compose_config(["model=resnet9000"])


def test_composing_writes_nothing_into_the_repo(tmp_path) -> None:
    before = set(REPO_ROOT.iterdir())
    subprocess.run([sys.executable, "-c", "from smoothgrad.config import compose_config;"
                    "compose_config(['profile=smoke'])"], check=True, cwd=REPO_ROOT)
    assert set(REPO_ROOT.iterdir()) == before
    assert not (REPO_ROOT / "outputs").exists() and not (REPO_ROOT / ".hydra").exists()
