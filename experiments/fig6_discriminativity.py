"""Stage `fig6_discriminativity`: Fig 6 of the paper, drawn from stored arrays."""

from functools import partial

from smoothgrad.config import stage_main
from smoothgrad.figures.stages import figure_stage

run = partial(figure_stage, "fig6_discriminativity")

if __name__ == "__main__":
    stage_main(run)
