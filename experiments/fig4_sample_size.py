"""Stage `fig4_sample_size`: Fig 4 of the paper, drawn from stored arrays."""

from functools import partial

from smoothgrad.config import stage_main
from smoothgrad.figures.stages import figure_stage

run = partial(figure_stage, "fig4_sample_size")

if __name__ == "__main__":
    stage_main(run)
