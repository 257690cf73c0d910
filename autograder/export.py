"""``hepml export``: the grades as CSV, one row per student and assignment, as nbgrader counts them.

``grades.csv`` columns: ``student, assignment``, one column per graded cell (its grade id, in
notebook order), then

``auto``
    the points of the automatically graded cells (code cells), bonus cells left out;
``manual``
    the points of the manually graded cells (written answers: markdown answer and task cells),
    bonus cells left out; a cell without a score yet counts nothing;
``bonus``
    the points of the bonus cells (grade ids starting ``bonus_``), whoever graded them;
``late_penalty``
    the late-submission penalty that nbgrader's ``AssignLatePenalties`` recorded (its
    ``LateSubmissionPlugin``; 0 when nothing was late);
``total``
    ``max(0, auto + manual + bonus - late_penalty)``: nbgrader's score of the submission
    (the ``score`` column of ``nbgrader export``);
``max``
    the points of every graded cell but the bonus cells (what the manifest's ``points`` says);
``status``
    ``graded``; ``needs-manual`` while a manually graded cell has neither a manual score nor an
    automatic one (a written answer that was changed and that nobody has graded yet in
    formgrader; an answer left as handed out scores 0 automatically, as in nbgrader);
    ``failed`` (see ``failures.csv`` for why; the scores are left empty, they are not zeros) or
    ``not submitted`` (a student of the gradebook without a submission).

Scores come from the gradebook, so a manual score a grader gave in formgrader wins over the
automatic one (nbgrader's ``Grade.score``). The same table is written by
:class:`GradesExportPlugin`, an nbgrader export plugin:
``nbgrader export --exporter=autograder.export.GradesExportPlugin`` gives the same rows.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from autograder.grading import gradebook as gradebook_io
from autograder.grading import state as grade_state

if TYPE_CHECKING:  # pragma: no cover
    from nbgrader.api import Gradebook

FAILURE_COLUMNS = ("student", "assignment", "path", "reason")
#: The columns after the per-cell scores.
SUMMARY_COLUMNS = ("auto", "manual", "bonus", "late_penalty", "total", "max", "status")
#: Grade ids of bonus cells start with this (``hepml check`` counts them as ``bonus_points``).
BONUS_PREFIX = "bonus_"


@dataclass(frozen=True)
class Cell:
    """A graded cell of an assignment.

    Attributes
    ----------
    name : str
        The grade id.
    max_score : float
    manual : bool
        Graded by hand (a markdown answer or task cell), not by the autograder.
    """

    name: str
    max_score: float
    manual: bool

    @property
    def bonus(self) -> bool:
        return self.name.startswith(BONUS_PREFIX)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def cells(gb: Gradebook, assignment: str) -> list[Cell]:
    """The graded cells (grade and task cells) of an assignment, in notebook order."""
    from nbgrader.api import MissingEntry

    try:
        row = gb.find_assignment(assignment)
    except MissingEntry:
        return []
    out = []
    for notebook in row.notebooks:
        order = {c.name: i for i, c in enumerate(notebook.source_cells)}
        graded = [*notebook.grade_cells, *notebook.task_cells]
        for c in sorted(graded, key=lambda c: order.get(c.name, 10**9)):
            out.append(Cell(c.name, float(c.max_score), c.cell_type == "markdown"))
    return out


def max_points(graded: Iterable[Cell]) -> float:
    """The points of the cells that are not bonus cells (the ``max`` column)."""
    return float(sum(c.max_score for c in graded if not c.bonus))


def _submission_row(submission, graded: Sequence[Cell]) -> dict[str, str]:
    """Per-cell scores, subtotals, penalty, total and status of one submitted assignment."""
    grades = {g.name: g for nb in submission.notebooks for g in nb.grades}
    row: dict[str, str] = {}
    auto = manual = bonus = 0.0
    pending = False
    for cell in graded:
        grade = grades.get(cell.name)
        if grade is None:
            row[cell.name] = ""
            pending = pending or cell.manual
            continue
        waiting = grade.manual_score is None and grade.auto_score is None
        score = float(grade.score)
        row[cell.name] = "" if waiting else _fmt(score)
        if cell.manual and waiting:
            pending = True
        if cell.bonus:
            bonus += score
        elif cell.manual:
            manual += score
        else:
            auto += score
    penalty = float(submission.late_submission_penalty or 0.0)
    row.update(
        auto=_fmt(auto),
        manual=_fmt(manual),
        bonus=_fmt(bonus),
        late_penalty=_fmt(penalty),
        total=_fmt(max(0.0, auto + manual + bonus - penalty)),
        status="needs-manual" if pending else "graded",
    )
    return row


def assignment_rows(
    gb: Gradebook,
    assignment: str,
    *,
    root: Path | None = None,
    students: Sequence[str] | None = None,
) -> tuple[list[Cell], list[dict[str, str]]]:
    """The graded cells and the rows of one assignment (every student of the gradebook, and
    every student of ``hepml grade``'s state under ``root``)."""
    graded = cells(gb, assignment)
    names = [c.name for c in graded]
    state = grade_state.load(root, assignment) if root is not None else {}
    submissions = {}
    if graded:
        submissions = {s.student.id: s for s in gb.find_assignment(assignment).submissions}
    everyone = {s.id for s in gb.students} | set(state)
    if students:
        everyone &= set(students)
    out = []
    for student in sorted(everyone):
        row = {"student": student, "assignment": assignment, "max": _fmt(max_points(graded))}
        if state.get(student, {}).get("status") == "failed":
            row.update(dict.fromkeys(names, ""), status="failed")
        elif student in submissions:
            row.update(_submission_row(submissions[student], graded))
        else:
            row.update(dict.fromkeys(names, ""), status="not submitted")
        out.append(row)
    return graded, out


def rows(assignment: str, *, root: Path, db_url: str) -> tuple[list[str], list[dict[str, str]]]:
    """The cell columns and the rows of one assignment of the gradebook at ``db_url``."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        graded, out = assignment_rows(gb, assignment, root=root)
    return [c.name for c in graded], out


def table(
    gb: Gradebook,
    assignments: Sequence[str],
    *,
    root: Path | None = None,
    students: Sequence[str] | None = None,
    points: dict[str, float] | None = None,
) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows of several assignments, cell columns in order of appearance.

    ``points`` gives the ``max`` of an assignment the gradebook does not know (the manifest's).
    """
    columns = ["student", "assignment"]
    records: list[dict[str, str]] = []
    for assignment in assignments:
        graded, assignment_records = assignment_rows(gb, assignment, root=root, students=students)
        if not graded and points and assignment in points:
            for row in assignment_records:
                row["max"] = _fmt(points[assignment])
        columns += [c.name for c in graded if c.name not in columns]
        records += assignment_records
    return columns + list(SUMMARY_COLUMNS), records


def write_csv(path: Path, columns: Sequence[str], records: Iterable[dict[str, str]]) -> Path:
    """Write rows with these columns (missing values empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore", restval="")
        writer.writeheader()
        for record in records:
            writer.writerow(record)
    return path


class GradesExportPlugin(ExportPlugin):
    """nbgrader export plugin that writes hepml's ``grades.csv`` (see the module docstring).

    ``nbgrader export --exporter=autograder.export.GradesExportPlugin [--to=FILE]
    [--assignment=[A,...]] [--student=[S,...]]`` run in the course root gives the rows of
    ``hepml export``; without ``--assignment`` it exports the assignments of
    ``course/manifest.toml`` that the gradebook knows (every one of the gradebook when there
    is no manifest).
    """

    root = Unicode(
        "",
        help="The course root, for hepml's grading state (failed submissions) and the manifest "
        "(default: CourseDirectory.root of the running nbgrader app, else the working folder)",
    ).tag(config=True)

    def course_root(self) -> Path:
        coursedir = getattr(self.parent, "coursedir", None)
        return Path(self.root or getattr(coursedir, "root", "") or os.getcwd())

    def export(self, gradebook: Gradebook) -> None:
        from autograder.course import manifest

        root = self.course_root()
        known = [a.name for a in gradebook.assignments]
        points: dict[str, float] = {}
        try:
            course = manifest.load(root)
        except (FileNotFoundError, ValueError):
            order = known
        else:
            order = [a for a in course.ids if a in known] + [
                a for a in known if a not in course.ids
            ]
            points = {a.id: a.points for a in course.assignments}
        wanted = [str(a) for a in self.assignment] or order
        columns, records = table(
            gradebook,
            wanted,
            root=root,
            students=[str(s) for s in self.student] or None,
            points=points,
        )
        dest = Path(self.to or "grades.csv")
        self.log.info("Exporting grades of %s to %s", ", ".join(wanted), dest)
        write_csv(dest, columns, records)


def export(
    assignments: Sequence[str] | None = None,
    *,
    root: Path | None = None,
    db_url: str | None = None,
    output: Path | None = None,
) -> Path:
    """Write ``grades.csv`` for the given assignments (default: every one in the manifest that
    the gradebook knows), through :class:`GradesExportPlugin`.

    Parameters
    ----------
    assignments : sequence of str, optional
        Each must be an assignment of the manifest (a ``KeyError`` names the known ones).
    root : Path, optional
        The course root (default: found from the working folder).
    db_url : str, optional
        The gradebook (default: ``<root>/gradebook.db``).
    output : Path, optional
        Default ``<root>/.hepml/grading/grades.csv`` for several assignments and
        ``<root>/.hepml/grading/<assignment>/grades.csv`` for one.

    Returns
    -------
    Path
        The file written.
    """
    from nbgrader.api import Gradebook

    from autograder.course import manifest

    course = manifest.load(root)
    for assignment in assignments or ():
        course.assignment(assignment)
    db = db_url or gradebook_io.default_db_url(course.root)
    ids = list(assignments or ())
    if output is None:
        base = course.root / grade_state.GRADING_DIR
        output = (base / ids[0] if len(ids) == 1 else base) / "grades.csv"
    plugin = GradesExportPlugin(root=str(course.root), to=str(output), assignment=ids)
    with Gradebook(db) as gb:
        plugin.export(gb)
    return Path(output)


def write_failures(
    root: Path, assignment: str, unmatched: Iterable[object] = (), output: Path | None = None
) -> Path:
    """Write ``failures.csv``: every failed submission of the state and every unmatched file."""
    state = grade_state.load(root, assignment)
    records = [
        {
            "student": student,
            "assignment": assignment,
            "path": f"submitted/{student}/{assignment}",
            "reason": entry.get("reason", ""),
        }
        for student, entry in sorted(state.items())
        if entry.get("status") == "failed"
    ]
    for item in unmatched:
        records.append(
            {
                "student": "",
                "assignment": assignment,
                "path": str(getattr(item, "path", item)),
                "reason": "not matched to a student: " + str(getattr(item, "reason", "")),
            }
        )
    if output is None:
        output = grade_state.folder(root, assignment) / "failures.csv"
    return write_csv(Path(output), FAILURE_COLUMNS, records)
