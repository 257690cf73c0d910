"""Reading the student's objects as numpy arrays, and identifying rows by fingerprints.

Nothing here imports a framework: torch tensors and TensorFlow tensors are recognised by their
methods (``detach``/``cpu``, ``numpy``), pandas objects by ``to_numpy``.

Row fingerprints
    A shuffle loses the row order and ``train_test_split`` drops any index, so the split checks
    identify an event by the *values* of its row. :func:`row_fingerprints` casts a row to float32
    (so a split that was later cast to float32 still matches the float64 original), maps ``-0.0``
    to ``0.0`` and every NaN to one NaN, and hashes the row's 32-bit words to 64 bits (per column:
    xor, multiply by an odd constant, xor-shift, each a bijection, so rows that differ in one
    column never collide; a splitmix64 finaliser at the end). Among ``n`` rows, two different
    ones share a fingerprint with probability about ``n**2 / 2**65``; identical rows (duplicated
    events) share one by construction, and the checks compare multisets, not sets, where the
    original data are given. Values equal at float32 precision count as equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from autograder.checks._core import InputError

__all__ = ["align_frames", "combine", "multiset_counts", "n_rows", "row_fingerprints", "to_numpy"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def to_numpy(obj: Any, what: str = "the value") -> np.ndarray:
    """``obj`` as a numpy array: numpy, pandas, torch (any device), TensorFlow, lists, scalars.

    Raises
    ------
    InputError
        With a student message when ``obj`` cannot be read as an array.
    """
    try:
        if isinstance(obj, np.ndarray):
            return obj
        if hasattr(obj, "to_numpy") and callable(obj.to_numpy):  # pandas
            return np.asarray(obj.to_numpy())
        if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch.Tensor
            return np.asarray(obj.detach().cpu().numpy())
        if hasattr(obj, "numpy") and callable(obj.numpy):  # tf.Tensor, keras variables
            return np.asarray(obj.numpy())
        arr = np.asarray(obj)
    except Exception as exc:
        raise InputError(
            f"Could not read {what} as an array of numbers ({type(exc).__name__}: {exc})."
        ) from None
    if arr.dtype.hasobject:
        raise InputError(
            f"Could not read {what} as an array of numbers (found a {type(obj).__name__} "
            "holding Python objects)."
        )
    return arr


def n_rows(obj: Any, what: str = "the value") -> int:
    """The number of rows (events) in ``obj``: ``len`` of an array, frame or tensor."""
    shape = getattr(obj, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] is not None:
        return int(shape[0])
    try:
        return len(obj)
    except TypeError:
        raise InputError(
            f"Could not count the events in {what} (found a {type(obj).__name__!r}, which has no length)."
        ) from None


def align_frames(objs: Mapping[str, Any], reference: Any = None) -> dict[str, Any]:
    """Put the columns of DataFrames in the order of ``reference`` (or of the first frame), so
    that rows compare by value whatever the column order; non-frames pass unchanged."""
    columns = getattr(reference, "columns", None)
    out = {}
    for name, obj in objs.items():
        cols = getattr(obj, "columns", None)
        if cols is not None and hasattr(obj, "loc"):
            if columns is None:
                columns = cols
            elif set(cols) == set(columns):
                obj = obj[list(columns)]
        out[name] = obj
    return out


def row_fingerprints(obj: Any, what: str = "the rows") -> np.ndarray:
    """A 64-bit fingerprint per row of ``obj`` (see the module docstring).

    Parameters
    ----------
    obj : array-like, shape (n,) or (n, ...)
        Events in rows; extra axes are flattened, a 1-d array is one column.
    what : str
        How to name ``obj`` in a message.

    Returns
    -------
    numpy.ndarray of uint64, shape (n,)
    """
    arr = to_numpy(obj, what)
    if arr.ndim == 0:
        raise InputError(f"Expected rows of events in {what}, found a single number.")
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr[:, None]
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.array(arr, dtype=np.float32, order="C")
    except (TypeError, ValueError):
        raise InputError(
            f"Could not read the rows of {what} as numbers (dtype {arr.dtype})."
        ) from None
    values += np.float32(0.0)  # -0.0 -> 0.0
    values[np.isnan(values)] = np.float32(np.nan)
    words = values.view(np.uint32)
    h = np.full(values.shape[0], _GOLDEN, dtype=np.uint64)
    for j in range(words.shape[1]):  # each step is a bijection of h: rows that differ in one
        h ^= words[:, j]  # column never collide
        h *= _M1
        h ^= h >> np.uint64(32)
    return _mix(h)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def multiset_counts(keys: np.ndarray, among: np.ndarray) -> np.ndarray:
    """How often each of ``keys`` occurs in ``among`` (both uint64 fingerprints)."""
    uniq, counts = np.unique(among, return_counts=True)
    pos = np.searchsorted(uniq, keys)
    pos_c = np.minimum(pos, max(len(uniq) - 1, 0))
    found = (pos < len(uniq)) & (uniq[pos_c] == keys) if len(uniq) else np.zeros(len(keys), bool)
    out = np.zeros(len(keys), dtype=np.int64)
    out[found] = counts[pos_c[found]]
    return out


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One fingerprint for a pair of fingerprints (a row and its label)."""
    return _mix(a ^ _mix(b + _GOLDEN))
