"""README's "Your own images and model" recipe, run stage by stage through the stage runner (as
`dvc exp run` runs the scripts): `dataset=image_folder` on 3 images in class sub-folders and
`model=torchvision` (resnet18 from a saved state dict; offline, no download), smoke sizes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
import torchvision.models as tvm
from stage_helpers import stage_run

from smoothgrad.pipeline.config import params_yaml
from smoothgrad.pipeline.runner import run_stage
from smoothgrad.store.paths import REPO_ROOT, Paths

pytestmark = pytest.mark.slow

IMAGES = REPO_ROOT / "data" / "pair-saliency" / "images"
# three of the 200 images, filed under their classes (ids 1, 2, 3 of the metadata)
PICKS = {"1.png": "a", "2.png": "b", "3.png": "c"}


def _recipe() -> tuple[list[str], list[str]]:
    """The README recipe's `-S` overrides and the stages it names."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Your own images and model.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README lost its 'Your own images and model' recipe"
    command = block.group(1).replace("\\\n", " ")
    line = next(line for line in command.splitlines() if line.startswith("dvc exp run"))
    words = line.split("#")[0].split()[3:]
    overrides = [w for prev, w in zip(["", *words], words, strict=False) if prev == "-S"]
    stages = [w for prev, w in zip(["", *words], words, strict=False)
              if w != "-S" and prev != "-S"]
    return overrides, stages


@pytest.fixture(scope="module")
def own_run(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("own")
    metadata = {e["id"]: e["label"] for e in json.loads(
        (REPO_ROOT / "data/pair-saliency/metadata_smoothgrad.json").read_text())}
    folder = root / "my_images"
    for name in PICKS:
        label = metadata[int(name.split(".")[0])].split(",")[0]
        (folder / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(IMAGES / name, folder / label / name)
    weights = root / "resnet18.pth"
    torch.manual_seed(0)
    torch.save(tvm.resnet18().state_dict(), weights)
    overrides, stages = _recipe()
    overrides = [o.replace("/path/to/my_images", str(folder))
                 .replace("IMAGENET1K_V1", str(weights)) for o in overrides]
    params = root / "params.yaml"
    params.write_text(params_yaml(["profile=smoke", *overrides,
                                   f"paths.artifacts={root / 'artifacts'}",
                                   f"paths.reports={root / 'reports'}"]))
    order = ["check_config", "predict_imagenet", "maps", "sweep_noise", "sweep_samples",
             "line_scan", "score_maps", "gallery"]  # as DVC orders them (the gallery's deps)
    for name in [*order, *(s for s in stages if s not in order)]:
        run_stage(name, stage_run(name), params_file=params)
    return root, stages


def test_own_images_and_torchvision_model_build_the_figures_and_gallery(own_run) -> None:
    root, stages = own_run
    paths = Paths(REPO_ROOT / "data", root / "artifacts", root / "reports")
    predictions = json.loads(paths.get("predictions").read_text())
    assert sorted(e["file"].split("/")[-1] for e in predictions) == sorted(PICKS)
    assert [e["id"] for e in predictions] == [1, 2, 3]
    assert all(e["file"].count("/") == 1 for e in predictions)  # <class>/<image>
    assert all(e["label_index"] >= 0 for e in predictions)  # labels from the sub-folders
    assert json.loads(paths.get("imagenet_accuracy").read_text())["model"] == "resnet18"
    assert paths.get("map_store").is_dir()
    for name in stages:
        if name.startswith("fig"):
            assert paths.get(f"figure:{name}.png").is_file(), name
    for name in ("fig1_noisy_gradient", "fig3_noise_level", "fig4_sample_size",
                 "fig5_methods_compared", "fig7_smoothgrad_on_methods"):
        assert name in stages, f"the README recipe lost {name}"
    page = paths.get("gallery_page").read_text()
    assert '"model": "resnet18"' in page and '"authors": true' not in page
