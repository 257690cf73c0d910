"""Checks of training: the loss history and the data loader."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from autograder.checks._convert import multiset_counts, n_rows, row_fingerprints, to_numpy
from autograder.checks._core import InputError, Verdict, fail, fmt, passed, pct, register, run_check
from autograder.checks.models import error_text

__all__ = ["loader_covers", "loss_decreased"]


def _losses(history: Any, key: str) -> np.ndarray:
    """The per-epoch losses from a Keras History, a dict, a DataFrame or a sequence."""
    if hasattr(history, "history") and isinstance(history.history, Mapping):  # keras History
        history = history.history
    if isinstance(history, Mapping) or hasattr(history, "columns"):
        keys = list(history.keys())
        if key not in keys:
            raise InputError(
                f"Your history has no {key!r} entry (found {', '.join(map(str, keys))}): "
                f"record the training loss under {key!r}."
            )
        history = history[key]
    try:
        values = np.asarray(to_numpy(history, "the loss history"), dtype=np.float64)
    except (InputError, TypeError, ValueError):
        try:  # a list of torch scalars or 0-d tensors
            values = np.array([float(v) for v in history], dtype=np.float64)
        except Exception:
            raise InputError(
                "Could not read your loss history as numbers: pass a list of the loss of each "
                "epoch (floats), a dict with a 'loss' list, or Keras' History."
            ) from None
    return values.ravel()


def loss_decreased(history: Any, *, min_relative_drop: float = 0.1, key: str = "loss") -> None:
    """Check that the training loss fell by at least ``min_relative_drop`` of its first value.

    Parameters
    ----------
    history : keras.callbacks.History, dict, DataFrame or sequence of float
        The loss after each epoch (or batch), first to last.
    min_relative_drop : float
        Required ``(first - last) / first``.
    key : str
        The entry of a History or dict holding the training loss.

    Raises
    ------
    CheckFailed
        When there are fewer than two values, a NaN, or too small a drop.
    """
    __tracebackhide__ = True
    spec = {"min_relative_drop": float(min_relative_drop)}
    run_check("loss_decreased", lambda: {"losses": _losses(history, key)}, spec)


@register("loss_decreased")
def _judge_loss_decreased(losses: np.ndarray, min_relative_drop: float) -> Verdict:
    v = np.asarray(losses, dtype=np.float64)
    if len(v) < 2:
        return fail(
            f"Your history holds {len(v)} loss value{'s' if len(v) != 1 else ''}, expected one "
            "per epoch for at least two epochs: append the loss after every epoch."
        )
    bad = np.flatnonzero(~np.isfinite(v))
    if len(bad):
        return fail(
            f"Your loss became {fmt(v[bad[0]])} at epoch {int(bad[0]) + 1}: lower the learning "
            "rate, and check the inputs for NaN."
        )
    first, last = float(v[0]), float(v[-1])
    drop = (first - last) / abs(first) if first != 0 else (0.0 if last >= first else 1.0)
    if drop >= min_relative_drop:
        return passed()
    change = f"a drop of {pct(drop)}" if drop >= 0 else f"a rise of {pct(-drop)}"
    return fail(
        f"Your loss went from {fmt(first)} (first epoch) to {fmt(last)} (last epoch), {change}; "
        f"expected a drop of at least {pct(min_relative_drop)}: check that every step calls "
        "zero_grad, backward and step, and the learning rate."
    )


# --------------------------------------------------------------------------------------------


def _features(batch: Any) -> Any:
    if isinstance(batch, (tuple, list)):
        return batch[0]
    if isinstance(batch, Mapping):
        for name in ("x", "X", "features", "inputs"):
            if name in batch:
                return batch[name]
        return next(iter(batch.values()))
    return batch


def loader_covers(loader: Any, n_train: int, *, X_train: Any = None) -> None:
    """Check that one pass over ``loader`` yields every training event exactly once.

    One epoch is drawn from the loader (which advances a shuffling loader's random state). The
    features of each batch are the batch itself, its first element (``(x, y)`` batches), or the
    ``x``/``features``/``inputs`` entry of a dict. With ``X_train``, the events are compared by
    value (row fingerprints), so a loader over the wrong set, or one that samples with
    replacement, fails even when the count is right.

    Parameters
    ----------
    loader : torch DataLoader, tf.data.Dataset or any iterable of batches
    n_train : int
        Number of training events.
    X_train : array-like, shape (n_train, ...), optional
        The training features as the loader holds them (scaled, if the loader holds scaled ones).

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        cap = 2 * int(n_train) + 1
        sizes: list[int] = []
        prints: list[np.ndarray] = []
        out: dict[str, Any] = {"error": None, "capped": False}
        try:
            for batch in loader:
                x = _features(batch)
                sizes.append(n_rows(x, "a batch"))
                if X_train is not None:
                    prints.append(row_fingerprints(x, "a batch"))
                if sum(sizes) > cap:
                    out["capped"] = True
                    break
        except InputError:
            raise
        except Exception as exc:
            out["error"] = error_text(exc)
        out["batch_sizes"] = np.asarray(sizes, dtype=np.int64)
        out["fingerprints"] = (
            None
            if X_train is None
            else (np.concatenate(prints) if prints else np.zeros(0, np.uint64))
        )
        out["train_fingerprints"] = (
            None if X_train is None else row_fingerprints(X_train, "X_train")
        )
        return out

    run_check("loader_covers", derive, {"n_train": int(n_train)})


@register("loader_covers")
def _judge_loader_covers(
    error: str | None,
    capped: bool,
    batch_sizes: np.ndarray,
    fingerprints: np.ndarray | None,
    train_fingerprints: np.ndarray | None,
    n_train: int,
) -> Verdict:
    if error is not None:
        return fail(f"Iterating over your loader failed ({error}).")
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    n = int(sizes.sum())
    if capped:
        return fail(
            f"One pass over your loader yields more than twice the {n_train} training events: "
            "it should stop after one epoch (no repeat(), no sampling with replacement)."
        )
    if n != n_train:
        hint = "build it from the whole training set"
        if 0 < n_train - n < (sizes.max() if len(sizes) else 0) and len(set(sizes.tolist())) == 1:
            hint = "with drop_last=True the last, partial batch is lost: keep it"
        return fail(
            f"One pass over your loader yields {n} events, expected the {n_train} training "
            f"events: {hint}."
        )
    if fingerprints is not None and train_fingerprints is not None:
        fp = np.asarray(fingerprints, np.uint64)
        tr = np.asarray(train_fingerprints, np.uint64)
        foreign = int(np.count_nonzero(multiset_counts(fp, tr) == 0))
        if foreign:
            return fail(
                f"{foreign} of the {n} events your loader yields are not in X_train: build the "
                "loader from the training set (prepared the same way as X_train)."
            )
        uniq, counts = np.unique(tr, return_counts=True)
        missing = int(np.maximum(counts - multiset_counts(uniq, fp), 0).sum())
        if missing:
            return fail(
                f"In one pass, {missing} training events never come out of your loader while "
                "others repeat: shuffle (shuffle=True) instead of sampling with replacement."
            )
    return passed()
