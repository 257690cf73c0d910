"""The measurement process: the student's code, called on the grader's inputs, and nothing else.

When the clean process (:mod:`autograder.grading.replay`) meets a check whose ``derive`` step uses
a code object of the student (a model, a function, a data loader), it does not run it: it
pickles the ``derive`` closures with :func:`write_job` (each student object by reference to its
exhibit) and starts ``python -I -m autograder.grading.measure JOB_DIR`` in the same sandbox as the
kernel, in the kernel's working folder, without the grader's secret. This process loads the
student's objects (their code runs here), runs each ``derive`` step (the student's model scores
the check's inputs) and writes what came out as plain data (:mod:`autograder.grading.exhibits`,
no pickle). It never holds labels, expected values, thresholds or the test's source: a check
puts those in its specification, which stays in the clean process, where the judge reads them.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from autograder.grading import exhibits

JOB = "job.pkl"
RESULTS = "results"
FAILED_TO_MEASURE = (
    "The grader could not run your code to measure this check ({why}). Check that your objects "
    "work when the notebook is run from the top (Restart & Run All)."
)


class _Broken:
    """A student object that could not be carried to the grader; any use explains why."""

    def __init__(self, name: str, problem: str) -> None:
        self._name, self._problem = name, problem

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        self._raise()

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise exhibits.Unexportable(
            f"your {self._name} could not be sent to the grader ({self._problem})"
        )

    __call__ = __iter__ = __len__ = __getitem__ = _raise


def write_job(folder: Path, derives: Sequence[Callable[[], Mapping[str, Any]]]) -> None:
    """Pickle ``derives`` into ``folder`` with every :class:`exhibits.Code` as a reference."""
    import cloudpickle

    folder.mkdir(parents=True, exist_ok=True)
    copied: dict[str, str] = {}

    class _Pickler(cloudpickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, exhibits.Code):
                blob = ""
                if obj.path:
                    blob = copied.get(obj.path) or Path(obj.path).name
                    if obj.path not in copied:
                        shutil.copyfile(obj.path, folder / blob)
                        copied[obj.path] = blob
                return ("code", obj.name, blob, obj.problem)
            return None

    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(list(derives))
    (folder / JOB).write_bytes(buf.getvalue())


def _load_job(folder: Path) -> list[Callable[[], Mapping[str, Any]]]:
    import cloudpickle

    loaded: dict[str, Any] = {}

    class _Unpickler(pickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            kind, name, blob, problem = pid
            if kind != "code":
                raise pickle.UnpicklingError(f"unknown reference {kind!r}")
            if not blob:
                return _Broken(name, problem or "it could not be pickled")
            if blob not in loaded:
                try:
                    loaded[blob] = cloudpickle.loads((folder / blob).read_bytes())
                except Exception as exc:  # the student's object does not load here
                    loaded[blob] = _Broken(name, f"{type(exc).__name__}: {exc}"[:300])
            return loaded[blob]

    with open(folder / JOB, "rb") as fh:
        return _Unpickler(fh).load()


def main(argv: list[str] | None = None) -> int:
    """``python -I -m autograder.grading.measure JOB_DIR``: run the job from the derive that
    ``JOB_DIR/start`` names, writing each result as soon as it is known."""
    from autograder.checks import _core

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -I -m autograder.grading.measure JOB_DIR", file=sys.stderr)
        return 2
    folder = Path(args[0])
    out = folder / RESULTS
    out.mkdir(exist_ok=True)
    writer = exhibits._Writer(out)
    start = int((folder / "start").read_text()) if (folder / "start").is_file() else 0
    try:
        derives = _load_job(folder)
    except Exception:
        traceback.print_exc()
        return 1
    for i in range(start, len(derives)):
        derived = _core.derive_safely(derives[i])
        # A pickled copy of the model (``record_model=True``) is for the kernel's records only.
        derived = {k: v for k, v in derived.items() if type(v).__name__ != "Pickled"}
        try:
            node = {k: writer.value(v) for k, v in derived.items()}
        except exhibits.Unexportable as exc:
            message = f"your code returned something the grader cannot read ({exc})"
            node = {"input_error": writer.value(message)}
        tmp = out / f"{i}.json.part"
        tmp.write_text(json.dumps(node))
        os.replace(tmp, out / f"{i}.json")
    return 0


def run(
    derives: Sequence[Callable[[], Mapping[str, Any]]],
    folder: Path,
    *,
    argv: Sequence[str] | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> list[dict[str, Any]]:
    """Measure ``derives`` in a fresh process; one derived mapping per derive, in order.

    Parameters
    ----------
    folder : Path
        A new folder for the job (visible to the measurement process).
    argv : sequence of str, optional
        The command, with ``{job}`` for the folder (the worker's sandboxed command); by default
        an unsandboxed ``python -I -m autograder.grading.measure``.
    cwd, env :
        The kernel's working folder and environment (without the grader's secret).
    timeout : float
        Seconds one process may run. A process that crashes or hangs costs only the derive it was
        on (which gets an ``input_error`` saying why: its check fails with that message); a new
        process takes the rest.
    """
    if not derives:
        return []
    write_job(folder, derives)
    command = [
        part.replace("{job}", str(folder))
        for part in (argv or [sys.executable, "-I", "-m", "autograder.grading.measure", "{job}"])
    ]
    reader = exhibits._Reader(folder / RESULTS)
    results: list[dict[str, Any]] = []
    while len(results) < len(derives):
        start = len(results)
        (folder / "start").write_text(str(start))
        why = _launch(command, folder / f"measure-{start}.log", cwd, env, timeout)
        done = folder / RESULTS
        while len(results) < len(derives) and (done / f"{len(results)}.json").is_file():
            node = json.loads((done / f"{len(results)}.json").read_text())
            results.append({k: reader.value(v) for k, v in node.items()})
        if len(results) < len(derives) and len(results) == start:
            results.append({"input_error": FAILED_TO_MEASURE.format(why=why or "it wrote nothing")})
    return results


def _launch(
    command: list[str],
    log: Path,
    cwd: Path | None,
    env: Mapping[str, str] | None,
    timeout: float,
) -> str:
    """Run one measurement process; why it ended early ("" when it exited cleanly)."""
    try:
        with open(log, "wb") as fh:
            proc = subprocess.run(
                command,
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
    except subprocess.TimeoutExpired:
        return f"it ran longer than {timeout:.0f} s"
    return f"it stopped with exit status {proc.returncode}" if proc.returncode else ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
