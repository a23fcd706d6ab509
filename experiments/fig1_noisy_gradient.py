"""Stage `fig1_noisy_gradient`: Fig 1 of the paper, drawn from stored arrays."""

from functools import partial

from smoothgrad.config import stage_main
from smoothgrad.figures.stages import figure_stage

run = partial(figure_stage, "fig1_noisy_gradient")

if __name__ == "__main__":
    stage_main(run)
