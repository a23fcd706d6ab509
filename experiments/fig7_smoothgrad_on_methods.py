"""Stage `fig7_smoothgrad_on_methods`: Fig 7 of the paper, drawn from stored arrays."""

from functools import partial

from smoothgrad.config import stage_main
from smoothgrad.figures.stages import figure_stage

run = partial(figure_stage, "fig7_smoothgrad_on_methods")

if __name__ == "__main__":
    stage_main(run)
