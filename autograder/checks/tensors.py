"""Checks of arrays and tensors: dtype, shape and device; one-hot encodings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.checks._convert import to_numpy
from autograder.checks._core import Verdict, fail, fmt, passed, register, run_check

__all__ = ["one_hot", "tensor_spec"]

_KIND_NAMES = {
    "torch": "a torch tensor",
    "tensorflow": "a TensorFlow tensor",
    "numpy": "a numpy array",
    "pandas": "a pandas object",
}
_CAST_HINT = {
    "torch": "convert it with .to(torch.{d}) or torch.tensor(..., dtype=torch.{d})",
    "tensorflow": "convert it with tf.cast(t, tf.{d})",
    "numpy": "convert it with .astype(np.{d})",
    "pandas": "convert it with .astype('{d}')",
}


def _kind(t: Any) -> str:
    module = type(t).__module__.split(".")[0]
    if module in {"torch", "tensorflow", "numpy", "pandas"}:
        return module
    if module == "keras":
        return "tensorflow"
    return module or "unknown"


def dtype_name(dtype: Any) -> str:
    """A dtype of any framework as a plain name: ``torch.float32``, ``tf.float32``,
    ``np.float32`` and ``"float32"`` all give ``"float32"``."""
    if dtype is None:
        return ""
    name = getattr(dtype, "name", None)  # tf.DType, numpy dtype
    if isinstance(name, str) and not hasattr(dtype, "is_floating_point"):
        return name
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return np.dtype(dtype).name
    text = str(dtype)
    for prefix in ("torch.", "tf.", "<dtype: '"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.rstrip("'>")
    try:
        return np.dtype(text).name
    except TypeError:
        return text


def device_name(device: Any) -> str:
    """A device as ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"gpu:0"`` (TensorFlow)."""
    if device is None:
        return ""
    text = str(device)
    if "/" in text or "device:" in text.lower():  # TensorFlow: .../device:GPU:0
        tail = text.lower().rsplit("device:", 1)[-1]
        kind, _, index = tail.partition(":")
        return kind if kind == "cpu" else f"{kind}:{index or 0}"
    return text.lower()


def _tensor_device(t: Any, kind: str) -> str:
    if kind == "torch":
        return device_name(t.device)
    if kind == "tensorflow":
        return device_name(getattr(t, "device", "cpu")) or "cpu"
    return "cpu"


def tensor_spec(
    t: Any,
    *,
    dtype: Any = None,
    shape: Sequence[int | None] | None = None,
    device: Any = None,
    kind: str | None = None,
    name: str = "your tensor",
) -> None:
    """Check a tensor's framework, dtype, shape and device.

    Parameters
    ----------
    t : torch.Tensor, tf.Tensor, numpy.ndarray or pandas object
    dtype : dtype of any framework or str, optional
        E.g. ``torch.float32``, ``np.float32`` or ``"float32"``.
    shape : sequence of int or None, optional
        Expected shape; None in a position accepts any size there, e.g. ``(None, 12)``.
    device : str or torch.device, optional
        ``"cpu"`` or ``"cuda"`` (any CUDA device) or ``"cuda:1"`` (that one).
    kind : {"torch", "tensorflow", "numpy", "pandas"}, optional
        Required framework.
    name : str
        How the message names the tensor, e.g. ``"X_train_t"``.

    Raises
    ------
    CheckFailed
        On the first property that differs.
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        k = _kind(t)
        found_shape = getattr(t, "shape", None)
        if found_shape is None:
            found_shape = to_numpy(t, name).shape
        return {
            "kind": k,
            "dtype": dtype_name(getattr(t, "dtype", None)) or to_numpy(t, name).dtype.name,
            "shape": tuple(int(s) if s is not None else -1 for s in tuple(found_shape)),
            "device": _tensor_device(t, k),
        }

    spec = {
        "expected_kind": kind,
        "expected_dtype": dtype_name(dtype) or None,
        "expected_shape": None if shape is None else tuple(shape),
        "expected_device": device_name(device) or None,
        "name": str(name),
    }
    run_check("tensor_spec", derive, spec)


def _shape_text(shape: Sequence[int | None]) -> str:
    inner = ", ".join("any" if s is None else str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


@register("tensor_spec")
def _judge_tensor_spec(
    kind: str,
    dtype: str,
    shape: Sequence[int],
    device: str,
    expected_kind: str | None,
    expected_dtype: str | None,
    expected_shape: Sequence[int | None] | None,
    expected_device: str | None,
    name: str,
) -> Verdict:
    if expected_kind and kind != expected_kind:
        found = _KIND_NAMES.get(kind, f"a {kind} object")
        want = _KIND_NAMES.get(expected_kind, expected_kind)
        hint = " (torch.tensor(...) or torch.from_numpy(...))" if expected_kind == "torch" else ""
        return fail(f"{name} is {found}, expected {want}: convert it{hint}.")
    if expected_dtype and dtype != expected_dtype:
        hint = _CAST_HINT.get(kind, "convert it to {d}").format(d=expected_dtype)
        return fail(f"{name} has dtype {dtype}, expected {expected_dtype}: {hint}.")
    if expected_shape is not None:
        want = list(expected_shape)
        ok = len(shape) == len(want) and all(
            w is None or s == w for s, w in zip(shape, want, strict=True)
        )
        if not ok:
            hint = "check how you built it"
            if [s for s in shape if s != 1] == [w for w in want if w != 1]:
                hint = "add or remove an axis of length 1 (reshape(-1, 1), unsqueeze or squeeze)"
            return fail(
                f"{name} has shape {_shape_text(list(shape))}, expected "
                f"{_shape_text(want)}: {hint}."
            )
    if expected_device:
        same = device == expected_device or (
            ":" not in expected_device and device.split(":")[0] == expected_device
        )
        if not same:
            return fail(
                f"{name} is on {device}, expected {expected_device}: move it with "
                ".to(device), using the same device as the model."
            )
    return passed()


# --------------------------------------------------------------------------------------------


def one_hot(encoded: Any, labels: Any, *, n_classes: int | None = None) -> None:
    """Check a one-hot encoding of integer class labels.

    Parameters
    ----------
    encoded : array-like, shape (n, n_classes)
        The encoding: one 1 per row, in the column of the row's class, zeros elsewhere.
    labels : array-like of int, shape (n,)
        The class of each row.
    n_classes : int, optional
        The number of columns expected.

    Raises
    ------
    CheckFailed
        On the wrong shape, values other than 0 and 1, or a 1 in the wrong column.
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        return {
            "encoded": np.asarray(to_numpy(encoded, "the encoding"), dtype=np.float64),
            "labels": np.asarray(to_numpy(labels, "the labels"), dtype=np.float64).ravel(),
        }

    run_check("one_hot", derive, {"n_classes": None if n_classes is None else int(n_classes)})


@register("one_hot")
def _judge_one_hot(encoded: np.ndarray, labels: np.ndarray, n_classes: int | None) -> Verdict:
    enc = np.asarray(encoded, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.float64)
    if enc.ndim != 2:
        return fail(
            f"Your encoding has {enc.ndim} ax{'is' if enc.ndim == 1 else 'es'}, expected 2 (events × classes): "
            "one row per event."
        )
    if enc.shape[0] != len(lab):
        return fail(f"Your encoding has {enc.shape[0]} rows, expected {len(lab)}: one per label.")
    if n_classes is not None and enc.shape[1] != n_classes:
        return fail(
            f"Your encoding has {enc.shape[1]} columns, expected {n_classes}: one per class."
        )
    if not np.all((enc == 0) | (enc == 1)):
        bad = enc[(enc != 0) & (enc != 1)]
        return fail(
            f"Your encoding contains values other than 0 and 1 (e.g. {fmt(bad[0])}): each row "
            "is all zeros except a single 1."
        )
    sums = enc.sum(axis=1)
    if np.any(sums != 1):
        i = int(np.flatnonzero(sums != 1)[0])
        return fail(f"Row {i} of your encoding holds {fmt(sums[i])} ones, expected exactly one.")
    wrong = np.flatnonzero(enc.argmax(axis=1) != lab)
    if len(wrong):
        i = int(wrong[0])
        return fail(
            f"{len(wrong)} rows have their 1 in the wrong column: row {i} has it in column "
            f"{int(enc[i].argmax())}, but its label is {fmt(lab[i])}."
        )
    return passed()
