"""Every stage of the pipeline, declared once: its script, the files it reads and writes (names
from `store.paths`) and the config keys it reads. `dvc.yaml` is generated from here (with the
code deps derived from each script's imports, `pipeline.deps`), and the stage runner uses the
same specs to verify a stage's data and to hand it only its declared params."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ..outputs.figures.catalog import FIGURES
from ..outputs.plots import PLOTS
from ..store.paths import FIGURE_FORMATS, REPO_ROOT, figure_file
from . import deps

EXPERIMENTS = REPO_ROOT / "experiments"
MODEL_RUN = ("model", "seed", "device", "precision")  # what every stage that runs a model reads
# what a stage whose per-image jobs run on the `executor`'s workers (`compute.jobs`) reads: the
# workers' torch thread count changes the float sums, so it is a param (the executor is not)
JOBS_RUN = (*MODEL_RUN, "executor.torch_threads")
SMOOTHGRAD_RUN = ("smoothgrad.noise_level", "smoothgrad.n_samples", "smoothgrad.aggregate",
                  "smoothgrad.batch_size")


@dataclass(frozen=True)
class Stage:
    name: str
    script: str  # under experiments/
    inputs: tuple[str, ...]  # `store.paths` names it reads (besides its code)
    outs: tuple[str, ...]  # `store.paths` names it writes, cached by DVC
    params: tuple[str, ...]  # config keys it reads (`paths.*` come with its deps and outs)
    metrics: tuple[str, ...] = ()  # `store.paths` names of metrics files (in git, not cached)
    uncached: tuple[str, ...] = ()  # outs kept in git, not DVC's cache
    args: tuple[str, ...] = ()  # arguments of its script
    files: tuple[str, ...] = ()  # other repository files it reads
    # raw inputs (of `inputs`) that belong to the 200 images: read (and verified) only with
    # dataset=pair200; the stage reads the configured dataset, a DVC dep as `${dataset.deps}`
    dataset: tuple[str, ...] = ()

    @property
    def script_path(self) -> Path:
        return EXPERIMENTS / self.script

    @property
    def command(self) -> str:
        """Runs the workspace's own `src/` (not an editable install's, which may be another
        checkout: a queued `dvc exp run` runs in a temporary copy of the repository)."""
        return " ".join(["PYTHONPATH=src", "python", f"experiments/{self.script}", *self.args])

    def code_files(self) -> list[Path]:
        """The script and every `smoothgrad` file it runs (its import closure)."""
        return deps.code_files(self.script_path)


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def figure_stage(spec_name: str, inputs: tuple[str, ...], params: tuple[str, ...]) -> Stage:
    """A figure's stage; its PNG is kept in git (the committed results a visitor reads), its
    PDF in DVC's cache."""
    return Stage(spec_name, "figure.py", inputs,
                 tuple(figure_file(spec_name, fmt) for fmt in FIGURE_FORMATS), params,
                 args=(spec_name,), uncached=(figure_file(spec_name, "png"),))


COMPUTE = (
    Stage("predict_imagenet", "predict_imagenet.py", ("imagenet_images", "imagenet_metadata"),
          ("predictions",), ("model", "imagenet.n_images", "imagenet.batch_size", "device",
                             "precision", "dataset"),
          metrics=("imagenet_accuracy",), dataset=("imagenet_images", "imagenet_metadata")),
    Stage("train_mnist", "train_mnist.py", ("mnist_data",),
          ("mnist_clean", "mnist_noisy", "mnist_training_log"),
          ("mnist.train", "seed", "device", "precision"), metrics=("mnist_accuracy",),
          uncached=("mnist_training_log",)),
    Stage("maps", "compute_maps.py", ("predictions", "imagenet_images"), ("map_store",),
          (*MODEL_RUN, "methods", *SMOOTHGRAD_RUN, "smoothgrad.ig_steps", "dataset",
           "executor.torch_threads"), dataset=("imagenet_images",)),
    Stage("sweep_noise", "sweep_noise.py", ("predictions", "imagenet_images"), ("noise_sweep",),
          (*JOBS_RUN, "methods.gradient", *SMOOTHGRAD_RUN, "smoothgrad.noise_levels",
           "figures.target", "figures.fig3", "dataset"), dataset=("imagenet_images",)),
    Stage("sweep_samples", "sweep_samples.py", ("predictions", "imagenet_images"),
          ("samples_sweep",),
          (*JOBS_RUN, "methods.gradient", *SMOOTHGRAD_RUN, "smoothgrad.sample_counts",
           "smoothgrad.sweep_noise_level", "figures.target", "figures.fig4", "dataset"),
          dataset=("imagenet_images",)),
    Stage("line_scan", "line_scan.py", ("predictions", "imagenet_images"), ("line_scan",),
          (*JOBS_RUN, "methods.gradient", "smoothgrad.batch_size", "figures.target",
           "figures.fig2", "dataset"), dataset=("imagenet_images",)),
    Stage("two_objects", "two_objects.py", ("two_object_photos",), ("two_objects",),
          (*JOBS_RUN, "methods", *SMOOTHGRAD_RUN, "figures.fig6")),
    Stage("mnist_maps", "mnist_maps.py", ("mnist_data", "mnist_clean", "mnist_noisy"),
          ("mnist_maps",), ("seed", "device", "precision", "methods.gradient",
                            "smoothgrad.noise_level",
                            "smoothgrad.n_samples", "smoothgrad.batch_size")),
)
# The claims (issue 10): per-image measurements, then estimates, CIs and verdicts
IMAGES = ("predictions", "imagenet_images")
EVALUATION = (
    Stage("score_maps", "score_maps.py", ("map_store", "reference_maps"), ("map_scores",),
          ("figures.percentile", "evaluation.cutoff", "evaluation.border", "dataset.name"),
          dataset=("reference_maps",)),
    Stage("eval_sigma", "eval_sigma.py", IMAGES, ("sigma_eval",),
          (*JOBS_RUN, "methods.gradient", "smoothgrad.batch_size", "evaluation.sigma",
           "evaluation.deletion", "evaluation.cutoff", "figures.percentile", "dataset"),
          dataset=("imagenet_images",)),
    Stage("eval_convergence", "eval_convergence.py", IMAGES, ("convergence_eval",),
          (*JOBS_RUN, "methods.gradient", "smoothgrad.noise_level", "smoothgrad.batch_size",
           "evaluation.convergence.images", "evaluation.convergence.sample_counts",
           "figures.percentile", "dataset"), dataset=("imagenet_images",)),
    Stage("eval_grids", "eval_grids.py", IMAGES, ("grid_eval",),
          (*JOBS_RUN, "methods", "smoothgrad.noise_level", "smoothgrad.n_samples",
           "smoothgrad.batch_size", "evaluation.grids", "figures.percentile", "dataset"),
          dataset=("imagenet_images",)),
    Stage("eval_mnist", "eval_mnist.py", ("mnist_data", "mnist_clean", "mnist_noisy"),
          ("mnist_eval",),
          ("seed", "device", "precision", "methods.gradient", "smoothgrad.noise_level",
           "smoothgrad.n_samples", "smoothgrad.batch_size", "evaluation.mnist_images",
           "evaluation.cutoff", "figures.percentile")),
    # the later critiques (issue 11)
    Stage("eval_sanity", "eval_sanity.py", IMAGES, ("sanity_eval",),
          (*JOBS_RUN, "methods", "smoothgrad.noise_level", "smoothgrad.batch_size",
           "evaluation.sanity", "dataset"), dataset=("imagenet_images",)),
    Stage("eval_faithfulness", "eval_faithfulness.py", ("map_store", "imagenet_images"),
          ("faithfulness_eval",), (*JOBS_RUN, "evaluation.faithfulness",
                                   "evaluation.deletion", "dataset"),
          dataset=("imagenet_images",)),
    Stage("eval_robustness", "eval_robustness.py", IMAGES, ("robustness_eval",),
          (*JOBS_RUN, "methods", "smoothgrad.noise_level", "smoothgrad.n_samples",
           "smoothgrad.batch_size", "evaluation.robustness", "dataset"),
          dataset=("imagenet_images",)),
    Stage("eval_roar", "eval_roar.py", ("mnist_data", "mnist_clean"), ("roar_eval",),
          ("seed", "device", "precision", "methods.gradient", "smoothgrad.noise_level",
           "smoothgrad.batch_size", "mnist.train.batch_size", "mnist.train.lr",
           "evaluation.roar")),
)
# the claims' curves (the training log is train_mnist's)
PLOT_FILES = tuple(dict.fromkeys(p.file for p in PLOTS if p.file != "mnist_training_log"))
CLAIMS = Stage("claims", "claims.py", tuple(n for s in EVALUATION for n in s.outs),
               PLOT_FILES, ("seed", "evaluation.bootstrap", "evaluation.rules",
                            "evaluation.sigma.claimed", "evaluation.sigma.degraded",
                            "evaluation.convergence.after"),
               metrics=("claims",), uncached=PLOT_FILES)
FIGURE_STAGES = tuple(figure_stage(spec.name, spec.inputs, spec.params) for spec in FIGURES)
REPORT = Stage(
    "report", "report.py",
    _union([*(s.inputs for s in FIGURE_STAGES),
            [figure_file(spec.name, "png") for spec in FIGURES],
            ("imagenet_accuracy", "mnist_accuracy", "claims")]),
    (), ("profile_name", "seed", *_union(spec.params for spec in FIGURES)),
    uncached=("report",))
GALLERY = Stage("gallery", "gallery.py", ("map_store", "map_scores", "reference_maps"),
                ("gallery_page", "gallery_maps"), ("gallery", "dataset.name"),
                dataset=("reference_maps",))

# The pipeline's first step: the whole config validated before any stage runs (and deletes its
# outputs); every other stage depends on its constant stamp, so only a config error stops them.
CHECK_CONFIG = Stage("check_config", "check_config.py", (), ("config_check",), (),
                     files=("params.yaml",))
STAGES: dict[str, Stage] = {CHECK_CONFIG.name: CHECK_CONFIG, **{
    s.name: replace(s, inputs=("config_check", *s.inputs))
    for s in (*COMPUTE, *EVALUATION, CLAIMS, GALLERY, *FIGURE_STAGES, REPORT)}}
