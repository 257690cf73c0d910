"""Red team of 01_higgs_torch: untrained networks dressed up as trained ones, in ONE grading run.

The honest references are the solution and ``untrained``: the solution with every
``optimizer.step()`` removed, so its networks keep their initial weights and its histories are
the true, flat ones. Every cheat starts from ``untrained`` and deserves at most what ``untrained``
gets (in the grader's result and in the class's gradebook); the suite fails when one scores more.

==================  =============================================================================
student             what the notebook does, on top of ``untrained``
==================  =============================================================================
honest              the solution (reference, full marks)
untrained           no optimiser step (reference)
forged_derived      the checks record outputs equal to the expected ones, scores equal to labels
patched_checks      every public check replaced by a no-op
fabricated_history  the full-batch history replaced by a decreasing list
labels_as_scores    ``test_scores`` are the test labels
lookup_model        ``model`` looks the test events up in a table of their labels (perfect on
                    X_test_t, chance elsewhere) and ``test_scores`` are its scores
==================  =============================================================================
"""

from __future__ import annotations

from pathlib import Path

import cheats
import nbformat
import pytest
from assignment_harness import cell as _cell
from assignment_harness import grade_class
from assignment_harness import replace as _replace
from course_fixtures import scratch_course, student_solution
from nbgrader.api import Gradebook

pytestmark = [pytest.mark.slow, pytest.mark.notebook, pytest.mark.torch, pytest.mark.timeout(2400)]

A = "01_higgs_torch"
CHEATS = (
    "forged_derived",
    "patched_checks",
    "fabricated_history",
    "labels_as_scores",
    "lookup_model",
)

FABRICATED = """
history = {
    "loss": list(np.linspace(0.69, 0.30, EPOCHS)),
    "val_loss": list(np.linspace(0.69, 0.31, EPOCHS)),
}
"""
LOOKUP = """
class _Lookup(nn.Module):
    \"\"\"Returns the label of every test event it was shown, 0.5 for any other input.\"\"\"

    def __init__(self, X, y):
        super().__init__()
        self.table = {tuple(row): float(label) for row, label in zip(X.cpu().numpy().round(5).tolist(), y.cpu().numpy().ravel().tolist())}
        self.dummy = nn.Linear(X.shape[1], 1)

    def forward(self, x):
        rows = x.detach().cpu().numpy().round(5).tolist()
        out = [self.table.get(tuple(r), 0.5) for r in rows]
        return torch.tensor(out, dtype=torch.float32, device=x.device).reshape(-1, 1)


model = _Lookup(X_test_t, y_test_t)
with torch.no_grad():
    test_scores = model(X_test_t).cpu().numpy().ravel()
"""


def _untrained(source_nb: Path, release_nb: Path):
    nb = student_solution(source_nb, release_nb)
    for grade_id in ("training_loop", "minibatch_loop"):
        _replace(
            nb, grade_id, "optimizer.step()", "pass  # no step: the weights stay as initialised"
        )
    return nb


def build_class(course: Path, folder: Path) -> None:
    source_nb = course / "source" / A / f"{A}.ipynb"
    release_nb = course / "release" / A / f"{A}.ipynb"
    folder.mkdir()
    subs = {
        "honest": student_solution(source_nb, release_nb),
        "untrained": _untrained(source_nb, release_nb),
    }
    for name, code in (
        ("forged_derived", cheats.FORGE_DERIVED),
        ("patched_checks", cheats.PATCH_CHECKS),
    ):
        nb = _untrained(source_nb, release_nb)
        nb.cells.insert(0, nbformat.v4.new_code_cell(code))
        subs[name] = nb
    nb = _untrained(source_nb, release_nb)
    run = _cell(nb, "run_full_batch")
    nb.cells.insert(nb.cells.index(run) + 1, nbformat.v4.new_code_cell(FABRICATED))
    subs["fabricated_history"] = nb
    for name, code in (
        ("labels_as_scores", "test_scores = np.asarray(y_test, dtype=float).ravel()\n"),
        ("lookup_model", LOOKUP),
    ):
        nb = _untrained(source_nb, release_nb)
        evaluation = _cell(nb, "evaluation")
        nb.cells.insert(nb.cells.index(evaluation) + 1, nbformat.v4.new_code_cell(code))
        subs[name] = nb
    assert set(subs) == {"honest", "untrained", *CHEATS}
    for student, nb in subs.items():
        nbformat.write(nb, folder / f"{student}.ipynb")


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("redteam-01")
    course = scratch_course(repo_root, base / "course")
    build_class(course, base / "class")
    result = grade_class(A, base / "class", course, notebook_timeout=1500)
    totals = {o.student: float(o.total) for o in result.outcomes}
    return course, result, totals


def test_references(graded):
    _, result, totals = graded
    honest = next(o for o in result.outcomes if o.student == "honest")
    assert totals["honest"] == honest.max_total, honest.scores
    assert totals["untrained"] < totals["honest"]
    # Every test cell of 01 is judged from the student's objects, none from the kernel's records.
    unmeasured = [g for g, v in honest.rechecks.items() if not v.get("measured")]
    assert unmeasured == [], f"judged from the kernel's records: {unmeasured}"


@pytest.mark.parametrize("student", CHEATS)
def test_no_cheat_scores_above_the_untrained_reference(graded, student):
    course, result, totals = graded
    assert student in result.graded, result.failed.get(student)
    deserved = totals["untrained"]
    assert totals[student] <= deserved, (student, totals[student], deserved)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        book = gb.find_submission(A, student).score
    assert book <= deserved, f"the gradebook gives {student} {book}, deserved {deserved}"
