"""``hepml demo``: a whole course cycle offline, on the synthetic twins, with a report to read.

:func:`demo` is the whole command:

1. **release and check**: regenerate ``release/`` from ``source/`` and run ``hepml check``;
2. **build a class** in a scratch course under the report folder (never the repository's own
   ``submitted/`` or gradebook): for every assignment of the manifest a correct and an untouched
   submission, plus the submissions ``course/demo.toml`` declares (partial answers, typical
   mistakes, a notebook that hangs, one that kills its kernel, edited and monkeypatched tests,
   challenge prediction files; see :mod:`autograder.demo.plan`);
3. **grade** with :func:`autograder.grading.grade.grade`, ``workers`` kernels at a time: several
   assignments at once (longest first, each into its own gradebook ``course/gradebooks/<id>.db``
   so that no two processes write one SQLite file), or one assignment with all the workers; make
   the feedback, rank the challenge files on the leaderboard;
4. **compare** every awarded grade, cell by cell, with the one the submission deserves;
5. **report** (:mod:`autograder.demo.report`): ``grades.csv``, the feedback HTML, the
   leaderboards and one self-contained summary page ``index.html``.

The result is not OK (and ``hepml demo`` exits 1) when any submission got another grade than the
one it deserves, a challenge file was ranked or refused against expectation, or a stage failed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from autograder.course import manifest
from autograder.demo import plan as demo_class
from autograder.demo.verdicts import DemoResult, compare, compare_challenge, read_grades
from autograder.grading.limits import THREAD_VARS  # the kernels' thread variables

#: The parts of the repository a scratch course is made of.
COURSE_PARTS = ("course", "source", "release", "nbgrader_config.py")
#: Marks a folder written by the demo (it is emptied on the next run; no other folder is).
MARKER = ".hepml-demo"
DEFAULT_OUT = "demo-report"


# --- running -------------------------------------------------------------------------------


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prepare_out(out: Path) -> Path:
    """Make ``out`` an empty demo folder: refuse a non-empty folder the demo did not write."""
    out = Path(out).resolve()
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out} is a file, not a folder")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise FileExistsError(
                f"{out} is not empty and was not written by hepml demo: choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by hepml demo; emptied by the next run\n")
    return out


def scratch_course(root: Path, dest: Path) -> Path:
    """Copy what defines the course (manifest, sources, release, nbgrader config) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in COURSE_PARTS:
        src = Path(root) / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy2(src, dest / part)
    return dest


def gradebook_url(root: Path, assignment: str) -> str:
    """The demo's gradebook of one assignment, ``<root>/gradebooks/<assignment>.db``.

    One SQLite file per assignment lets the demo grade assignments at the same time without two
    processes writing one SQLite file (a course with one gradebook grades one assignment after
    the other, each with its own workers).
    """
    path = (Path(root) / "gradebooks" / f"{assignment}.db").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def export_grades(root: Path, dbs: dict[str, str], output: Path) -> Path:
    """One ``grades.csv`` of several assignments, each read from its own gradebook.

    The columns are those of :func:`autograder.export.export`: ``student, assignment``, the
    graded cells of every assignment, then :data:`autograder.export.SUMMARY_COLUMNS`.
    """
    from autograder import export

    columns = ["student", "assignment"]
    records: list[dict[str, str]] = []
    for assignment, db in dbs.items():
        names, rows = export.rows(assignment, root=Path(root), db_url=db)
        columns += [n for n in names if n not in columns]
        records += rows
    return export.write_csv(Path(output), [*columns, *export.SUMMARY_COLUMNS], records)


def _longest_first(plans: Sequence[demo_class.AssignmentPlan]) -> list:
    """Assignments by decreasing expected grading time (the manifest's time budget for every
    submission that runs the whole notebook, plus the cell time limit that a hanging one uses),
    so that the longest start first and the short ones fill the gaps."""

    def cost(a: demo_class.AssignmentPlan) -> float:
        full = sum(1 for s in a.submissions if s.student != "untouched" and not s.corrupt)
        return full * a.time_budget_s + a.limits.get("cell_timeout", 0.0)

    return sorted(plans, key=cost, reverse=True)


def _concurrently(fn: Callable, items: Sequence, lanes: int) -> Iterator[tuple[object, object]]:
    """Yield ``(item, fn(item))`` as they finish, ``lanes`` at a time, in the order given
    (an exception is yielded in place of the result)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    if not items:
        return
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="hepml-demo") as pool:
        futures = {pool.submit(fn, item): item for item in items}
        for fut in as_completed(futures):
            try:
                yield futures[fut], fut.result()
            except Exception as exc:
                yield futures[fut], exc


class _Stages:
    """Times named stages; a stage that raises is recorded as a problem, and the demo goes on."""

    def __init__(self, result: DemoResult, echo: Callable[[str], None]):
        self.result, self.echo = result, echo
        self.failed: list[str] = []
        self.t0 = time.perf_counter()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.echo(f"[demo] {name} ...")
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.failed.append(name)
            self.result.problems.append(f"{name}: {type(exc).__name__}: {exc}")
            self.echo("".join(traceback.format_exception(exc)[-3:]).rstrip())
        finally:
            seconds = time.perf_counter() - start
            self.result.stages.append((name, seconds))
            self.result.timeline.append((name, start - self.t0, seconds))
            self.echo(f"[demo] {name}: {seconds:.1f} s")


def demo(
    root: Path | None = None,
    *,
    out: Path | None = None,
    quick: bool = False,
    workers: int | None = None,
    assignments: Sequence[str] | None = None,
    config: Path | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    sandbox: bool = True,
) -> DemoResult:
    """Run the demo (see the module docstring) and write its report.

    Parameters
    ----------
    root : Path, optional
        The course root (default: found from the working folder). Its ``release/`` is
        regenerated; nothing else of it is written.
    out : Path, optional
        The report folder (default ``<root>/demo-report``); emptied first, and refused when it
        holds files the demo did not write. The scratch course is ``<out>/course``.
    quick : bool
        A smaller class: ``correct`` and ``untouched`` of every assignment plus the submissions
        declared with ``quick = true`` (the whole ``00_setup`` class).
    workers : int, optional
        Submissions graded at once (default: the cores).
    assignments : sequence of str, optional
        Only these assignments (default: every one in the manifest).
    config : Path, optional
        The demo class (default ``<root>/course/demo.toml``).
    progress : bool
        Progress bars while grading.
    echo : callable, optional
        Where progress lines go (default: standard error).
    sandbox : bool
        False to grade without the kernel sandbox where it is unavailable (``--no-sandbox``);
        by default the demo refuses to start there, as ``hepml grade`` does.

    Returns
    -------
    DemoResult
    """
    from autograder import feedback
    from autograder.course import nbgrader_cli as nbgrader_run
    from autograder.demo import report as demo_report
    from autograder.grading import dispatch, grade, preflight
    from autograder.leaderboard import board as leaderboard
    from autograder.release import check as course_check
    from autograder.release import generate as release

    sandbox = preflight.sandbox_decision(sandbox=sandbox)  # refuse before any work

    if echo is None:

        def echo(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

    course = manifest.load(Path(root) if root is not None else None)
    ids = list(assignments) if assignments else course.ids
    config_path = Path(config) if config is not None else course.root / demo_class.CONFIG_PATH
    # Fail early, before anything is written, on a demo.toml that does not fit the notebooks.
    demo_plan = demo_class.plan(
        course, demo_class.read_config(config_path), quick=quick, assignments=ids
    )
    out = prepare_out(Path(out) if out is not None else course.root / DEFAULT_OUT)
    result = DemoResult(out=out, quick=quick)
    stage = _Stages(result, echo)
    if demo_plan.not_in_manifest:
        result.notes.append(
            "demo.toml declares submissions for assignments the manifest does not list yet: "
            + ", ".join(demo_plan.not_in_manifest)
        )
    nbgrader_run.ensure_on_path()

    with _environ(HEPML_DATA_SOURCE="synthetic"):
        with stage("release + check"):
            release.release(ids, root=course.root)
            problems = course_check.check(ids, root=course.root)
            result.problems += [f"hepml check: {p}" for p in problems]

        scratch = out / "course"
        labels: dict[str, object] = {}
        folders: dict[str, Path] = {}
        with stage("build class"):
            scratch_course(course.root, scratch)
            demo_plan = demo_class.plan(
                manifest.load(scratch),
                demo_class.read_config(config_path),
                quick=quick,
                assignments=ids,
            )
            for a in demo_plan.assignments:
                if a.challenge is not None:
                    labels[a.assignment] = leaderboard.read_labels(a.challenge.labels)
            folders = demo_class.build(demo_plan, scratch, out / "class", labels=labels)
            echo(
                f"[demo] {demo_plan.n_submissions} submissions of "
                f"{len(demo_plan.assignments)} assignment(s) in {out / 'class'}"
            )

        n_workers = workers or dispatch.default_workers()
        # Without a release or a class there is nothing to grade: report why and stop.
        grading = [] if stage.failed else demo_plan.assignments
        lanes = max(1, min(n_workers, len(grading)))
        threads = str(max(1, dispatch.default_workers() // n_workers))
        dbs = {a.assignment: gradebook_url(scratch, a.assignment) for a in grading}
        wall: dict[tuple[str, str], float] = {}
        reasons: dict[tuple[str, str], str] = {}

        def grade_one(a: demo_class.AssignmentPlan):
            begin = time.perf_counter()
            graded = grade.grade(
                a.assignment,
                folders[a.assignment],
                root=scratch,
                workers=max(1, n_workers // lanes),
                progress=progress and lanes == 1,
                db_url=dbs[a.assignment],
                sandbox=sandbox,
                **a.limits,
            )
            return graded, begin - stage.t0, time.perf_counter() - begin

        env = {v: os.environ.get(v, threads) for v in THREAD_VARS}
        with _environ(**env), stage("grade"):
            echo(f"[demo] {len(grading)} assignment(s), {lanes} at a time, {n_workers} kernel(s)")
            bar = None
            if progress and lanes > 1:  # one bar per assignment would interleave: one overall
                from tqdm.auto import tqdm

                bar = tqdm(total=len(grading), desc="grading", unit="assignment", file=sys.stderr)
            for a, outcome in _concurrently(grade_one, _longest_first(grading), lanes):
                if bar is not None:
                    bar.update(1)
                if isinstance(outcome, Exception):
                    result.problems.append(f"grade {a.assignment}: {outcome!r}")
                    continue
                graded, begin, seconds = outcome
                result.grading_s[a.assignment] = seconds
                result.timeline.append((f"  {a.assignment}", begin, seconds))
                echo(graded.summary())
                for o in graded.outcomes:
                    wall[(a.assignment, o.student)] = o.wall_s
                for student, why in graded.failed.items():
                    reasons[(a.assignment, student)] = why
            if bar is not None:
                bar.close()

        links: dict[tuple[str, str], str] = {}

        def feedback_one(a: demo_class.AssignmentPlan):
            return feedback.feedback(a.assignment, root=scratch, db_url=dbs[a.assignment])

        with stage("feedback"):
            for a, made in _concurrently(feedback_one, grading, lanes):
                if isinstance(made, Exception):
                    result.problems.append(f"feedback {a.assignment}: {made!r}")
                    continue
                result.problems += [f"feedback withheld (secret found): {x}" for x in made.leaks]
                for page in made.files:
                    student = page.parts[-3]
                    target = out / "feedback" / a.assignment / f"{student}.html"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(page, target)
                    links[(a.assignment, student)] = target.relative_to(out).as_posix()

        with stage("leaderboard"):
            for a in grading:
                if a.challenge is None:
                    continue
                board = leaderboard.leaderboard(
                    a.assignment,
                    root=scratch,
                    labels=labels[a.assignment],
                    out_dir=out / "leaderboard" / a.assignment,
                )
                echo(board.summary())
                result.leaderboards[a.assignment] = dict(board.outputs)
                result.challenge += compare_challenge(a, board)
            if not any(a.challenge for a in demo_plan.assignments):
                result.notes.append("no challenge assignment in this demo: no leaderboard")

        grades_csv = out / "grades.csv"
        with stage("export"):
            if grading:
                export_grades(scratch, dbs, grades_csv)
        rows = read_grades(grades_csv) if grades_csv.is_file() else {}
        result.verdicts = compare(demo_plan, rows, wall_s=wall, reasons=reasons, feedback=links)

        with stage("report"):
            result.index_html = demo_report.write(result, demo_plan)
    return result
