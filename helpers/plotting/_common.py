"""Small pieces shared by the plotting modules."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

SIGNAL_COLOR = "C1"
BACKGROUND_COLOR = "C0"


def resolve_ax(ax: Axes | None) -> Axes:
    """The given Axes, or the current one (a new figure's when none exists)."""
    return plt.gca() if ax is None else ax


def finite_values(
    values: ArrayLike, weights: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """1-D float values without NaN/inf entries, with their weights."""
    x = np.asarray(values, dtype=float).ravel()
    keep = np.isfinite(x)
    if weights is None:
        return x[keep], None
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != x.shape:
        raise ValueError(f"weights of shape {w.shape} for values of shape {x.shape}")
    return x[keep], w[keep]
