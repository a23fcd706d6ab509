"""Stage `fig2_gradients_fluctuate`: Fig 2 of the paper, drawn from stored arrays."""

from functools import partial

from smoothgrad.config import stage_main
from smoothgrad.figures.stages import figure_stage

run = partial(figure_stage, "fig2_gradients_fluctuate")

if __name__ == "__main__":
    stage_main(run)
