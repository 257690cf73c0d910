"""The figures of merit the score checks judge: thin adapters over :mod:`helpers.metrics`.

The course computes every figure one way, in ``helpers.metrics`` (weighted ROC AUC, background
rejection at a signal efficiency, Asimov significance); the checks call it through these small
functions, imported on first use so that ``import autograder.checks`` stays light.

Conventions: signal is label 1, background label 0; signal efficiency is the true-positive rate,
background efficiency the false-positive rate, background rejection ``1 / background efficiency``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["best_significance", "rejection_at", "roc_auc"]


def roc_auc(
    y_true: np.ndarray, y_score: np.ndarray, *, sample_weight: np.ndarray | None = None
) -> float:
    """Area under the ROC curve (signal efficiency against background efficiency).

    Raises
    ------
    ValueError
        Where the curve is undefined (a class absent or of non-positive total weight).
    """
    from helpers import metrics

    return float(metrics.roc_auc(y_true, y_score, sample_weight=sample_weight))


def rejection_at(
    y_true: np.ndarray,
    y_score: np.ndarray,
    signal_efficiency: float,
    *,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Background rejection ``1 / eps_B`` at the signal efficiency ``eps_S``, linearly
    interpolated on the ROC curve; ``inf`` when no background passes."""
    from helpers import metrics

    return float(
        metrics.background_rejection(
            y_true, y_score, signal_efficiency=signal_efficiency, sample_weight=sample_weight
        )
    )


def best_significance(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    cut: float | None = None,
    min_background: float = 0.0,
) -> tuple[float, float, float]:
    """Asimov significance of the selection ``y_score >= cut``, or the best over all cuts.

    The weights are the event yields (expected events per simulated event); without weights each
    event counts one. Cuts that keep a background of ``min_background`` or less do not count (a
    selection without background has an infinite, meaningless significance).

    Returns
    -------
    (z, cut, b) : tuple of float
        The significance, the cut it was reached at, and the background the cut keeps; ``z`` is 0
        and ``b`` the kept background when the given ``cut`` keeps too little background, and
        all three are 0 when no cut keeps enough.
    """
    from helpers import metrics

    if cut is None:
        try:
            scan = metrics.significance_scan(
                y_true, y_score, sample_weight=sample_weight, min_background=min_background
            )
        except ValueError:
            return 0.0, 0.0, 0.0
        i = int(np.flatnonzero(scan.thresholds == scan.best_threshold)[0])
        return scan.best_z, scan.best_threshold, float(scan.b[i])
    is_signal = np.asarray(y_true) == 1
    w = np.ones(len(is_signal)) if sample_weight is None else np.asarray(sample_weight, float)
    kept = np.asarray(y_score, dtype=float) >= cut
    s, b = float(w[kept & is_signal].sum()), float(w[kept & ~is_signal].sum())
    z = float(metrics.asimov_significance(s, b)) if b > min_background else 0.0
    return z, float(cut), b
