"""Check a challenge prediction file (or array) before it goes to the leaderboard."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from autograder.checks._convert import to_numpy
from autograder.checks._core import InputError, Verdict, fail, fmt, passed, register, run_check

__all__ = ["PREDICTION_COLUMNS", "challenge_predictions", "read_predictions"]

#: Column names accepted for the scores in a CSV file with several columns, in order of preference.
PREDICTION_COLUMNS = ("prediction", "predictions", "score", "y_score", "y_pred", "proba")


def _read_table(path: Path) -> tuple[np.ndarray, int, str]:
    """Read the score column of a CSV/text file: (values, unparsable count, dtype kind)."""
    import pandas as pd

    sep = "," if path.suffix.lower() == ".csv" else r"\s+"
    try:
        raw = pd.read_csv(path, header=None, sep=sep, dtype=str, engine="python")
    except Exception as exc:
        raise InputError(f"Could not read {path.name} as a table ({type(exc).__name__}).") from None
    if raw.empty:
        raise InputError(f"{path.name} is empty: write one score per challenge event.")
    first = pd.to_numeric(raw.iloc[0], errors="coerce")
    if first.isna().any():  # a header row
        names = [str(c).strip() for c in raw.iloc[0]]
        raw = raw.iloc[1:].set_axis(names, axis=1)
    else:
        names = [str(c) for c in raw.columns]
    if raw.shape[1] == 1:
        column = raw.iloc[:, 0]
    else:
        lowered = {n.lower(): n for n in names}
        chosen = next((lowered[c] for c in PREDICTION_COLUMNS if c in lowered), None)
        if chosen is None:
            raise InputError(
                f"{path.name} has columns {names}: name the score column one of "
                f"{', '.join(PREDICTION_COLUMNS)}, or write a single column."
            )
        column = raw[chosen]
    text = column.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    unparsable = int(np.count_nonzero(np.isnan(values) & ~text.str.lower().isin(["nan"])))
    is_int = bool(len(text)) and bool(text.str.fullmatch(r"[+-]?\d+").all())
    return values, unparsable, "i" if is_int else "f"


def read_predictions(source: Any) -> tuple[np.ndarray, int, str]:
    """Read predictions from a ``.npy``, ``.npz``, ``.csv`` or ``.txt`` file, or take an array.

    Returns
    -------
    (values, unparsable, kind) : tuple
        The values as float64 (shape as stored), how many entries were not numbers, and the
        numpy kind of the stored values (``"f"`` float, ``"i"``/``"u"`` integer, ``"b"`` bool).
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"There is no prediction file at {path}: save your predictions there.")
        suffix = path.suffix.lower()
        if suffix in {".csv", ".txt", ".tsv"}:
            return _read_table(path)
        if suffix not in {".npy", ".npz"}:
            raise InputError(f"Save your predictions as .npy or .csv, not {suffix or 'no suffix'}.")
        try:
            loaded = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise InputError(f"Could not read {path.name} ({type(exc).__name__}).") from None
        if suffix == ".npz":
            with loaded:
                keys = list(loaded.files)
                if len(keys) != 1 and "predictions" not in keys:
                    raise InputError(
                        f"{path.name} holds {keys}: save one array, or name it 'predictions'."
                    )
                arr = loaded["predictions" if "predictions" in keys else keys[0]]
        else:
            arr = loaded
    else:
        arr = to_numpy(source, "your predictions")
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise InputError(f"Your predictions are not numbers (dtype {arr.dtype}).")
    return np.asarray(arr, dtype=np.float64), 0, kind


def challenge_predictions(source: Any, n_expected: int, *, output: str = "probability") -> None:
    """Check a challenge submission: one float score per challenge event, in range.

    Parameters
    ----------
    source : path or array-like
        A ``.npy`` file, a ``.npz`` with one array (or one named ``predictions``), a ``.csv``/
        ``.txt`` with one column or a column named as in :data:`PREDICTION_COLUMNS`, or the array.
    n_expected : int
        Number of challenge events.
    output : {"probability", "finite"}
        Scores in [0, 1], or any finite float.

    Raises
    ------
    CheckFailed
        Wrong length, integers or 0/1 decisions instead of scores, NaN, values out of range.
    """
    __tracebackhide__ = True
    if output not in {"probability", "finite"}:
        raise ValueError("output must be 'probability' or 'finite'")

    def derive() -> dict[str, Any]:
        values, unparsable, kind = read_predictions(source)
        return {"values": values, "unparsable": unparsable, "kind": kind}

    run_check("challenge_predictions", derive, {"n_expected": int(n_expected), "output": output})


@register("challenge_predictions")
def _judge_challenge_predictions(
    values: np.ndarray, unparsable: int, kind: str, n_expected: int, output: str
) -> Verdict:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        return fail(
            f"Your predictions have shape {v.shape}, expected one score per event: "
            "save a flat array (use the signal column, or .ravel())."
        )
    if unparsable:
        return fail(f"{unparsable} entries of your predictions are not numbers.")
    if kind in "biu":
        return fail(
            "Your predictions are integers: submit the model's scores as floats, not class "
            "decisions (the leaderboard ranks by AUC)."
        )
    if len(v) != n_expected:
        return fail(
            f"Your predictions hold {len(v)} values, expected {n_expected}: one per challenge "
            "event, in the order of the challenge file."
        )
    bad = int(np.count_nonzero(~np.isfinite(v)))
    if bad:
        return fail(f"{bad} of your predictions are NaN or infinite: check the model's inputs.")
    if output == "probability" and (v.min() < 0 or v.max() > 1):
        return fail(
            f"Your predictions range from {fmt(v.min(), 3)} to {fmt(v.max(), 3)}, expected "
            "probabilities in [0, 1]: apply the sigmoid (or softmax) to the model's outputs."
        )
    distinct = len(np.unique(v))
    if len(v) > 10 and distinct <= 2:
        return fail(
            f"Your predictions take only {distinct} distinct value{'s' if distinct > 1 else ''}: "
            "submit the model's scores, not 0/1 decisions (the leaderboard ranks by AUC)."
        )
    return passed()
