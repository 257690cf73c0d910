"""Red team of 00_setup: submissions that want the points without the work, in ONE grading run.

Every case states the score it deserves relative to the honest references (the solution: 3; the
untouched release: 0); the suite fails when a case scores more, in the grader's result *and* in
the class's gradebook (what formgrader and ``nbgrader export`` read).

==================  ===========================================================  ========
student             what the notebook does                                       deserves
==================  ===========================================================  ========
honest              the solution (reference)                                     3
empty               the untouched release (reference)                            0
patched_checks      no answers; every public check replaced by a no-op            0
patched_run_check   no answers; ``run_check`` replaced: no record, no failure     0
forged_derived      no answers; the checks record outputs equal to the expected   0
display_score       no answers; patched checks and an input transformer that      0
                    makes every cell display a value (nbgrader reads the first
                    ``execute_result`` as the score)
record_editor       no answers; a thread rewrites every record as passed          0
frame_peeker        functions that return the expected values they find in the    0
                    check's frames
==================  ===========================================================  ========
"""

from __future__ import annotations

from pathlib import Path

import cheats
import nbformat
import pytest
from course_fixtures import scratch_course, student_solution
from nbgrader.api import Gradebook

from autograder.grading import grade

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

A = "00_setup"
DESERVED = {
    "honest": 3,
    "empty": 0,
    "patched_checks": 0,
    "patched_run_check": 0,
    "forged_derived": 0,
    "display_score": 0,
    "record_editor": 0,
    "frame_peeker": 0,
}
CHEAT_CELLS = {
    "patched_checks": cheats.PATCH_CHECKS,
    "patched_run_check": cheats.PATCH_RUN_CHECK,
    "forged_derived": cheats.FORGE_DERIVED,
    "display_score": cheats.DISPLAY_A_SCORE,
    "record_editor": cheats.RECORD_EDITOR,
}


def _gid(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _without_environment_cell(nb):
    nb.cells = [c for c in nb.cells if "check_environment" not in c.source]
    return nb


def build_class(course: Path, folder: Path) -> None:
    source_nb = course / "source" / A / f"{A}.ipynb"
    release_nb = course / "release" / A / f"{A}.ipynb"
    folder.mkdir()

    def release():
        return _without_environment_cell(nbformat.read(release_nb, as_version=4))

    subs = {
        "honest": _without_environment_cell(student_solution(source_nb, release_nb)),
        "empty": release(),
    }
    for student, code in CHEAT_CELLS.items():
        nb = release()
        nb.cells.insert(0, nbformat.v4.new_code_cell(code))
        subs[student] = nb
    peeker = release()
    for cell in peeker.cells:
        if _gid(cell) == "invariant_mass":
            cell.source = cheats.FRAME_PEEKER
        elif _gid(cell) == "delta_phi":
            cell.source = "# delta_phi is defined above\n"
    subs["frame_peeker"] = peeker
    assert set(subs) == set(DESERVED)
    for student, nb in subs.items():
        nbformat.write(nb, folder / f"{student}.ipynb")


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("redteam-00")
    course = scratch_course(repo_root, base / "course")
    build_class(course, base / "class")
    result = grade.grade(
        A, base / "class", root=course, workers=2, memory_limit_mb=2048, progress=False
    )
    return course, result


def _scores(result) -> dict[str, float]:
    return {o.student: float(o.total) for o in result.outcomes}


def test_references_get_their_scores(graded):
    _, result = graded
    scores = _scores(result)
    assert scores["honest"] == DESERVED["honest"]
    assert scores["empty"] == DESERVED["empty"]
    honest = next(o for o in result.outcomes if o.student == "honest")
    assert honest.rechecks and all(v["measured"] for v in honest.rechecks.values())


@pytest.mark.parametrize("student", [s for s in DESERVED if s not in ("honest", "empty")])
def test_no_cheat_scores_above_what_it_deserves(graded, student):
    course, result = graded
    assert student in result.graded, result.failed.get(student)
    got = _scores(result)[student]
    assert got <= DESERVED[student], f"{student} scored {got}, deserves {DESERVED[student]}"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        book = gb.find_submission(A, student).score
    assert book <= DESERVED[student], f"the gradebook gives {student} {book}"


def test_the_displayed_value_cheat_shows_the_graders_verdict_first(graded):
    course, _ = graded
    nb = nbformat.read(course / "autograded" / "display_score" / A / f"{A}.ipynb", as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("points")]
    assert tests and all(c.outputs[0].output_type == "error" for c in tests)
    assert all(c.metadata["hepml"]["clean_score"] == 0.0 for c in tests)
