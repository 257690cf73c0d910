"""Helpers for tests that need a scratch copy of the course (never touch the real repository)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

COURSE_PARTS = ("course", "source", "release", "nbgrader_config.py")


def scratch_course(repo_root: Path, dest: Path) -> Path:
    """Copy what defines the course into ``dest`` and return it (a course root)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in COURSE_PARTS:
        src = repo_root / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy2(src, dest / part)
    return dest


def student_solution(source_nb: Path, release_nb: Path) -> nbformat.NotebookNode:
    """The release notebook with every solution cell filled in from the source, as a good student
    would submit it (no solution markers, no hidden tests)."""
    src = nbformat.read(source_nb, as_version=4)
    rel = nbformat.read(release_nb, as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in src.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in rel.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            lines = [
                line
                for line in answers[grade_id].splitlines()
                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
            ]
            cell.source = "\n".join(lines)
    return rel
