"""Checks of a train/validation/test split: fractions, disjointness, coverage, labels, unseen events.

They judge the sets, not how they were made: ``train_test_split``, a manual
``np.random.permutation``, ``DataFrame.sample`` or a torch ``random_split`` turned into arrays all
pass when the result is right. Events are identified by the values of their rows (row
fingerprints, see :mod:`autograder.checks._convert`), because a shuffle loses the row order and
the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from autograder.checks._convert import (
    align_frames,
    combine,
    multiset_counts,
    n_rows,
    row_fingerprints,
)
from autograder.checks._core import (
    InputError,
    Verdict,
    fail,
    passed,
    pct,
    plural,
    register,
    run_check,
)

__all__ = [
    "evaluated_on_unseen",
    "labels_aligned",
    "split_disjoint_and_complete",
    "split_fractions",
]


def _parts_mapping(parts: Any) -> Mapping[str, Any]:
    if not isinstance(parts, Mapping) or not parts:
        raise InputError(
            "Pass the sets as a dict of name to data, e.g. {'train': X_train, 'test': X_test}."
        )
    return {str(k): v for k, v in parts.items()}


# --------------------------------------------------------------------------------------------


def split_fractions(
    parts: Mapping[str, Any], expected: Mapping[str, float], *, tol: float = 0.01
) -> None:
    """Check that each set holds the expected fraction of the events.

    Parameters
    ----------
    parts : dict of str to array-like
        The sets by name, e.g. ``{"train": X_train, "val": X_val, "test": X_test}``; arrays,
        DataFrames or tensors with events in rows.
    expected : dict of str to float
        The fraction of all events (the sum of the sets) each set should hold, same names.
    tol : float
        Allowed absolute difference of each fraction, on top of one event of rounding.

    Raises
    ------
    CheckFailed
        When the names differ or a fraction is off.
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        mapping = _parts_mapping(parts)
        return {"sizes": {k: n_rows(v, f"the {k} set") for k, v in mapping.items()}}

    spec = {"expected": {str(k): float(v) for k, v in expected.items()}, "tol": float(tol)}
    run_check("split_fractions", derive, spec)


@register("split_fractions")
def _judge_split_fractions(
    sizes: Mapping[str, int], expected: Mapping[str, float], tol: float
) -> Verdict:
    if set(sizes) != set(expected):
        return fail(
            f"Expected the sets {sorted(expected)}, found {sorted(sizes)}: "
            "pass every set of your split, named as in the question."
        )
    total = sum(int(n) for n in sizes.values())
    if total == 0:
        return fail("Your sets are all empty: check the split.")
    for name in expected:
        found = int(sizes[name]) / total
        want = float(expected[name])
        if abs(found - want) > tol + 1.0 / total:
            hint = "Check the fraction you split with"
            if len(expected) > 2:
                hint += (
                    " (with two successive splits, the second fraction is a fraction of what "
                    "the first one left, not of all events)"
                )
            return fail(
                f"The {name} set holds {pct(found)} of the events ({sizes[name]} of {total}), "
                f"expected {pct(want)} ± {pct(tol)}. {hint}."
            )
    return passed()


# --------------------------------------------------------------------------------------------


def split_disjoint_and_complete(parts: Mapping[str, Any], original: Any = None) -> None:
    """Check that the sets share no event and, together, hold every event exactly once.

    Events are compared by the values of their rows, so the sets may be shuffled and carry no
    index. With ``original`` (the data before the split), duplicated events are handled exactly
    (multisets) and rows that are not in the original (scaled, modified) are reported; with an
    integer, only the total count is compared.

    Parameters
    ----------
    parts : dict of str to array-like
        The sets by name, events in rows (features, or features and label, as in ``original``).
    original : array-like, int or None
        The data before the split, the number of events in it, or None (disjointness only).

    Raises
    ------
    CheckFailed
        When an event is in two sets, twice in one set, in no set, or not in the original data.
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        mapping = _parts_mapping(parts)
        ref = original if hasattr(original, "columns") else None
        mapping = align_frames(mapping, ref)
        out: dict[str, Any] = {
            "fingerprints": {k: row_fingerprints(v, f"the {k} set") for k, v in mapping.items()},
            "original_fingerprints": None,
            "total": None,
        }
        if isinstance(original, (int, np.integer)) and not isinstance(original, bool):
            out["total"] = int(original)
        elif original is not None:
            out["original_fingerprints"] = row_fingerprints(original, "the original data")
        return out

    run_check("split_disjoint_and_complete", derive)


@register("split_disjoint_and_complete")
def _judge_split_disjoint_and_complete(
    fingerprints: Mapping[str, np.ndarray],
    original_fingerprints: np.ndarray | None,
    total: int | None,
) -> Verdict:
    parts = {k: np.asarray(v, dtype=np.uint64) for k, v in fingerprints.items()}
    orig = None if original_fingerprints is None else np.asarray(original_fingerprints, np.uint64)
    sizes = {k: len(v) for k, v in parts.items()}
    n_sets = sum(sizes.values())

    if orig is not None:
        for name, fp in parts.items():
            foreign = int(np.count_nonzero(multiset_counts(fp, orig) == 0))
            if foreign:
                return fail(
                    f"{foreign} of the {sizes[name]} events in the {name} set are not in the "
                    "original data: pass the sets as your split returned them, before scaling "
                    "or any other change."
                )
    for name, fp in parts.items():
        uniq, counts = np.unique(fp, return_counts=True)
        allowed = np.ones_like(counts) if orig is None else multiset_counts(uniq, orig)
        extra = int(np.maximum(counts - allowed, 0).sum())
        if extra:
            return fail(
                f"{plural(extra, 'event', ('appears', 'appear'))} more than once in the {name} set: "
                "draw the events "
                "without replacement (a permutation, or replace=False)."
            )
    names = list(parts)
    single = None if orig is None else np.unique(orig)[multiset_counts(np.unique(orig), orig) == 1]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = np.intersect1d(parts[a], parts[b])
            if single is not None:
                shared = np.intersect1d(shared, single)
            if len(shared):
                return fail(
                    f"{plural(len(shared), 'event', ('is', 'are'))} in both the {a} and the {b} set: "
                    "each event must "
                    "land in exactly one set (split once, then split what is left)."
                )
    if orig is not None:
        combined = np.concatenate(list(parts.values())) if parts else np.zeros(0, np.uint64)
        uniq, counts = np.unique(orig, return_counts=True)
        used = multiset_counts(uniq, combined)
        excess = int(np.maximum(used - counts, 0).sum())
        if excess:
            return fail(
                f"{plural(excess, 'event', ('is', 'are'))} used in more sets than they occur in the "
                "original data: "
                "each event must land in exactly one set."
            )
        missing = int(np.maximum(counts - used, 0).sum())
        if missing:
            return fail(
                f"{missing} of the {len(orig)} original events are in none of the sets (the sets "
                f"hold {n_sets} events together): every event must land in one set."
            )
    elif total is not None and n_sets != int(total):
        return fail(
            f"Your sets hold {n_sets} events together, expected {int(total)}: every event must "
            "land in exactly one set."
        )
    return passed()


# --------------------------------------------------------------------------------------------


def labels_aligned(X: Any, y: Any, X_original: Any, y_original: Any) -> None:
    """Check that every event still carries its own label after shuffling or splitting.

    Each row of ``X`` is looked up in ``X_original`` by value, and its label in ``y`` compared with
    the label that row has in ``y_original``.

    Parameters
    ----------
    X : array-like, shape (n, n_features)
        Features of a set after the split (unscaled).
    y : array-like, shape (n,) or (n, n_classes)
        Its labels.
    X_original : array-like, shape (N, n_features)
        Features before the split.
    y_original : array-like, shape (N,) or (N, n_classes)
        Labels before the split.

    Raises
    ------
    CheckFailed
        When lengths differ, rows are not in the original, or labels belong to other rows.
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        frames = align_frames({"X": X, "X_original": X_original}, X_original)
        return {
            "x_fingerprints": row_fingerprints(frames["X"], "X"),
            "y_fingerprints": row_fingerprints(y, "y"),
            "x_original_fingerprints": row_fingerprints(frames["X_original"], "X_original"),
            "y_original_fingerprints": row_fingerprints(y_original, "y_original"),
        }

    run_check("labels_aligned", derive)


@register("labels_aligned")
def _judge_labels_aligned(
    x_fingerprints: np.ndarray,
    y_fingerprints: np.ndarray,
    x_original_fingerprints: np.ndarray,
    y_original_fingerprints: np.ndarray,
) -> Verdict:
    fx = np.asarray(x_fingerprints, np.uint64)
    fy = np.asarray(y_fingerprints, np.uint64)
    fxo = np.asarray(x_original_fingerprints, np.uint64)
    fyo = np.asarray(y_original_fingerprints, np.uint64)
    if len(fx) != len(fy):
        return fail(
            f"Your features have {len(fx)} events but your labels {len(fy)}: split X and y "
            "together so that they keep the same events."
        )
    if len(fxo) != len(fyo):
        return fail(
            f"The original features have {len(fxo)} events but the original labels {len(fyo)}."
        )
    n = len(fx)
    not_found = int(np.count_nonzero(multiset_counts(fx, fxo) == 0))
    if not_found:
        return fail(
            f"{not_found} of your {n} events are not in the original data: pass the features "
            "as your split returned them, before scaling."
        )
    wrong = int(np.count_nonzero(multiset_counts(combine(fx, fy), combine(fxo, fyo)) == 0))
    if wrong:
        return fail(
            f"{wrong} of your {n} events ({pct(wrong / n)}) carry a label that is not their own: "
            "shuffle features and labels with the same permutation (or split X and y in one "
            "train_test_split call)."
        )
    return passed()


# --------------------------------------------------------------------------------------------


def evaluated_on_unseen(X_eval: Any, X_train: Any, *, max_shared_fraction: float = 0.0) -> None:
    """Check that the events a score was computed on are not training events.

    Parameters
    ----------
    X_eval : array-like, shape (n, n_features)
        The features of the events you evaluated on (unscaled or scaled, like ``X_train``).
    X_train : array-like, shape (m, n_features)
        The training features, in the same form.
    max_shared_fraction : float
        Largest fraction of ``X_eval`` allowed to be identical to training rows (0: none; raise
        it only for data with genuinely duplicated events).

    Raises
    ------
    CheckFailed
        When evaluation events are also training events.
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        frames = align_frames({"X_eval": X_eval, "X_train": X_train})
        return {
            "eval_fingerprints": row_fingerprints(frames["X_eval"], "the evaluation events"),
            "train_fingerprints": row_fingerprints(frames["X_train"], "the training events"),
        }

    run_check("evaluated_on_unseen", derive, {"max_shared_fraction": float(max_shared_fraction)})


@register("evaluated_on_unseen")
def _judge_evaluated_on_unseen(
    eval_fingerprints: np.ndarray, train_fingerprints: np.ndarray, max_shared_fraction: float
) -> Verdict:
    fe = np.asarray(eval_fingerprints, np.uint64)
    ft = np.asarray(train_fingerprints, np.uint64)
    if len(fe) == 0:
        return fail("You evaluated on no events at all: use the test set.")
    shared = int(np.count_nonzero(np.isin(fe, ft)))
    if shared / len(fe) > max_shared_fraction:
        what = (
            f"All {len(fe)} events you evaluated on are"
            if shared == len(fe)
            else f"{shared} of the {len(fe)} events you evaluated on ({pct(shared / len(fe))}) are"
        )
        return fail(
            f"{what} training events: compute the score on the test set, events the model "
            "never saw during training."
        )
    return passed()
