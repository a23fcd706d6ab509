"""The composed config: params.yaml stays in sync with conf/, profiles and overrides compose, and
a stage's config is params.yaml with overrides on top."""

from __future__ import annotations

import pytest

from smoothgrad.errors import ConfigError
from smoothgrad.pipeline.config import PARAMS_FILE, compose_config, load_config, params_yaml
from smoothgrad.store.paths import REPO_ROOT, Paths


def test_params_yaml_is_a_fresh_composition_of_conf() -> None:
    assert PARAMS_FILE.read_text(encoding="utf-8") == params_yaml(), (
        "params.yaml is stale: run `python -m smoothgrad.pipeline.config` and commit it"
    )


def test_paper_profile_is_the_default_and_has_the_papers_settings() -> None:
    cfg = compose_config()
    assert cfg.profile_name == "paper"
    assert cfg.imagenet.n_images is None
    assert cfg.smoothgrad.n_samples == 50
    assert cfg.smoothgrad.noise_level == pytest.approx(0.15)
    assert cfg.methods.integrated_gradients.steps == 25
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
    # The image folder is no config key of its own: it follows the `paths.data` root.
    assert cfg.paths.data == "data"
    assert Paths.from_config(cfg.paths).get("imagenet_images") == (
        REPO_ROOT / "data" / "pair-saliency" / "images")


def test_a_stage_config_is_params_yaml_with_overrides_on_top(tmp_path) -> None:
    cfg = load_config(["smoothgrad.noise_levels=[0.0, 0.2]", "model=inception_v3",
                       f"paths.artifacts={tmp_path}"])
    assert list(cfg.smoothgrad.noise_levels) == [0.0, 0.2]
    assert cfg.model._target_.endswith("build_inception_v3") and cfg.model.pretrained is True
    assert Paths.from_config(cfg.paths).get("map_store") == tmp_path / "maps"
    assert cfg.smoothgrad.n_samples == compose_config().smoothgrad.n_samples  # the rest as-is
    with pytest.raises(ConfigError, match="unknown key 'smoothgrad.noise'"):
        load_config(["smoothgrad.noise=0.1"])
    with pytest.raises(ConfigError, match="dvc exp run -S profile=smoke"):
        load_config(["profile=smoke"])


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="model") as caught:
        compose_config(["model=resnet9000"])
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="model=resnet9000 is not an option; choose one of "
                                          "efficientnet_lite0, inception_v3"):
        load_config(["model=resnet9000"])


def test_composing_writes_nothing_into_the_repo(monkeypatch) -> None:
    monkeypatch.chdir(REPO_ROOT)  # where `dvc repro` runs the stages
    before = set(REPO_ROOT.iterdir())
    compose_config(["profile=smoke"])
    load_config(["seed=1"])
    assert set(REPO_ROOT.iterdir()) == before
    assert not (REPO_ROOT / "outputs").exists() and not (REPO_ROOT / ".hydra").exists()
