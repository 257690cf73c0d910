"""Assignment 04_top_tagging_keras graded end to end, and its challenge ranked by the leaderboard.

The class is built from the release notebook as students would submit it, and graded in ONE
``hepml grade`` run with 2 workers:

===========  =======================================================================  ===================
student      what the notebook does                                                   loses
===========  =======================================================================  ===================
correct      the solution, executed beforehand (as a student runs it before            nothing
             submitting), submitted with its ``submission_predictions/``
empty        the untouched student notebook                                           everything
wrong        three typical mistakes: the validation and test jets' pT and mass        jet_pt_mass,
             columns filled from the training frame (the tutorial's wrong-DataFrame   cnn_training_steps,
             bug: pandas aligns on the index and copies the wrong jets' values); the  challenge_files
             CNN trained on the test images; a challenge file for 100 jets only
nobonus      the bonus left untouched (its cell prints a note, Run All goes on, the   bonus_improved_auc,
             challenge cell saves two files); the "test" jets and images read from    test_set_unseen,
             the training files; the CNN's rejection taken at eps_S = 0.5; and, right background_rejection
             in another style, DENSE_EPOCHS = 12 and CNN_EPOCHS = 8 (the history
             cells keep their points)
===========  =======================================================================  ===================

Then ``hepml leaderboard`` (the function behind it) ranks the class's challenge files on the
twin's hidden labels (``twin:0``): the correct student's three files, and the wrong student's
(hand-made for this test, the kernel's own files stay in the grader's scratch folder): a valid
one and a malformed one (100 scores), which must be reported and not ranked.

The thresholds of the notebook must agree with ``course/measurements/04_top_tagging_keras.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from assignment_harness import autograded_points, grade_class
from assignment_harness import cell as _cell
from assignment_harness import replace as _replace
from assignment_harness import scores as _scores
from course_fixtures import scratch_course, student_solution

A = "04_top_tagging_keras"
PREDICTIONS = "submission_predictions"
WRONG_LOSES = ("jet_pt_mass", "cnn_training_steps", "challenge_files")
NOBONUS_LOSES = ("bonus_improved_auc", "test_set_unseen", "background_rejection")
BONUS_CELLS = ("improved_network", "bonus_improved_answer")
BONUS_NOTE = "Bonus not attempted"
# One grading run of three notebooks after one execution: minutes on two busy cores.
pytestmark = pytest.mark.timeout(1800)


def wrong_notebook(source_nb: Path, release_nb: Path) -> nbformat.NotebookNode:
    """The solution with the three mistakes of the module docstring."""
    nb = student_solution(source_nb, release_nb)
    _replace(
        nb,
        "jet_kinematics",
        "for frame in (df_train, df_val, df_test):\n    kinematics = jet_kinematics(frame)\n",
        "kinematics = jet_kinematics(df_train)\nfor frame in (df_train, df_val, df_test):\n",
    )
    _replace(
        nb,
        "cnn",
        "cnn_model.fit(X_train_cnn, y_train_cnn,",
        "cnn_model.fit(X_test_cnn, y_test_cnn,",
    )
    _replace(nb, "challenge", 'GROUP = "demo"', 'GROUP = "wrongdoers"')
    _replace(nb, "challenge", "dense_inputs(df_challenge)", "dense_inputs(df_challenge.iloc[:100])")
    return nb


def nobonus_notebook(source_nb: Path, release_nb: Path) -> nbformat.NotebookNode:
    """The solution with the bonus as released and the mistakes of the module docstring."""
    nb = student_solution(source_nb, release_nb)
    release = nbformat.read(release_nb, as_version=4)
    for grade_id in BONUS_CELLS:
        _cell(nb, grade_id).source = _cell(release, grade_id).source
    assert "raise NotImplementedError()" in _cell(nb, "improved_network").source
    _replace(
        nb, "load_data", 'load_top_tagging(files["test.h5"]', 'load_top_tagging(files["train.h5"]'
    )
    _replace(
        nb,
        "jet_images",
        'load_top_tagging(files["test_img.h5"]',
        'load_top_tagging(files["train_img.h5"]',
    )
    _replace(
        nb,
        "cnn",
        "cnn_rejection = metrics.background_rejection(y_test_cnn, cnn_scores_test, signal_efficiency=0.3)",
        "cnn_rejection = metrics.background_rejection(y_test_cnn, cnn_scores_test, signal_efficiency=0.5)",
    )
    _replace(
        nb, "train_dense", "DENSE_EPOCHS, DENSE_BATCH = 10,", "DENSE_EPOCHS, DENSE_BATCH = 12,"
    )
    _replace(nb, "cnn", "CNN_EPOCHS, CNN_BATCH = 10,", "CNN_EPOCHS, CNN_BATCH = 8,")
    return nb


def _execute(nb: nbformat.NotebookNode, folder: Path) -> None:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory):
    from helpers import data

    data.fetch("top-tagging")  # the twin once, before parallel kernels ask for it
    base = tmp_path_factory.mktemp("grade-04")
    course = scratch_course(repo_root, base / "course")
    source_nb = course / "source" / A / f"{A}.ipynb"
    release_nb = course / "release" / A / f"{A}.ipynb"
    folder = base / "class"
    for student in ("correct", "empty", "wrong", "nobonus"):
        (folder / student).mkdir(parents=True)
    correct = student_solution(source_nb, release_nb)
    _execute(correct, folder / "correct")
    nbformat.write(correct, folder / "correct" / f"{A}.ipynb")
    nbformat.write(nbformat.read(release_nb, as_version=4), folder / "empty" / f"{A}.ipynb")
    nbformat.write(wrong_notebook(source_nb, release_nb), folder / "wrong" / f"{A}.ipynb")
    nbformat.write(nobonus_notebook(source_nb, release_nb), folder / "nobonus" / f"{A}.ipynb")
    # What the wrong student would have submitted: a valid file and a malformed one.
    demo_cnn = np.load(folder / "correct" / PREDICTIONS / "demo__cnn.npy")
    wrong_files = folder / "wrong" / PREDICTIONS
    wrong_files.mkdir()
    noise = np.random.default_rng(4).normal(0.0, 0.3, size=demo_cnn.shape)
    np.save(wrong_files / "wrongdoers__cnn.npy", (demo_cnn + noise).astype(np.float32))
    np.save(wrong_files / "wrongdoers__dense.npy", demo_cnn[:100])
    result = grade_class(A, folder, course)
    return result, autograded_points(source_nb), course


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.keras
def test_solution_gets_full_marks(graded):
    result, points, _ = graded
    got = _scores(result, "correct")
    assert {k: got.get(k) for k in points} == points
    rechecks = next(o for o in result.outcomes if o.student == "correct").rechecks
    assert rechecks and all(v["passed"] for v in rechecks.values()), rechecks


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.keras
def test_untouched_release_gets_zero(graded):
    result, points, _ = graded
    got = _scores(result, "empty")
    assert {k: got.get(k) for k in points} == dict.fromkeys(points, 0.0)


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.keras
def test_typical_mistakes_lose_exactly_their_points(graded):
    result, points, course = graded
    got = _scores(result, "wrong")
    expected = {k: (0.0 if k in WRONG_LOSES else v) for k, v in points.items()}
    assert {k: got.get(k) for k in points} == expected
    autograded = nbformat.read(course / "autograded" / "wrong" / A / f"{A}.ipynb", as_version=4)

    def errors(grade_id: str) -> str:
        outs = _cell(autograded, grade_id).outputs
        return "\n".join(o.get("evalue", "") for o in outs if o.output_type == "error")

    assert "df_val['jet_pt']" in errors("jet_pt_mass")
    assert "batches per epoch" in errors("cnn_training_steps")
    assert "100 values, expected" in errors("challenge_files")


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.keras
def test_untouched_bonus_runs_to_the_end_and_test_jets_from_the_training_file_lose(graded):
    """Bonus untouched: every cell runs, the bonus cells print a note, the challenge cell saves the
    two core models; other epoch counts keep the history points; the test set read from the
    training file and the rejection at the wrong working point lose theirs."""
    result, points, course = graded
    got = _scores(result, "nobonus")
    expected = {k: (0.0 if k in NOBONUS_LOSES else v) for k, v in points.items()}
    assert {k: got.get(k) for k in points} == expected
    autograded = nbformat.read(course / "autograded" / "nobonus" / A / f"{A}.ipynb", as_version=4)
    code = [c for c in autograded.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "a cell did not run"
    failing = {
        c.metadata.get("nbgrader", {}).get("grade_id", c.get("id"))
        for c in code
        if any(o.output_type == "error" for o in c.outputs)
    }
    assert failing <= set(NOBONUS_LOSES), failing
    for grade_id in ("improved_network", "bonus_improved_auc"):
        printed = "".join(
            o.get("text", "")
            for o in _cell(autograded, grade_id).outputs
            if o.output_type == "stream"
        )
        assert BONUS_NOTE in printed, grade_id
    outputs = _cell(autograded, "test_set_unseen").outputs
    assert "training events" in "".join(o.get("evalue", "") for o in outputs)


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.keras
def test_leaderboard_ranks_the_class_and_reports_the_malformed_file(graded, tmp_path):
    from autograder.leaderboard import board as leaderboard
    from helpers import metrics
    from helpers.data import synthetic

    _, _, course = graded
    result = leaderboard.leaderboard(A, root=course, labels="twin:0", out_dir=tmp_path)
    labels = synthetic.twin_module("top-tagging").challenge_labels(seed=0)
    assert result.n_jets == len(labels)
    ranked = {(e.group, e.model): e for e in result.entries}
    assert set(ranked) == {
        ("demo", "dense"),
        ("demo", "cnn"),
        ("demo", "improved"),
        ("wrongdoers", "cnn"),
    }
    assert [r.file for r in result.rejected] == [f"wrong/{PREDICTIONS}/wrongdoers__dense.npy"]
    assert f"100 predictions, expected {len(labels)}" in result.rejected[0].reason
    assert [e.rank for e in result.entries] == [1, 2, 3, 4]
    assert [e.auc for e in result.entries] == sorted((e.auc for e in result.entries), reverse=True)
    submitted = course / "submitted"
    for (group, model), entry in ranked.items():
        student = "correct" if group == "demo" else "wrong"
        scores = np.load(submitted / student / A / PREDICTIONS / f"{group}__{model}.npy")
        assert entry.auc == pytest.approx(metrics.roc_auc(labels, scores), abs=1e-12)
    record = json.loads((course / "course" / "measurements" / f"{A}.json").read_text())
    assert ranked[("demo", "cnn")].auc >= record["thresholds"]["cnn_auc"]
    assert ranked[("demo", "dense")].auc < ranked[("demo", "cnn")].auc
    assert ranked[("wrongdoers", "cnn")].auc < ranked[("demo", "cnn")].auc  # noise costs
    assert "wrongdoers__dense.npy" in result.summary()
    assert {p.name for p in tmp_path.iterdir()} == {
        "leaderboard.csv",
        "leaderboard.html",
        "leaderboard.png",
    }


def _notebook_thresholds(source_nb: Path) -> dict[str, float]:
    """The thresholds written in the test cells of the source notebook (visible and hidden)."""
    nb = nbformat.read(source_nb, as_version=4)

    def one(grade_id: str, pattern: str) -> float:
        found = {float(x) for x in re.findall(pattern, _cell(nb, grade_id).source)}
        assert len(found) == 1, (grade_id, found)
        return found.pop()

    return {
        "dense_auc": one("dense_test_auc", r"(?:dense_scores_test|to_numpy\(\)), ([0-9.]+)\)"),
        "cnn_rejection": one(
            "background_rejection", r"cnn_scores_test, ([0-9.]+), signal_efficiency"
        ),
        "cnn_auc": one("cnn_test_auc", r"(?:cnn_scores_test|to_numpy\(\)), ([0-9.]+)[,)]"),
        "improved_auc": one(
            "bonus_improved_auc", r"(?:improved_scores_test|to_numpy\(\)), ([0-9.]+)[,)]"
        ),
        "dense_loss_drop": one("dense_history", r"min_relative_drop=([0-9.]+)"),
        "cnn_loss_drop": one("cnn_history", r"min_relative_drop=([0-9.]+)"),
    }


def test_thresholds_are_the_measured_ones(repo_root):
    """The notebook's thresholds are those recorded with the measurements; each lies at least the
    margin below the lowest figure of the five seeds and clearly above an untrained network."""
    record = json.loads((repo_root / "course" / "measurements" / f"{A}.json").read_text())
    chosen = record["thresholds"]
    assert _notebook_thresholds(repo_root / "source" / A / f"{A}.ipynb") == chosen
    runs = record["runs"]
    assert len(runs) >= 5, "fewer than five measured seeds"
    assert all(not r["errors"] for r in runs)
    margin = record["margin"]
    for figure in ("dense", "cnn", "improved"):
        lowest = min(min(r[f"{figure}_auc"], r[f"{figure}_auc_unseen"]) for r in runs)
        assert chosen[f"{figure}_auc"] <= lowest - margin[f"{figure}_auc"] + 1e-9
    for figure in ("dense", "cnn"):
        untrained = max(r[f"{figure}_auc_untrained"] for r in runs)
        assert chosen[f"{figure}_auc"] >= untrained + margin["above_untrained"]
        lowest_drop = min(r[f"{figure}_loss_drop"] for r in runs)
        assert chosen[f"{figure}_loss_drop"] <= lowest_drop - margin["loss_drop"] + 1e-9
    # 1/eps_B at eps_S = 0.3 is a tail figure (tens of QCD jets pass): a wide margin, far above
    # a random tagger's 1/0.3
    lowest_rejection = min(r["cnn_rejection"] for r in runs)
    assert chosen["cnn_rejection"] <= margin["rejection_fraction"] * lowest_rejection
    assert chosen["cnn_rejection"] >= 10 / 0.3
    # The bonus asks for a clear improvement: above every run of the tutorial's network.
    assert chosen["improved_auc"] >= max(r["dense_auc"] for r in runs) + margin["above_untrained"]
