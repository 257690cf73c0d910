"""Shared parts of the assignment tests: cells by grade id, points, one grading run of a class."""

from __future__ import annotations

from pathlib import Path

import nbformat


def gid(cell) -> str | None:
    """The nbgrader grade id of a cell (None for a cell nbgrader does not know)."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell(nb, grade_id: str):
    """The cell of ``nb`` with this grade id."""
    return next(c for c in nb.cells if gid(c) == grade_id)


def replace(nb, grade_id: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in one cell; fail loudly when the notebook no longer holds it."""
    target = cell(nb, grade_id)
    assert old in target.source, f"{grade_id} no longer holds {old!r}: update the test"
    target.source = target.source.replace(old, new)


def autograded_points(source_nb: Path) -> dict[str, float]:
    """Points of every autograded (code) test cell of the source notebook, by grade id."""
    nb = nbformat.read(source_nb, as_version=4)
    return {
        gid(c): float(c.metadata["nbgrader"]["points"])
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    }


def grade_class(assignment: str, folder: Path, course: Path, *, notebook_timeout: float = 900):
    """One ``hepml grade`` run over the class in ``folder`` with 2 workers and 3 GiB per kernel."""
    from autograder.grading import grade

    return grade.grade(
        assignment,
        folder,
        root=course,
        workers=2,
        notebook_timeout=notebook_timeout,
        memory_limit_mb=3072,
        progress=False,
    )


def scores(result, student: str) -> dict[str, float]:
    """The per-test-cell scores a student got (0 for an errored cell)."""
    assert student in result.graded, f"{student} was not graded: {result.failed.get(student)}"
    outcome = next(o for o in result.outcomes if o.student == student)
    return {k: float(v or 0.0) for k, v in outcome.scores.items()}


def expect(points: dict[str, float], losing: tuple[str, ...]) -> dict[str, float]:
    """Full points except for the cells in ``losing``."""
    return {k: (0.0 if k in losing else v) for k, v in points.items()}
