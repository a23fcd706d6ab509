"""Stage `check_config`, the pipeline's first step: `params.yaml` is validated against the schema
(`smoothgrad.pipeline.schema`) before any other stage runs and deletes its outputs. The stamp it
writes never changes, so a valid edit reruns only the stages whose params changed."""

from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import write_text


def run(cfg, paths) -> str:
    stamp = paths.get("config_check")
    write_text(stamp, "params.yaml is valid\n")
    return "params.yaml is valid"


if __name__ == "__main__":
    stage_main("check_config", run)
