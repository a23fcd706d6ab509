"""Stage `claims`: the paper's claims C1-C6, each a statistic with its bootstrap CI and a
verdict by the rules of `evaluation.rules` -> reports/metrics/claims.json and the curves under
reports/plots/ (DVC metrics and plots)."""

from smoothgrad.outputs.claims import Inputs, write_claims
from smoothgrad.outputs.statistics import Bootstrap
from smoothgrad.pipeline.config import to_dict
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    evaluation = to_dict(cfg.evaluation)
    bootstrap = Bootstrap(**evaluation["bootstrap"], seed=cfg.seed)
    metrics = write_claims(Inputs(paths, bootstrap, evaluation), evaluation["rules"])
    verdicts = ", ".join(f"{key} {claim['verdict']}" for key, claim in metrics.items())
    return f"{verdicts} -> {paths.get('claims')}"


if __name__ == "__main__":
    stage_main("claims", run)
