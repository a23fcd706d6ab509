"""Figures 1-7 and the report on small synthetic arrays: image choice by rule, panel layout and
labels, and byte-stable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smoothgrad.config import compose_config
from smoothgrad.figures.grid import draw_grid
from smoothgrad.figures.imagenet import (
    FIG5_COLUMNS,
    FIG7_COLUMNS,
    discriminativity_figure,
    line_scan_figure,
    store_figure,
    sweep_figure,
)
from smoothgrad.figures.stages import FIGURES, figure_stage
from smoothgrad.io import save_npz
from smoothgrad.map_store import METHODS, VARIANTS, map_key, write_image_maps, write_index
from smoothgrad.report import FIG8, build_report, measurements, speckle
from smoothgrad.selection import select_images

SIZE = 12


def prediction(image_id: int, label: str, label_index: int, prob: float,
               correct: bool = True) -> dict:
    return {"id": image_id, "file": f"{image_id}.png", "label": label, "class_name": label,
            "label_index": label_index, "prediction_index": label_index if correct else 0,
            "prediction_name": label if correct else "tench", "prediction_prob": prob,
            "correct": correct}


# label indices: lorikeet 90, coyote 272, goldfish 1, tench 0.
PREDICTIONS = [prediction(1, "goldfish", 1, 0.9), prediction(2, "lorikeet", 90, 0.5),
               prediction(3, "lorikeet", 90, 0.7), prediction(4, "coyote", 272, 0.99, False),
               prediction(5, "goldfish", 1, 0.95)]


def ids(entries: list[dict]) -> list[int]:
    return [e["id"] for e in entries]


def test_wanted_classes_first_most_confident_first() -> None:
    assert ids(select_images(PREDICTIONS, ["lorikeet", "coyote"], 5, 3)) == [3, 2, 4]
    assert ids(select_images(PREDICTIONS, ["lorikeet", "coyote"], 1, 2)) == [3, 4]


def test_missing_class_falls_back_to_most_confident_correct() -> None:
    # no gazelle: the most confident correct images, wrong ones only after all correct ones
    assert ids(select_images(PREDICTIONS, ["gazelle"], 1, 4)) == [5, 1, 3, 2]
    assert ids(select_images(PREDICTIONS, ["gazelle"], 1, 10)) == [5, 1, 3, 2, 4]


def test_unknown_class_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="matches no ImageNet"):
        select_images(PREDICTIONS, ["no such class"], 1, 1)


def _axes_titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def test_grid_layout_labels_and_colorbar() -> None:
    rng = np.random.default_rng(0)
    rows = [[rng.uniform(size=(SIZE, SIZE, 3)), rng.uniform(-1, 1, (SIZE, SIZE))]] * 2
    fig = draw_grid(rows, ["rgb", "signed"], ["a", "b"], ["Image", "diff"])
    assert len(fig.axes) == 5  # 4 panels + colour bar
    assert _axes_titles(fig) == ["Image", "diff"]
    assert [ax.get_ylabel() for ax in fig.axes[:4:2]] == ["a", "b"]
    gray = draw_grid([[rows[0][0], rng.uniform(size=(SIZE, SIZE))]], ["rgb", "gray"], ["a"],
                     ["Image", "map"])
    assert len(gray.axes) == 2  # no colour bar without signed values
    with pytest.raises(ValueError, match="one entry per column"):
        draw_grid(rows, ["rgb"], ["a", "b"], ["Image"])


def _store(root: Path) -> Path:
    rng = np.random.default_rng(1)
    entries = []
    for entry in PREDICTIONS:
        targets = ["label"] if entry["correct"] else ["label", "prediction"]
        maps = {map_key(t, m, v): rng.normal(size=(3, SIZE, SIZE))
                for t in targets for m in METHODS for v in VARIANTS}
        write_image_maps(root, entry["id"], rng.uniform(size=(3, SIZE, SIZE)), maps)
        entries.append({**entry, "targets": targets})
    settings = {"noise_level": 0.15, "n_samples": 2, "ig_steps": 3}
    write_index(root, {"model": "toy", "settings": settings, "images": entries})
    return root


def _arrays(root: Path) -> None:
    rng = np.random.default_rng(2)
    sweeps = root / "sweeps"
    for name, values in (("noise", np.array([0.0, 0.1, 0.5])), ("samples", np.array([1, 2, 4]))):
        save_npz(sweeps / f"{name}.npz", pixels=rng.uniform(size=(2, 3, SIZE, SIZE)),
                 maps=rng.normal(size=(2, len(values), 3, SIZE, SIZE)), values=values,
                 ids=np.array([1, 5]), class_names=np.array(["goldfish", "goldfish"]),
                 model=np.array("toy"), n_samples=np.array(2), noise_level=np.array(0.1))
    save_npz(sweeps / "line_scan.npz", t=np.linspace(0, 1, 5), ratio=rng.normal(size=(5, 3)),
             pixel=np.array([3, 4]), x=rng.uniform(size=(3, SIZE, SIZE)),
             x_eps=rng.uniform(size=(3, SIZE, SIZE)), epsilon_std=np.array(0.01),
             id=np.array(1), class_name=np.array("goldfish"), model=np.array("toy"))
    methods = ("gradient", "integrated_gradients", "guided_backprop", "smoothgrad")
    save_npz(root / "two_objects.npz", methods=np.array(methods), model=np.array("toy"),
             n_samples=np.array(2), noise_level=np.array(0.15),
             **{"0/pixels": rng.uniform(size=(3, SIZE, SIZE)),
                "0/maps": rng.normal(size=(4, 2, 3, SIZE, SIZE)),
                "0/classes": np.array(["bull mastiff", "tiger cat"])})
    checker = np.indices((28, 28)).sum(axis=0) % 2
    ramp = np.add.outer(np.linspace(0, 1, 28), np.linspace(0, 1, 28))
    save_npz(root / "mnist" / "maps.npz", **{  # from noisiest to smoothest: Fig 8's finding
        "clean/gradient": np.stack([checker] * 10), "clean/smoothgrad": rng.normal(
            size=(10, 28, 28)), "noisy/gradient": np.stack([ramp + 0.01 * checker] * 10),
        "noisy/smoothgrad": np.ones((10, 28, 28))})


@pytest.fixture()
def toy_run(tmp_path: Path):
    """A config whose artifacts are toy arrays for every figure."""
    artifacts = tmp_path / "artifacts"
    _store(artifacts / "maps")
    _arrays(artifacts)
    return compose_config([f"paths.artifacts={artifacts}", f"paths.reports={tmp_path / 'rep'}"])


def test_store_figure_columns() -> None:
    fig = store_figure([{"pixels": np.zeros((3, SIZE, SIZE)),
                         **{map_key("label", c.method, c.variant): np.ones((3, SIZE, SIZE))
                            for c in FIG5_COLUMNS}}],
                       ["label"], ["row"], FIG5_COLUMNS, percentile=99, title="t")
    assert len(fig.axes) == 1 + len(FIG5_COLUMNS)
    assert _axes_titles(fig)[0] == "Image"
    assert sum("× image" in t for t in _axes_titles(fig)) == 4


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_stage_writes_png_and_pdf(toy_run, name: str, capsys) -> None:
    figure_stage(name, toy_run)
    out = Path(toy_run.paths.reports) / "figures"
    assert (out / f"{name}.png").stat().st_size > 1000
    assert (out / f"{name}.pdf").is_file()
    assert capsys.readouterr().out.startswith(f"{name}: wrote ")


def test_figure_rows_follow_the_rule(toy_run) -> None:
    fig5 = FIGURES["fig5_methods_compared"](toy_run)  # lorikeet (#3) and coyote (#4) first
    labels = [ax.get_ylabel() for ax in fig5.axes if ax.get_ylabel()]
    assert labels[0].startswith("lorikeet\n(#3") and labels[1].startswith("tench\n(#4")
    fig7 = FIGURES["fig7_smoothgrad_on_methods"](toy_run)
    assert len(fig7.axes) == 4 * (1 + len(FIG7_COLUMNS))  # count 4, none of its classes here


def test_figure_files_are_byte_stable(toy_run) -> None:
    out = Path(toy_run.paths.reports) / "figures"
    hashes = []
    for _ in range(2):
        figure_stage("fig6_discriminativity", toy_run)
        hashes.append([(out / f"fig6_discriminativity{s}").read_bytes() for s in (".png", ".pdf")])
    assert hashes[0] == hashes[1]


def test_sweep_and_line_scan_figures() -> None:
    rng = np.random.default_rng(3)
    fig = sweep_figure(rng.uniform(size=(2, 3, SIZE, SIZE)), rng.normal(size=(2, 3, 3, SIZE, SIZE)),
                       ["a", "b"], ["σ = 0%", "σ = 10%", "σ = 50%"], percentile=99, title="t")
    assert _axes_titles(fig) == ["Image", "σ = 0%", "σ = 10%", "σ = 50%"]
    scan = {"t": np.linspace(0, 1, 4), "ratio": rng.normal(size=(4, 3)), "pixel": np.array([1, 2]),
            "x": rng.uniform(size=(3, SIZE, SIZE)), "x_eps": rng.uniform(size=(3, SIZE, SIZE))}
    middle = line_scan_figure(scan, title="t").axes[1]
    assert len(middle.get_lines()) == 4  # R, G, B and the zero line
    assert middle.get_xlabel().startswith("t") and middle.get_ylabel()


def test_discriminativity_shows_signed_difference() -> None:
    maps = np.zeros((1, 2, 3, SIZE, SIZE))
    maps[0, 0, :, :, : SIZE // 2] = 1.0  # class 1 on the left half, class 2 on the right
    maps[0, 1, :, :, SIZE // 2:] = 1.0
    fig = discriminativity_figure([(np.zeros((3, SIZE, SIZE)), maps, ["a", "b"])],
                                  ["guided_backprop"], percentile=99, title="t")
    panel = fig.axes[1].get_images()[0].get_array()
    assert panel[0, 0] == pytest.approx(1.0) and panel[0, -1] == pytest.approx(-1.0)
    assert fig.axes[0].get_ylabel() == "red: a\nblue: b"


def test_report_has_every_figure_and_the_metrics(tmp_path: Path) -> None:
    cfg = compose_config()
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "fig1_noisy_gradient.png").write_bytes(b"png")
    text = build_report(cfg, figures, {"imagenet_accuracy.json": {"model": "m", "top1": 0.7},
                                       "mnist.json": None})
    assert "![fig1_noisy_gradient](figures/fig1_noisy_gradient.png)" in text
    assert text.count("**Paper's claim.**") == 8
    assert "*(not produced:" in text and "top1 = 0.7" in text
    assert "| `mnist.json` | missing |" in text


def test_measurements_give_a_verdict_per_claim(toy_run) -> None:
    measured = measurements(Path(toy_run.paths.artifacts), 99)
    assert set(measured) == {*FIGURES, FIG8} - {"fig2_gradients_fluctuate"}
    assert all("**yes**" in text or "**no**" in text for text in measured.values())
    assert "1→2" in measured["fig4_sample_size"] and "50%" in measured["fig3_noise_level"]
    assert ("smooths the gradient: **yes**; noise-trained model + SmoothGrad smoothest of the "
            "four: **yes**") in measured[FIG8]
    assert speckle([np.ones((3, SIZE, SIZE))]) == 0.0
    checker = np.indices((SIZE, SIZE)).sum(axis=0) % 2 * np.ones((3, 1, 1))
    assert speckle([checker]) == pytest.approx(1.0)
