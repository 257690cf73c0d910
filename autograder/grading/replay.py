"""Judge test cells again in a clean Python process: the kernel's verdict is never trusted alone.

The grader runs ``python -I -m autograder.grading.replay JOB.json VERDICTS.json`` after a notebook has
run (see :class:`autograder.preprocessors.recheck.Recheck`). In this process no code of the
student ever ran: ``autograder.checks``, numpy and scikit-learn are freshly imported from the
installation. For each test cell that the kernel passed it

1. **captures the official call list**: it executes the official source of the test cell (from
   the gradebook) with the checks' ``run_check`` replaced by a recorder, so every check call
   reports its name and its *specification* (expected values, inputs, thresholds, tolerances,
   all computed here by the official code with clean numpy) without judging anything. Names the
   cell reads from the notebook are bound to the real modules for the usual aliases (``np``,
   ``pd``, ``torch``...) and to inert placeholders otherwise (the student's objects are never
   needed, since judging uses the records);
2. **matches the records** that the checks wrote in the kernel while that cell ran (the grader
   filed them by grade id): same checks, same order. No record at all means the checks did not
   run (``autograder.checks`` replaced or patched, the cell rewritten by an input transformer);
3. **re-judges each record** with the registered judge: the student's derived data from the
   record, the specification from step 1 (a record that carries a lowered threshold or a swapped
   expected value is judged against the official ones).

When step 1 cannot finish (the official code needs a student object to compute its specification)
the records beyond the captured calls are judged with their recorded specification; the verdict
then says so (``spec_verified: false``).

What this does not catch: a kernel that forges the *derived* part of a record (the student's
outputs) can make a record that passes; see ``docs/threat-model.md``.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.checks import _core
from autograder.checks import records as artefacts
from autograder.checks.records import Verdict
from helpers.data.synthetic import SECRET_ENV

#: Names a test cell reads from the notebook that are bound to the real module here.
MODULE_ALIASES: Mapping[str, str] = {
    "np": "numpy",
    "numpy": "numpy",
    "pd": "pandas",
    "pandas": "pandas",
    "math": "math",
    "scipy": "scipy",
    "sklearn": "sklearn",
    "torch": "torch",
    "nn": "torch.nn",
    "tf": "tensorflow",
    "keras": "keras",
    "ak": "awkward",
    "awkward": "awkward",
    "uproot": "uproot",
    "h5py": "h5py",
    "checks": "autograder.checks",
    "helpers": "helpers",
}

NO_RECORDS = (
    "The checks of this test cell did not run: the grader received no record of them. Was "
    "`autograder.checks` changed or replaced in your notebook? A test cell whose checks do not "
    "run scores 0."
)
MISMATCH = (
    "The checks of this test cell did not run as written (the grader expected {want}, it saw "
    "{got}). Was `autograder.checks` or the test cell changed in your notebook?"
)
CLEAN_FAIL = "The grader re-ran this test in a clean Python process and it did not pass: {message}"
BAD_RECORDS = (
    "The grader could not read the records of this test cell ({why}): they were changed while "
    "the notebook ran."
)


class _Unavailable(Exception):
    """A placeholder for a student object was used while capturing a specification."""


class Placeholder:
    """Stands for an object of the student's notebook; any use stops the capture."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        raise AttributeError(f"{self._name}.{attr} (a student object) is not available here")

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise _Unavailable(f"{self._name} (a student object) is not available here")

    __call__ = __iter__ = __len__ = __getitem__ = __array__ = __bool__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __lt__ = __le__ = __gt__ = __ge__ = __float__ = __int__ = _refuse

    def __repr__(self) -> str:
        return f"<student object {self._name}>"


def free_names(source: str) -> list[str]:
    """Names the cell reads but never binds itself, and that are not builtins (sorted)."""
    tree = ast.parse(source)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return sorted(n for n in loaded - bound if not hasattr(builtins, n))


def static_check_calls(source: str) -> list[str]:
    """Names of the checks the source calls, as written: ``checks.X(...)``,
    ``autograder.checks.X(...)`` or ``X(...)`` after ``from autograder.checks import X``."""
    tree = ast.parse(source)
    imported: dict[str, str] = {}
    check_modules = {"checks"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "autograder.checks":
            for alias in node.names:
                imported[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module == "autograder":
            for alias in node.names:
                if alias.name == "checks":
                    check_modules.add(alias.asname or "checks")
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Name) and base.id in check_modules:
                calls.append(func.attr)
            elif (
                isinstance(base, ast.Attribute)
                and base.attr == "checks"
                and isinstance(base.value, ast.Name)
                and base.value.id == "autograder"
            ):
                calls.append(func.attr)
        elif isinstance(func, ast.Name) and func.id in imported:
            calls.append(imported[func.id])
    return calls


def _namespace(source: str, objects: Mapping[str, Any], absent: Any) -> dict[str, Any]:
    """The globals an official test source runs with: each free name bound to the student's
    object (``objects``), else to the real module of a usual alias (``np``, ``torch``...), else to
    ``absent(name)``."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for name in free_names(source):
        if name in objects:
            namespace[name] = objects[name]
            continue
        target = MODULE_ALIASES.get(name)
        if target is not None:
            try:
                namespace[name] = importlib.import_module(target)
                continue
            except ImportError:
                pass
        namespace[name] = absent(name)
    return namespace


@dataclass
class Capture:
    """The check calls of an official test source, with their specifications.

    Attributes
    ----------
    calls : list of (str, dict)
        ``(check name, specification)`` in call order.
    complete : bool
        The source ran to its end.
    error : str or None
        Why it stopped early.
    """

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    complete: bool = False
    error: str | None = None


def capture_calls(source: str) -> Capture:
    """Execute an official test source with recording-only checks (see the module docstring)."""
    importlib.import_module("autograder.checks")
    capture = Capture()

    def recorder(name: str, derive: Any, spec: Mapping[str, Any] | None = None) -> None:
        capture.calls.append((name, dict(spec or {})))

    namespace = _namespace(source, {}, Placeholder)
    try:
        with _recording(recorder):
            exec(compile(source, "<official test cell>", "exec"), namespace)
        capture.complete = True
    except Exception as exc:
        capture.error = f"{type(exc).__name__}: {exc}"
    return capture


@dataclass
class CellVerdict:
    """The clean verdict on one test cell.

    Attributes
    ----------
    passed : bool
    message : str
        For the student when it failed.
    n_records : int
        Records the kernel left for the cell.
    n_expected : int or None
        Check calls the official source makes (None when the capture stopped early).
    spec_verified : bool
        Every record was judged against a specification computed here.
    applicable : bool
        False when the official source calls no check (the kernel's verdict stands).
    """

    passed: bool
    message: str = ""
    n_records: int = 0
    n_expected: int | None = None
    spec_verified: bool = True
    applicable: bool = True
    detail: str = ""
    measured: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "message": self.message,
            "n_records": self.n_records,
            "n_expected": self.n_expected,
            "spec_verified": self.spec_verified,
            "applicable": self.applicable,
            "detail": self.detail,
            "measured": self.measured,
        }


def _describe(names: list[str]) -> str:
    if not names:
        return "no check"
    return f"{len(names)} check call(s): {', '.join(names)}"


def recheck_cell(source: str, records_dir: Path) -> CellVerdict:
    """The clean verdict on one test cell, given its official source and its records' folder."""

    capture = capture_calls(source)
    expected_names = [name for name, _ in capture.calls]
    if not capture.calls and not static_check_calls(source):
        return CellVerdict(True, applicable=False, n_expected=0)
    try:
        records = artefacts.load_records(records_dir) if Path(records_dir).is_dir() else []
    except (ValueError, KeyError, OSError) as exc:
        return CellVerdict(False, BAD_RECORDS.format(why=type(exc).__name__))
    got_names = [r.check for r in records]
    verdict = CellVerdict(
        True,
        n_records=len(records),
        n_expected=len(capture.calls) if capture.complete else None,
        spec_verified=capture.complete,
        detail="" if capture.complete else f"capture stopped early: {capture.error}",
    )
    if not records:
        verdict.passed, verdict.message = False, NO_RECORDS
        return verdict
    prefix_ok = got_names[: len(expected_names)] == expected_names
    if not prefix_ok or (capture.complete and len(got_names) != len(expected_names)):
        verdict.passed = False
        verdict.message = MISMATCH.format(want=_describe(expected_names), got=_describe(got_names))
        return verdict
    for i, record in enumerate(records):
        arguments = {k: v for k, v in record.arguments.items() if k not in record.spec_keys}
        if i < len(capture.calls):
            spec = capture.calls[i][1]
            for key in spec:
                arguments.pop(key, None)
            arguments.update(spec)
        else:
            arguments.update(record.spec)
        clean = _core.judge(record.check, arguments)
        if not clean.passed:
            verdict.passed = False
            verdict.message = CLEAN_FAIL.format(message=clean.message)
            return verdict
    return verdict


OFFICIAL_RAISED = (
    "The grader ran this test on your objects in a clean Python process and it stopped: {error}"
)


@dataclass
class Measurer:
    """How the clean process has the student's code measured (see :mod:`autograder.grading.measure`).

    Attributes
    ----------
    folder : Path
        Where the measurement jobs go (visible to the measurement process).
    argv : list of str or None
        The sandboxed command, with ``{job}``; None runs it unsandboxed.
    cwd : Path or None
        The kernel's working folder.
    env : dict or None
        The measurement process's environment (never the grader's secret).
    timeout : float
    """

    folder: Path
    argv: list[str] | None = None
    cwd: Path | None = None
    env: dict[str, str] | None = None
    timeout: float = 300.0
    jobs: int = 0

    def __call__(self, derives: list[Any]) -> list[dict[str, Any]]:
        from autograder.grading import measure

        self.jobs += 1
        return measure.run(
            derives,
            self.folder / f"job-{self.jobs}",
            argv=self.argv,
            cwd=self.cwd,
            env=self.env,
            timeout=self.timeout,
        )


@dataclass
class MeasuredCapture:
    """The check calls of one test cell run on the student's objects, before judging.

    ``calls`` holds ``[name, derived or None, derive or None, spec]``: a call whose ``derive``
    needs the student's code keeps its ``derive`` until :func:`measure_pending` fills
    ``derived``. ``verdict`` is set when the cell is decided without judging (the official code
    stopped on the student's objects, the exhibits could not be read).
    """

    calls: list[list[Any]] = field(default_factory=list)
    verdict: CellVerdict | None = None
    #: The student object the official code used outside a check (the cell is not measurable).
    used_directly: str = ""


def capture_measured(source: str, exhibits_dir: Path) -> MeasuredCapture:
    """Run the whole official source here, hidden part included, on the student's exhibits.

    Plain data is real; every check's ``derive`` step that needs the student's code is kept for
    the measurement process. When the official source uses a code object of the student outside
    a check (it calls or inspects it directly), ``used_directly`` names it: such a cell is judged
    from the kernel's records instead (:func:`recheck_cell`), and the course's tests list it.
    """
    from autograder.grading import exhibits

    try:
        objects = exhibits.load(exhibits_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        verdict = CellVerdict(False, BAD_RECORDS.format(why=f"exhibits: {type(exc).__name__}"))
        return MeasuredCapture(verdict=verdict)
    importlib.import_module("autograder.checks")
    capture = MeasuredCapture()

    def recorder(name: str, derive: Any, spec: Mapping[str, Any] | None = None) -> None:
        try:
            capture.calls.append([name, _core.derive_safely(derive), None, dict(spec or {})])
        except exhibits.NeedsMeasurement:
            capture.calls.append([name, None, derive, dict(spec or {})])

    namespace = _namespace(source, objects, exhibits.Missing)
    try:
        with _recording(recorder):
            exec(compile(source, "<official test cell>", "exec"), namespace)
    except exhibits.NeedsMeasurement as exc:
        return MeasuredCapture(used_directly=str(exc))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        capture.verdict = CellVerdict(False, OFFICIAL_RAISED.format(error=error), measured=True)
    return capture


def measure_pending(captures: list[MeasuredCapture], measurer: Measurer) -> None:
    """Measure every pending ``derive`` of ``captures`` in ONE measurement process."""
    pending = [c for cap in captures if cap.verdict is None for c in cap.calls if c[2] is not None]
    if pending:
        for call, derived in zip(pending, measurer([c[2] for c in pending]), strict=True):
            call[1], call[2] = derived, None


def judge_measured(capture: MeasuredCapture) -> CellVerdict:
    """The clean verdict of a measured capture: every check judged against the specification the
    official code computed here (records the kernel wrote are not read)."""
    if capture.verdict is not None:
        return capture.verdict
    verdict = CellVerdict(True, n_expected=len(capture.calls), measured=True)
    for name, derived, _, spec in capture.calls:
        clean = _core.judge(name, {**derived, **spec})
        if not clean.passed:
            verdict.passed = False
            verdict.message = CLEAN_FAIL.format(message=clean.message)
            return verdict
    return verdict


def measured_cell(source: str, exhibits_dir: Path, measurer: Measurer) -> CellVerdict | None:
    """:func:`capture_measured`, :func:`measure_pending` and :func:`judge_measured` for one cell
    (None: the cell is judged from the records)."""
    capture = capture_measured(source, exhibits_dir)
    if capture.used_directly:
        return None
    measure_pending([capture], measurer)
    return judge_measured(capture)


NOT_MEASURABLE = (
    "The grader could not judge this test cell: its official code uses your {name} directly, and "
    "the kernel did not run its hidden part. Tell your instructor (the course's test cell must "
    "pass {name} to a check)."
)


def judge_cells(
    cells: list[Mapping[str, Any]], measurer: Measurer, *, hidden_ran_in_kernel: bool = True
) -> dict[str, CellVerdict]:
    """The clean verdicts of a notebook's test cells, by grade id: measured from the exhibits
    where the official source allows it (one measurement process for all of them), else
    re-judged from the kernel's records. Without the hidden part in the kernel
    (``hidden_ran_in_kernel=False``) the records are incomplete: a cell with a hidden part that
    cannot be measured fails, saying why."""
    captures: dict[str, MeasuredCapture] = {}
    verdicts: dict[str, CellVerdict] = {}
    for cell in cells:
        folder = Path(cell["records"])
        capture = MeasuredCapture(used_directly="exhibits")
        if (folder / "exhibits" / "exhibits.json").is_file():
            capture = capture_measured(cell["source"], folder / "exhibits")
        stopped = capture.verdict is not None and capture.verdict.measured
        if stopped and hidden_ran_in_kernel:
            # The official code stopped on the exhibits (a file it reads from the kernel's folder,
            # an attribute that did not travel): where the kernel ran the whole cell, its records
            # are complete, and the cell is judged from them as before.
            verdict = recheck_cell(cell["source"], folder)
            verdict.detail = f"not measured: {capture.verdict.message}"
            verdicts[cell["grade_id"]] = verdict
            continue
        if not capture.used_directly:
            captures[cell["grade_id"]] = capture
            continue
        verdict = recheck_cell(cell["source"], folder)
        verdict.detail = f"not measured: the official code uses {capture.used_directly} directly"
        if not hidden_ran_in_kernel and "HIDDEN TESTS" in cell["source"]:
            verdict.passed = False
            verdict.message = NOT_MEASURABLE.format(name=capture.used_directly)
        verdicts[cell["grade_id"]] = verdict
    measure_pending(list(captures.values()), measurer)
    for grade_id, capture in captures.items():
        verdicts[grade_id] = judge_measured(capture)
    return {cell["grade_id"]: verdicts[cell["grade_id"]] for cell in cells}


class _recording:
    """Replace ``run_check`` in every loaded ``autograder.checks`` module by ``recorder``."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.patched: list[Any] = []

    def __enter__(self) -> None:
        self.original = original = _core.run_check
        for mod_name, module in list(sys.modules.items()):
            if (
                mod_name.startswith("autograder.checks")
                and getattr(module, "run_check", None) is original
            ):
                module.run_check = self.recorder
                self.patched.append(module)

    def __exit__(self, *exc: Any) -> None:
        for module in self.patched:
            module.run_check = self.original


def main(argv: list[str] | None = None) -> int:
    """``python -I -m autograder.grading.replay JOB.json VERDICTS.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            "usage: python -I -m autograder.grading.replay JOB.json VERDICTS.json", file=sys.stderr
        )
        return 2
    job = json.loads(Path(args[0]).read_text())
    # The measurement process runs the student's code: it never gets the grader's secret.
    measure_env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    measurer = Measurer(
        Path(job.get("measure_dir") or Path(args[1]).parent / "measure"),
        argv=job.get("measure_argv"),
        cwd=Path(job["measure_cwd"]) if job.get("measure_cwd") else None,
        env=measure_env,
        timeout=float(job.get("measure_timeout", 300.0)),
    )
    try:
        verdicts = judge_cells(
            job["cells"], measurer, hidden_ran_in_kernel=not job.get("strip_hidden", False)
        )
    except Exception:
        traceback.print_exc()
        return 1
    results = {grade_id: verdict.to_json() for grade_id, verdict in verdicts.items()}
    Path(args[1]).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def replay_record(
    record: artefacts.Record, *, overrides: Mapping[str, Any] | None = None
) -> Verdict:
    """Judge a recorded check call again, in this process, with the registered judge.

    Parameters
    ----------
    record : Record
        From :func:`load_records`.
    overrides : mapping, optional
        Values that replace recorded arguments, typically the test cell's thresholds as the
        grader knows them (a kernel can write a record with a lowered threshold).

    Returns
    -------
    Verdict
        Passed or failed, with the student message. An unknown check name fails.
    """
    arguments = dict(record.arguments)
    if overrides:
        arguments.update(overrides)
    return _core.judge(record.check, arguments)
