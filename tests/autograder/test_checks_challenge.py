"""autograder.checks.challenge_predictions on files and arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autograder import checks
from autograder.checks import CheckFailed

N = 50


@pytest.fixture
def scores() -> np.ndarray:
    return np.random.default_rng(0).random(N)


def test_good_files_pass(tmp_path, scores):
    np.save(tmp_path / "p.npy", scores)
    checks.challenge_predictions(tmp_path / "p.npy", N)
    checks.challenge_predictions(str(tmp_path / "p.npy"), N)
    np.savez(tmp_path / "p.npz", predictions=scores, other=scores)
    checks.challenge_predictions(tmp_path / "p.npz", N)
    pd.DataFrame({"id": np.arange(N), "prediction": scores}).to_csv(tmp_path / "p.csv", index=False)
    checks.challenge_predictions(tmp_path / "p.csv", N)
    np.savetxt(tmp_path / "p.txt", scores)
    checks.challenge_predictions(tmp_path / "p.txt", N)
    checks.challenge_predictions(scores[:, None].astype(np.float32), N)
    checks.challenge_predictions(scores * 10 - 5, N, output="finite")


def test_wrong_length(tmp_path, scores):
    np.save(tmp_path / "p.npy", scores[:-1])
    with pytest.raises(CheckFailed) as err:
        checks.challenge_predictions(tmp_path / "p.npy", N)
    assert str(err.value) == (
        "Your predictions hold 49 values, expected 50: one per challenge event, in the order of "
        "the challenge file."
    )


def test_integer_decisions_fail(tmp_path, scores):
    decisions = (scores > 0.5).astype(np.int64)
    with pytest.raises(CheckFailed, match="Your predictions are integers"):
        checks.challenge_predictions(decisions, N)
    pd.DataFrame({"prediction": decisions}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(CheckFailed, match="Your predictions are integers"):
        checks.challenge_predictions(tmp_path / "d.csv", N)
    with pytest.raises(CheckFailed, match="take only 2 distinct values: submit the model's scores"):
        checks.challenge_predictions(decisions.astype(np.float64), N)


def test_out_of_range_nan_and_shape(scores):
    with pytest.raises(CheckFailed, match=r"range from -5 to .*expected probabilities in \[0, 1\]"):
        checks.challenge_predictions(np.r_[-5.0, scores[1:]], N)
    with pytest.raises(CheckFailed, match="1 of your predictions are NaN or infinite"):
        checks.challenge_predictions(np.r_[np.nan, scores[1:]], N)
    with pytest.raises(CheckFailed, match=r"have shape \(50, 2\), expected one score per event"):
        checks.challenge_predictions(np.column_stack([scores, scores]), N)


def test_unreadable_files_fail_with_a_sentence(tmp_path, scores):
    with pytest.raises(CheckFailed, match="There is no prediction file at"):
        checks.challenge_predictions(tmp_path / "missing.npy", N)
    (tmp_path / "p.json").write_text("[]")
    with pytest.raises(CheckFailed, match=r"Save your predictions as .npy or .csv, not .json"):
        checks.challenge_predictions(tmp_path / "p.json", N)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckFailed, match=r"Could not read obj.npy \(ValueError\)"):
        checks.challenge_predictions(tmp_path / "obj.npy", N)
    pd.DataFrame({"a": scores, "b": scores}).to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(CheckFailed, match=r"two.csv has columns \['a', 'b'\]: name the score"):
        checks.challenge_predictions(tmp_path / "two.csv", N)
    (tmp_path / "text.csv").write_text("prediction\n0.5\nabc\n" + "0.1\n" * (N - 2))
    with pytest.raises(CheckFailed, match="1 entries of your predictions are not numbers"):
        checks.challenge_predictions(tmp_path / "text.csv", N)
