"""Training history: loss and metrics per epoch, from Keras or from a hand-written torch loop."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from helpers.plotting._common import resolve_ax


def _as_series(history: Any) -> dict[str, list[float]]:
    """Name -> values per epoch, from any of the forms :func:`plot_history` accepts."""
    if isinstance(getattr(history, "history", None), Mapping):  # keras.callbacks.History
        history = history.history
    if isinstance(history, pd.DataFrame):
        return {str(k): history[k].tolist() for k in history.columns}
    if isinstance(history, Mapping):
        return {str(k): list(np.ravel(v)) for k, v in history.items()}
    if isinstance(history, Sequence) and all(isinstance(row, Mapping) for row in history):
        keys = list(dict.fromkeys(k for row in history for k in row))
        return {str(k): [row.get(k, np.nan) for row in history] for k in keys}
    raise TypeError(
        "history must be a Keras History, a mapping of name to values per epoch, a DataFrame, "
        f"or a list of per-epoch mappings; got {type(history).__name__}"
    )


def _draw(ax: Axes, series: dict[str, list[float]], keys: Sequence[str], colors) -> list:
    lines = []
    for key in keys:
        train_key = key if key in series else f"train_{key}"
        if train_key not in series:
            raise KeyError(f"no {key!r} in the history; it has {sorted(series)}")
        color = next(colors)
        epochs = np.arange(1, len(series[train_key]) + 1)
        lines += ax.plot(epochs, series[train_key], "-", color=color, label=f"{key} (train)")
        if f"val_{key}" in series:
            values = series[f"val_{key}"]
            lines += ax.plot(
                np.arange(1, len(values) + 1),
                values,
                "--",
                color=color,
                label=f"{key} (validation)",
            )
    return lines


def plot_history(
    history: Any,
    *,
    keys: str | Sequence[str] = "loss",
    twin: str | Sequence[str] | None = None,
    logy: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Loss and metrics per epoch, training solid and validation dashed in the same colour.

    Parameters
    ----------
    history : History, mapping, DataFrame or list of mappings
        A Keras ``History`` (anything with a ``.history`` mapping), a mapping of name to a list of
        values per epoch (``{"loss": [...], "val_loss": [...]}``, as a torch loop collects), a
        DataFrame with one column per name, or a list with one mapping per epoch.
    keys : str or sequence of str
        Names to draw on ``ax``. Each is found as ``key`` or ``train_key``; its validation
        series, ``val_key`` (the Keras convention), is drawn too when present.
    twin : str or sequence of str, optional
        Names to draw on a second y axis sharing the epochs (e.g. ``"accuracy"`` beside the
        loss); it is ``ax.figure.axes[-1]`` after the call, and the legend on ``ax`` covers both.
    logy : bool
        Logarithmic y axis for ``keys``.
    ax : Axes, optional
        Where to draw (default: the current Axes).

    Returns
    -------
    Axes
        The primary Axes, x axis in epochs counted from 1.
    """
    series = _as_series(history)
    keys = [keys] if isinstance(keys, str) else list(keys)
    ax = resolve_ax(ax)
    colors = (f"C{i}" for i in itertools.count())
    lines = _draw(ax, series, keys, colors)
    ax.set_ylabel(", ".join(keys))
    if logy:
        ax.set_yscale("log")
    if twin is not None:
        twin_keys = [twin] if isinstance(twin, str) else list(twin)
        second = ax.twinx()
        lines += _draw(second, series, twin_keys, colors)
        second.set_ylabel(", ".join(twin_keys))
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(lines, [line.get_label() for line in lines])
    return ax
