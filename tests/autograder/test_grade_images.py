"""Graded notebooks keep their figures: the grading kernel renders matplotlib inline, even when
the grader's own environment says MPLBACKEND=Agg (as the tests' does), and feedback shows them."""

from __future__ import annotations

import os

import nbformat
import pytest
from course_fixtures import scratch_course, student_solution

from autograder import feedback
from autograder.grading import grade

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

A = "00_setup"
PLOT = (
    "import matplotlib.pyplot as plt\n\nplt.plot([0.0, 1.0], [1.0, 0.0])\nplt.title('a ROC curve')"
)


def test_autograded_notebook_and_feedback_hold_the_figure(repo_root, tmp_path):
    assert os.environ.get("MPLBACKEND") == "Agg"  # the grader's environment (tests/conftest.py)
    course = scratch_course(repo_root, tmp_path / "course")
    nb = student_solution(
        course / "source" / A / f"{A}.ipynb", course / "release" / A / f"{A}.ipynb"
    )
    nb.cells = [c for c in nb.cells if "check_environment" not in c.source]
    nb.cells.append(nbformat.v4.new_code_cell(PLOT))
    (tmp_path / "class").mkdir()
    nbformat.write(nb, tmp_path / "class" / "plotter.ipynb")

    result = grade.grade(A, tmp_path / "class", root=course, workers=1, progress=False)
    assert result.graded == {"plotter": 3.0}, result.summary()

    graded = nbformat.read(course / "autograded" / "plotter" / A / f"{A}.ipynb", as_version=4)
    plot_cell = next(c for c in graded.cells if c.source == PLOT)
    kinds = [kind for out in plot_cell.outputs for kind in out.get("data", {})]
    assert "image/png" in kinds, plot_cell.outputs

    feedback.feedback(A, root=course, student="plotter")
    page = (course / "feedback" / "plotter" / A / f"{A}.html").read_text()
    assert "data:image/png;base64," in page
