"""autograder.checks score checks: AUC, significance and background rejection, known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from autograder import checks
from autograder.checks import CheckFailed, _metrics


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.4).astype(np.int64)
    score = 1 / (1 + np.exp(-(2.0 * y - 1 + rng.normal(size=2000))))
    w = rng.uniform(0.5, 2.0, size=2000)
    return y, score, w


def test_auc_matches_sklearn(scored):  # through helpers.metrics
    y, s, w = scored
    assert _metrics.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert _metrics.roc_auc(y, s, sample_weight=w) == pytest.approx(
        roc_auc_score(y, s, sample_weight=w)
    )


def test_auc_passes_and_fails_at_threshold(scored):
    y, s, w = scored
    auc = roc_auc_score(y, s)
    checks.auc_at_least(y, s, auc - 1e-9)
    checks.auc_at_least(y, s[:, None], auc - 1e-9)  # (n, 1) scores
    checks.auc_at_least(y, np.column_stack([1 - s, s]), auc - 1e-9)  # softmax columns
    with pytest.raises(CheckFailed) as err:
        checks.auc_at_least(y, s, 0.95)
    assert str(err.value) == (
        f"Your AUC on the test set is {auc:.3g}, expected at least 0.95: train a better model."
    )
    wauc = roc_auc_score(y, s, sample_weight=w)
    with pytest.raises(CheckFailed, match=f"Your weighted AUC on the test set is {wauc:.3g}"):
        checks.auc_at_least(y, s, 0.95, sample_weight=w)


def test_inverted_scores_are_explained(scored):
    y, s, _ = scored
    with pytest.raises(CheckFailed, match="your scores are inverted"):
        checks.auc_at_least(y, 1 - s, 0.8)


def test_hidden_auc_reveals_neither_threshold_nor_value(scored):
    y, s, _ = scored
    auc = roc_auc_score(y, s)
    with pytest.raises(CheckFailed) as err:
        checks.auc_at_least(y, s, 0.9137, hidden=True)
    msg = str(err.value)
    assert msg == "Your model's AUC on unseen events is below what this part requires."
    assert "0.91" not in msg and f"{auc:.3g}" not in msg


def test_hidden_length_mismatch_does_not_reveal_the_size(scored):
    y, s, _ = scored
    with pytest.raises(CheckFailed) as err:
        checks.auc_at_least(y, s[:-1], 0.5, hidden=True)
    msg = str(err.value)
    assert "do not match the events of the unseen events" in msg
    assert "2000" not in msg and "1999" not in msg
    with pytest.raises(CheckFailed, match=r"\(1999 scores for 2000 events\)"):
        checks.auc_at_least(y, s[:-1], 0.5)


def test_invalid_inputs_fail_clearly(scored):
    y, s, _ = scored
    bad = s.copy()
    bad[:3] = np.nan
    with pytest.raises(CheckFailed, match="3 of your scores on the test set are NaN"):
        checks.auc_at_least(y, bad, 0.5)
    with pytest.raises(CheckFailed, match=r"must be 0 \(background\) and 1 \(signal\)"):
        checks.auc_at_least(np.ones_like(y), s, 0.5)
    with pytest.raises(CheckFailed, match=r"have shape \(2000, 3\)"):
        checks.auc_at_least(y, np.column_stack([s, s, s]), 0.5)


def _asimov(s: float, b: float) -> float:
    return math.sqrt(2 * ((s + b) * math.log(1 + s / b) - s))


def test_significance_known_answers():
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1])
    z, cut, b = _metrics.best_significance(y, s)  # cuts at 0.9 and 0.8 keep no background
    assert (z, cut, b) == (pytest.approx(_asimov(2, 1)), 0.7, 1.0)
    z, cut, b = _metrics.best_significance(y, s, cut=0.1)
    assert (z, b) == (pytest.approx(_asimov(2, 2)), 2.0)
    w = np.array([0.5, 0.5, 4.0, 1.0])
    z, _, b = _metrics.best_significance(y, s, sample_weight=w, cut=0.1)
    assert (z, b) == (pytest.approx(_asimov(1, 5)), 5.0)
    assert _metrics.best_significance(y, s, cut=0.75) == (0.0, 0.75, 0.0)
    with pytest.raises(CheckFailed) as err:
        checks.significance_at_least(y, s, 1.0, cut=0.75)
    assert str(err.value) == (
        "Your cut at 0.75 keeps a background of 0 events on the test set: with (almost) no "
        "background the significance means nothing; loosen the cut."
    )
    checks.significance_at_least(y, s, 1.6, cut=0.7)


def test_significance_check(scored):
    y, s, w = scored
    z, cut, _ = _metrics.best_significance(y, s, sample_weight=w)
    checks.significance_at_least(y, s, z - 1e-9, sample_weight=w)
    with pytest.raises(CheckFailed) as err:
        checks.significance_at_least(y, s, z + 1, sample_weight=w)
    assert str(err.value).startswith(
        f"The significance on the test set at the best cut ({cut:.3g}) is {z:.3g}σ, expected at "
        f"least {z + 1:.3g}σ"
    )
    with pytest.raises(CheckFailed, match=r"on the test set with your cut at 0\.8 is"):
        checks.significance_at_least(y, s, z, sample_weight=w, cut=0.8)
    with pytest.raises(CheckFailed) as err:
        checks.significance_at_least(y, s, z + 1, sample_weight=w, hidden=True)
    assert str(err.value) == (
        "Your model's significance on unseen events is below what this part requires."
    )


def test_rejection_known_answer():
    sig = np.linspace(1.0, 0.91, 10)
    bkg = np.array([0.985] + [0.0] * 9)
    y = np.r_[np.ones(10), np.zeros(10)]
    s = np.r_[sig, bkg]
    assert _metrics.rejection_at(y, s, 0.3) == pytest.approx(10.0)
    assert _metrics.rejection_at(y, s, 0.2) == math.inf
    checks.rejection_at_least(y, s, 10.0)
    with pytest.raises(CheckFailed) as err:
        checks.rejection_at_least(y, s, 50)
    assert str(err.value) == (
        "Your background rejection (1/ε_B) at 30% signal efficiency on the test set is 10, "
        "expected at least 50: improve the classifier."
    )
    checks.rejection_at_least(y, s, 1e9, signal_efficiency=0.2)


def test_negative_total_weight_is_a_sentence(scored):
    y, s, w = scored
    w = np.where(y == 0, -w, w)  # the background weighs less than nothing
    with pytest.raises(CheckFailed, match="Your AUC on the test set cannot be computed"):
        checks.auc_at_least(y, s, 0.5, sample_weight=w)
    with pytest.raises(CheckFailed) as err:
        checks.auc_at_least(y, s, 0.5, sample_weight=w, hidden=True)
    assert str(err.value) == (
        "Your model's AUC on unseen events cannot be computed: check its scores."
    )


def test_auc_on_unseen_fails_a_model_that_is_the_twins_truth():
    """A 'model' computing the generator's likelihood ratio ranks events as the truth does; a
    trained model (the truth plus the error of learning it) does not reach 0.999."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 2))
    truth = X[:, 0] + 0.5 * X[:, 1]
    y = (truth + rng.logistic(size=2000) > 0).astype(int)
    with pytest.raises(CheckFailed, match="true likelihood ratio"):
        checks.auc_on_unseen(
            lambda x: 1 / (1 + np.exp(-(x[:, 0] + 0.5 * x[:, 1]))), X, y, 0.6, truth=truth
        )
    learned = lambda x: x[:, 0] + 0.45 * x[:, 1] + 0.3 * np.tanh(x[:, 1])  # noqa: E731
    checks.auc_on_unseen(learned, X, y, 0.6, truth=truth)


def test_auc_on_unseen_keeps_the_labels_on_the_judges_side():
    """The labels are in the specification: the derive step (run where the model runs) does not
    refer to them."""
    seen = {}

    def spy(name, derive, spec=None):
        seen["closure"] = [c.cell_contents for c in derive.__closure__ or ()]
        seen["spec"] = spec

    y = np.array([0, 1, 0, 1, 1])
    original = checks.scores.run_check
    checks.scores.run_check = spy
    try:
        checks.auc_on_unseen(lambda x: x[:, 0], np.zeros((5, 1)), y, 0.5)
    finally:
        checks.scores.run_check = original
    assert not any(isinstance(v, np.ndarray) and v.shape == y.shape for v in seen["closure"])
    np.testing.assert_array_equal(seen["spec"]["y_true"], y)
