"""Checks of a classifier's performance: AUC, significance, background rejection.

Each takes labels and scores (and event weights where the assignment is weighted) and a threshold
from the test cell. With ``hidden=True`` (hidden tests on unseen events) a failure says only that
the figure is below what the part requires: neither the threshold nor the value is shown.
:func:`auc_on_unseen` scores a model itself on events the test cell provides.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograder.checks import _metrics
from autograder.checks._convert import to_numpy
from autograder.checks._core import Verdict, fail, fmt, passed, pct, register, run_check
from autograder.checks.models import error_text, model_scores
from autograder.checks.records import Pickled

__all__ = ["auc_at_least", "auc_on_unseen", "rejection_at_least", "significance_at_least"]


def _scores_1d(s: Any, what: str = "the scores") -> np.ndarray:
    a = np.asarray(to_numpy(s, what), dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        return a[:, 0]
    if a.ndim == 2 and a.shape[1] == 2:  # softmax over (background, signal)
        return a[:, 1]
    return a


def _score_data(y_true: Any, y_score: Any, sample_weight: Any) -> dict[str, Any]:
    return {
        "y_true": np.asarray(to_numpy(y_true, "the labels"), dtype=np.float64).ravel(),
        "y_score": _scores_1d(y_score),
        "sample_weight": None
        if sample_weight is None
        else np.asarray(to_numpy(sample_weight, "the weights"), dtype=np.float64).ravel(),
    }


def _invalid(
    y_true: np.ndarray,
    y_score: np.ndarray,
    sample_weight: np.ndarray | None,
    hidden: bool,
    what: str,
) -> Verdict | None:
    """A failing verdict when the inputs cannot be scored, else None (no hidden data shown)."""
    y, s = np.asarray(y_true), np.asarray(y_score)
    where = "the unseen events" if hidden else f"the {what}"
    if s.ndim != 1:
        shape = f"{s.ndim} axes" if hidden else f"shape {s.shape}"
        return fail(
            f"Your scores on {where} have {shape}, expected one score per event: "
            "use the signal column or flatten them."
        )
    if len(s) != len(y):
        detail = "" if hidden else f" ({len(s)} scores for {len(y)} events)"
        return fail(f"Your scores do not match the events of {where}{detail}: one per event.")
    if not np.all(np.isfinite(s)):
        k = int(np.count_nonzero(~np.isfinite(s)))
        return fail(f"{k} of your scores on {where} are NaN or infinite: check the model.")
    if not np.all(np.isin(y, (0.0, 1.0))) or len(np.unique(y)) != 2:
        return fail(
            f"The labels of {where} must be 0 (background) and 1 (signal), both present: "
            "pass the true labels."
        )
    if sample_weight is not None and len(np.asarray(sample_weight)) != len(y):
        return fail(f"The weights do not match the events of {where}: one weight per event.")
    return None


def _undefined(figure: str, exc: Exception, hidden: bool, what: str) -> Verdict:
    if hidden:
        return fail(f"Your model's {figure} on unseen events cannot be computed: check its scores.")
    return fail(f"Your {figure} on the {what} cannot be computed ({exc}).")


def _hidden_fail(figure: str) -> Verdict:
    return fail(f"Your model's {figure} on unseen events is below what this part requires.")


# --------------------------------------------------------------------------------------------


def auc_at_least(
    y_true: Any,
    y_score: Any,
    threshold: float,
    *,
    sample_weight: Any = None,
    hidden: bool = False,
    what: str = "test set",
) -> None:
    """Check that the ROC AUC of ``y_score`` is at least ``threshold``.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        1 for signal, 0 for background.
    y_score : array-like, shape (n,), (n, 1) or (n, 2)
        Scores, higher for signal (with two columns, the second is the signal's).
    threshold : float
        Smallest accepted AUC.
    sample_weight : array-like, shape (n,), optional
        Event weights, for a weighted assignment.
    hidden : bool
        Hidden test: the message shows neither the threshold nor the AUC.
    what : str
        Names the events in a visible message (``"test set"``).

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True
    spec = {"threshold": float(threshold), "hidden": bool(hidden), "what": str(what)}
    run_check("auc_at_least", lambda: _score_data(y_true, y_score, sample_weight), spec)


@register("auc_at_least")
def _judge_auc_at_least(
    y_true: np.ndarray,
    y_score: np.ndarray,
    sample_weight: np.ndarray | None,
    threshold: float,
    hidden: bool,
    what: str,
) -> Verdict:
    bad = _invalid(y_true, y_score, sample_weight, hidden, what)
    if bad is not None:
        return bad
    try:
        auc = _metrics.roc_auc(y_true, y_score, sample_weight=sample_weight)
    except ValueError as exc:  # e.g. a class whose total weight is not positive
        return _undefined("AUC", exc, hidden, what)
    if auc >= threshold:
        return passed()
    if hidden:
        return _hidden_fail("AUC")
    name = "weighted AUC" if sample_weight is not None else "AUC"
    hint = "train a better model"
    if auc < 0.45:
        hint = "below 0.5 your scores are inverted: signal should get the high scores"
    elif auc < 0.55:
        hint = "near 0.5 the scores do not separate signal from background (is the model trained?)"
    return fail(
        f"Your {name} on the {what} is {fmt(auc, 3)}, expected at least {fmt(threshold, 3)}: "
        f"{hint}."
    )


# --------------------------------------------------------------------------------------------


def auc_on_unseen(
    model: Any,
    X: Any,
    y_true: Any,
    threshold: float,
    *,
    sample_weight: Any = None,
    hidden: bool = True,
    output: str = "probability",
    record_model: bool = False,
    truth: Any = None,
) -> None:
    """Score ``model`` on events it never saw and check that its AUC is at least ``threshold``.

    The check computes the scores itself (see :func:`~autograder.checks.models.model_scores`) and
    records them, so a hidden test can feed hidden events the student never had.

    Parameters
    ----------
    model : torch.nn.Module, keras.Model, scikit-learn classifier or callable
    X : array-like, shape (n, n_inputs)
        The unseen events, prepared as the model expects them (scaled like the training set).
    y_true : array-like, shape (n,)
        Their labels, 1 for signal.
    threshold : float
        Smallest accepted AUC.
    sample_weight : array-like, shape (n,), optional
    hidden : bool
        Keep the threshold and the AUC out of the message (default True).
    output : {"probability", "logits"}
    record_model : bool
        Also record the model with cloudpickle (only while grading), for a grader that re-scores
        it in a sandbox; no judge reads it.
    truth : array-like, shape (n,), optional
        The twin's true (log) likelihood ratio of the events: scores that rank the events as it
        does (Spearman correlation above :data:`TRUTH_CORRELATION`) fail, since a trained model
        does not reach that; a model that computes the generator's formula does.

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True

    # The labels and weights are the judge's: they never reach the process that runs the model.
    labels = _score_data(y_true, np.zeros(0), sample_weight)

    def derive() -> dict[str, Any]:
        data: dict[str, Any] = {}
        try:
            data["y_score"] = _scores_1d(model_scores(model, X, output=output))
            data["error"] = None
        except Exception as exc:
            data["y_score"], data["error"] = None, error_text(exc)
        if record_model:
            data["model"] = Pickled(model)
        return data

    spec = {
        "threshold": float(threshold),
        "hidden": bool(hidden),
        "y_true": labels["y_true"],
        "sample_weight": labels["sample_weight"],
    }
    if truth is not None:
        spec["truth"] = np.asarray(to_numpy(truth, "the true likelihood ratio"), dtype=np.float64)
    run_check("auc_on_unseen", derive, spec)


@register("auc_on_unseen")
def _judge_auc_on_unseen(
    y_true: np.ndarray,
    y_score: np.ndarray | None,
    sample_weight: np.ndarray | None,
    error: str | None,
    threshold: float,
    hidden: bool,
    model: Any = None,
    truth: np.ndarray | None = None,
) -> Verdict:
    if error is not None or y_score is None:
        return fail(f"Your model could not score the unseen events ({error}).")
    if truth is not None and _ranks_like(y_score, truth):
        return fail(
            "Your model ranks the unseen events exactly as the generator's true likelihood ratio "
            "does: the model must be one you trained, not the twin's formula."
        )
    return _judge_auc_at_least(
        y_true, y_score, sample_weight, threshold, hidden, what="unseen events"
    )


#: Spearman correlation with the twin's truth above which scores are the truth, not a model's.
TRUTH_CORRELATION = 0.999


def truth_correlation(y_score: Any, truth: Any) -> float:
    """Spearman correlation of scores with a twin's true likelihood ratio (nan: not comparable)."""
    from scipy.stats import spearmanr

    s = np.asarray(y_score, dtype=np.float64).ravel()
    t = np.asarray(truth, dtype=np.float64).ravel()
    if s.shape != t.shape:
        return math.nan
    ok = np.isfinite(s) & np.isfinite(t)
    if ok.sum() < 10:
        return math.nan
    return float(spearmanr(s[ok], t[ok]).statistic)


def _ranks_like(y_score: Any, truth: np.ndarray) -> bool:
    rho = truth_correlation(y_score, truth)
    return bool(np.isfinite(rho) and rho > TRUTH_CORRELATION)


# --------------------------------------------------------------------------------------------


def significance_at_least(
    y_true: Any,
    y_score: Any,
    threshold: float,
    *,
    sample_weight: Any = None,
    cut: float | None = None,
    min_background: float = 0.0,
    hidden: bool = False,
    what: str = "test set",
) -> None:
    """Check the expected (Asimov) discovery significance of a selection on the scores.

    With ``cut``, the selection is ``y_score >= cut``; without, the best cut is taken. The
    significance is :func:`helpers.metrics.asimov_significance` of the weighted signal and
    background kept.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        1 for signal, 0 for background.
    y_score : array-like, shape (n,)
    threshold : float
        Smallest accepted significance, in standard deviations.
    sample_weight : array-like, shape (n,), optional
        Event yields (expected events per simulated event, at the assignment's luminosity).
    cut : float, optional
        The student's cut on the score.
    min_background : float
        A selection must keep more background than this (in weighted events) to count: a cut
        that keeps none has an infinite, meaningless significance.
    hidden : bool
        Keep the threshold and the value out of the message.
    what : str

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True
    spec = {
        "threshold": float(threshold),
        "cut": None if cut is None else float(cut),
        "min_background": float(min_background),
        "hidden": bool(hidden),
        "what": str(what),
    }
    run_check("significance_at_least", lambda: _score_data(y_true, y_score, sample_weight), spec)


@register("significance_at_least")
def _judge_significance_at_least(
    y_true: np.ndarray,
    y_score: np.ndarray,
    sample_weight: np.ndarray | None,
    threshold: float,
    cut: float | None,
    min_background: float,
    hidden: bool,
    what: str,
) -> Verdict:
    bad = _invalid(y_true, y_score, sample_weight, hidden, what)
    if bad is not None:
        return bad
    z, at, b = _metrics.best_significance(
        y_true, y_score, sample_weight=sample_weight, cut=cut, min_background=min_background
    )
    if cut is not None and b <= min_background and not hidden:
        return fail(
            f"Your cut at {fmt(cut, 3)} keeps a background of {fmt(b, 3)} events on the {what}: "
            "with (almost) no background the significance means nothing; loosen the cut."
        )
    if z >= threshold:
        return passed()
    if hidden:
        return _hidden_fail("significance")
    where = (
        f"with your cut at {fmt(at, 3)}" if cut is not None else f"at the best cut ({fmt(at, 3)})"
    )
    return fail(
        f"The significance on the {what} {where} is {fmt(z, 3)}σ, expected at least "
        f"{fmt(threshold, 3)}σ: check the weights and the cut, or improve the classifier."
    )


# --------------------------------------------------------------------------------------------


def rejection_at_least(
    y_true: Any,
    y_score: Any,
    threshold: float,
    *,
    signal_efficiency: float = 0.3,
    sample_weight: Any = None,
    hidden: bool = False,
    what: str = "test set",
) -> None:
    """Check the background rejection ``1 / eps_B`` at a working point of signal efficiency.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        1 for signal, 0 for background.
    y_score : array-like, shape (n,)
    threshold : float
        Smallest accepted rejection.
    signal_efficiency : float
        The working point ``eps_S`` (true-positive rate), 0.3 for the top-tagging benchmark.
    sample_weight : array-like, shape (n,), optional
    hidden : bool
    what : str

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True
    spec = {
        "threshold": float(threshold),
        "signal_efficiency": float(signal_efficiency),
        "hidden": bool(hidden),
        "what": str(what),
    }
    run_check("rejection_at_least", lambda: _score_data(y_true, y_score, sample_weight), spec)


@register("rejection_at_least")
def _judge_rejection_at_least(
    y_true: np.ndarray,
    y_score: np.ndarray,
    sample_weight: np.ndarray | None,
    threshold: float,
    signal_efficiency: float,
    hidden: bool,
    what: str,
) -> Verdict:
    bad = _invalid(y_true, y_score, sample_weight, hidden, what)
    if bad is not None:
        return bad
    try:
        r = _metrics.rejection_at(y_true, y_score, signal_efficiency, sample_weight=sample_weight)
    except ValueError as exc:  # negative weights dominating, or an efficiency out of (0, 1]
        return _undefined("background rejection", exc, hidden, what)
    if r >= threshold:
        return passed()
    if hidden:
        return _hidden_fail("background rejection")
    return fail(
        f"Your background rejection (1/ε_B) at {pct(signal_efficiency)} signal efficiency on the "
        f"{what} is {fmt(r, 3)}, expected at least {fmt(threshold, 3)}: improve the classifier."
    )
