"""grades.csv through a manual-grading round trip, nbgrader's export plugin, and the class report.

The course is 00_setup with a written answer (graded by hand, 1 point) and a bonus test cell
(1 point) added (:func:`course_fixtures.manual_course`): 3 autograded points, 1 manual, 1 bonus,
``max`` 4. The class:

=========  =============================================================  ==================
student    what the notebook does                                         after autograding
=========  =============================================================  ==================
written    the solution with the written answer filled in                 needs-manual, 4
blank      the notebook as handed out: nothing answered                   graded, 0
corrupt    truncated JSON                                                 failed
=========  =============================================================  ==================

Then a grader gives the written answer its point through nbgrader's Gradebook API, as
formgrader does, and the export says ``graded`` with the manual point in ``manual`` and
``total``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest
from course_fixtures import (
    BONUS_TEST,
    WRITTEN_ANSWER,
    manual_course,
    run_chromium,
    student_solution,
)

from autograder import cli, export, feedback
from autograder.course import nbgrader_cli
from autograder.grading import grade
from autograder.grading import sandbox as kernel_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

A = "00_setup"


def _student_notebooks(course: Path, folder: Path) -> None:
    folder.mkdir()
    release = course / "release" / A / f"{A}.ipynb"
    written = student_solution(course / "source" / A / f"{A}.ipynb", release)
    blank = nbformat.read(release, as_version=4)
    for nb in (written, blank):  # the environment check imports torch and TensorFlow: slow
        nb.cells = [c for c in nb.cells if "check_environment" not in c.source]
    nbformat.write(written, folder / "written.ipynb")
    nbformat.write(blank, folder / "blank.ipynb")
    (folder / "corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("grade-manual")
    course = manual_course(repo_root, base / "course")
    _student_notebooks(course, base / "class")
    result = grade.grade(A, base / "class", root=course, workers=2, cell_timeout=20, progress=False)
    return course, result


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _export(course: Path, out: Path) -> dict[str, dict[str, str]]:
    assert cli.main(["--root", str(course), "export", A, "--output", str(out)]) == 0
    return _rows(out)


def test_csv_has_cells_subtotals_bonus_apart_and_status(graded):
    _course, result = graded
    rows = _rows(result.grades_csv)
    with open(result.grades_csv, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    cells = [
        "invariant_mass_known_values",
        "invariant_mass_arrays",
        "delta_phi_wrapped",
        WRITTEN_ANSWER,
        BONUS_TEST,
    ]
    assert header == ["student", "assignment", *cells, *export.SUMMARY_COLUMNS]
    written = rows["written"]
    assert written["status"] == "needs-manual"
    assert written[WRITTEN_ANSWER] == ""  # no score yet: empty, not 0
    assert (written["auto"], written["manual"], written["bonus"]) == ("3", "0", "1")
    assert (written["total"], written["max"], written["late_penalty"]) == ("4", "4", "0")
    blank = rows["blank"]  # an answer left as handed out scores 0 automatically (nbgrader)
    assert blank["status"] == "graded" and blank[WRITTEN_ANSWER] == "0"
    assert (blank["total"], blank["max"]) == ("0", "4")
    assert rows["corrupt"]["status"] == "failed" and rows["corrupt"]["total"] == ""
    # The summary line agrees with grades.csv: max without the bonus, totals with it.
    assert result.max_score == 4.0
    assert result.graded == {"written": 4.0, "blank": 0.0}
    assert result.needs_manual == ["written"]
    summary = result.summary()
    assert "mean score 2.00 / 4" in summary and "1 submission(s) need manual grading" in summary
    if kernel_sandbox.namespaces_available():
        assert "sandbox: on" in summary


def test_nbgrader_export_plugin_gives_the_same_rows(graded, tmp_path):
    course, result = graded
    ours = _export(course, tmp_path / "hepml.csv")
    theirs = tmp_path / "nbgrader.csv"
    nbgrader_cli.run(
        [
            "export",
            f"--to={theirs}",  # the course's nbgrader_config.py names the plugin
            f"--CourseDirectory.root={course}",
        ],
        root=course,
    )
    assert _rows(theirs) == ours == _rows(result.grades_csv)


def test_manual_score_and_late_penalty_round_trip(graded, tmp_path):
    from nbgrader.api import Gradebook

    course, _result = graded
    db = f"sqlite:///{course / 'gradebook.db'}"
    # What formgrader does when a grader scores the written answer.
    with Gradebook(db) as gb:
        cell = gb.find_grade(WRITTEN_ANSWER, A, A, "written")
        assert cell.manual_score is None and cell.auto_score is None
        cell.manual_score = 1.0
        cell.needs_manual_grade = False
        gb.db.commit()
    rows = _export(course, tmp_path / "after-manual.csv")
    written = rows["written"]
    assert written["status"] == "graded" and written[WRITTEN_ANSWER] == "1"
    assert (written["manual"], written["total"], written["max"]) == ("1", "5", "4")
    # A late penalty as nbgrader's AssignLatePenalties records it, on the notebook.
    with Gradebook(db) as gb:
        gb.find_submission_notebook(A, A, "written").late_submission_penalty = 2.0
        gb.db.commit()
    rows = _export(course, tmp_path / "after-penalty.csv")
    assert (rows["written"]["late_penalty"], rows["written"]["total"]) == ("2", "3")
    # nbgrader's own export computes the same score.
    plain = tmp_path / "plain.csv"
    nbgrader_cli.run(
        [
            "export",
            "--exporter=nbgrader.plugins.CsvExportPlugin",
            f"--to={plain}",
            f"--CourseDirectory.root={course}",
        ],
        root=course,
    )
    with open(plain, newline="", encoding="utf-8") as fh:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh)}
    assert scores["written"] == float(rows["written"]["total"]) == 3.0
    assert scores["blank"] == float(rows["blank"]["total"]) == 0.0
    # The feedback made after manual grading carries the manual score.
    made = feedback.feedback(A, root=course, student="written")
    assert made.leaks == [] and len(made.files) == 1
    page = made.files[0].read_text()
    assert re.search(r"Written response</a>\s*\(Score: 1\.0 / 1\.0\)", page), page[-3000:]
    assert "GeV for energy" in feedback.visible_text(page)


def test_class_report_renders_in_headless_chromium(graded, tmp_path):
    _course, result = graded
    page = result.report_html
    assert page == result.grades_csv.parent / "report.html"
    text = page.read_text()
    for cell in ("delta_phi_wrapped", WRITTEN_ANSWER, BONUS_TEST):
        assert f"<b>{cell}</b>" in text
    assert "NotImplementedError" in text  # blank's most common failure
    assert "corrupt" in text and "not a valid notebook" in text
    assert ("sandbox: on" if result.sandbox else "sandbox: off") in text
    shot = tmp_path / "report.png"
    proc = run_chromium(page, "--window-size=1280,1600", f"--screenshot={shot}")
    assert shot.is_file(), proc.stderr[-2000:]
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.1  # not blank
    blue = np.array([0x1F, 0x77, 0xB4]) / 255  # matplotlib's first colour: the histogram
    assert (np.abs(pixels - blue).max(axis=2) < 0.03).mean() > 0.001
    dom = run_chromium(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<table>") == 4 and "<img" in dom.stdout


def test_without_a_sandbox_grading_refuses_unless_no_sandbox(graded, monkeypatch, capsys):
    course, _ = graded
    monkeypatch.setenv(kernel_sandbox.SANDBOX_ENV, "auto")
    monkeypatch.setattr(kernel_sandbox, "namespaces_available", lambda: False)
    rc = cli.main(["--root", str(course), "grade", A, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("hepml grade: error: the grading sandbox is unavailable")
    assert "--no-sandbox" in err[0]
    rc = cli.main(
        [
            "--root",
            str(course),
            "grade",
            A,
            "--no-sandbox",
            "--force",
            "--student",
            "blank",
            "--no-progress",
            "--cell-timeout",
            "20",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "sandbox: off" in out.splitlines()[0]
    report = (course / ".hepml" / "grading" / A / "report.html").read_text()
    assert "sandbox: off" in report
    state = (course / ".hepml" / "grading" / A / "state.json").read_text()
    assert '"sandboxed": false' in state
