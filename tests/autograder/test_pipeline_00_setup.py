"""The nbgrader pipeline end to end with plain nbgrader commands on 00_setup: release, submit the
solution as one student and the untouched release as another, autograde, read the gradebook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_fixtures import scratch_course, student_solution

pytestmark = [pytest.mark.slow, pytest.mark.notebook]


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run nbgrader as an instructor would from the course folder, with a PATH that lacks the venv:
    the gradebook creation still finds alembic because hepml's runner puts it first."""
    from autograder.course import nbgrader_cli as nbgrader_run

    env = nbgrader_run.environment()
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory):
    course = scratch_course(repo_root, tmp_path_factory.mktemp("pipeline") / "course")
    nbgrader(course, "generate_assignment", "00_setup", "--force")
    nbgrader(course, "db", "student", "add", "alice")
    nbgrader(course, "db", "student", "add", "bob")
    nbgrader(course, "db", "student", "add", "carol")
    release_nb = course / "release" / "00_setup" / "00_setup.ipynb"
    source_nb = course / "source" / "00_setup" / "00_setup.ipynb"

    def submit(student: str, nb) -> None:
        folder = course / "submitted" / student / "00_setup"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "00_setup.ipynb")

    submit("alice", student_solution(source_nb, release_nb))
    submit("bob", nbformat.read(release_nb, as_version=4))
    # carol: the solution, but with one test cell deleted and another edited to always pass
    carol = student_solution(source_nb, release_nb)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in carol.cells]
    carol.cells[ids.index("delta_phi_wrapped")].source = "pass  # no test here"
    del carol.cells[ids.index("invariant_mass_arrays")]
    # ... and a wrong delta_phi, so the edited test matters
    carol.cells[
        [c.metadata.get("nbgrader", {}).get("grade_id") for c in carol.cells].index("delta_phi")
    ].source = "def delta_phi(phi1, phi2):\n    return np.asarray(phi1) - np.asarray(phi2)"
    submit("carol", carol)
    nbgrader(course, "autograde", "00_setup")
    return course


def scores(course: Path, student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission("00_setup", student)
        nb = sub.notebooks[0]
        return {g.name: g.score for g in nb.grades}


def test_solution_gets_full_marks(graded):
    got = scores(graded, "alice")
    assert {k: v for k, v in got.items() if k.endswith(("values", "arrays", "wrapped"))} == {
        "invariant_mass_known_values": 1.0,
        "invariant_mass_arrays": 1.0,
        "delta_phi_wrapped": 1.0,
    }


def test_untouched_release_gets_zero(graded):
    got = scores(graded, "bob")
    assert {k: v for k, v in got.items() if k.endswith(("values", "arrays", "wrapped"))} == {
        "invariant_mass_known_values": 0.0,
        "invariant_mass_arrays": 0.0,
        "delta_phi_wrapped": 0.0,
    }


def test_deleted_test_scores_zero_and_edited_test_is_restored(graded):
    got = scores(graded, "carol")
    assert got["invariant_mass_known_values"] == 1.0
    assert got["invariant_mass_arrays"] == 0.0  # deleted: put back, scores 0, no manual-grade hole
    assert got["delta_phi_wrapped"] == 0.0  # edited to `pass`: the official test ran and failed
    autograded = nbformat.read(
        graded / "autograded" / "carol" / "00_setup" / "00_setup.ipynb", as_version=4
    )
    restored = [c for c in autograded.cells if "was deleted from the submission" in c.source]
    assert len(restored) == 1


def test_feedback_has_no_hidden_tests(graded):
    import re

    from autograder.release.check import _NUMBER, collect_secrets

    nbgrader(graded, "generate_feedback", "00_setup")
    secrets = collect_secrets([graded / "source" / "00_setup" / "00_setup.ipynb"])
    assert secrets.hidden_lines and secrets.hidden_numbers
    for student in ("alice", "bob", "carol"):
        html = (graded / "feedback" / student / "00_setup" / "00_setup.html").read_text()
        # the page's own CSS and scripts are full of numbers: search the notebook content only
        content = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", html, flags=re.S)
        assert "invariant_mass" in content
        for line in secrets.hidden_lines:
            assert line not in html, (student, line)
        found = set(_NUMBER.findall(content)) & set(secrets.hidden_numbers)
        assert found == set(), (student, found)
