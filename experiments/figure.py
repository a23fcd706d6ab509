"""Stage of each figure (`python experiments/figure.py fig3_noise_level`): draws it from the
arrays its compute stage stored, as its spec in `smoothgrad.outputs.figures.catalog` says."""

import sys

from smoothgrad.outputs.figures.catalog import BY_NAME, write_figure
from smoothgrad.pipeline.runner import stage_main


def figure_run(name: str):
    """The stage function of figure `name`."""
    spec = BY_NAME[name]

    def run(cfg, paths) -> str:
        return "wrote " + ", ".join(str(p) for p in write_figure(spec, paths, spec.options(cfg)))
    return run


if __name__ == "__main__":
    stage_main(sys.argv[1], figure_run(sys.argv[1]), sys.argv[2:])
