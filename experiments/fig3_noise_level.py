"""Stage `fig3_noise_level`: Fig 3 of the paper, drawn from stored arrays."""

from functools import partial

from smoothgrad.config import stage_main
from smoothgrad.figures.stages import figure_stage

run = partial(figure_stage, "fig3_noise_level")

if __name__ == "__main__":
    stage_main(run)
