"""Your own images (`dataset=image_folder`: labels from labels.csv, class sub-folders or none)
and any torchvision classifier (`model=torchvision`): label discovery and the one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torchvision.models as tvm

from smoothgrad.data.image_folder import dataset_images, folder_records
from smoothgrad.errors import ConfigError, DataError, UserError, WeightsUnavailableError
from smoothgrad.models.torchvision_zoo import build_torchvision
from smoothgrad.pipeline.config import compose_config
from smoothgrad.store.paths import REPO_ROOT, Paths

IMAGES = REPO_ROOT / "data" / "pair-saliency" / "images"


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if (IMAGES / "1.png").is_file():
        shutil.copy(IMAGES / "1.png", path)
    else:  # any bytes do: discovery never decodes
        path.write_bytes(b"\x89PNG")


def test_labels_from_class_sub_folders(tmp_path: Path) -> None:
    for rel in ("tiger_cat/a.png", "tiger cat/b.jpg", "goldfish/c.JPEG", ".hidden/d.png",
                "goldfish/notes.txt"):
        _image(tmp_path / rel)
    records = folder_records(tmp_path)
    assert [(r.id, r.file, r.label_index, r.class_name) for r in records] == [
        (1, "goldfish/c.JPEG", 1, "goldfish"), (2, "tiger cat/b.jpg", 282, "tiger cat"),
        (3, "tiger_cat/a.png", 282, "tiger cat")]
    assert [r.id for r in folder_records(tmp_path, n_images=2)] == [1, 2]
    assert len(folder_records(tmp_path, n_images=10)) == 3  # fewer images: all of them


def test_labels_from_a_csv(tmp_path: Path) -> None:
    for rel in ("x/a.png", "b.png", "c.png"):
        _image(tmp_path / rel)
    (tmp_path / "labels.csv").write_text("file,label\nx/a.png,goldfish\nb.png,"
                                         "\"tabby, tabby cat\"\n")
    records = folder_records(tmp_path)
    assert [(r.file, r.label_index) for r in records] == [("b.png", 281), ("c.png", -1),
                                                          ("x/a.png", 1)]


def test_no_labels_means_the_prediction_is_explained(tmp_path: Path) -> None:
    for rel in ("a.png", "b.png"):
        _image(tmp_path / rel)
    assert [(r.label, r.label_index, r.class_name) for r in folder_records(tmp_path)] == [
        ("", -1, ""), ("", -1, "")]


def test_folder_errors_are_one_line(tmp_path: Path) -> None:
    _image(tmp_path / "not a class" / "a.png")
    for root, match in ((tmp_path, "matches no ImageNet-1k class"),
                        (tmp_path / "missing", "is not a folder"),
                        (tmp_path / "not a class" / "a.png", "is not a folder")):
        with pytest.raises(DataError, match=match) as err:
            folder_records(root)
        assert "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        folder_records(tmp_path / "empty")


def test_config_and_the_images_folder(tmp_path: Path) -> None:
    default = compose_config()
    assert dict(default.dataset) == {"name": "pair200", "root": None,
                                     "deps": "src/smoothgrad/data/manifest.tsv"}
    paths = Paths.from_config(default.paths)
    assert dataset_images(default.dataset, paths) == paths.get("imagenet_images")
    own = compose_config(["dataset=image_folder", f"dataset.root={tmp_path}"])
    assert own.dataset.deps == str(tmp_path)  # the folder is the stages' DVC dep
    assert dataset_images(own.dataset, paths) == tmp_path
    with pytest.raises(ConfigError, match="pass dataset.root="):
        compose_config(["dataset=image_folder"])


def test_torchvision_builder_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="close names: resnet18") as err:
        build_torchvision("resnet81")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="choose one of IMAGENET1K_V1, DEFAULT"):
        build_torchvision("resnet18", "IMAGENET1K_V7")
    with pytest.raises(WeightsUnavailableError, match="is not a file"):
        build_torchvision("resnet18", str(tmp_path / "missing.pth"))
    wrong = tmp_path / "resnet34.pth"
    torch.save(tvm.resnet34().state_dict(), wrong)
    with pytest.raises(ConfigError, match="does not fit model.arch=resnet18"):
        build_torchvision("resnet18", str(wrong))
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not a state dict")
    with pytest.raises(WeightsUnavailableError, match="not a readable state dict"):
        build_torchvision("resnet18", str(garbage))


def test_torchvision_builder_offline_or_cached() -> None:
    """Weights by enum name: from torch's hub cache, or (offline, uncached) one line saying
    what to pass instead."""
    try:
        bundle = build_torchvision("resnet18", "IMAGENET1K_V1")
    except WeightsUnavailableError as err:
        message = str(err)
        assert "\n" not in message and "model.weights=/path/to/it.pth" in message
        assert "resnet18-f37072fd.pth" in message
    else:
        assert bundle.class_names[1] == "goldfish"


def test_torchvision_builder_from_a_state_dict(tmp_path: Path) -> None:
    weights = tmp_path / "r18.pth"
    torch.save(tvm.resnet18().state_dict(), weights)
    bundle = build_torchvision("resnet18", str(weights))
    assert (bundle.name, bundle.input_size, bundle.resize) == ("resnet18", 224, 256)
    assert bundle.mean == (0.485, 0.456, 0.406) and len(bundle.class_names) == 1000
    assert not bundle.net.training
    assert issubclass(WeightsUnavailableError, UserError)


def test_a_folder_needs_none_of_the_200_images(tmp_path: Path) -> None:
    """With dataset=image_folder the 200 images' files are neither read nor verified (a user
    need not `make data`); with pair200 they still are."""
    import importlib.util

    from smoothgrad.pipeline.config import params_yaml
    from smoothgrad.pipeline.runner import run_stage
    from smoothgrad.pipeline.stages import STAGES

    spec = importlib.util.spec_from_file_location("stage_predict",
                                                  STAGES["predict_imagenet"].script_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _image(tmp_path / "images" / "goldfish" / "a.png")
    weights = tmp_path / "r18.pth"
    torch.save(tvm.resnet18().state_dict(), weights)
    common = ["profile=smoke", f"paths.data={tmp_path / 'no-data'}",
              f"paths.artifacts={tmp_path / 'artifacts'}", f"paths.reports={tmp_path / 'reports'}",
              "model=torchvision", "model.arch=resnet18", f"model.weights={weights}"]
    params = tmp_path / "params.yaml"
    params.write_text(params_yaml([*common, "dataset=image_folder",
                                   f"dataset.root={tmp_path / 'images'}"]))
    assert "on 1 images" in run_stage("predict_imagenet", module.run, params_file=params)
    params.write_text(params_yaml(common))
    with pytest.raises(DataError, match="pair-saliency"):
        run_stage("predict_imagenet", module.run, params_file=params)
