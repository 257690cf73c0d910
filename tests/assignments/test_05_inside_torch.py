"""Assignment 05_inside_torch graded end to end, in ONE ``hepml grade`` run with 2 workers.

The class is built from the release notebook as students would submit it:

==================  ===============================================================  ==================
student             what the notebook does                                           loses
==================  ===============================================================  ==================
correct             the solution                                                     nothing
empty               the untouched student notebook                                   everything
scaler_on_test      fits the binary classifier's scaler on the test set              scaler_fit_on_train
test_trained_sin    trains the binary classifier on the test set, and computes the   binary_test_auc,
                    autodiff gradient with ``math.sin``                              autodiff_gradients
==================  ===============================================================  ==================

The last student makes two independent mistakes in different parts of the notebook, to keep
the number of full notebook runs (and CI time) down. The thresholds of the notebook must agree
with ``course/measurements/05_inside_torch.json``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
from assignment_harness import autograded_points, grade_class
from assignment_harness import cell as _cell
from assignment_harness import expect as _expect
from assignment_harness import replace as _replace
from assignment_harness import scores as _scores
from course_fixtures import scratch_course, student_solution

A = "05_inside_torch"


def build_class(course: Path, folder: Path) -> None:
    """Write the submissions of the module docstring into ``folder`` as ``<student>.ipynb``."""
    source_nb = course / "source" / A / f"{A}.ipynb"
    release_nb = course / "release" / A / f"{A}.ipynb"
    folder.mkdir()
    subs = {"correct": student_solution(source_nb, release_nb)}
    subs["empty"] = nbformat.read(release_nb, as_version=4)

    leak = student_solution(source_nb, release_nb)
    _replace(leak, "fix_scaling", "StandardScaler().fit(X_train)", "StandardScaler().fit(X_test)")
    subs["scaler_on_test"] = leak

    wrong = student_solution(source_nb, release_nb)
    _replace(
        wrong,
        "fix_scaling",
        "make_loaders(X_train_scaled, y_train, X_test_scaled, y_test)",
        "make_loaders(X_test_scaled, y_test, X_train_scaled, y_train)",
    )
    _replace(wrong, "autodiff", "x[0] * torch.sin(x[1])", "x[0] * math.sin(x[1])")
    subs["test_trained_sin"] = wrong
    for student, nb in subs.items():
        nbformat.write(nb, folder / f"{student}.ipynb")


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("grade-05")
    course = scratch_course(repo_root, base / "course")
    build_class(course, base / "class")
    result = grade_class(A, base / "class", course)
    points = autograded_points(course / "source" / A / f"{A}.ipynb")
    return result, points


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.torch
def test_solution_gets_full_marks(graded):
    result, points = graded
    got = _scores(result, "correct")
    assert {k: got.get(k) for k in points} == points


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.torch
def test_untouched_release_gets_zero(graded):
    result, points = graded
    got = _scores(result, "empty")
    assert {k: got.get(k) for k in points} == dict.fromkeys(points, 0.0)


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.torch
def test_scaler_fitted_on_the_test_set_loses_only_the_scaler_points(graded):
    result, points = graded
    got = _scores(result, "scaler_on_test")
    assert {k: got.get(k) for k in points} == _expect(points, ("scaler_fit_on_train",))


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.torch
def test_training_on_the_test_set_and_math_sin_lose_only_their_points(graded):
    result, points = graded
    got = _scores(result, "test_trained_sin")
    assert {k: got.get(k) for k in points} == _expect(
        points, ("binary_test_auc", "autodiff_gradients")
    )


def _lowest(source: str):
    """The literal assigned to ``lowest`` in a test cell (its one threshold, or thresholds)."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "lowest"
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("no `lowest = <literal>` in the test cell")


def _notebook_thresholds(source_nb: Path) -> dict:
    """The thresholds written in the test cells of the source notebook; the hidden part of each
    test reads the same ``lowest`` as its visible part."""
    nb = nbformat.read(source_nb, as_version=4)
    cells = {
        "binary_auc": "binary_test_auc",
        "cm_diag": "confusion_matrix",
        "pair_auc": "pair_aucs",
        "reg_corr": "regression_correlation",
    }
    found = {}
    for name, grade_id in cells.items():
        source = _cell(nb, grade_id).source
        hidden = source.split("### BEGIN HIDDEN TESTS", 1)[1]
        assert "lowest" in hidden and "lowest =" not in hidden, grade_id
        found[name] = _lowest(source)
    return found


def test_thresholds_are_the_measured_ones(repo_root):
    """The notebook's thresholds are those recorded with the measurements: each sits below the
    solution's lowest figure (test set and unseen events) by the recorded margin, above what an
    untrained network reaches, and a network trained on the test set fails the training-set
    check of binary_test_auc while the solution clears it by the margin."""
    record = json.loads((repo_root / "course" / "measurements" / f"{A}.json").read_text())
    chosen, margin = record["thresholds"], record["margin"]
    assert _notebook_thresholds(repo_root / "source" / A / f"{A}.ipynb") == chosen
    runs = record["runs"]["synthetic"]
    assert len(runs) >= 5, "fewer than five measured seeds"

    def low(key: str, sub: str | int | None = None) -> float:
        return min(r[key] if sub is None else r[key][sub] for r in runs)

    def within(value: float, lowest: float, margin: float) -> bool:
        return lowest - margin - 0.01 < value <= lowest - margin

    assert within(chosen["binary_auc"], min(low("auc_test"), low("auc_hidden")), margin["auc"])
    assert chosen["binary_auc"] > max(r["auc_untrained"] for r in runs) + 0.1
    assert chosen["binary_auc"] > max(r["auc_first_attempt"] for r in runs) + 0.05
    assert within(chosen["reg_corr"], min(low("reg_corr"), low("reg_corr_hidden")), margin["corr"])
    assert chosen["reg_corr"] > max(abs(r["reg_corr_untrained"]) for r in runs) + 0.3
    for k in range(3):
        lowest = min(low("cm_diag", k), low("cm_diag_hidden", k))
        assert within(chosen["cm_diag"][k], lowest, margin["cm_diag"])
    # an untrained network fails at least one entry of the diagonal in every run
    for r in runs:
        assert any(r["cm_diag_untrained"][k] < chosen["cm_diag"][k] for k in range(3))
    for pair, value in chosen["pair_auc"].items():
        assert within(
            value, min(low("pair_auc", pair), low("pair_auc_hidden", pair)), margin["auc"]
        )
    # the untrained network fails at least one pair in every run
    for r in runs:
        assert any(r["pair_auc_untrained"][p] < v for p, v in chosen["pair_auc"].items())
    # the network trained on the test set fails the "own events scored at least as well" check
    for r in runs:
        t = r["test_trained"]
        assert t["auc_train"] < t["auc_test"] - 0.02
        assert r["auc_train"] >= r["auc_test"] - 0.02 + margin["auc"]
