"""Stage `report`: reports/README.md with every figure, its settings, the paper's claim and what
was measured here."""

from smoothgrad.outputs.figures.catalog import FIGURES
from smoothgrad.outputs.report import write_report
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    out = write_report(paths, [(spec, spec.options(cfg)) for spec in FIGURES],
                       profile_name=cfg.profile_name, seed=cfg.seed,
                       metrics=("imagenet_accuracy", "mnist_accuracy"))
    return f"{len(FIGURES)} figures -> {out}"


if __name__ == "__main__":
    stage_main("report", run)
