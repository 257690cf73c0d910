"""autograder.checks.records: check calls are recorded before judging and replay in a clean process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from autograder import checks
from autograder.checks import CheckFailed, _core
from autograder.checks import records as artefacts
from autograder.checks.records import Pickled, PickledRef, Verdict
from autograder.grading.replay import replay_record

REPO = Path(__file__).resolve().parents[2]

REPLAY_SCRIPT = """
import json, sys
from autograder.checks.records import load_records
from autograder.grading.replay import replay_record as replay
out = []
for rec in load_records(sys.argv[1]):
    v = replay(rec)
    out.append({"seq": rec.seq, "check": rec.check, "passed": v.passed, "message": v.message})
print(json.dumps(out))
"""


def _replay_in_subprocess(folder: Path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", REPLAY_SCRIPT, str(folder)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout)


@pytest.fixture
def artefact_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "artefacts"
    monkeypatch.setenv(artefacts.ARTEFACT_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    return y, y + rng.normal(size=300)


def _call_every_check(tmp_path: Path) -> None:
    """Call every registered check once passing and once failing (recording is on)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    s = X[:, 0] + rng.normal(size=200)
    train, test = X[:150], X[150:]
    from sklearn.preprocessing import StandardScaler

    np.save(tmp_path / "pred.npy", rng.random(20))

    def sigmoid_model(x):
        return 1 / (1 + np.exp(-x.sum(axis=1)))

    calls = [
        lambda: checks.split_fractions(
            {"train": train, "test": test}, {"train": 0.75, "test": 0.25}
        ),
        lambda: checks.split_fractions({"train": train, "test": test}, {"train": 0.5, "test": 0.5}),
        lambda: checks.split_disjoint_and_complete({"train": train, "test": test}, X),
        lambda: checks.split_disjoint_and_complete({"train": train, "test": X[100:]}, 200),
        lambda: checks.labels_aligned(train, y[:150], X, y),
        lambda: checks.labels_aligned(train, y[50:], X, y),
        lambda: checks.evaluated_on_unseen(test, train),
        lambda: checks.evaluated_on_unseen(train, train),
        lambda: checks.scaler_fit_on(StandardScaler().fit(train), train),
        lambda: checks.scaler_fit_on(StandardScaler().fit(X), train, others={"all events": X}),
        lambda: checks.tensor_spec(X, dtype="float64", shape=(None, 3)),
        lambda: checks.tensor_spec(X, dtype="float32", name="X"),
        lambda: checks.one_hot(np.eye(2)[y], y, n_classes=2),
        lambda: checks.one_hot(np.eye(2)[1 - y], y),
        lambda: checks.model_io(sigmoid_model, 3),
        lambda: checks.model_io(lambda x: x.sum(axis=1), 3),
        lambda: checks.loss_decreased([0.7, 0.5]),
        lambda: checks.loss_decreased([0.7, 0.69]),
        lambda: checks.loader_covers([(train[:100],), (train[100:],)], 150, X_train=train),
        lambda: checks.loader_covers([(train[:100],)], 150),
        lambda: checks.auc_at_least(y, s, 0.6),
        lambda: checks.auc_at_least(y, s, 0.99, hidden=True),
        lambda: checks.auc_on_unseen(lambda x: x[:, 0], X, y, 0.6),
        lambda: checks.auc_on_unseen(lambda x: -x[:, 0], X, y, 0.6),
        lambda: checks.significance_at_least(y, s, 1.0),
        lambda: checks.significance_at_least(y, s, 100.0),
        lambda: checks.rejection_at_least(y, s, 1.5),
        lambda: checks.rejection_at_least(y, s, 1e6),
        lambda: checks.challenge_predictions(tmp_path / "pred.npy", 20),
        lambda: checks.challenge_predictions(tmp_path / "pred.npy", 21),
        lambda: checks.values_close(1.0, 1.0),
        lambda: checks.values_close(1.0, 2.0),
        lambda: checks.function_matches(np.sqrt, [4.0, 9.0], [2.0, 3.0]),
        lambda: checks.function_matches(np.square, [4.0, 9.0], [2.0, 3.0]),
        lambda: checks.holds(len(set("abc")) == 3, "A letter is chosen twice."),
        lambda: checks.holds(len(set("abb")) == 3, "A letter is chosen twice."),
        lambda: checks.same_items(["b", "a"], ["a", "b"], what="the columns"),
        lambda: checks.same_items(["a", "a"], ["a", "b"], what="the columns", hidden=True),
        lambda: checks.split_fractions("not a dict", {"train": 1.0}),  # input error, recorded too
    ]
    for call in calls:
        try:
            call()
        except CheckFailed:
            pass


def test_every_check_records_and_replays_the_same_verdict(tmp_path, artefact_dir):
    _call_every_check(tmp_path)
    records = artefacts.load_records(artefact_dir)
    assert [r.seq for r in records] == list(range(len(records)))
    assert {r.check for r in records} == set(checks.registered_checks())
    assert sum(r.verdict.passed for r in records) == sum(not r.verdict.passed for r in records) - 1
    replayed = _replay_in_subprocess(artefact_dir)
    assert [(d["passed"], d["message"]) for d in replayed] == [
        (r.verdict.passed, r.verdict.message) for r in records
    ]
    assert not list(artefact_dir.glob("*.tmp")), "no temporary file is left behind"
    assert not list(artefact_dir.glob("*.pkl")), "no pickle unless asked for"


def test_record_content(artefact_dir, scored):
    y, s = scored
    artefacts.set_context("test_auc")
    try:
        checks.auc_at_least(y, s, 0.6, what="validation set")
    finally:
        artefacts.set_context(None)
    (rec,) = artefacts.load_records(artefact_dir)
    assert rec.check == "auc_at_least" and rec.seq == 0 and rec.context == "test_auc"
    assert rec.verdict == Verdict(True, "")
    assert rec.spec == {"threshold": 0.6, "hidden": False, "what": "validation set"}
    np.testing.assert_array_equal(rec.arguments["y_score"], s)
    assert rec.arguments["sample_weight"] is None
    data = json.loads(rec.path.read_text())
    assert data["format"] == artefacts.FORMAT and data["arrays"] == "000000-auc_at_least.npz"


def test_no_recording_without_the_variable(tmp_path, monkeypatch, scored):
    monkeypatch.delenv(artefacts.ARTEFACT_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    checks.auc_at_least(*scored, 0.6)
    assert list(tmp_path.iterdir()) == []


def test_patched_sklearn_fools_the_kernel_but_not_the_replay(artefact_dir, scored, monkeypatch):
    import sklearn.metrics

    y, s = scored
    perfect = (np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]), np.array([np.inf, 1, 0]))
    monkeypatch.setattr(sklearn.metrics, "roc_curve", lambda *a, **k: perfect)
    checks.auc_at_least(y, s, 0.95)  # the patched kernel passes it
    (replayed,) = _replay_in_subprocess(artefact_dir)
    assert not replayed["passed"]
    assert replayed["message"].startswith("Your AUC on the test set is 0.")


def test_patched_judge_and_patched_helper(artefact_dir, scored, monkeypatch):
    y, s = scored
    with monkeypatch.context() as mp:
        mp.setitem(_core._REGISTRY, "auc_at_least", lambda **kw: Verdict(True))
        checks.auc_at_least(y, s, 0.95)
    with monkeypatch.context() as mp:
        mp.setattr(checks.scores._metrics, "roc_auc", lambda *a, **k: 1.0)
        checks.auc_at_least(y, s, 0.95)
    records = artefacts.load_records(artefact_dir)
    assert [r.verdict.passed for r in records] == [True, True], "the kernel's verdicts were faked"
    # the patches are gone, as in the grader's clean process (a subprocess replay is tested above)
    assert [replay_record(r).passed for r in records] == [False, False]


def test_replaced_check_leaves_no_record(artefact_dir, scored, monkeypatch):
    monkeypatch.setattr(checks, "auc_at_least", lambda *a, **k: None)
    checks.auc_at_least(*scored, 0.95)
    assert not artefact_dir.exists(), "the pipeline sees the missing record and scores 0"


def test_record_is_written_before_judging(artefact_dir, scored, monkeypatch):
    def kernel_dies(name, arguments):
        raise SystemExit("the student's code called sys.exit while the check judged")

    with monkeypatch.context() as mp, pytest.raises(SystemExit):
        mp.setattr(_core, "judge", kernel_dies)
        checks.auc_at_least(*scored, 0.95)
    (rec,) = artefacts.load_records(artefact_dir)
    assert rec.verdict is None and rec.check == "auc_at_least"
    assert not replay_record(rec).passed


def test_lowered_threshold_is_overridden(artefact_dir, scored):
    y, s = scored
    checks.auc_at_least(y, s, 0.5)  # a kernel that rewrote the test cell's threshold
    (rec,) = artefacts.load_records(artefact_dir)
    assert replay_record(rec).passed
    assert rec.spec_keys == ("threshold", "hidden", "what")
    verdict = replay_record(rec, overrides={"threshold": 0.95, "hidden": True})
    assert verdict == Verdict(
        False, "Your model's AUC on unseen events is below what this part requires."
    )


def test_unknown_check_and_bad_arguments_fail_on_replay(tmp_path):
    artefacts.record("no_such_check", {"x": 1}, folder=tmp_path)
    artefacts.record("auc_at_least", {"unexpected": 1}, folder=tmp_path)
    first, second = artefacts.load_records(tmp_path)
    assert replay_record(first) == Verdict(
        False, "Unknown check 'no_such_check': this record cannot be judged."
    )
    assert replay_record(second).message.startswith("This check could not judge the answer")


def test_records_cannot_point_outside_their_folder(tmp_path):
    path = artefacts.record("values_close", {"found": np.ones(2)}, folder=tmp_path)
    data = json.loads(path.read_text())
    data["arrays"] = "../elsewhere.npz"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="invalid file name"):
        artefacts.load_records(tmp_path)
    data["arrays"], data["format"] = None, "something/else"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="not a check record"):
        artefacts.load_records(tmp_path)


def test_pickled_arguments_are_loaded_only_on_request(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(artefacts.ARTEFACT_DIR_ENV, str(tmp_path))
        checks.auc_on_unseen(model, X, y, 0.9, record_model=True)
    (rec,) = artefacts.load_records(tmp_path)
    assert isinstance(rec.arguments["model"], PickledRef)
    assert replay_record(rec).passed, "no judge reads the pickle"
    (loaded,) = artefacts.load_records(tmp_path, allow_pickle=True)
    np.testing.assert_allclose(loaded.arguments["model"].coef_, model.coef_)


def test_encode_decode_round_trip():
    arrays: dict = {}
    pickles: dict = {}
    value = {
        "a": np.arange(3),
        "t": (1, None, "x"),
        "n": [np.float32(0.5), {"deep": np.eye(2)}],
        "b": np.bool_(True),
        "p": Pickled(object()),
    }
    encoded = artefacts.encode(value, arrays, pickles)
    text = json.dumps(encoded)
    decoded = artefacts.decode(json.loads(text), arrays, {"p0": "obj"})
    assert decoded["t"] == (1, None, "x") and decoded["b"] is True
    assert decoded["n"][0] == 0.5 and decoded["p"] == "obj"
    np.testing.assert_array_equal(decoded["n"][1]["deep"], np.eye(2))
    with pytest.raises(TypeError, match="object arrays"):
        artefacts.encode(np.array([{}], dtype=object), {}, {})
    with pytest.raises(TypeError, match="cannot record a set"):
        artefacts.encode({1, 2}, {}, {})


def test_sequence_numbers_are_unique_across_threads(tmp_path):
    def work():
        for _ in range(5):
            artefacts.record("values_close", {"found": np.zeros(1)}, folder=tmp_path)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.seq for r in artefacts.load_records(tmp_path)] == list(range(30))
