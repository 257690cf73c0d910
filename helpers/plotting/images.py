"""Jet images: a few single jets and the average image of each class."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from numpy.typing import ArrayLike


def _as_square_images(images: ArrayLike) -> np.ndarray:
    """(n, H, W) float array from (n, H, W), (n, H, W, 1), (n, 1, H, W) or flat (n, H*H)."""
    arr = np.asarray(images, dtype=float)
    if arr.ndim == 4 and 1 in (arr.shape[1], arr.shape[3]):
        arr = arr[:, 0] if arr.shape[1] == 1 else arr[..., 0]
    elif arr.ndim == 2 and math.isqrt(arr.shape[1]) ** 2 == arr.shape[1]:
        side = math.isqrt(arr.shape[1])
        arr = arr.reshape(len(arr), side, side)
    if arr.ndim != 3:
        raise ValueError(
            "images must have shape (n, H, W), (n, H, W, 1), (n, 1, H, W) or (n, H*H), "
            f"got {np.shape(images)}"
        )
    return arr


def _norm(image: np.ndarray, log: bool) -> Normalize:
    positive = image[image > 0]
    if log and positive.size:
        return LogNorm(vmin=positive.min(), vmax=positive.max())
    return Normalize(vmin=min(image.min(), 0.0), vmax=max(image.max(), 1e-12))


def plot_jet_images(
    images: ArrayLike,
    labels: ArrayLike | None = None,
    *,
    n_examples: int = 3,
    class_names: Mapping[int, str] | Sequence[str] | None = None,
    log: bool = True,
    cmap: str = "viridis",
    extent: tuple[float, float, float, float] | None = None,
    ax: np.ndarray | None = None,
) -> tuple[Figure, np.ndarray]:
    """A few single jet images and the average image, one row per class.

    Parameters
    ----------
    images : array_like, shape (n_jets, H, W)
        Pixel intensities (e.g. pT per pixel in GeV). ``images[k, i, j]`` is the pixel in φ′ row
        i (drawn vertically, upwards) and η′ column j (horizontally), as
        :func:`helpers.physics.jet_images` returns them. Shapes (n, H, W, 1), (n, 1, H, W) and
        flattened square (n, H*H) are accepted too.
    labels : array_like, shape (n_jets,), optional
        Class of each jet (e.g. 0 = QCD, 1 = top); ``None`` puts all jets in one row.
    n_examples : int
        Single jets drawn per class (the first ones of the class), before its average.
    class_names : mapping or sequence of str, optional
        Name of each class label for the titles (default: the label).
    log : bool
        Logarithmic colour scale (default): jet images span orders of magnitude. Empty pixels
        are then left white, apart from the faintest filled ones.
    cmap : str
        Colour map.
    extent : (float, float, float, float), optional
        (η_min, η_max, φ_min, φ_max) of the image; default: pixel indices.
    ax : ndarray of Axes, shape (n_classes, n_examples + 1), optional
        Where to draw; by default a new figure.

    Returns
    -------
    (Figure, ndarray of Axes)
        Axes of shape (n_classes, n_examples + 1): the last column holds the class averages.
    """
    data = _as_square_images(images)
    label_arr = np.zeros(len(data), dtype=int) if labels is None else np.asarray(labels)
    if label_arr.shape != (len(data),):
        raise ValueError(f"labels of shape {label_arr.shape} for {len(data)} images")
    classes = np.unique(label_arr)
    ncols = n_examples + 1
    if ax is None:
        fig, axes = plt.subplots(
            len(classes),
            ncols,
            figsize=(2.6 * ncols, 2.5 * len(classes)),
            squeeze=False,
            layout="constrained",
        )
    else:
        axes = np.asarray(ax, dtype=object).reshape(len(classes), ncols)
        fig = axes.flat[0].figure
    colormap = plt.get_cmap(cmap).with_extremes(bad="white")
    for row, label in enumerate(classes):
        if class_names is None:
            name = str(label)
        else:
            name = str(
                class_names[label] if isinstance(class_names, Mapping) else class_names[int(label)]
            )
        members = data[label_arr == label]
        shown = [(f"{name} #{k + 1}", members[k]) for k in range(min(n_examples, len(members)))]
        shown.append((f"{name}: mean of {len(members)}", members.mean(axis=0)))
        for col, (title, image) in enumerate(shown):
            axis = axes[row, col if col < len(shown) - 1 else ncols - 1]
            masked = np.ma.masked_less_equal(image, 0) if log else image
            axis.imshow(
                masked,
                origin="lower",
                cmap=colormap,
                norm=_norm(image, log),
                extent=extent,
                aspect="auto" if extent else "equal",
            )
            axis.set_title(title, fontsize="medium")
        for col in range(len(shown) - 1, ncols - 1):
            axes[row, col].set_visible(False)
    pixels = " (pixels)" if extent is None else ""
    for axis in axes[-1]:
        axis.set_xlabel(f"η′{pixels}")
    for axis in axes[:, 0]:
        axis.set_ylabel(f"φ′{pixels}")
    return fig, axes
