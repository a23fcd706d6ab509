"""Every file the pipeline reads or writes, named once. The stages that write a file, the stages
that read it and `dvc.yaml` (generated from the stage specs) all take its path from here, so a
`paths.*` override moves writers, readers and DVC's outs together.

Each path is a root (`data`, `artifacts` or `reports`, the `paths` config node) plus a fixed
part. `Paths.get` gives the file for a run; `dvc_template` the same path as DVC templating
(`${paths.artifacts}/maps`), resolved by DVC from `params.yaml`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
ROOTS = ("data", "artifacts", "reports")

# name -> (root, path under the root)
FILES: dict[str, tuple[str, str]] = {
    # raw inputs (fetched and verified by `make data`, tracked by data.dvc)
    "imagenet_images": ("data", "pair-saliency/images"),
    "imagenet_metadata": ("data", "pair-saliency/metadata_smoothgrad.json"),
    "reference_maps": ("data", "pair-saliency/reference-maps"),
    "two_object_photos": ("data", "two-objects"),
    "mnist_data": ("data", "mnist"),
    # intermediate arrays (DVC-cached)
    "config_check": ("artifacts", "config_checked.txt"),
    "predictions": ("artifacts", "imagenet/predictions.json"),
    "map_store": ("artifacts", "maps"),
    "noise_sweep": ("artifacts", "sweeps/noise.npz"),
    "samples_sweep": ("artifacts", "sweeps/samples.npz"),
    "line_scan": ("artifacts", "sweeps/line_scan.npz"),
    "two_objects": ("artifacts", "two_objects.npz"),
    "mnist_clean": ("artifacts", "mnist/clean.pt"),
    "mnist_noisy": ("artifacts", "mnist/noisy.pt"),
    "mnist_maps": ("artifacts", "mnist/maps.npz"),
    # the claims' measurements, per image (`outputs.claims` turns them into verdicts)
    "map_scores": ("artifacts", "evaluation/map_scores.json"),
    "sigma_eval": ("artifacts", "evaluation/sigma.npz"),
    "convergence_eval": ("artifacts", "evaluation/convergence.npz"),
    "grid_eval": ("artifacts", "evaluation/grids.npz"),
    "mnist_eval": ("artifacts", "evaluation/mnist.npz"),
    "sanity_eval": ("artifacts", "evaluation/sanity.npz"),
    "faithfulness_eval": ("artifacts", "evaluation/faithfulness.npz"),
    "robustness_eval": ("artifacts", "evaluation/robustness.npz"),
    "roar_eval": ("artifacts", "evaluation/roar.npz"),
    # what a reader sees
    "imagenet_accuracy": ("reports", "metrics/imagenet_accuracy.json"),
    "mnist_accuracy": ("reports", "metrics/mnist.json"),
    "mnist_training_log": ("reports", "plots/mnist_training"),  # DVCLive, one folder per model
    "claims": ("reports", "metrics/claims.json"),
    "plot_noise": ("reports", "plots/noise_by_method.csv"),
    "plot_sigma": ("reports", "plots/noise_and_deletion_by_sigma.csv"),
    "plot_convergence": ("reports", "plots/convergence.csv"),
    "plot_pointing": ("reports", "plots/grid_pointing_game.csv"),
    "plot_mnist": ("reports", "plots/mnist_noise.csv"),
    "plot_sanity": ("reports", "plots/sanity_cascade.csv"),
    "plot_faithfulness": ("reports", "plots/deletion_insertion_auc.csv"),
    "plot_deletion": ("reports", "plots/deletion_curves.csv"),
    "plot_robustness": ("reports", "plots/robustness.csv"),
    "plot_roar": ("reports", "plots/roar.csv"),
    "gallery_page": ("reports", "gallery/index.html"),
    "gallery_maps": ("reports", "gallery/maps"),
    "report": ("reports", "README.md"),
}
FIGURE_FORMATS = ("png", "pdf")


def figure_file(name: str, fmt: str) -> str:
    """The `FILES`-style name of a figure's file (`figure:<name>.<fmt>`)."""
    return f"figure:{name}.{fmt}"


def _split(name: str) -> tuple[str, str]:
    if name.startswith("figure:"):
        return "reports", f"figures/{name.removeprefix('figure:')}"
    if name not in FILES:
        raise KeyError(f"unknown pipeline file {name!r}; known: {sorted(FILES)}")
    return FILES[name]


def dvc_template(name: str) -> str:
    """The path as `dvc.yaml` writes it, templated on the `paths` params."""
    root, rest = _split(name)
    return f"${{paths.{root}}}/{rest}"


@dataclass(frozen=True)
class Paths:
    """The three roots of one run, absolute (relative config values are taken from the
    repository root, whatever the current folder)."""

    data: Path
    artifacts: Path
    reports: Path

    @classmethod
    def from_config(cls, node: Mapping[str, str], root: Path = REPO_ROOT) -> Paths:
        return cls(**{key: root / str(node[key]) for key in ROOTS})

    def get(self, name: str) -> Path:
        """The file or folder called `name` in `FILES` (or a `figure_file`)."""
        root, rest = _split(name)
        return getattr(self, root) / rest
