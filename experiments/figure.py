"""Stage of each figure (`python experiments/figure.py fig3_noise_level`): draws it from the
arrays its compute stage stored, as its spec in `smoothgrad.outputs.figures.catalog` says."""

import sys

from smoothgrad.outputs.figures.catalog import BY_NAME, write_figure
from smoothgrad.pipeline.runner import stage_main

if __name__ == "__main__":
    spec = BY_NAME[sys.argv[1]]
    stage_main(spec.name, lambda cfg, paths: "wrote " + ", ".join(
        str(p) for p in write_figure(spec, paths, spec.options(cfg))), sys.argv[2:])
