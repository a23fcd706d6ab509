"""Stage `report`: reports/README.md with every figure, its settings and the paper's claim."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.report import build_report, measurements, read_metrics


def run(cfg: DictConfig) -> None:
    reports = Path(cfg.paths.reports)
    metrics = {name: read_metrics(reports / "metrics" / name)
               for name in ("imagenet_accuracy.json", "mnist.json")}
    out = reports / "README.md"
    measured = measurements(Path(cfg.paths.artifacts), cfg.figures.percentile)
    out.write_text(build_report(cfg, reports / "figures", metrics, measured))
    print(f"report: {len(list((reports / 'figures').glob('*.png')))} figures -> {out}")


if __name__ == "__main__":
    stage_main(run)
