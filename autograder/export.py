"""``hepml export``: the grades as CSV, one row per student and assignment.

``grades.csv`` columns: ``student, assignment``, one column per graded cell (its grade id, in
notebook order), ``total``, ``max``, ``status``. The status is ``graded``, ``failed`` (see
``failures.csv`` for why; the scores are left empty, they are not zeros) or ``not submitted``
(a student of the gradebook without a submission). Scores come from the gradebook, so a manual
score a grader gave in nbgrader wins over the automatic one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from autograder.course import manifest
from autograder.grading import gradebook as gradebook_io
from autograder.grading import state as grade_state

FAILURE_COLUMNS = ("student", "assignment", "path", "reason")


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def rows(assignment: str, *, root: Path, db_url: str) -> tuple[list[str], list[dict[str, str]]]:
    """The cell columns and the rows of one assignment (every student of the gradebook)."""
    from nbgrader.api import Gradebook

    cells = gradebook_io.graded_cells(assignment, db_url=db_url)
    names = [name for name, _ in cells]
    max_total = sum(points for _, points in cells)
    grades = gradebook_io.read_grades(assignment, db_url=db_url)
    state = grade_state.load(root, assignment)
    with Gradebook(db_url) as gb:
        students = {s.id for s in gb.students}
    students |= set(state)
    out = []
    for student in sorted(students):
        entry = state.get(student, {})
        row = {"student": student, "assignment": assignment, "max": _fmt(max_total)}
        if entry.get("status") == "failed":
            row.update({n: "" for n in names}, total="", status="failed")
        elif student in grades:
            scores = grades[student]
            values = [scores.get(n, (None, 0.0))[0] for n in names]
            row.update({n: _fmt(v) for n, v in zip(names, values, strict=True)})
            row["total"] = _fmt(sum(v for v in values if v is not None))
            row["status"] = "graded"
        else:
            row.update({n: "" for n in names}, total="", status="not submitted")
        out.append(row)
    return names, out


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


def export(
    assignments: Sequence[str] | None = None,
    *,
    root: Path | None = None,
    db_url: str | None = None,
    output: Path | None = None,
) -> Path:
    """Write ``grades.csv`` for the given assignments (default: every one in the manifest).

    Parameters
    ----------
    assignments : sequence of str, optional
        Default: every assignment of the manifest that the gradebook knows.
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
    course = manifest.load(root)
    db = db_url or gradebook_io.default_db_url(course.root)
    ids = list(assignments or course.ids)
    columns = ["student", "assignment"]
    records: list[dict[str, str]] = []
    for assignment in ids:
        spec = course.assignment(assignment)
        names, assignment_rows = rows(assignment, root=course.root, db_url=db)
        if not names:  # never graded: nothing in the gradebook
            if not assignments:
                continue
            for row in assignment_rows:
                row["max"] = _fmt(spec.points)
        columns += [n for n in names if n not in columns]
        records += assignment_rows
    columns += ["total", "max", "status"]
    if output is None:
        base = course.root / grade_state.GRADING_DIR
        output = (base / ids[0] if len(ids) == 1 else base) / "grades.csv"
    return write_csv(Path(output), columns, records)


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
