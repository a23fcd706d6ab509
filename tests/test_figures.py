"""Figures 1-8 and the report on small synthetic arrays: image choice by rule, panel layout and
labels, byte-stable files, the figure and report stages run as `dvc repro` runs them, and a map
store without Integrated Gradients."""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text
from omegaconf import DictConfig
from test_gallery import page_data

from smoothgrad.errors import DataError
from smoothgrad.outputs.claims import CLAIMS
from smoothgrad.outputs.figures.catalog import BY_NAME, FIGURES, FigureSpec, Options, write_figure
from smoothgrad.outputs.figures.grid import draw_grid
from smoothgrad.outputs.figures.imagenet import (
    FIG5_COLUMNS,
    FIG7_COLUMNS,
    discriminativity_figure,
    line_scan_figure,
    store_figure,
    sweep_figure,
)
from smoothgrad.outputs.gallery import build_gallery
from smoothgrad.outputs.report import build_report
from smoothgrad.outputs.scores import score_store
from smoothgrad.pipeline.config import load_config, restrict
from smoothgrad.pipeline.runner import run_stage, stage_main
from smoothgrad.store.arrays import save_npz, write_json
from smoothgrad.store.map_store import map_key, write_image_maps, write_index
from smoothgrad.store.paths import REPO_ROOT, Paths, figure_file
from smoothgrad.store.selection import SelectionRule, select_images

SIZE = 12
METHODS = ("gradient", "integrated_gradients", "guided_backprop")
VARIANTS = ("plain", "smoothgrad")
FIG8 = "fig8_training_with_noise"
FIGURE_SCRIPT = runpy.run_path(str(REPO_ROOT / "experiments" / "figure.py"))


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
    rule = SelectionRule(("lorikeet", "coyote"), per_class=5, count=3)
    assert ids(select_images(PREDICTIONS, rule)) == [3, 2, 4]
    assert ids(select_images(PREDICTIONS, SelectionRule(("lorikeet", "coyote"), 1, 2))) == [3, 4]


def test_missing_class_falls_back_to_most_confident_correct() -> None:
    # no gazelle: the most confident correct images, wrong ones only after all correct ones
    assert ids(select_images(PREDICTIONS, SelectionRule(("gazelle",), 1, 4))) == [5, 1, 3, 2]
    assert ids(select_images(PREDICTIONS, SelectionRule(("gazelle",), 1, 10))) == [5, 1, 3, 2, 4]


def test_unknown_class_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="matches no ImageNet"):
        select_images(PREDICTIONS, SelectionRule(("no such class",), 1, 1))


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


def _store(root: Path, methods: tuple[str, ...] = METHODS) -> Path:
    """A map store of `methods` for PREDICTIONS, as the maps stage writes it."""
    rng = np.random.default_rng(1)
    entries = []
    for entry in PREDICTIONS:
        targets = ["label"] if entry["correct"] else ["label", "prediction"]
        maps = {map_key(t, m, v): rng.normal(size=(3, SIZE, SIZE))
                for t in targets for m in methods for v in VARIANTS}
        write_image_maps(root, entry["id"], rng.uniform(size=(3, SIZE, SIZE)), maps)
        entries.append({**entry, "targets": targets})
    settings = {"noise_level": 0.15, "n_samples": 2, "aggregate": "mean", "ig_steps": 3,
                "ig_baseline": "black", "smoothgrad_ig_steps": 2, "seed": 0,
                "precision": "fp32"}
    write_index(root, {"model": "toy", "settings": settings, "methods": list(methods),
                       "variants": list(VARIANTS), "images": entries})
    return root


def _arrays(root: Path) -> None:
    """Toy arrays of every other compute stage, where `store.paths` puts them under `root`."""
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
    digits = np.arange(10)
    save_npz(root / "mnist" / "maps.npz", **{  # from noisiest to smoothest: Fig 8's finding
        "clean/gradient": np.stack([checker] * 10), "clean/smoothgrad": rng.normal(
            size=(10, 28, 28)), "noisy/gradient": np.stack([ramp + 0.01 * checker] * 10),
        "noisy/smoothgrad": np.ones((10, 28, 28)),
        # what `compute.mnist.digit_maps` stores besides: the digits, and the noise-trained net
        # mistaking the 3 for a 5
        "index": digits + 10, "label": digits, "image": rng.uniform(size=(10, 28, 28)),
        "clean/prediction": digits, "noisy/prediction": np.where(digits == 3, 5, digits),
        "noise_level": np.array(0.15), "n_samples": np.array(2)})


@dataclass(frozen=True)
class ToyRun:
    """A run whose artifacts are toy arrays: its paths, the overrides that point a stage at
    them, and params.yaml with those overrides."""

    paths: Paths
    overrides: list[str]
    cfg: DictConfig

    def options(self, spec: FigureSpec) -> Options:
        """The spec's options from only its declared params, as its stage gets them."""
        return spec.options(restrict(self.cfg, spec.params, spec.name))


def toy_run_at(root: Path, methods: tuple[str, ...] = METHODS) -> ToyRun:
    artifacts = root / "artifacts"
    _store(artifacts / "maps", methods)
    _arrays(artifacts)
    overrides = [f"paths.artifacts={artifacts}", f"paths.reports={root / 'reports'}"]
    cfg = load_config(overrides)
    return ToyRun(Paths.from_config(cfg.paths), overrides, cfg)


@pytest.fixture()
def toy_run(tmp_path: Path) -> ToyRun:
    return toy_run_at(tmp_path)


def test_store_figure_columns() -> None:
    fig = store_figure([{"pixels": np.zeros((3, SIZE, SIZE)),
                         **{map_key("label", c.method, c.variant): np.ones((3, SIZE, SIZE))
                            for c in FIG5_COLUMNS}}],
                       ["label"], ["row"], FIG5_COLUMNS, percentile=99, title="t")
    assert len(fig.axes) == 1 + len(FIG5_COLUMNS)
    assert _axes_titles(fig)[0] == "Image"
    assert sum("× image" in t for t in _axes_titles(fig)) == 4


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_figure_stage_writes_png_and_pdf(toy_run: ToyRun, name: str, capsys) -> None:
    """`python experiments/figure.py <name> paths.artifacts=... paths.reports=...`."""
    stage_main(name, FIGURE_SCRIPT["figure_run"](name), toy_run.overrides)
    png = toy_run.paths.get(figure_file(name, "png"))
    assert png.stat().st_size > 1000
    assert png.with_suffix(".pdf").is_file()
    assert capsys.readouterr().out.startswith(f"{name}: wrote {png}")


def test_figure_rows_follow_the_rule(toy_run: ToyRun) -> None:
    spec = BY_NAME["fig5_methods_compared"]
    fig5 = spec.draw(toy_run.paths, **toy_run.options(spec))  # lorikeet (#3), coyote (#4) first
    labels = [ax.get_ylabel() for ax in fig5.axes if ax.get_ylabel()]
    assert labels[0].startswith("lorikeet\n(#3") and labels[1].startswith("tench\n(#4")
    spec = BY_NAME["fig7_smoothgrad_on_methods"]
    fig7 = spec.draw(toy_run.paths, **toy_run.options(spec))
    assert len(fig7.axes) == 4 * (1 + len(FIG7_COLUMNS))  # count 4, none of its classes here


def test_figure_files_are_byte_stable(toy_run: ToyRun) -> None:
    spec = BY_NAME["fig6_discriminativity"]
    hashes = []
    for _ in range(2):
        files = write_figure(spec, toy_run.paths, toy_run.options(spec))
        assert [f.suffix for f in files] == [".png", ".pdf"]
        hashes.append([f.read_bytes() for f in files])
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


def test_fig8_is_drawn_from_the_mnist_maps(toy_run: ToyRun) -> None:
    """Fig 8 from `mnist/maps.npz`: per digit a 2x2 block (clean / noise-trained net x gradient /
    SmoothGrad), a wrong prediction named in the digit's heading, one colour bar."""
    spec = BY_NAME[FIG8]
    assert spec.inputs == ("mnist_maps",)
    options = toy_run.options(spec)
    fig = spec.draw(toy_run.paths, **options)
    assert len(fig.axes) == 10 * 4 + 1  # 10 digits x 2 nets x 2 methods + colour bar
    assert _axes_titles(fig).count("gradient") == 10 and _axes_titles(fig).count(
        "SmoothGrad") == 10
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()][:2] == [
        "trained\nwithout noise", "trained\nwith noise"]
    texts = {t.get_text() for t in fig.findobj(Text)}
    assert "digit 0 (test #10)" in texts and "digit 3 (test #13)\npredicted noisy net: 5" in texts
    assert any(t.startswith("Fig 8: training with noise") and "(σ = 0.15, n = 2)" in t
               for t in texts)
    panel = fig.axes[0].get_images()[0]
    assert panel.get_array().shape == (28, 28) and panel.get_clim() == (-1, 1)
    epochs, noise = toy_run.cfg.mnist.train.epochs, toy_run.cfg.mnist.train.train_noise_level
    assert f"trained {epochs} epoch(s) clean and with noise {noise:.0%}" in spec.describe(
        toy_run.paths, **options)


def test_report_has_every_figure_and_the_metrics(toy_run: ToyRun) -> None:
    """The `report` stage (params.yaml + overrides, its declared params only)."""
    paths = toy_run.paths
    for spec in FIGURES:
        png = paths.get(figure_file(spec.name, "png"))
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(b"png")
    write_json(paths.get("imagenet_accuracy"), {"model": "m", "top1": 0.7})
    write_json(paths.get("mnist_accuracy"), {"clean": {"test_accuracy": 0.98}})
    part = {"metric": "m", "value": 0.5, "ci_low": 0.25, "ci_high": 0.75, "n": 9,
            "status": "holds", "rule": "r"}
    write_json(paths.get("claims"), {key: {"claim": f"claim {key}", "verdict": "mixed",
                                           "rule": f"rule {key}", "parts": {"p": part}}
                                     for key in CLAIMS})
    stage = runpy.run_path(str(REPO_ROOT / "experiments" / "report.py"))
    summary = run_stage("report", stage["run"], toy_run.overrides)
    assert summary == f"{len(FIGURES)} figures -> {paths.get('report')}"
    text = paths.get("report").read_text()
    assert "![fig1_noisy_gradient](figures/fig1_noisy_gradient.png)" in text
    assert f"![{FIG8}](figures/{FIG8}.png)" in text
    assert text.count("**Paper's claim.**") == len(FIGURES) == 8
    assert "top1 = 0.7" in text and "clean.test_accuracy = 0.98" in text
    assert "ImageNet model `m`" in text and f"profile `{toy_run.cfg.profile_name}`" in text
    # the verdicts lead: the claims table comes before the first figure, figures link to it
    assert text.index('<a id="claim-c1"></a>**C1** claim C1') < text.index("## Fig 1")
    assert "| `p`: m | 0.5 [0.25, 0.75] (n = 9) | — | holds | **mixed** |" in text
    assert "**Measured here.** [C6](#claim-c6) (mixed)" in text and "- **C3**: rule C3" in text
    # A missing figure stops the report with the stage to run (it had a placeholder before).
    paths.get(figure_file("fig1_noisy_gradient", "png")).unlink()
    with pytest.raises(DataError, match="run `dvc repro fig1_noisy_gradient`"):
        build_report(paths, [(spec, toy_run.options(spec)) for spec in FIGURES],
                     profile_name="paper", seed=0, metrics={}, claims={})
    paths.get("mnist_accuracy").unlink()
    with pytest.raises(DataError, match="no metrics file .*mnist.json"):
        run_stage("report", stage["run"], toy_run.overrides)


def test_every_paper_claim_is_linked_from_a_figure() -> None:
    linked = {c for spec in FIGURES for c in spec.claims}
    assert linked == {c for c in CLAIMS if c.startswith("C")}


def test_a_store_without_integrated_gradients(tmp_path: Path, capsys) -> None:
    """`methods` without integrated_gradients: Fig 1 and the gallery are drawn from what the
    store holds; Figs 5 and 7 refuse in one line that names the missing method."""
    toy = toy_run_at(tmp_path, methods=("gradient", "guided_backprop"))
    fig1 = BY_NAME["fig1_noisy_gradient"]
    png, _ = write_figure(fig1, toy.paths, toy.options(fig1))
    assert png.stat().st_size > 1000

    scores = toy.paths.get("map_scores")
    score_store(toy.paths.get("map_store"), scores, percentile=99, cutoff=0.25, border=0.125,
                authors=None)
    page = build_gallery(toy.paths.get("map_store"), toy.paths.get("gallery_page").parent,
                         toy.paths.get("reference_maps"), scores=scores, thumbnail_size=32,
                         quality=50, confident_threshold=0.7)
    assert page_data(page)["methods"] == ["gradient", "guided_backprop"]
    thumbnails = {p.name for p in toy.paths.get("gallery_maps").rglob("*.webp")}
    assert "label-guided_backprop-smoothgrad-x.webp" in thumbnails
    assert not any("integrated_gradients" in name for name in thumbnails)

    capsys.readouterr()  # the progress bars so far
    for name, figure in (("fig5_methods_compared", "Fig 5"),
                         ("fig7_smoothgrad_on_methods", "Fig 7")):
        spec = BY_NAME[name]
        with pytest.raises(DataError) as caught:
            write_figure(spec, toy.paths, toy.options(spec))
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"{figure} needs the integrated_gradients map(s), but the map "
                                  "store holds only gradient, guided_backprop")
        assert not toy.paths.get(figure_file(name, "png")).exists()
        # the stage script: that line on stderr and exit status 2, no traceback
        with pytest.raises(SystemExit) as exit_status:
            stage_main(name, FIGURE_SCRIPT["figure_run"](name), toy.overrides)
        assert exit_status.value.code == 2
        assert capsys.readouterr().err == f"{name}: error: {message}\n"
