"""Where per-image work runs (config group `executor`, issue 12): in this process
(`executor=local`, the default: Ray is not even imported) or on Ray actors (`executor=ray`).

Either way a worker is built once from a picklable `setup(*args)` (a plain config dict in, the
model and methods built inside the worker) and then called once per job; results come back to
the caller, which writes them (the maps stage into its resume folder, so nothing finished is
lost). A Ray actor killed mid-job is restarted (its `setup` runs again) and the job retried by
Ray itself (`max_restarts` / `max_task_retries`).

Results must not depend on where a job runs: each image's noise is seeded from its content, and
torch's intra-op thread count (which changes the float sums) is pinned to
`executor.torch_threads` in this process and in every actor alike.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

Setup = Callable[..., Any]  # setup(*args) -> worker: worker(job) -> result
# Fault injection for the tests only: "<flag file>@<job key>" makes a Ray actor die (os._exit)
# on that job once, the first time (the flag file records that it did).
CRASH_ONCE_ENV = "SMOOTHGRAD_TEST_CRASH_ONCE"


def set_torch_threads(n: int) -> None:
    """Pin torch's intra-op threads: float results differ between 1 and 2 threads."""
    torch.set_num_threads(int(n))


class Workers:
    """Workers built by `setup(*args)`: `call` asks one of them, `map` spreads jobs over all."""

    def call(self, method: str) -> Any:
        raise NotImplementedError

    def map(self, jobs: Sequence[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        """(key, worker(job)) for each (key, job), in completion order."""
        raise NotImplementedError


class LocalWorkers(Workers):
    """One worker, in this process (`executor=local`)."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    def call(self, method: str) -> Any:
        return getattr(self.worker, method)()

    def map(self, jobs: Sequence[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        for key, job in jobs:
            yield key, self.worker(job)


class _Actor:
    """The body of a Ray actor: one worker, built once per (re)start of the actor."""

    def __init__(self, setup: Setup, args: tuple, torch_threads: int) -> None:
        set_torch_threads(torch_threads)
        self.worker = setup(*args)

    def call(self, method: str) -> Any:
        return getattr(self.worker, method)()

    def run(self, key: Any, job: Any) -> tuple[Any, Any]:
        crash = os.environ.get(CRASH_ONCE_ENV)
        if crash:
            flag, _, at = crash.rpartition("@")
            if str(key) == at and not Path(flag).exists():
                Path(flag).write_text(f"actor {os.getpid()} died on job {key}\n")
                os._exit(1)
        return key, self.worker(job)


class RayWorkers(Workers):
    """`workers` Ray actors; each job goes to the next idle actor (results do not depend on
    which: the caller seeds every job from its content)."""

    def __init__(self, ray: Any, actors: list[Any]) -> None:
        self.ray, self.actors = ray, actors

    def call(self, method: str) -> Any:
        return self.ray.get(self.actors[0].call.remote(method))

    def map(self, jobs: Sequence[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        queue, pending = deque(jobs), {}

        def submit(actor: Any) -> None:
            if queue:
                key, job = queue.popleft()
                pending[actor.run.remote(key, job)] = actor

        for actor in self.actors:
            submit(actor)
        while pending:
            (ref,), _ = self.ray.wait(list(pending), num_returns=1)
            actor = pending.pop(ref)
            result = self.ray.get(ref)  # a job that failed for good raises here
            submit(actor)
            yield result


@contextlib.contextmanager
def open_workers(executor: Mapping[str, Any], setup: Setup, args: tuple = (),
                 n_jobs: int | None = None) -> Iterator[Workers]:
    """Workers of the `executor` config node, each built by `setup(*args)` with torch's threads
    pinned to `executor.torch_threads`. `n_jobs` caps the number of Ray actors."""
    threads = int(executor["torch_threads"])
    if executor["name"] == "local":
        set_torch_threads(threads)
        yield LocalWorkers(setup(*args))
        return
    import ray  # only here: executor=local never needs it

    n_workers = max(1, min(int(executor["workers"]), n_jobs or int(executor["workers"])))
    cpus = float(executor.get("num_cpus") or threads)
    gpus = float(executor.get("num_gpus") or 0)
    started = not ray.is_initialized()
    if started:
        address = executor.get("address") or None
        # a local Ray gets room for every actor (logical CPUs), so none waits forever
        extra = {} if address else {"num_cpus": max(os.cpu_count() or 1, n_workers * cpus)}
        ray.init(address=address, include_dashboard=False, log_to_driver=True, **extra)
    retries = int(executor.get("max_retries", 3))
    env = {CRASH_ONCE_ENV: os.environ[CRASH_ONCE_ENV]} if CRASH_ONCE_ENV in os.environ else {}
    actor_class = ray.remote(_Actor).options(
        num_cpus=cpus, num_gpus=gpus, max_restarts=retries, max_task_retries=retries,
        **({"runtime_env": {"env_vars": env}} if env else {}))
    actors = [actor_class.remote(setup, args, threads) for _ in range(n_workers)]
    try:
        yield RayWorkers(ray, actors)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()

