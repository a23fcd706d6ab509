"""Stage `score_maps`: the noise measures of every map in the store, the random baseline's, each
image's background uniformity and, for the paper's 200 images, the authors' own maps' scores
(C1, C5 and the gallery's sort)."""

from smoothgrad.outputs.scores import score_store
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    authors = paths.get("reference_maps") if cfg.dataset.name == "pair200" else None
    out = paths.get("map_scores")
    n_maps = score_store(paths.get("map_store"), out, percentile=cfg.figures.percentile,
                         cutoff=cfg.evaluation.cutoff, border=cfg.evaluation.border,
                         authors=authors)
    return f"{n_maps} maps scored{' (+ the authors maps)' if authors else ''} -> {out}"


if __name__ == "__main__":
    stage_main("score_maps", run)
