"""The config schema: today's compositions pass, and each kind of mistake fails up front with one
line that names the key, the bad value and what is allowed."""

from __future__ import annotations

import copy
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from smoothgrad.attribution.smoothgrad import AGGREGATES
from smoothgrad.device import PRECISIONS
from smoothgrad.errors import ConfigError
from smoothgrad.pipeline.schema import Config, SmoothGrad, validate_config

REPO = Path(__file__).resolve().parents[1]


def composed(*overrides: str) -> dict[str, Any]:
    """conf/ composed with Hydra overrides, resolved to a plain dict (what DVC writes)."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="config", overrides=list(overrides))
    return typing.cast(dict, OmegaConf.to_container(cfg, resolve=True))


@pytest.fixture(scope="module")
def params() -> dict[str, Any]:
    return typing.cast(dict, OmegaConf.to_container(OmegaConf.load(REPO / "params.yaml"),
                                                    resolve=True))


def with_value(cfg: dict[str, Any], keys: Sequence[str | int], value: Any) -> dict[str, Any]:
    """A copy of `cfg` with the value at `keys` replaced."""
    cfg = copy.deepcopy(cfg)
    node = cfg
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return cfg


def error_line(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("config: ")
    return message


def test_params_yaml_validates(params: dict[str, Any]) -> None:
    validate_config(params)


@pytest.mark.parametrize("overrides", [(), ("profile=smoke",), ("model=inception_v3",),
                                       ("device=cuda:1", "precision=bf16", "seed=7")])
def test_compositions_validate(overrides: tuple[str, ...]) -> None:
    validate_config(composed(*overrides))


LEGACY = {"imagenet": {"images_dir": "data/pair-saliency/images",
                       "metadata": "data/pair-saliency/metadata_smoothgrad.json",
                       "reference_maps_dir": "data/pair-saliency/reference-maps",
                       "two_objects_dir": "data/two-objects"},
          "mnist": {"data_dir": "data/mnist", "checkpoint_dir": "artifacts/mnist",
                    "model": {"_target_": "smoothgrad.models.mnist_cnn.build_mnist_cnn",
                              "weights_path": None}},
          "gallery": {"maps_dir": "artifacts/maps", "out_dir": "reports/gallery"}}


def test_the_planned_shape_validates(params: dict[str, Any]) -> None:
    """Issue 13's target shape: `_partial_` methods, no per-stage path keys."""
    cfg = copy.deepcopy(params)
    for node in cfg["methods"].values():
        node["_partial_"] = True
    for section, keys in LEGACY.items():
        for key in keys:
            cfg[section].pop(key, None)
    validate_config(cfg)


def test_ints_pass_where_floats_are_expected_and_pixel_takes_row_col(params: dict) -> None:
    cfg = with_value(params, ["smoothgrad", "noise_level"], 0)
    validate_config(with_value(cfg, ["figures", "fig2", "pixel"], [3, 4]))


@pytest.mark.parametrize(("keys", "value", "expected"), [
    (["smoothgrad", "noise_level"], -0.1,
     "smoothgrad.noise_level=-0.1 is out of range; it must be >= 0"),
    (["seed"], "abc", "seed='abc' is not an integer"),
    (["seed"], -1, "seed=-1 is out of range; it must be >= 0"),
    (["precision"], "fp16", "precision='fp16' is not allowed; choose one of auto, fp32, bf16"),
    (["device"], "gpu", "device='gpu' is not allowed; choose one of auto, cpu, cuda, cuda:N"),
    (["smoothgrad", "aggregate"], "median",
     "smoothgrad.aggregate='median' is not allowed; choose one of mean, squared, var"),
    (["smoothgrad", "n_samples"], "50", "smoothgrad.n_samples='50' is not an integer"),
    (["smoothgrad", "n_samples"], 0, "smoothgrad.n_samples=0 is out of range; it must be >= 1"),
    (["smoothgrad", "noise_levels"], [0.1, -0.2],
     "smoothgrad.noise_levels[1]=-0.2 is out of range; it must be >= 0"),
    (["smoothgrad", "noise_levels"], [], "smoothgrad.noise_levels=[] is too short; it must have "
                                         "at least 1"),
    (["smoothgrad", "sample_counts"], [1, 0],
     "smoothgrad.sample_counts[1]=0 is out of range; it must be >= 1"),
    (["smoothgrad", "ig_steps"], 1, "smoothgrad.ig_steps=1 is out of range; it must be >= 2"),
    (["imagenet", "n_images"], 0, "imagenet.n_images=0 is out of range; it must be >= 1"),
    (["mnist", "train", "lr"], 0, "mnist.train.lr=0 is out of range; it must be > 0"),
    (["mnist", "train", "subset"], 0.5, "mnist.train.subset=0.5 is not an integer"),
    (["gallery", "quality"], 101, "gallery.quality=101 is out of range; it must be in [1, 100]"),
    (["gallery", "confident_threshold"], 1.5,
     "gallery.confident_threshold=1.5 is out of range; it must be in [0, 1]"),
    (["gallery", "thumbnail_size"], 8,
     "gallery.thumbnail_size=8 is out of range; it must be >= 16"),
    (["figures", "target"], "truth",
     "figures.target='truth' is not allowed; choose one of label, prediction"),
    (["figures", "percentile"], 0, "figures.percentile=0 is out of range; it must be in (0, 100]"),
    (["figures", "fig1", "per_class"], 0,
     "figures.fig1.per_class=0 is out of range; it must be >= 1"),
    (["figures", "fig5", "classes"], "coyote", "figures.fig5.classes='coyote' is not a list"),
    (["figures", "fig2", "pixel"], "corner",
     "figures.fig2.pixel='corner' is not allowed; choose one of center, max_gradient, [row, col]"),
    (["figures", "fig2", "n_t"], 1, "figures.fig2.n_t=1 is out of range; it must be >= 2"),
    (["figures", "fig6", "photos", 0, "classes"], ["cat"],
     "figures.fig6.photos[0].classes=['cat'] is not allowed; it must name exactly 2 classes"),
    (["methods", "integrated_gradients", "baseline"], "white",
     "methods.integrated_gradients.baseline='white' is not allowed; choose one of black, zero"),
    (["methods", "integrated_gradients", "steps"], 1,
     "methods.integrated_gradients.steps=1 is out of range; it must be >= 2"),
    (["methods", "gradient"], None, "methods.gradient=None is not a mapping"),
    (["methods"], {}, "methods={} is empty; keep at least one of gradient, integrated_gradients, "
                      "guided_backprop"),
    (["paths", "data"], 3, "paths.data=3 is not a string"),
])
def test_each_mistake_gives_one_line(params: dict, keys: list, value: Any, expected: str) -> None:
    assert expected in error_line(with_value(params, keys, value))


def test_an_added_unknown_key_is_named_with_its_likely_fix() -> None:
    message = error_line(composed("+smoothgrad.noise_levle=0.2"))
    assert "unknown key smoothgrad.noise_levle (did you mean smoothgrad.noise_level?)" in message


def test_an_unknown_top_level_key_lists_the_allowed_ones(params: dict) -> None:
    message = error_line(with_value(params, ["sed"], 1))
    assert "unknown key sed (did you mean seed?); allowed: seed, device" in message


def test_a_missing_key_is_named(params: dict) -> None:
    cfg = copy.deepcopy(params)
    del cfg["smoothgrad"]["n_samples"]
    assert error_line(cfg) == "config: missing key smoothgrad.n_samples"


def test_model_arguments_must_be_parameters_of_the_target() -> None:
    message = error_line(composed("+model.pretrained=false"))
    assert ("unknown key model.pretrained; smoothgrad.models.efficientnet_lite."
            "build_efficientnet_lite0 takes: weights_path") in message


def test_model_arguments_are_checked_against_the_targets_types() -> None:
    message = error_line(composed("model=inception_v3", "model.pretrained=yes"))
    assert "model.pretrained='yes' is not true/false" in message


def test_a_model_target_that_does_not_import_lists_the_model_options(params: dict) -> None:
    message = error_line(with_value(params, ["model", "_target_"], "smoothgrad.models.nope.x"))
    assert "model._target_='smoothgrad.models.nope.x' cannot be imported" in message
    options = ", ".join(sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml")))
    assert f"choose a model from conf/model/: {options}" in message
    assert "efficientnet_lite0, inception_v3" in options


def test_a_subset_of_methods_validates() -> None:
    validate_config(composed("~method@methods.integrated_gradients"))


def test_several_problems_are_listed_on_one_line(params: dict) -> None:
    cfg = with_value(with_value(params, ["seed"], "abc"), ["precision"], "fp16")
    assert error_line(cfg) == ("config: seed='abc' is not an integer | precision='fp16' is not "
                               "allowed; choose one of auto, fp32, bf16")


def test_allowed_values_match_the_code_that_uses_them() -> None:
    assert typing.get_args(Config.model_fields["precision"].annotation) == PRECISIONS
    assert typing.get_args(SmoothGrad.model_fields["aggregate"].annotation) == AGGREGATES
