"""A stage's per-image work spread over the workers of its `executor` (`compute.executor`: this
process, or Ray actors that each build the model once from the stage's config).

A stage cuts its work into the same jobs whatever runs them (one image, mosaic, photo, block of
the model, or the whole line scan), and each job's noise is seeded from the job itself: so the
bytes a stage writes do not depend on the executor, the number of workers or which of them ran
a job. Results come back in job order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from ..models import ModelBundle
from .executor import open_workers


class ModelWorker:
    """The part every stage's worker shares: its model on its device (built inside the worker,
    so a Ray actor loads the model once), and what the stage records about it."""

    def __init__(self, bundle: ModelBundle, device: torch.device) -> None:
        self.bundle, self.device = bundle, device

    def describe(self) -> dict[str, Any]:
        return {"model": self.bundle.name, "device": self.device.type}


def run_jobs(cfg: Any, setup: Callable[..., ModelWorker],
             jobs: Sequence[Any] | Callable[[dict[str, Any]], Sequence[Any]], *,
             args: tuple = (), desc: str, unit: str = "img") -> tuple[dict[str, Any], list[Any]]:
    """(the worker's `describe()`, [worker(job) for job in jobs]) with the workers of
    `cfg.executor`, each built by `setup(cfg as a plain dict, *args)` (picklable arguments);
    `jobs` may be a function of `describe()` (e.g. one job per block of the model). Progress is
    shown as jobs finish."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    with open_workers(cfg.executor, setup, (plain, *args),
                      None if callable(jobs) else len(jobs)) as workers:
        about = workers.call("describe")
        jobs = list(jobs(about) if callable(jobs) else jobs)
        results: list[Any] = [None] * len(jobs)
        for key, result in tqdm(workers.map(list(enumerate(jobs))), total=len(jobs), desc=desc,
                                unit=unit):
            results[key] = result
    return about, results


def stack(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Per-job results ({name: array}) as one array per name, jobs along the first axis."""
    return {name: np.stack([np.asarray(row[name]) for row in rows]) for name in rows[0]}
