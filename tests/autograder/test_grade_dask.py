"""The same grading through Dask: a LocalCluster of 2 separate worker processes."""

from __future__ import annotations

import csv
import os

import nbformat
import pytest
from course_fixtures import scratch_course, student_solution

from autograder.grading import grade

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

A = "00_setup"


def test_local_dask_cluster_grades_a_small_class(repo_root, tmp_path):
    course = scratch_course(repo_root, tmp_path / "course")
    release = course / "release" / A / f"{A}.ipynb"
    solution = student_solution(course / "source" / A / f"{A}.ipynb", release)
    untouched = nbformat.read(release, as_version=4)
    folder = tmp_path / "class"
    folder.mkdir()
    for student, nb in {"ada": solution, "ben": untouched}.items():
        # The ungraded environment cell imports torch and TensorFlow: left out to stay quick.
        nb.cells = [c for c in nb.cells if "check_environment" not in c.source]
        nbformat.write(nb, folder / f"{student}_{A}.ipynb")
    result = grade.grade(
        A, folder, root=course, scheduler="local", workers=2, notebook_timeout=60, progress=False
    )
    assert result.graded == {"ada": 3.0, "ben": 0.0} and result.failed == {}
    # The jobs ran in Dask's worker processes, not in this one.
    pids = {int(o.host.rsplit(":", 1)[1]) for o in result.outcomes}
    assert os.getpid() not in pids
    with open(result.grades_csv, newline="") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert rows["ada"]["total"] == "3" and rows["ben"]["total"] == "0"
