"""Classifier performance: ROC curves, significance scans, confusion matrices, importances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from helpers import metrics
from helpers.plotting._common import resolve_ax

CurveSpec = metrics.RocCurve | Mapping[str, ArrayLike] | Sequence[ArrayLike]


def _roc_and_auc(label: str, spec: CurveSpec) -> tuple[np.ndarray, np.ndarray, float]:
    """(fpr, tpr, auc) from a precomputed curve or from (y_true, y_score[, sample_weight])."""
    if isinstance(spec, metrics.RocCurve):
        fpr, tpr = spec.fpr, spec.tpr
    elif isinstance(spec, Mapping):
        fpr, tpr = spec["fpr"], spec["tpr"]
    elif isinstance(spec, Sequence) and len(spec) in (2, 3):
        weight = spec[2] if len(spec) == 3 else None
        fpr, tpr, _ = metrics.roc_curve(spec[0], spec[1], sample_weight=weight)
    else:
        raise TypeError(
            f"curve {label!r}: give (y_true, y_score), (y_true, y_score, sample_weight), the "
            "result of helpers.metrics.roc_curve, or a mapping with 'fpr' and 'tpr'"
        )
    fpr, tpr = np.asarray(fpr, dtype=float), np.asarray(tpr, dtype=float)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)  # as helpers.metrics.roc_auc
    return fpr, tpr, area


def plot_roc(
    curves: Mapping[str, CurveSpec],
    *,
    rejection: bool = False,
    diagonal: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """ROC curves of several classifiers, with their AUC in the legend.

    Parameters
    ----------
    curves : mapping of str to curve
        Label to either ``(y_true, y_score)`` or ``(y_true, y_score, sample_weight)`` (arrays of
        shape (n_events,)), or a precomputed curve: the result of
        :func:`helpers.metrics.roc_curve` or a mapping with keys ``"fpr"`` and ``"tpr"``.
    rejection : bool
        False: signal efficiency ε_S (TPR) against background efficiency ε_B (FPR), linear axes.
        True: background rejection 1/ε_B on a log scale against ε_S, as HEP papers draw it
        (points with ε_B <= 0 or ε_S <= 0 are left out).
    diagonal : bool
        Also draw a random classifier (ε_B = ε_S), dashed.
    ax : Axes, optional
        Where to draw (default: the current Axes).

    Returns
    -------
    Axes
        One line per curve, labelled ``"<label> (AUC = 0.873)"``, then the diagonal if drawn.
    """
    ax = resolve_ax(ax)
    for label, spec in curves.items():
        fpr, tpr, auc = _roc_and_auc(label, spec)
        text = f"{label} (AUC = {auc:.3f})"
        if rejection:
            keep = (fpr > 0) & (tpr > 0)
            ax.plot(tpr[keep], 1.0 / fpr[keep], label=text)
        else:
            ax.plot(fpr, tpr, label=text)
    if rejection:
        if diagonal:
            eps = np.linspace(0.01, 1.0, 200)
            ax.plot(eps, 1.0 / eps, "k--", linewidth=1, label="random classifier")
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    else:
        if diagonal:
            ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="random classifier")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(r"background efficiency $\varepsilon_B$ (false-positive rate)")
        ax.set_ylabel(r"signal efficiency $\varepsilon_S$ (true-positive rate)")
    ax.legend()
    return ax


def plot_significance_scan(
    scan: metrics.SignificanceScan, *, label: str = "Asimov Z", ax: Axes | None = None
) -> Axes:
    """Significance against score cut, with the best cut marked.

    Parameters
    ----------
    scan : SignificanceScan
        The result of :func:`helpers.metrics.significance_scan`.
    label : str
        Legend label of the curve.
    ax : Axes, optional
        Where to draw (default: the current Axes).

    Returns
    -------
    Axes
        A line of Z (infinite values, where no background is left, are not drawn), a marker at
        the best cut and a dotted vertical line labelled with the best cut and its Z.
    """
    ax = resolve_ax(ax)
    z = np.where(np.isfinite(scan.z), scan.z, np.nan)
    (line,) = ax.plot(scan.thresholds, z, label=label)
    ax.axvline(
        scan.best_threshold,
        color="k",
        linestyle=":",
        label=f"best cut {scan.best_threshold:.3g}: Z = {scan.best_z:.2f}",
    )
    ax.plot([scan.best_threshold], [scan.best_z], "*", markersize=12, color=line.get_color())
    ax.set_xlabel("score cut (keep score ≥ cut)")
    ax.set_ylabel(r"significance $Z$ [$\sigma$]")
    ax.legend()
    return ax


def plot_confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    normalize: str | None = None,
    class_names: Sequence[str] | None = None,
    cmap: str = "Blues",
    ax: Axes | None = None,
) -> Axes:
    """Confusion matrix of predicted against true classes, each cell annotated.

    Parameters
    ----------
    y_true : array_like, shape (n_events,)
        True class labels.
    y_pred : array_like, shape (n_events,)
        Predicted class labels: apply the cut first, e.g. ``score >= 0.5``.
    normalize : {None, "true", "pred", "all"}
        As :func:`sklearn.metrics.confusion_matrix`: counts (None), or fractions of each true
        class (rows sum to 1), of each predicted class (columns), or of all events.
    class_names : sequence of str, optional
        Names of the classes in sorted label order (default: the labels themselves).
    cmap : str
        Colour map.
    ax : Axes, optional
        Where to draw (default: the current Axes).

    Returns
    -------
    Axes
        Rows are true classes, columns predicted classes.
    """
    from sklearn.metrics import confusion_matrix  # slow import, on first use

    y_pred_arr = np.asarray(y_pred)
    if np.issubdtype(y_pred_arr.dtype, np.floating) and not np.all(
        y_pred_arr == np.round(y_pred_arr)
    ):
        raise ValueError("y_pred must hold class labels, not scores: cut first, e.g. score >= 0.5")
    classes = np.unique(np.concatenate([np.asarray(y_true).ravel(), y_pred_arr.ravel()]))
    names = [str(c) for c in classes] if class_names is None else list(class_names)
    if len(names) != len(classes):
        raise ValueError(f"{len(names)} class_names for classes {classes.tolist()}")
    matrix = confusion_matrix(y_true, y_pred_arr, labels=classes, normalize=normalize)
    ax = resolve_ax(ax)
    vmax = 1.0 if normalize else max(matrix.max(), 1)
    ax.imshow(matrix, cmap=cmap, vmin=0, vmax=vmax)
    for (i, j), value in np.ndenumerate(matrix):
        text = f"{value:.2f}" if normalize else f"{value:d}"
        color = "white" if value > 0.5 * vmax else "black"
        ax.text(j, i, text, ha="center", va="center", color=color)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return ax


def plot_importance(
    importance: pd.DataFrame,
    *,
    sort: bool = True,
    top: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars of permutation importance with their spread as error bars.

    Parameters
    ----------
    importance : DataFrame
        The result of :func:`helpers.metrics.permutation_importance`: indexed by feature name,
        columns ``mean`` and ``std``. Bars are labelled from that index, so names stay attached
        to their values whatever subset or order of features was used.
    sort : bool
        Most important feature on top (default); otherwise the index order, top to bottom.
    top : int, optional
        Show only the ``top`` most important features (after sorting).
    ax : Axes, optional
        Where to draw (default: the current Axes).

    Returns
    -------
    Axes
    """
    table = importance.sort_values("mean", ascending=False) if sort else importance
    if top is not None:
        table = table.iloc[:top]
    table = table.iloc[::-1]  # barh draws the first row at the bottom
    ax = resolve_ax(ax)
    positions = np.arange(len(table))
    ax.barh(positions, table["mean"], xerr=table["std"], color="C0", capsize=3)
    ax.set_yticks(positions, [str(name) for name in table.index])
    ax.axvline(0.0, color="k", linewidth=0.8)
    baseline = importance.attrs.get("baseline")
    note = f" (baseline {baseline:.3f})" if baseline is not None else ""
    ax.set_xlabel(f"drop of the metric when the feature is shuffled{note}")
    return ax
