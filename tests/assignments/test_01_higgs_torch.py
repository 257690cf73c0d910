"""Assignment 01_higgs_torch graded end to end, in ONE ``hepml grade`` run with 2 workers.

The class is built from the release notebook as students would submit it:

=============  ======================================================================  ===========
student        what the notebook does                                                  loses
=============  ======================================================================  ===========
correct        the solution                                                            nothing
empty          the untouched student notebook                                          everything
leaky_scaler   fits the scaler on all events before they are split, and edits the      the scaler
               locked training cell to train on the test set (the grader restores it)  points
test_trained   builds the training loader from the test set, so the network is         loader_covers,
               trained on the events it is judged on                                   test_auc
=============  ======================================================================  ===========

The bonus cells of ``test_trained`` are not asserted: its bonus networks are trained on the 4,000
test events, and whether they clear the bonus thresholds on fresh events is left to chance. The
thresholds of the notebook must agree with ``course/measurements/01_higgs_torch.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from assignment_harness import autograded_points, grade_class
from assignment_harness import cell as _cell
from assignment_harness import expect as _expect
from assignment_harness import replace as _replace
from assignment_harness import scores as _scores
from course_fixtures import scratch_course, student_solution

A = "01_higgs_torch"
LOCKED_TRAINING = "run_minibatch"


def build_class(course: Path, folder: Path) -> None:
    """Write the submissions of the module docstring into ``folder`` as ``<student>.ipynb``."""
    source_nb = course / "source" / A / f"{A}.ipynb"
    release_nb = course / "release" / A / f"{A}.ipynb"
    folder.mkdir()
    subs = {"correct": student_solution(source_nb, release_nb)}
    subs["empty"] = nbformat.read(release_nb, as_version=4)

    leaky = student_solution(source_nb, release_nb)
    _replace(leaky, "scale", "StandardScaler().fit(X_train)", "StandardScaler().fit(X)")
    _replace(
        leaky,
        LOCKED_TRAINING,
        "train_minibatch(model, optimizer, loss_fn, train_loader, MINIBATCH_EPOCHS)",
        "train_minibatch(model, optimizer, loss_fn, "
        "DataLoader(TensorDataset(X_test_t, y_test_t), batch_size=256), MINIBATCH_EPOCHS)",
    )
    subs["leaky_scaler"] = leaky

    cheat = student_solution(source_nb, release_nb)
    _replace(
        cheat, "loaders", "TensorDataset(X_train_t, y_train_t)", "TensorDataset(X_test_t, y_test_t)"
    )
    subs["test_trained"] = cheat
    for student, nb in subs.items():
        nbformat.write(nb, folder / f"{student}.ipynb")


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("grade-01")
    course = scratch_course(repo_root, base / "course")
    build_class(course, base / "class")
    result = grade_class(A, base / "class", course)
    points = autograded_points(course / "source" / A / f"{A}.ipynb")
    return result, points, course


pytestmark = [pytest.mark.slow, pytest.mark.notebook, pytest.mark.torch]


def test_solution_gets_full_marks(graded):
    result, points, _ = graded
    got = _scores(result, "correct")
    assert {k: got.get(k) for k in points} == points
    assert sum(points.values()) == 16  # 13 core points and 3 bonus points


def test_untouched_release_gets_zero(graded):
    result, points, _ = graded
    got = _scores(result, "empty")
    assert {k: got.get(k) for k in points} == dict.fromkeys(points, 0.0)


def test_scaling_before_the_split_loses_the_leakage_points_only(graded):
    result, points, course = graded
    got = _scores(result, "leaky_scaler")
    assert {k: got.get(k) for k in points} == _expect(points, ("scaler_fit_on_train",))
    # The edit of the locked training cell was undone: the grader ran the official cell.
    official = _cell(
        nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4), LOCKED_TRAINING
    )
    autograded = nbformat.read(
        course / "autograded" / "leaky_scaler" / A / f"{A}.ipynb", as_version=4
    )
    assert _cell(autograded, LOCKED_TRAINING).source == official.source


def test_training_on_the_test_set_loses_the_loader_and_the_test_auc(graded):
    result, points, _ = graded
    got = _scores(result, "test_trained")
    core = {k: v for k, v in points.items() if not k.startswith("bonus_")}
    assert {k: got.get(k) for k in core} == _expect(core, ("loader_covers", "test_auc"))


def _notebook_thresholds(source_nb: Path) -> dict[str, float]:
    """The thresholds written in the test cells of the source notebook."""
    nb = nbformat.read(source_nb, as_version=4)

    def number(grade_id: str, pattern: str) -> float:
        found = re.findall(pattern, _cell(nb, grade_id).source)
        assert len(found) == 1, (grade_id, pattern, found)
        return float(found[0])

    hidden = r"_unseen_y, ([0-9.]+) if files.variant"
    return {
        "auc_visible": number("test_auc", r"auc_threshold = ([0-9.]+)  # measured"),
        "auc_hidden": number("test_auc", hidden),
        "es_auc_hidden": number("bonus_early_stopping", hidden),
        "net_auc_hidden": number("bonus_module_class", hidden),
        "loss_drop": number(
            "loss_decreased", r"loss_decreased\(history, min_relative_drop=([0-9.]+)"
        ),
        "val_loss_drop": number("loss_decreased", r'key="val_loss", min_relative_drop=([0-9.]+)'),
        "importance_atol": number("bonus_importance", r"atol=([0-9.]+), what=\"the importance"),
    }


def test_thresholds_are_the_measured_ones(repo_root):
    """The notebook's thresholds are those recorded with the measurements: below the lowest figure
    of at least five seeds, and above what an untrained network or mislabelled importances give."""
    record = json.loads((repo_root / "course" / "measurements" / f"{A}.json").read_text())
    chosen = record["thresholds"]
    assert _notebook_thresholds(repo_root / "source" / A / f"{A}.ipynb") == chosen
    runs = record["runs"]
    assert len({r["seed"] for r in runs}) >= 5, "fewer than five measured seeds"
    for key, figure in (
        ("auc_visible", "test_auc"),
        ("auc_hidden", "fresh_auc"),
        ("es_auc_hidden", "fresh_auc_early_stopping"),
        ("net_auc_hidden", "fresh_auc_module_class"),
    ):
        lowest = min(r[figure] for r in runs)
        assert lowest - 0.03 < chosen[key] <= lowest - 0.02 + 1e-9, key
        assert chosen[key] > max(r["fresh_auc_untrained_max"] for r in runs) + 0.05, key
        assert chosen[key] < min(r["fresh_auc_optimal"] for r in runs), key
    for key in ("loss_drop", "val_loss_drop"):
        assert 0 < chosen[key] <= 0.5 * min(r[key] for r in runs) + 1e-9, key
    assert max(r["importance_noise_max"] for r in runs) < chosen["importance_atol"]
    assert chosen["importance_atol"] < min(r["importance_mislabelled_max"] for r in runs)
