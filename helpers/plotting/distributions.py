"""Signal against background: feature distributions, classifier scores, the overtraining plot."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from helpers import metrics
from helpers.plotting._common import BACKGROUND_COLOR, SIGNAL_COLOR, finite_values, resolve_ax

Range = tuple[float, float]


def _draw_pair(
    ax: Axes,
    signal: ArrayLike,
    background: ArrayLike,
    *,
    signal_weight: ArrayLike | None,
    background_weight: ArrayLike | None,
    bins: int | ArrayLike,
    range: Range | None,
    density: bool,
    log: bool,
    labels: Sequence[str],
    xlabel: str | None,
) -> Axes:
    """Signal and background histograms on common bin edges, drawn as steps."""
    sig, w_sig = finite_values(signal, signal_weight)
    bkg, w_bkg = finite_values(background, background_weight)
    edges = np.histogram_bin_edges(np.concatenate([sig, bkg]), bins=bins, range=range)
    for values, weight, label, color in (
        (sig, w_sig, labels[0], SIGNAL_COLOR),
        (bkg, w_bkg, labels[1], BACKGROUND_COLOR),
    ):
        ax.hist(
            values,
            bins=edges,
            weights=weight,
            density=density,
            histtype="step",
            linewidth=1.5,
            color=color,
            label=label,
        )
    if log:
        ax.set_yscale("log")
    weighted = signal_weight is not None or background_weight is not None
    ax.set_ylabel("density" if density else ("weighted events" if weighted else "events"))
    if xlabel:
        ax.set_xlabel(xlabel)
    return ax


def compare_distributions(
    signal: ArrayLike | pd.DataFrame,
    background: ArrayLike | pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    bins: int | ArrayLike = 40,
    range: Range | Mapping[str, Range] | None = None,
    signal_weight: ArrayLike | None = None,
    background_weight: ArrayLike | None = None,
    density: bool = True,
    log: bool = False,
    labels: Sequence[str] = ("signal", "background"),
    ncols: int = 4,
    ax: Axes | Sequence[Axes] | None = None,
) -> Axes | tuple[Figure, np.ndarray]:
    """Histograms of signal against background, for one feature or for many in a grid.

    Both classes share the same bin edges, computed from their union; NaN and infinite values
    are left out.

    Parameters
    ----------
    signal, background : array_like, shape (n,), or DataFrame, shape (n, n_features)
        One feature (1-D arrays or Series: one panel) or several (DataFrames with the same
        columns, or 2-D arrays, whose columns are named ``x0``, ``x1``, ...: a grid).
    columns : sequence of str, optional
        The features of a DataFrame to draw (default: all), in this order.
    bins : int or array_like
        Number of bins, or the bin edges, per feature.
    range : (float, float) or mapping of str to (float, float), optional
        Histogram range; for a grid, a mapping gives it per feature.
    signal_weight, background_weight : array_like, shape (n,), optional
        Event weights of each class.
    density : bool
        Normalise each histogram to unit area (compare shapes); otherwise weighted counts.
    log : bool
        Logarithmic y axis.
    labels : (str, str)
        Legend labels of signal and background.
    ncols : int
        Columns of the grid.
    ax : Axes, or sequence of Axes for a grid, optional
        Where to draw; by default the current Axes (one feature) or a new figure (a grid).

    Returns
    -------
    Axes, or (Figure, ndarray of Axes)
        The Axes for one feature; for a grid, the figure and its axes (unused ones hidden).
    """
    one_feature = not isinstance(signal, pd.DataFrame) and np.ndim(signal) == 1
    pair = {
        "signal_weight": signal_weight,
        "background_weight": background_weight,
        "bins": bins,
        "density": density,
        "log": log,
        "labels": labels,
    }
    if one_feature:
        if isinstance(range, Mapping):
            raise TypeError("range must be a (low, high) tuple for one feature")
        axis = resolve_ax(ax)
        _draw_pair(
            axis, signal, background, range=range, xlabel=getattr(signal, "name", None), **pair
        )
        axis.legend()
        return axis
    sig_frame, bkg_frame = pd.DataFrame(signal), pd.DataFrame(background)
    if not isinstance(signal, pd.DataFrame):
        sig_frame.columns = bkg_frame.columns = [
            f"x{j}" for j in builtins.range(sig_frame.shape[1])
        ]
    names = list(sig_frame.columns) if columns is None else list(columns)
    if ax is None:
        nrows = -(-len(names) // ncols)
        ncol = min(ncols, len(names))
        fig, axes = plt.subplots(
            nrows, ncol, figsize=(3.2 * ncol, 2.6 * nrows), squeeze=False, layout="constrained"
        )
    else:
        axes = np.asarray(ax, dtype=object)
        fig = axes.flat[0].figure
        if axes.size < len(names):
            raise ValueError(f"{axes.size} Axes given for {len(names)} features")
    for axis, name in zip(axes.flat, names, strict=False):
        feature_range = range.get(name) if isinstance(range, Mapping) else range
        _draw_pair(
            axis, sig_frame[name], bkg_frame[name], range=feature_range, xlabel=str(name), **pair
        )
    for axis in list(axes.flat)[len(names) :]:
        axis.set_visible(False)
    axes.flat[0].legend()
    return fig, axes


def plot_scores(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    bins: int | ArrayLike = 40,
    range: Range | None = None,
    density: bool = True,
    log: bool = False,
    threshold: float | None = None,
    labels: Sequence[str] = ("signal", "background"),
    ax: Axes | None = None,
) -> Axes:
    """Classifier score distributions of signal and background, optionally with a cut marked.

    Parameters
    ----------
    y_true : array_like, shape (n_events,)
        1 for signal, 0 for background.
    y_score : array_like, shape (n_events,)
        Classifier output.
    sample_weight : array_like, shape (n_events,), optional
        Event weights.
    bins, range, density, log, labels
        As in :func:`compare_distributions`.
    threshold : float, optional
        A score cut to mark with a vertical dashed line.
    ax : Axes, optional
        Where to draw (default: the current Axes).

    Returns
    -------
    Axes
    """
    is_signal = np.asarray(y_true).astype(bool)
    score = np.asarray(y_score, dtype=float)
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    ax = resolve_ax(ax)
    _draw_pair(
        ax,
        score[is_signal],
        score[~is_signal],
        signal_weight=None if weight is None else weight[is_signal],
        background_weight=None if weight is None else weight[~is_signal],
        bins=bins,
        range=range,
        density=density,
        log=log,
        labels=labels,
        xlabel="classifier score",
    )
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label=f"cut at {threshold:g}")
    ax.legend()
    return ax


def compare_train_test(
    y_train: ArrayLike,
    score_train: ArrayLike,
    y_test: ArrayLike,
    score_test: ArrayLike,
    *,
    bins: int = 30,
    range: Range | None = None,
    density: bool = True,
    log: bool = False,
    labels: Sequence[str] = ("signal", "background"),
    ax: Axes | None = None,
) -> Axes:
    """The overtraining check: classifier scores on the training and test samples.

    Training scores are drawn as filled histograms, test scores as points with statistical
    errors (sqrt of the bin count); the legend gives, per class, the p-value of the
    Kolmogorov-Smirnov test of train against test (:func:`helpers.metrics.ks_test`). Test points
    far off the filled shapes and a small p-value (below ~0.05) both point to overtraining.

    Parameters
    ----------
    y_train, y_test : array_like, shape (n_train,), (n_test,)
        1 for signal, 0 for background.
    score_train, score_test : array_like, shape (n_train,), (n_test,)
        Classifier output on each sample.
    bins : int
        Number of bins over ``range``.
    range : (float, float), optional
        Score range (default: from the lowest to the highest score of both samples).
    density : bool
        Normalise each histogram to unit area (default), as the samples differ in size.
    log : bool
        Logarithmic y axis.
    labels : (str, str)
        Names of signal and background.
    ax : Axes, optional
        Where to draw (default: the current Axes).

    Returns
    -------
    Axes
    """
    ax = resolve_ax(ax)
    train_signal = np.asarray(y_train).astype(bool)
    test_signal = np.asarray(y_test).astype(bool)
    s_train, s_test = np.asarray(score_train, float), np.asarray(score_test, float)
    edges = np.histogram_bin_edges(np.concatenate([s_train, s_test]), bins=bins, range=range)
    centers, widths = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    for wanted, label, color in (
        (True, labels[0], SIGNAL_COLOR),
        (False, labels[1], BACKGROUND_COLOR),
    ):
        train = s_train[train_signal == wanted]
        test = s_test[test_signal == wanted]
        ax.hist(
            train,
            bins=edges,
            density=density,
            histtype="stepfilled",
            alpha=0.35,
            color=color,
            label=f"{label} (train)",
        )
        counts, _ = np.histogram(test, bins=edges)
        scale = 1.0 / (counts.sum() * widths) if density else np.ones_like(widths)
        filled = counts > 0
        p_value = metrics.ks_test(train, test)
        ax.errorbar(
            centers[filled],
            (counts * scale)[filled],
            yerr=(np.sqrt(counts) * scale)[filled],
            fmt="o",
            markersize=3.5,
            color=color,
            label=f"{label} (test), KS p = {p_value:.3g}",
        )
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("classifier score")
    ax.set_ylabel("density" if density else "events")
    ax.legend()
    return ax
