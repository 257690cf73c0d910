"""Classifier metrics for particle physics: ROC, AUC, background rejection, significance.

Every function here is a pure function of arrays: nothing prints, plots or keeps state.

Conventions used throughout (``y_true``: 1 = signal, 0 = background; a cut keeps ``score >= t``):

- signal efficiency ε_S = true-positive rate (TPR): weighted fraction of signal kept by the cut;
- background efficiency ε_B = false-positive rate (FPR): the same for background;
- background rejection = 1/ε_B (the top-tagging figure of merit, quoted at ε_S = 0.3 or 0.5).

Event weights (``sample_weight``) may be negative, as NLO generators produce. The weighted
estimators below stay defined then: a ROC curve may leave [0, 1] or turn back on itself, and the
AUC is the trapezoid of that curve, which equals the weighted Mann-Whitney statistic
Σ_{i∈S, j∈B} w_i w_j ([s_i > s_j] + ½[s_i = s_j]) / (W_S W_B). scikit-learn's ``roc_auc_score``
refuses such a curve when its FPR is not monotonic; we integrate it instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "RocCurve",
    "SignificanceScan",
    "asimov_significance",
    "background_rejection",
    "ks_test",
    "permutation_importance",
    "roc_auc",
    "roc_curve",
    "significance_scan",
]


class RocCurve(NamedTuple):
    """A ROC curve; unpacks as ``fpr, tpr, thresholds`` like scikit-learn's.

    Attributes
    ----------
    fpr : ndarray, shape (n_points,)
        Background efficiency ε_B of the cut ``score >= thresholds[i]``.
    tpr : ndarray, shape (n_points,)
        Signal efficiency ε_S of the same cut.
    thresholds : ndarray, shape (n_points,)
        Score cuts in decreasing order; ``thresholds[0]`` is ``inf`` (nothing kept).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


class SignificanceScan(NamedTuple):
    """Result of :func:`significance_scan`.

    Attributes
    ----------
    thresholds : ndarray, shape (n_cuts,)
        Score cuts; a cut keeps events with ``score >= threshold``.
    s, b : ndarray, shape (n_cuts,)
        Weighted signal and background counts kept by each cut (events, or the units of the
        weights, e.g. expected events at a luminosity).
    z : ndarray, shape (n_cuts,)
        Asimov significance of each cut (see :func:`asimov_significance`).
    best_threshold : float
        The cut with the largest significance among the eligible cuts.
    best_z : float
        Its significance.
    """

    thresholds: np.ndarray
    s: np.ndarray
    b: np.ndarray
    z: np.ndarray
    best_threshold: float
    best_z: float


def _binary_inputs(
    y_true: ArrayLike,
    y_score: ArrayLike,
    sample_weight: ArrayLike | None,
    *,
    require_both_classes: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check and convert (labels, scores, weights); labels come back as a bool array."""
    y = np.asarray(y_true)
    score = np.asarray(y_score, dtype=float)
    if y.ndim != 1 or score.ndim != 1 or len(y) != len(score):
        raise ValueError(
            f"y_true and y_score must be 1-D arrays of the same length, got shapes "
            f"{y.shape} and {score.shape}"
        )
    if len(y) == 0:
        raise ValueError("y_true and y_score are empty")
    if not np.isin(y, [0, 1]).all():
        raise ValueError(
            f"y_true must hold only 0 (background) and 1 (signal), got values {np.unique(y)[:5]}"
        )
    if not np.isfinite(score).all():
        raise ValueError("y_score contains NaN or infinite values")
    is_signal = y.astype(bool)
    weight = None
    if sample_weight is not None:
        weight = np.asarray(sample_weight, dtype=float)
        if weight.shape != score.shape:
            raise ValueError(
                f"sample_weight must have shape {score.shape} like y_score, got {weight.shape}"
            )
        if not np.isfinite(weight).all():
            raise ValueError("sample_weight contains NaN or infinite values")
    if require_both_classes:
        for name, mask in (("signal", is_signal), ("background", ~is_signal)):
            if not mask.any():
                raise ValueError(f"the ROC curve is undefined: y_true has no {name} events")
            total = mask.sum() if weight is None else weight[mask].sum()
            if total <= 0:
                raise ValueError(
                    f"the ROC curve is undefined: the total {name} weight is {total:g} "
                    "(efficiencies are fractions of it, so it must be positive)"
                )
    return is_signal, score, weight


def roc_curve(
    y_true: ArrayLike, y_score: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> RocCurve:
    """Weighted ROC curve: background efficiency against signal efficiency for every cut.

    Built on :func:`sklearn.metrics.roc_curve`; collinear intermediate points are dropped,
    which changes neither the curve drawn nor its area.

    Parameters
    ----------
    y_true : array_like, shape (n_events,)
        1 for signal, 0 for background (bool or numbers).
    y_score : array_like, shape (n_events,)
        Classifier output; larger means more signal-like. Must be finite.
    sample_weight : array_like, shape (n_events,), optional
        Event weights, possibly negative. The total weight of each class must be positive.

    Returns
    -------
    RocCurve
        ``(fpr, tpr, thresholds)``: fpr = ε_B (background efficiency), tpr = ε_S (signal
        efficiency) of the cut ``score >= thresholds[i]``, thresholds decreasing from ``inf``.
        With negative weights the efficiencies need not be monotonic nor within [0, 1].

    Raises
    ------
    ValueError
        If a class is absent or its total weight is not positive, on mismatched shapes, labels
        other than 0/1, or non-finite scores or weights.
    """
    from sklearn.metrics import roc_curve as sklearn_roc_curve  # slow import, on first use

    is_signal, score, weight = _binary_inputs(y_true, y_score, sample_weight)
    fpr, tpr, thresholds = sklearn_roc_curve(is_signal, score, sample_weight=weight)
    return RocCurve(fpr, tpr, thresholds)


def roc_auc(
    y_true: ArrayLike, y_score: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> float:
    """Weighted area under the ROC curve (ε_S integrated over ε_B).

    The trapezoid of :func:`roc_curve`'s curve, with signed steps, so that it is right for
    negative weights too: it equals the probability that a random signal event scores above a
    random background event (ties count one half), each event counted with its weight. It equals
    :func:`sklearn.metrics.roc_auc_score` whenever that is defined. 1 is perfect separation, 0.5
    a random classifier, 0 a perfectly reversed one; with negative weights it may leave [0, 1].

    Parameters
    ----------
    y_true, y_score, sample_weight
        As in :func:`roc_curve`.

    Returns
    -------
    float
        The area (dimensionless).

    Raises
    ------
    ValueError
        Where the curve is undefined (see :func:`roc_curve`).
    """
    fpr, tpr, _ = roc_curve(y_true, y_score, sample_weight=sample_weight)
    # the trapezoid rule written out: np.trapezoid needs NumPy 2, and the course allows 1.26
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)


def background_rejection(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    signal_efficiency: float | ArrayLike = 0.3,
    sample_weight: ArrayLike | None = None,
) -> float | np.ndarray:
    """Background rejection 1/ε_B at a given signal efficiency ε_S.

    ε_B is interpolated linearly along the ROC curve between the two cuts around the requested
    ε_S (a linear mix of two cuts is itself a valid selection). Walking from the tightest cut,
    the first point that reaches ε_S is used, i.e. the lowest ε_B that reaches it.

    Parameters
    ----------
    y_true, y_score, sample_weight
        As in :func:`roc_curve`.
    signal_efficiency : float or array_like of float
        Target ε_S, each in (0, 1]. Default 0.3, the usual top-tagging working point.

    Returns
    -------
    float or ndarray
        1/ε_B, one per requested efficiency (a float for a scalar request). It is ``inf`` where
        ε_B = 0, i.e. no background passes: with a finite sample the true rejection is then only
        known to exceed about the number of background events.

    Raises
    ------
    ValueError
        If a requested efficiency is outside (0, 1], if the interpolated ε_B is negative (possible
        with negative weights), or where the ROC curve is undefined.
    """
    target = np.asarray(signal_efficiency, dtype=float)
    if not ((target > 0) & (target <= 1)).all():
        raise ValueError(f"signal_efficiency must be in (0, 1], got {signal_efficiency}")
    fpr, tpr, _ = roc_curve(y_true, y_score, sample_weight=sample_weight)
    eps_b = np.empty(target.shape)
    for k, eff in np.ndenumerate(target):
        i = int(np.argmax(tpr >= eff))  # first reaching eff; tpr[0] = 0 < eff so i >= 1
        frac = (eff - tpr[i - 1]) / (tpr[i] - tpr[i - 1])
        eps_b[k] = fpr[i - 1] + frac * (fpr[i] - fpr[i - 1])
    if (eps_b < 0).any():
        raise ValueError(
            f"the weighted background efficiency at signal efficiency {signal_efficiency} is "
            f"negative ({eps_b.min():g}): negative event weights dominate there"
        )
    with np.errstate(divide="ignore"):
        rejection = 1.0 / eps_b
    return float(rejection) if rejection.ndim == 0 else rejection


def asimov_significance(s: ArrayLike, b: ArrayLike) -> float | np.ndarray:
    """Median discovery significance Z = sqrt(2((s+b) ln(1+s/b) - s)) of a counting experiment.

    The Asimov formula (Cowan, Cranmer, Gross, Vitells, Eur. Phys. J. C 71 (2011) 1554, eq. 97)
    for s expected signal events over b expected background events, with b known exactly.
    Vectorised over broadcast ``s`` and ``b``, and numerically stable for s ≪ b, where it tends
    to s/sqrt(b) (a series replaces the formula's cancellation below s/b = 0.01).

    Limits and edge cases (no warnings are raised):

    - b = 0, s > 0: ``inf`` (the formula diverges like sqrt(2 s ln(s/b)));
    - s ≤ 0, b ≥ 0: 0 (a one-sided discovery test: a deficit is no evidence of signal);
    - b < 0: ``nan`` (negative expected background is unphysical; it appears with negative
      weights in sparsely filled regions);
    - s = ``inf`` with finite b: ``inf``; b = ``inf`` with finite s: 0; NaN in gives NaN out.

    Parameters
    ----------
    s : array_like
        Expected signal events (weighted count).
    b : array_like
        Expected background events (weighted count), broadcastable against ``s``.

    Returns
    -------
    float or ndarray
        Z in standard deviations, a float when both inputs are scalars.
    """
    s_arr, b_arr = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(b, dtype=float))
    z = np.full(s_arr.shape, np.nan)
    z[(s_arr <= 0) & (b_arr >= 0)] = 0.0
    z[(s_arr > 0) & (b_arr == 0)] = np.inf
    z[np.isposinf(s_arr) & np.isfinite(b_arr) & (b_arr >= 0)] = np.inf
    z[np.isposinf(b_arr) & np.isfinite(s_arr)] = 0.0
    regular = (s_arr > 0) & (b_arr > 0) & np.isfinite(s_arr) & np.isfinite(b_arr)
    sr, br = s_arr[regular], b_arr[regular]
    x = sr / br
    small = x < 1e-2
    # q = (s+b) ln(1+x) - s = (s²/b)·Σ_{n>=2} (-1)^n x^(n-2) / (n(n-1)): for small x, where the
    # closed form loses digits to cancellation, summed to n = 10 (truncation error below 1e-19).
    xs = x[small]
    poly = np.zeros_like(xs)
    for n in range(10, 1, -1):
        poly = (-1) ** n / (n * (n - 1)) + xs * poly
    z_regular = np.empty_like(x)
    z_regular[small] = sr[small] / np.sqrt(br[small]) * np.sqrt(2.0 * poly)  # 2q = s²/b · 2·poly
    large = ~small
    q = (sr[large] + br[large]) * np.log1p(x[large]) - sr[large]
    z_regular[large] = np.sqrt(2.0 * q)
    z[regular] = z_regular
    return float(z) if z.ndim == 0 else z


def significance_scan(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    thresholds: int | ArrayLike | None = None,
    min_background: float = 0.0,
) -> SignificanceScan:
    """Asimov significance of the cut ``score >= t`` for a range of thresholds t.

    Parameters
    ----------
    y_true : array_like, shape (n_events,)
        1 for signal, 0 for background.
    y_score : array_like, shape (n_events,)
        Classifier output, finite.
    sample_weight : array_like, shape (n_events,), optional
        Event weights, e.g. normalised to expected events at the analysis luminosity. Without
        them s and b are raw event counts.
    thresholds : int or array_like, optional
        ``None`` (default): every distinct score, which finds the exact best cut. An int n: n cuts
        evenly spaced from the lowest to the highest score. An array: those cuts, in that order.
    min_background : float
        Cuts with ``b <= min_background`` are scanned but cannot be the best one. The default 0
        excludes cuts without background (Z = inf); raise it (to a few events) so that the best
        cut is not tuned on fluctuations of a small simulated background.

    Returns
    -------
    SignificanceScan
        ``(thresholds, s, b, z, best_threshold, best_z)``; ties go to the first cut scanned.

    Raises
    ------
    ValueError
        If no cut keeps more background than ``min_background``, or on invalid inputs.
    """
    is_signal, score, weight = _binary_inputs(
        y_true, y_score, sample_weight, require_both_classes=False
    )
    if thresholds is None:
        cuts = np.unique(score)
    elif np.ndim(thresholds) == 0:
        cuts = np.linspace(score.min(), score.max(), int(thresholds))
    else:
        cuts = np.asarray(thresholds, dtype=float).ravel()
    if weight is None:
        weight = np.ones_like(score)
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]

    def kept(w: np.ndarray) -> np.ndarray:
        # suffix sums: weight of the events at sorted position >= i, with 0 past the end
        suffix = np.append(np.cumsum(w[order][::-1])[::-1], 0.0)
        return suffix[np.searchsorted(sorted_score, cuts, side="left")]

    s = kept(np.where(is_signal, weight, 0.0))
    b = kept(np.where(is_signal, 0.0, weight))
    z = asimov_significance(s, b)
    eligible = (b > min_background) & np.isfinite(z)
    if not eligible.any():
        raise ValueError(
            f"no cut keeps a background above min_background={min_background}: "
            "the best cut is undefined"
        )
    best = int(np.argmax(np.where(eligible, z, -np.inf)))
    return SignificanceScan(cuts, s, b, z, float(cuts[best]), float(z[best]))


def permutation_importance(
    predict: Callable[[np.ndarray | pd.DataFrame], ArrayLike],
    X: np.ndarray | pd.DataFrame,
    y: ArrayLike,
    *,
    metric: Callable[..., float] = roc_auc,
    n_repeats: int = 5,
    seed: int | None = 0,
    feature_names: Sequence[str] | None = None,
    sample_weight: ArrayLike | None = None,
) -> pd.DataFrame:
    """Drop of a metric when each feature's column is shuffled, for any trained classifier.

    Shuffling a column breaks its relation with the label (and with the other features) while
    keeping its distribution; the larger the drop of the metric, the more the model relies on it.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> scores`` of shape (n_events,) or (n_events, 1), e.g. a Keras
        ``model.predict``, ``lambda X: clf.predict_proba(X)[:, 1]`` for scikit-learn, or a
        wrapper that runs a torch module and returns a NumPy array. It receives an object of the
        same type as ``X`` (DataFrame columns keep their names and order).
    X : ndarray, shape (n_events, n_features), or DataFrame
        Features of a held-out sample.
    y : array_like, shape (n_events,)
        Labels passed to ``metric``.
    metric : callable
        ``metric(y, scores) -> float``, larger is better. Default :func:`roc_auc`.
    n_repeats : int
        Shuffles per feature.
    seed : int or None
        Seed of the shuffles (NumPy ``default_rng``).
    feature_names : sequence of str, optional
        Names of the columns of an ndarray ``X`` (default ``x0``, ``x1``, ...). A DataFrame's
        names are its columns; passing different names for one raises.
    sample_weight : array_like, shape (n_events,), optional
        Passed to ``metric`` as ``sample_weight=`` when given.

    Returns
    -------
    DataFrame
        Indexed by feature name in the column order of ``X`` (not sorted), with columns ``mean``
        and ``std`` (population std over the repeats, as scikit-learn) of the drop
        ``metric(original) - metric(shuffled)``. ``attrs["baseline"]`` holds the unshuffled
        metric value.
    """
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be at least 1, got {n_repeats}")
    is_frame = isinstance(X, pd.DataFrame)
    if is_frame:
        names = [str(c) for c in X.columns]
        if feature_names is not None and list(feature_names) != names:
            raise ValueError(
                "feature_names differ from the DataFrame's columns; the names are taken from "
                f"the columns: {names}"
            )
        work = X.copy()
    else:
        work = np.array(X, copy=True)
        if work.ndim != 2:
            raise ValueError(f"X must be 2-D (n_events, n_features), got shape {work.shape}")
        names = (
            [f"x{j}" for j in range(work.shape[1])]
            if feature_names is None
            else [str(n) for n in feature_names]
        )
        if len(names) != work.shape[1]:
            raise ValueError(f"{len(names)} feature_names for {work.shape[1]} columns of X")
    n_events = len(work)
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}

    def score_of(data: np.ndarray | pd.DataFrame) -> float:
        out = np.asarray(predict(data), dtype=float)
        if out.size != n_events:
            raise ValueError(
                f"predict must return one score per event ({n_events}), got shape {out.shape}; "
                "for predict_proba pass lambda X: clf.predict_proba(X)[:, 1]"
            )
        return float(metric(y, out.reshape(n_events), **kwargs))

    rng = np.random.default_rng(seed)
    baseline = score_of(work)
    drops = np.empty((len(names), n_repeats))
    for j in range(len(names)):
        original = (work.iloc[:, j] if is_frame else work[:, j]).copy()
        column = np.asarray(original)
        for r in range(n_repeats):
            shuffled = column[rng.permutation(n_events)]
            if is_frame:
                work.isetitem(j, shuffled)
            else:
                work[:, j] = shuffled
            drops[j, r] = baseline - score_of(work)
        if is_frame:
            work.isetitem(j, original)
        else:
            work[:, j] = original
    result = pd.DataFrame(
        {"mean": drops.mean(axis=1), "std": drops.std(axis=1)},
        index=pd.Index(names, name="feature"),
    )
    result.attrs["baseline"] = baseline
    return result


def ks_test(train_scores: ArrayLike, test_scores: ArrayLike) -> float:
    """p-value of the two-sample Kolmogorov-Smirnov test, the usual overtraining check.

    Compare a classifier's scores on training and test events of the same class: a small
    p-value (say below 0.05) means the two distributions differ, a sign of overtraining.
    Unweighted; built on :func:`scipy.stats.ks_2samp` (two-sided, exact for small samples).

    Parameters
    ----------
    train_scores : array_like, shape (n_train,)
        Scores of training events of one class.
    test_scores : array_like, shape (n_test,)
        Scores of test events of the same class.

    Returns
    -------
    float
        The p-value, in [0, 1].
    """
    from scipy import stats  # slow import, on first use

    samples = []
    for name, values in (("train_scores", train_scores), ("test_scores", test_scores)):
        arr = np.asarray(values, dtype=float).ravel()
        if arr.size == 0 or not np.isfinite(arr).all():
            raise ValueError(f"{name} must be a non-empty array of finite numbers")
        samples.append(arr)
    return float(stats.ks_2samp(samples[0], samples[1]).pvalue)
