"""Running grading jobs in parallel: threads on this machine, or a Dask cluster.

Locally, ``workers`` threads of a :class:`concurrent.futures.ThreadPoolExecutor` each supervise
one grading subprocess at a time (:func:`autograder.grading.worker.grade_submission`): the work
happens in the subprocesses, the threads only wait, so threads are enough and nothing has to be
pickled.

With a scheduler, the same function goes to a Dask cluster: ``"local"`` starts a
``LocalCluster`` of separate worker processes on this machine; any other value is the address of
a running scheduler (for example one started by dask-jobqueue on HTCondor or SLURM). A job carries
its files as bytes, so the workers need the course's Python environment but no shared folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager

from autograder.grading import limits
from autograder.grading.worker import Job, Outcome, grade_submission


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _failed(job: Job, why: str) -> Outcome:
    return Outcome(job.assignment, job.student, job.sha256, "failed", reason=why)


def run_local(
    jobs: Sequence[Job], *, workers: int, fn: Callable[[Job], Outcome] = grade_submission
) -> Iterator[Outcome]:
    """Yield outcomes as the jobs finish, ``workers`` at a time, on this machine."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="hepml-grade")
    futures = {pool.submit(fn, job): job for job in jobs}
    try:
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:  # grade_submission never raises; a custom fn might
                yield _failed(futures[fut], f"grader error: {type(exc).__name__}: {exc}")
    except BaseException:
        for fut in futures:
            fut.cancel()
        limits.stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def dask_client(scheduler: str, *, workers: int):
    """A ``distributed.Client``: a LocalCluster of worker processes for ``"local"``."""
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
    else:
        with Client(scheduler) as client:
            yield client


def run_dask(
    jobs: Sequence[Job],
    *,
    scheduler: str,
    workers: int,
    fn: Callable[[Job], Outcome] = grade_submission,
) -> Iterator[Outcome]:
    """Yield outcomes as the jobs finish on a Dask cluster (see the module docstring)."""
    from distributed import as_completed as dask_completed

    with dask_client(scheduler, workers=workers) as client:
        futures = [
            client.submit(fn, job, pure=False, key=f"hepml-grade-{job.student}-{job.sha256[:12]}")
            for job in jobs
        ]
        owner = {fut.key: job for fut, job in zip(futures, jobs, strict=True)}
        try:
            for fut in dask_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:
                    yield _failed(owner[fut.key], f"dask worker error: {type(exc).__name__}: {exc}")
        except BaseException:
            client.cancel(futures)
            raise
