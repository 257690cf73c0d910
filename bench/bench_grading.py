"""Grading throughput and overhead: ``hepml grade`` with 1 and 2 workers against plain execution.

For N copies of a submission it measures, in the same run and on the same machine:

* **plain**: ``nbclient`` executes each notebook once, one after the other (a kernel per
  notebook, as a student's "Restart & Run All");
* **grade, 1 worker** and **grade, 2 workers**: :func:`autograder.grading.grade.grade` with ``force=True``
  on a scratch copy of the course (collect, gradebook, sandboxed kernel, limits, clean re-check,
  recording, CSV export: the whole command).

Two notebooks: ``tiny`` is the 00_setup solution (its cells take milliseconds, so the fixed cost
of nbgrader, the kernel start and the clean re-check dominate), and ``train`` adds an ungraded cell
that trains a logistic regression with numpy for a fixed number of steps, calibrated to take about
TRAIN_SECONDS on this machine (closer to a real assignment).

Reported per notebook kind: medians of the per-notebook seconds (plain: each execution; graded:
each worker's wall time), the total wall times, the overhead ``grade(1 worker) / plain`` and the
speed-up ``grade(1 worker) / grade(2 workers)``, beside the issue's targets (overhead < 1.15,
speed-up > 1.7 on 2 cores).

The three measurements are interleaved over ROUNDS rounds and medians taken, since a shared
machine's load drifts. Run: ``.venv/bin/python bench/bench_grading.py [N] [TRAIN_SECONDS]
[ROUNDS]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
A = "00_setup"
COURSE_PARTS = ("course", "source", "release", "nbgrader_config.py")

TRAIN_CELL = """\
# Ungraded: train a logistic regression with numpy, a fixed number of full-batch steps.
rng = np.random.default_rng(0)
X = rng.normal(size=(100_000, 20))
y = (X @ rng.normal(size=20) > 0).astype(float)
w = np.zeros(20)
for _ in range({steps}):
    p = 1 / (1 + np.exp(-(X @ w)))
    w -= 0.1 * X.T @ (p - y) / len(y)
print("trained")
"""


def _steps_for(seconds: float) -> int:
    """Training steps that take about ``seconds`` here (calibrated once, then fixed: every
    measurement executes the same work)."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 20))
    y = (X @ rng.normal(size=20) > 0).astype(float)
    w = np.zeros(20)
    start = time.perf_counter()
    for _ in range(20):
        p = 1 / (1 + np.exp(-(X @ w)))
        w -= 0.1 * X.T @ (p - y) / len(y)
    return max(1, int(seconds / ((time.perf_counter() - start) / 20)))


def _scratch_course(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for part in COURSE_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy2(src, dest / part)
    return dest


def _solution(course: Path, steps: int) -> nbformat.NotebookNode:
    src = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    nb = nbformat.read(course / "release" / A / f"{A}.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in src.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(ln for ln in answers[grade_id].splitlines() if "### " not in ln)
    # The environment cell imports torch and TensorFlow: not what is measured here.
    nb.cells = [c for c in nb.cells if "check_environment" not in c.source]
    if steps > 0:
        nb.cells.append(nbformat.v4.new_code_cell(TRAIN_CELL.format(steps=steps)))
    return nb


def _plain(paths: list[Path], threads: int) -> list[float]:
    from nbclient import NotebookClient

    thread_vars = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    saved = {var: os.environ.get(var) for var in thread_vars}
    os.environ.update({var: str(threads) for var in thread_vars})
    times = []
    try:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            NotebookClient(nb, timeout=600, kernel_name="python3").execute(cwd=str(path.parent))
            times.append(time.perf_counter() - start)
    finally:  # grading sets the kernels' threads itself (the cores shared among the workers)
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return times


def _grade(course: Path, folder: Path, workers: int) -> tuple[float, list[float], bool]:
    from autograder.grading import grade

    start = time.perf_counter()
    result = grade.grade(
        A, folder, root=course, workers=workers, force=True, progress=False, memory_limit_mb=0
    )
    wall = time.perf_counter() - start
    if result.failed or len(result.graded) != len(list(folder.iterdir())):
        raise RuntimeError(f"grading failed: {result.summary()}")
    sandboxed = all(o.sandboxed for o in result.outcomes)
    return wall, [o.wall_s for o in result.outcomes], sandboxed


def measure(kind: str, n: int, steps: int, tmp: Path, rounds: int = 2) -> dict:
    """Plain execution and grading with 1 and 2 workers of ``n`` copies of one notebook,
    interleaved over ``rounds`` rounds (the machine's load drifts); medians over the rounds."""
    course = _scratch_course(tmp / kind / "course")
    folder = tmp / kind / "class"
    folder.mkdir()
    nb = _solution(course, steps)
    paths = []
    for i in range(n):
        path = folder / f"s{i:03d}_{A}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    cores = len(os.sched_getaffinity(0))
    runs: dict[str, list[float]] = {k: [] for k in ("p", "pt", "g1", "g1t", "g2", "g2t")}
    ratios: dict[str, list[float]] = {"nb": [], "tot": [], "speed": []}
    sandboxed = False
    for _ in range(rounds):
        plain = _plain(paths, threads=cores)
        wall1, per1, sandboxed = _grade(course, folder, workers=1)
        wall2, per2, _ = _grade(course, folder, workers=2)
        runs["p"].append(statistics.median(plain))
        runs["pt"].append(sum(plain))
        runs["g1"].append(statistics.median(per1))
        runs["g1t"].append(wall1)
        runs["g2"].append(statistics.median(per2))
        runs["g2t"].append(wall2)
        ratios["nb"].append(statistics.median(per1) / statistics.median(plain))
        ratios["tot"].append(wall1 / sum(plain))
        ratios["speed"].append(wall1 / wall2)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "kind": kind,
        "n": n,
        "rounds": rounds,
        "train_steps": steps,
        "cores": cores,
        "sandboxed": sandboxed,
        "plain_median_s": med["p"],
        "plain_total_s": med["pt"],
        "grade1_median_s": med["g1"],
        "grade1_total_s": med["g1t"],
        "grade2_median_s": med["g2"],
        "grade2_total_s": med["g2t"],
        "overhead_per_notebook": statistics.median(ratios["nb"]),
        "overhead_total": statistics.median(ratios["tot"]),
        "speedup_2_workers": statistics.median(ratios["speed"]),
    }


def main(n: int = 6, train_seconds: float = 8.0, rounds: int = 2) -> dict:
    """Run both notebook kinds; print a table; return the figures."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory(prefix="hepml-bench-grading-") as tmp:
        rows = [
            measure("tiny", n, 0, Path(tmp), rounds),
            measure("train", n, _steps_for(train_seconds), Path(tmp), rounds),
        ]
    load = os.getloadavg()[0]
    print(
        f"grading bench: {n} notebooks, {rounds} interleaved rounds, {rows[0]['cores']} cores, "
        f"load {load:.1f}, sandbox {'on' if rows[0]['sandboxed'] else 'off'}"
    )
    head = (
        f"{'kind':6} {'plain/nb':>9} {'grade1/nb':>10} {'grade2/nb':>10} {'plain tot':>10} "
        f"{'grade1 tot':>11} {'grade2 tot':>11} {'overhead/nb':>12} {'overhead':>9} {'speed-up':>9}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['kind']:6} {r['plain_median_s']:9.2f} {r['grade1_median_s']:10.2f} "
            f"{r['grade2_median_s']:10.2f} {r['plain_total_s']:10.1f} {r['grade1_total_s']:11.1f} "
            f"{r['grade2_total_s']:11.1f} {r['overhead_per_notebook']:11.2f}x "
            f"{r['overhead_total']:8.2f}x {r['speedup_2_workers']:8.2f}x"
        )
    print("targets: overhead < 1.15x, speed-up > 1.7x on 2 cores (seconds are medians / totals)")
    return {"load_avg_1min": load, **{r["kind"]: r for r in rows}}


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:]]
    main(
        int(args[0]) if args else 6,
        args[1] if len(args) > 1 else 8.0,
        int(args[2]) if len(args) > 2 else 2,
    )
