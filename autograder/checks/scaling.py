"""Check that a feature scaler was fitted on the training set only (no leakage)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np

from autograder.checks._convert import to_numpy
from autograder.checks._core import InputError, Verdict, fail, fmt, passed, register, run_check

__all__ = ["scaler_fit_on"]


def _arr(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(to_numpy(value), dtype=np.float64).ravel()


def _scaler_state(scaler: Any) -> dict[str, Any]:
    """The kind of scaler and its fitted statistics, as plain arrays."""
    if isinstance(scaler, (tuple, list)) and len(scaler) == 2:
        mean, std = scaler
        return {"kind": "standard", "mean": _arr(mean), "scale": _arr(std)}
    if hasattr(scaler, "adapt") and hasattr(scaler, "mean") and hasattr(scaler, "variance"):
        # keras.layers.Normalization after adapt()
        try:
            mean, var = _arr(scaler.mean), _arr(scaler.variance)
        except Exception:
            raise InputError(
                "Your Normalization layer has no statistics yet: call layer.adapt(X_train)."
            ) from None
        return {"kind": "standard", "mean": mean, "scale": np.sqrt(np.maximum(var, 0.0))}
    if hasattr(scaler, "var_") or hasattr(scaler, "mean_"):
        return {
            "kind": "standard",
            "mean": _arr(getattr(scaler, "mean_", None)),
            "scale": _arr(getattr(scaler, "scale_", None)),
        }
    if hasattr(scaler, "data_min_"):
        return {"kind": "minmax", "min": _arr(scaler.data_min_), "max": _arr(scaler.data_max_)}
    if hasattr(scaler, "center_") or (
        hasattr(scaler, "quantile_range") and hasattr(scaler, "scale_")
    ):
        lo, hi = getattr(scaler, "quantile_range", (25.0, 75.0))
        return {
            "kind": "robust",
            "center": _arr(getattr(scaler, "center_", None)),
            "scale": _arr(getattr(scaler, "scale_", None)),
            "quantile_range": (float(lo), float(hi)),
            "unit_variance": bool(getattr(scaler, "unit_variance", False)),
        }
    if hasattr(scaler, "max_abs_"):
        return {"kind": "maxabs", "max_abs": _arr(scaler.max_abs_)}
    if hasattr(scaler, "fit") and hasattr(scaler, "transform"):
        raise InputError(
            "Your scaler is not fitted yet: call scaler.fit(X_train) on the training set only."
        )
    raise InputError(
        f"Cannot read a fitted scaler from a {type(scaler).__name__}: pass a scikit-learn "
        "scaler, a keras Normalization layer, or a (mean, std) pair."
    )


def _stats(kind: str, X: Any, what: str, quantile_range: tuple[float, float]) -> dict[str, Any]:
    """The statistics of ``X`` that a scaler of this kind would learn from it."""
    a = to_numpy(X, what)
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"Could not read {what} as numbers.") from None
    a = a.reshape(a.shape[0], -1) if a.ndim > 1 else a[:, None]
    if a.shape[0] == 0:
        raise InputError(f"{what} holds no events.")
    with warnings.catch_warnings():  # all-NaN columns warn; they compare as NaN below
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "standard":
            return {"mean": np.nanmean(a, axis=0), "std": np.nanstd(a, axis=0)}
        if kind == "minmax":
            return {"min": np.nanmin(a, axis=0), "max": np.nanmax(a, axis=0)}
        if kind == "robust":
            lo, hi = quantile_range
            q = np.nanpercentile(a, [lo, 50.0, hi], axis=0)
            return {"q_lo": q[0], "median": q[1], "q_hi": q[2]}
        return {"max_abs": np.nanmax(np.abs(a), axis=0)}


def scaler_fit_on(
    scaler: Any,
    X_train: Any,
    *,
    others: Mapping[str, Any] | None = None,
    rtol: float = 1e-4,
) -> None:
    """Check that ``scaler`` learned its statistics from ``X_train`` and from nothing else.

    The scaler's fitted statistics (``mean_``/``scale_`` of a StandardScaler, ``data_min_``/
    ``data_max_`` of a MinMaxScaler, ``center_``/``scale_`` of a RobustScaler, ``max_abs_`` of a
    MaxAbsScaler, ``mean``/``variance`` of a keras Normalization layer, or a ``(mean, std)`` pair
    computed by hand) are compared with the same statistics of ``X_train``. When they do not
    match, the sets in ``others`` tell the student what the scaler was fitted on instead.

    Parameters
    ----------
    scaler : fitted scaler or (mean, std) pair
    X_train : array-like, shape (n, n_features)
        The training features, unscaled.
    others : dict of str to array-like, optional
        Other sets the scaler might have been fitted on, named as the message should say them,
        e.g. ``{"all events": X, "the test set": X_test}``.
    rtol : float
        Allowed difference, in units of the feature's spread in the training set.

    Raises
    ------
    CheckFailed
        When the scaler is not fitted, or its statistics are not those of ``X_train``.
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        state = _scaler_state(scaler)
        qr = tuple(state.get("quantile_range", (25.0, 75.0)))
        kind = state["kind"]
        return {
            "state": state,
            "train": _stats(kind, X_train, "X_train", qr),
            "others": {str(k): _stats(kind, v, str(k), qr) for k, v in (others or {}).items()},
        }

    run_check("scaler_fit_on", derive, {"rtol": float(rtol)})


def _expected(state: Mapping[str, Any], stats: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the scaler's attributes would be had it been fitted on data with ``stats``."""
    kind = state["kind"]
    if kind == "standard":
        std = np.asarray(stats["std"])
        return {"mean": stats["mean"], "scale": np.where(std == 0, 1.0, std)}
    if kind == "minmax":
        return {"min": stats["min"], "max": stats["max"]}
    if kind == "robust":
        iqr = np.asarray(stats["q_hi"]) - np.asarray(stats["q_lo"])
        if state.get("unit_variance"):
            lo, hi = state["quantile_range"]
            iqr = iqr / (NormalDist().inv_cdf(hi / 100.0) - NormalDist().inv_cdf(lo / 100.0))
        return {"center": stats["median"], "scale": np.where(iqr == 0, 1.0, iqr)}
    return {"max_abs": np.where(np.asarray(stats["max_abs"]) == 0, 1.0, stats["max_abs"])}


def _spread(state: Mapping[str, Any], stats: Mapping[str, np.ndarray]) -> np.ndarray:
    kind = state["kind"]
    if kind == "standard":
        s = np.asarray(stats["std"])
    elif kind == "minmax":
        s = np.asarray(stats["max"]) - np.asarray(stats["min"])
    elif kind == "robust":
        s = np.asarray(stats["q_hi"]) - np.asarray(stats["q_lo"])
    else:
        s = np.asarray(stats["max_abs"])
    return np.where(np.isfinite(s) & (s > 0), s, 1.0)


def _distance(state: Mapping[str, Any], stats: Mapping[str, np.ndarray]) -> tuple[float, int]:
    """Largest difference between the scaler and ``stats`` in spreads, and its feature index."""
    spread = _spread(state, stats)
    worst, where = 0.0, 0
    for key, want in _expected(state, stats).items():
        have = state.get(key)
        if have is None:
            continue
        have = np.asarray(have, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        if have.shape != want.shape:
            return float("inf"), -1
        d = np.abs(have - want) / spread
        if key == "scale" and state["kind"] == "standard":
            d = np.where((np.asarray(stats["std"]) == 0) & (have == 0), 0.0, d)
        d = np.where(np.isnan(have) & np.isnan(want), 0.0, d)
        d = np.where(np.isnan(d), np.inf, d)
        if d.size and float(d.max()) > worst:
            worst, where = float(d.max()), int(d.argmax())
    return worst, where


@register("scaler_fit_on")
def _judge_scaler_fit_on(
    state: Mapping[str, Any],
    train: Mapping[str, np.ndarray],
    others: Mapping[str, Mapping[str, np.ndarray]],
    rtol: float,
) -> Verdict:
    fitted = [k for k, v in state.items() if isinstance(v, np.ndarray)]
    if not fitted:
        return fail("Your scaler holds no statistics: fit it on X_train.")
    n_features = len(next(iter(train.values())))
    n_scaler = len(state[fitted[0]])
    if n_scaler != n_features:
        return fail(
            f"Your scaler was fitted on {n_scaler} features, but X_train has {n_features}: "
            "fit it on the training features."
        )
    worst, where = _distance(state, train)
    if worst <= rtol:
        return passed()
    matches = sorted((_distance(state, s)[0], name) for name, s in others.items())
    if matches and matches[0][0] <= rtol:
        name = matches[0][1]
        return fail(
            f"Your scaler was fitted on {name}, not on the training set only: fit it on "
            "X_train, then only transform the other sets (fitting on events you evaluate on "
            "leaks information about them)."
        )
    return fail(
        f"Your scaler's statistics do not match the training set (feature {where} is off by "
        f"{fmt(worst, 3)} of its spread): fit it on X_train and pass X_train unscaled."
    )
