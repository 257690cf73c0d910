"""``hepml grade``: grade a class on nbgrader, in parallel, within limits, resumably, safely.

:func:`grade` is the whole command:

1. **collect** the submissions (:mod:`autograder.grading.collect`): import a folder or zip into
   ``submitted/``, report what cannot be matched;
2. **prepare** the gradebook (:mod:`autograder.grading.gradebook`): ``generate_assignment`` puts the
   official cells into the course gradebook and into a template for the workers; students are
   added;
3. **skip** the submissions already graded with the same file and source digests (the resume
   state, :mod:`autograder.grading.state`), unless ``force``;
4. **grade** the rest in parallel (:mod:`autograder.grading.dispatch`): each job runs nbgrader autograde
   in a private scratch course with its own gradebook copy, a sandboxed kernel, limits and a clean
   re-check of every test cell (:mod:`autograder.grading.worker`);
5. **record** the executed notebooks in the course gradebook, in batches, by one nbgrader pass
   each that executes nothing: the main process is the only writer;
6. **report**: ``grades.csv``, ``failures.csv`` and the class report ``report.html``
   (:mod:`autograder.grading.report`) under ``.hepml/grading/<assignment>/``, a progress bar
   while it runs and a summary at the end (which says whether the sandbox was on).

Before any of it, :mod:`autograder.grading.preflight` refuses to start without the sandbox
(unless ``sandbox=False``, ``--no-sandbox``) and when a data folder named for the kernels cannot
be read by them.

Nothing is lost: every submission ends ``graded`` or ``failed`` with its reason in the state and
in ``failures.csv``; an interrupted run records what finished and a re-run resumes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import export
from autograder.course import manifest
from autograder.course import nbgrader_cli as nbgrader_run
from autograder.grading import collect, dispatch, limits, preflight
from autograder.grading import gradebook as gradebook_io
from autograder.grading import report as class_report
from autograder.grading import sandbox as kernel_sandbox
from autograder.grading import state as grade_state
from autograder.grading.collect import Unmatched
from autograder.grading.secret import grader_secret
from autograder.grading.worker import Job, Outcome, digest, files_of

#: Executed notebooks are written to the gradebook in batches of this many (and at the end).
RECORD_BATCH = 25


@dataclass
class GradeResult:
    """What a grading run did.

    Attributes
    ----------
    assignment : str
    graded : dict of str to float
        Students graded in this run and their totals.
    failed : dict of str to str
        Students whose submission failed in this run, with the reason.
    skipped : list of str
        Students not regraded (unchanged since they were graded).
    unmatched : list of Unmatched
        Files or folders that could not be matched to a student.
    max_score : float
    wall_s : float
    grades_csv, failures_csv : Path
    outcomes : list of Outcome
        The workers' outcomes (per-cell scores, clean verdicts, timings), notebooks left out.
    needs_manual : list of str
        Students (of the whole gradebook) whose written answers still await a manual score.
    sandbox : bool
        The kernels ran in the sandbox (False only with ``--no-sandbox`` or ``HEPML_SANDBOX=off``).
    report_html : Path
        The class report (:mod:`autograder.grading.report`).
    """

    assignment: str
    graded: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    max_score: float = 0.0
    wall_s: float = 0.0
    grades_csv: Path | None = None
    failures_csv: Path | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    needs_manual: list[str] = field(default_factory=list)
    sandbox: bool = True
    report_html: Path | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed and everything found was matched."""
        return not self.failed and not self.unmatched

    def summary(self) -> str:
        """A few lines for the terminal."""
        totals = list(self.graded.values())
        mean = f"{statistics.fmean(totals):.2f} / {self.max_score:g}" if totals else "n/a"
        lines = [
            f"{self.assignment}: graded {len(self.graded)}, failed {len(self.failed)}, "
            f"unchanged {len(self.skipped)}, unmatched {len(self.unmatched)}; "
            f"mean score {mean}; {self.wall_s:.1f} s; sandbox: {'on' if self.sandbox else 'off'}",
        ]
        if self.needs_manual:
            lines.append(
                f"  {len(self.needs_manual)} submission(s) need manual grading of written "
                "answers (formgrader), then hepml feedback"
            )
        for student, reason in sorted(self.failed.items()):
            lines.append(f"  failed  {student}: {reason}")
        for item in self.unmatched:
            lines.append(f"  unmatched  {item}")
        if self.grades_csv:
            lines.append(f"grades:   {self.grades_csv}")
        if self.failures_csv:
            lines.append(f"failures: {self.failures_csv}")
        if self.report_html:
            lines.append(f"report:   {self.report_html}")
        return "\n".join(lines)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def grade(
    assignment: str,
    submissions: Path | str | None = None,
    *,
    root: Path | None = None,
    workers: int | None = None,
    force: bool = False,
    scheduler: str | None = None,
    cell_timeout: float | None = None,
    notebook_timeout: float | None = None,
    memory_limit_mb: float | None = None,
    progress: bool = True,
    db_url: str | None = None,
    students: list[str] | None = None,
    sandbox: bool = True,
    pattern: str | None = None,
) -> GradeResult:
    """Grade every submission of an assignment (see the module docstring).

    Parameters
    ----------
    assignment : str
        An assignment id of ``course/manifest.toml``.
    submissions : path, optional
        A folder or ``.zip`` of the class's notebooks to import first; None to grade what is in
        ``submitted/``.
    root : Path, optional
        The course root (default: found from the working folder).
    workers : int, optional
        Submissions graded at once (default: the cores); with ``scheduler``, Dask workers of a
        local cluster.
    force : bool
        Regrade submissions that are already graded and unchanged.
    scheduler : str, optional
        ``"local"`` for a Dask LocalCluster, or the address of a Dask scheduler.
    cell_timeout : float, optional
        Seconds per cell (default: the course's ``Execute.timeout``).
    notebook_timeout : float, optional
        Seconds per notebook (default: 3 x the manifest's ``time_budget_s`` + 60).
    memory_limit_mb : float, optional
        MiB of resident memory per kernel (default 4096; 0 for none).
    progress : bool
        Show a progress bar.
    db_url : str, optional
        The gradebook: any nbgrader database URL (default ``sqlite:///<root>/gradebook.db``).
    students : list of str, optional
        Grade only these students.
    sandbox : bool
        False (``--no-sandbox``) to grade without the sandbox where it is unavailable; by
        default grading refuses to start without it.
    pattern : str, optional
        How to match the files of ``submissions`` to students: a regular expression with named
        groups ``student_id`` and ``file_id`` or a preset name
        (:func:`autograder.grading.collect.collect`).

    Returns
    -------
    GradeResult

    Raises
    ------
    KeyError
        An assignment that the manifest does not list.
    FileNotFoundError
        No course manifest, or no such submissions folder or zip.
    autograder.grading.sandbox.SandboxUnavailable
        The sandbox is unavailable and ``sandbox`` is True.
    autograder.grading.preflight.DataPathError
        A data folder named for the kernels that they cannot read.
    """
    start = time.monotonic()
    course = manifest.load(Path(root) if root is not None else None)
    root = course.root
    spec = course.assignment(assignment)
    db = db_url or gradebook_io.default_db_url(root)
    nbgrader_run.ensure_on_path()
    lim = limits.resolve(
        spec.time_budget_s,
        cell_timeout=cell_timeout,
        notebook_timeout=notebook_timeout,
        memory_limit_mb=memory_limit_mb,
    )
    isolate = preflight.sandbox_decision(sandbox=sandbox)
    hide = preflight.hidden_paths(root, db)
    preflight.check_data_paths(isolate=isolate, hide=hide)
    result = GradeResult(assignment, max_score=spec.points, sandbox=isolate)
    env = {preflight.DATA_DIR_ENV: preflight.data_dir_for_kernels()}
    if not isolate:
        env[kernel_sandbox.SANDBOX_ENV] = "off"
    with preflight.environment(**env):
        _run(
            result,
            course,
            submissions,
            db=db,
            lim=lim,
            hide=hide,
            workers=workers,
            force=force,
            scheduler=scheduler,
            progress=progress,
            students=students,
            start=start,
            pattern=pattern,
        )
    return result


def _run(
    result: GradeResult,
    course: manifest.Course,
    submissions: Path | str | None,
    *,
    db: str,
    lim: limits.Limits,
    hide: tuple[str, ...],
    workers: int | None,
    force: bool,
    scheduler: str | None,
    progress: bool,
    students: list[str] | None,
    start: float,
    pattern: str | None,
) -> None:
    """Steps 1 to 6 of the module docstring, once the preflight checks passed."""
    assignment, root = result.assignment, course.root
    spec = course.assignment(assignment)
    found = collect.collect(
        assignment,
        Path(submissions) if submissions is not None else None,
        root=root,
        other_assignments=course.ids,
        pattern=pattern,
    )
    result.unmatched = list(found.unmatched)
    subs = [s for s in found.submissions if students is None or s.student in students]
    source_sha = gradebook_io.source_digest(root / "source" / assignment)
    config_text = (root / "nbgrader_config.py").read_text()

    state = grade_state.load(root, assignment)
    todo: list[tuple[str, dict[str, bytes], str]] = []
    timestamps: dict[str, bytes] = {}
    for sub in subs:
        files = files_of(sub.folder)
        sha = digest(files)
        prev = state.get(sub.student, {})
        done = (root / "autograded" / sub.student / assignment / f"{assignment}.ipynb").is_file()
        if (
            not force
            and prev.get("status") == "graded"
            and prev.get("sha256") == sha
            and prev.get("source_sha256") == source_sha
            and done
        ):
            result.skipped.append(sub.student)
            continue
        if "timestamp.txt" in files:
            timestamps[sub.student] = files["timestamp.txt"]
        todo.append((sub.student, files, sha))

    # The gradebook gets the official cells when there is work or the source changed since.
    marker = grade_state.folder(root, assignment) / "prepared.json"
    stamp = {"source_sha256": source_sha, "db": hashlib.sha256(db.encode()).hexdigest()}
    fresh = marker.is_file() and json.loads(marker.read_text()) == stamp
    jobs: list[Job] = []
    if todo or not fresh:
        prepared = gradebook_io.prepare(assignment, root=root, db_url=db)
        marker.write_text(json.dumps(stamp))
        source_sha = prepared.source_digest
        n_workers = workers or dispatch.default_workers()
        threads = max(1, dispatch.default_workers() // max(1, n_workers))
        secret = grader_secret(root)
        jobs = [
            Job(
                assignment=assignment,
                student=student,
                files=files,
                public_files=prepared.public_files,
                template_db=prepared.template_db,
                course_config=config_text,
                course_id=course.id,
                limits=lim,
                sha256=sha,
                hide=hide,
                threads=threads,
                secret=secret,
                strip_hidden=not spec.hidden_tests_in_kernel,
            )
            for student, files, sha in todo
        ]
    gradebook_io.add_students(db, course.id, [s.student for s in subs])

    staging = grade_state.folder(root, assignment) / "staging"
    pending: dict[str, Outcome] = {}

    def settle(outcome: Outcome, status: str, reason: str = "") -> None:
        entry: dict[str, Any] = {
            "sha256": outcome.sha256,
            "source_sha256": source_sha,
            "status": status,
            "reason": reason,
            "when": _now(),
            "wall_s": round(outcome.wall_s, 2),
            "sandboxed": outcome.sandboxed,
        }
        if status == "graded":
            entry["scores"] = outcome.scores
            entry["rechecks"] = outcome.rechecks
            result.graded[outcome.student] = outcome.total
            result.failed.pop(outcome.student, None)
        else:
            result.failed[outcome.student] = reason
        state[outcome.student] = entry

    def flush() -> None:
        if not pending:
            return
        batch = dict(pending)
        pending.clear()
        recorded, log = gradebook_io.record(
            {s: o.notebooks for s, o in batch.items()},
            assignment=assignment,
            root=root,
            db_url=db,
            staging=staging,
            timestamps=timestamps,
        )
        for student, outcome in batch.items():
            cells = recorded.get(student)
            if cells is None:
                last = " | ".join(ln for ln in log.strip().splitlines()[-2:])
                settle(outcome, "failed", f"recording in the gradebook failed: {last}")
                continue
            differ = [
                name
                for name, score in outcome.scores.items()
                if name not in cells or (cells[name][0] or 0.0) != (score or 0.0)
            ]
            if differ:
                settle(
                    outcome,
                    "failed",
                    f"the gradebook recorded other scores than the worker for {', '.join(differ)}",
                )
            else:
                settle(outcome, "graded")
            outcome.notebooks = {}
        grade_state.save(root, assignment, state)

    bar = None
    if progress and jobs:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=f"grading {assignment}", unit="nb", file=sys.stderr)
    n_workers = workers or dispatch.default_workers()
    if not jobs:
        stream: Iterator[Outcome] = iter(())
    elif scheduler:
        stream = dispatch.run_dask(jobs, scheduler=scheduler, workers=n_workers)
    else:
        stream = dispatch.run_local(jobs, workers=n_workers)
    try:
        for outcome in stream:
            result.outcomes.append(outcome)
            if outcome.status == "graded":
                pending[outcome.student] = outcome
            else:
                settle(outcome, "failed", outcome.reason)
                grade_state.save(root, assignment, state)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(result.failed), refresh=False)
            if len(pending) >= RECORD_BATCH:
                flush()
    finally:
        if bar is not None:
            bar.close()
        flush()
        grade_state.save(root, assignment, state)
        result.failures_csv = export.write_failures(root, assignment, result.unmatched)
        result.grades_csv = export.export([assignment], root=root, db_url=db)
        _summarise_from_export(result, root=root, db_url=db)
        result.wall_s = time.monotonic() - start
        result.report_html = class_report.write(
            assignment,
            root=root,
            db_url=db,
            folder=grade_state.folder(root, assignment),
            sandbox=result.sandbox,
            wall_s=result.wall_s,
        )


def _summarise_from_export(result: GradeResult, *, root: Path, db_url: str) -> None:
    """Take ``max``, the totals of this run's students and who awaits manual grading from the
    rows of ``grades.csv``, so that the summary line and the file agree."""
    _, rows = export.rows(result.assignment, root=root, db_url=db_url)
    for row in rows:
        if row.get("max"):
            result.max_score = float(row["max"])
        if row["student"] in result.graded and row.get("total"):
            result.graded[row["student"]] = float(row["total"])
        if row.get("status") == "needs-manual":
            result.needs_manual.append(row["student"])


def exit_code(result: GradeResult) -> int:
    """0 when every submission was graded and every file matched, 1 otherwise."""
    return 0 if result.ok else 1
