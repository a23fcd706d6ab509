"""Every curve the pipeline declares as a DVC plot (`dvc plots show` / `dvc plots diff`), named
once: `dvc.yaml`'s top-level `plots` is generated from `PLOTS`, and the writers of the files
(`outputs.claims`, the MNIST training log) use the same file names and columns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlotSpec:
    id: str
    file: str  # `store.paths` name of the file (a CSV written by `outputs.claims`)
    x: str
    y: tuple[str, ...]
    title: str
    template: str = "linear"  # DVC's templates: linear, bar_horizontal, scatter, ...
    within: tuple[str, ...] = ("",)  # files under `file` (a folder) overlaid in one plot


# DVCLive's files of the MNIST training log (`compute.mnist.TrainingLog`), one folder per net
TRAINING_RUNS = ("clean", "noisy")


def _log(metric: str) -> tuple[str, ...]:
    return tuple(f"/{run}/plots/metrics/{metric}.tsv" for run in TRAINING_RUNS)


# the map kinds the later-work curves show (config defaults; issue 10's list and the random map)
GRADIENT_KINDS = ("gradient/plain", "gradient/smoothgrad", "gradient/smoothgrad_squared",
                  "gradient/vargrad")
KINDS = (*GRADIENT_KINDS, "integrated_gradients/plain", "integrated_gradients/smoothgrad",
         "guided_backprop/plain", "guided_backprop/smoothgrad")

PLOTS = (
    PlotSpec("c1_speckle_by_map", "plot_noise", "speckle", ("map",),
             "C1 noise of each map kind: speckle, mean over images (lower = smoother)",
             "bar_horizontal"),
    PlotSpec("c1_tv_by_map", "plot_noise", "tv", ("map",),
             "C1 noise of each map kind: total variation / mean (lower = smoother)",
             "bar_horizontal"),
    PlotSpec("c2_noise_by_sigma", "plot_sigma", "sigma", ("speckle",),
             "C2 speckle of the SmoothGrad map against its noise level"),
    PlotSpec("c2_deletion_by_sigma", "plot_sigma", "sigma", ("deletion_auc",),
             "C2 deletion AUC of the SmoothGrad map against its noise level (lower = better)"),
    PlotSpec("c3_convergence", "plot_convergence", "n", ("distance_to_last",),
             "C3 relative distance of the n-sample SmoothGrad map to the largest-n one"),
    PlotSpec("c4_pointing_share", "plot_pointing", "share", ("map",),
             "C4 grid pointing game: share of positive attribution in the class's cell",
             "bar_horizontal"),
    PlotSpec("c4_difference_share", "plot_pointing", "difference", ("map",),
             "C4 grid pointing game: share of the positive class-difference map in the cell",
             "bar_horizontal"),
    PlotSpec("mnist_training_loss", "mnist_training_log", "step", ("loss",),
             "MNIST training loss (mean batch loss since the last point): clean vs noise-trained",
             within=_log("train/loss")),
    PlotSpec("mnist_test_accuracy", "mnist_training_log", "step", ("accuracy",),
             "MNIST clean test accuracy after each epoch: clean vs noise-trained",
             within=_log("test/accuracy")),
    PlotSpec("c6_mnist_speckle", "plot_mnist", "speckle", ("map",),
             "C6 MNIST: speckle of each net's gradient and SmoothGrad maps", "bar_horizontal"),
    PlotSpec("l1_sanity_cascade", "plot_sanity", "block",
             (*GRADIENT_KINDS, "guided_backprop/plain", "guided_backprop/smoothgrad"),
             "L1 cascading randomisation: Spearman of |map| to the original after k blocks"),
    PlotSpec("l2_deletion_auc", "plot_faithfulness", "deletion_auc", ("map",),
             "L2 deletion AUC per map kind (lower = more faithful; random map for reference)",
             "bar_horizontal"),
    PlotSpec("l2_insertion_auc", "plot_faithfulness", "insertion_auc", ("map",),
             "L2 insertion AUC per map kind (higher = more faithful)", "bar_horizontal"),
    PlotSpec("l2_deletion_curves", "plot_deletion", "removed", (*KINDS, "random"),
             "L2 deletion curves: target probability as the top pixels are removed"),
    PlotSpec("l3_max_sensitivity", "plot_robustness", "sensitivity", ("map",),
             "L3 max-sensitivity per map kind (lower = more robust)", "bar_horizontal"),
    PlotSpec("l3_infidelity", "plot_robustness", "infidelity", ("map",),
             "L3 infidelity per map kind (lower = more faithful)", "bar_horizontal"),
    PlotSpec("l4_roar", "plot_roar", "removed", ("random", *GRADIENT_KINDS),
             "L4 ROAR on MNIST: test accuracy of the retrained net against the share removed"),
)
