"""Helpers for tests that need a scratch copy of the course (never touch the real repository)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

import nbformat
import pytest

COURSE_PARTS = ("course", "source", "release", "nbgrader_config.py")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


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


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {value!r}")


def course_of(repo_root: Path, dest: Path, assignment: str, **manifest_entry: object) -> Path:
    """A scratch course holding one assignment of the repository (manifest, source, release);
    keyword arguments replace fields of its manifest entry."""
    dest.mkdir(parents=True)
    shutil.copy2(repo_root / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(repo_root / "course", dest / "course")
    data = tomllib.loads((repo_root / "course" / "manifest.toml").read_text())
    entry = next(e for e in data["assignments"] if e["id"] == assignment) | manifest_entry
    lines = ["[course]", *(f"{k} = {_toml_value(v)}" for k, v in data["course"].items())]
    lines += ["", "[[assignments]]", *(f"{k} = {_toml_value(v)}" for k, v in entry.items())]
    (dest / "course" / "manifest.toml").write_text("\n".join(lines) + "\n")
    for part in ("source", "release"):
        shutil.copytree(repo_root / part / assignment, dest / part / assignment)
    return dest


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium binary on PATH (Debian/Ubuntu: apt-get install chromium)")


def run_chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="hepml-chromium-") as profile:
        return subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )


#: The written answer and the bonus cell that :func:`manual_course` adds to 00_setup.
WRITTEN_ANSWER = "answer_units"
BONUS_TEST = "bonus_delta_phi_again"


def manual_course(repo_root: Path, dest: Path) -> Path:
    """A scratch course of 00_setup with a written answer graded by hand (markdown answer cell,
    1 point) and a bonus test cell (1 point), released: 3 autograded points, 1 manual, 1 bonus.

    Grading it is as quick as 00_setup, and its grades.csv has every kind of column.
    """
    from autograder.release import generate

    a = "00_setup"
    course = course_of(repo_root, dest, a, points=4, bonus_points=1)
    path = course / "source" / a / f"{a}.ipynb"
    nb = nbformat.read(path, as_version=4)
    meta = {"locked": False, "schema_version": 3, "solution": True, "task": False}
    answer = nbformat.v4.new_markdown_cell(
        "In which units does `invariant_mass` work, and why is $c = 1$ convenient?\n\n"
        "### BEGIN SOLUTION\nGeV for energy, momentum and mass alike.\n### END SOLUTION"
    )
    answer.metadata["nbgrader"] = {**meta, "grade": True, "grade_id": WRITTEN_ANSWER, "points": 1}
    test = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "delta_phi_wrapped"
    )
    bonus = nbformat.v4.new_code_cell(test.source)
    bonus.metadata["nbgrader"] = {
        **test.metadata["nbgrader"],
        "grade_id": BONUS_TEST,
        "points": 1,
    }
    at = nb.cells.index(test) + 1
    nb.cells[at:at] = [answer, bonus]
    nbformat.write(nb, path)
    generate.release([a], root=course)
    return course
