"""Checks of a model's interface: the inputs it takes and the outputs it returns.

Any model works: a torch ``nn.Module`` (``nn.Sequential`` or a subclass), a Keras model
(Sequential or functional), a fitted scikit-learn classifier, or a plain function of a numpy
array. Frameworks are recognised among the modules the student already imported; nothing here
imports torch or TensorFlow itself.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from autograder.checks._convert import to_numpy
from autograder.checks._core import Verdict, fail, fmt, passed, register, run_check

__all__ = ["model_io", "model_scores", "probe_batch"]

_BATCH = 4096


def probe_batch(n_inputs: int) -> np.ndarray:
    """The fixed batch ``model_io`` feeds: 8 seeded normal rows, their negatives, and both
    scaled by 10 (so a missing sigmoid shows as outputs outside [0, 1]).

    Returns
    -------
    numpy.ndarray of float32, shape (32, n_inputs)
    """
    base = np.random.default_rng(20240601).standard_normal((8, int(n_inputs)))
    return np.concatenate([base, -base, 10 * base, -10 * base]).astype(np.float32)


def _framework(model: Any) -> str:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return "torch"
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.Model):
        return "keras"
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(model, getattr(tf.keras, "Model", ())):
        return "keras"
    if hasattr(model, "predict_proba") or hasattr(model, "decision_function"):
        return "sklearn"
    if callable(model):
        return "callable"
    return "unknown"


def _torch_scores(model: Any, X: np.ndarray) -> np.ndarray:
    import torch  # the student's kernel already imported it: _framework() saw it

    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    dtype = params[0].dtype if params and params[0].is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    try:
        outs = []
        with torch.no_grad():
            for start in range(0, max(len(X), 1), _BATCH):
                batch = torch.as_tensor(X[start : start + _BATCH], dtype=dtype, device=device)
                outs.append(to_numpy(model(batch)))
        return np.concatenate(outs) if len(outs) > 1 else outs[0]
    finally:
        model.train(was_training)


def _keras_scores(model: Any, X: np.ndarray) -> np.ndarray:
    outs = []
    for start in range(0, max(len(X), 1), _BATCH):
        out = model(X[start : start + _BATCH], training=False)
        if isinstance(out, (list, tuple)) and len(out) == 1:
            out = out[0]
        outs.append(to_numpy(out))
    return np.concatenate(outs) if len(outs) > 1 else outs[0]


def _sklearn_scores(model: Any, X: np.ndarray, output: str) -> np.ndarray:
    if output == "logits" and hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X))
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
        return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
    return np.asarray(model.decision_function(X))


def model_scores(model: Any, X: Any, *, output: str = "probability") -> np.ndarray:
    """The model's outputs on ``X``, as numpy, whatever the model's framework.

    Torch models run in eval mode under ``no_grad`` on their own device and dtype (their training
    flag is restored); Keras models are called with ``training=False``; scikit-learn classifiers
    give ``predict_proba`` (the positive column for two classes) or ``decision_function`` when
    ``output="logits"``; any other callable is called with the numpy array.

    Parameters
    ----------
    model : torch.nn.Module, keras.Model, scikit-learn classifier or callable
    X : array-like, shape (n, n_inputs)
        Inputs, cast to float32.
    output : {"probability", "logits"}

    Returns
    -------
    numpy.ndarray
        Shape (n,) or (n, n_outputs), as the model returns it.

    Raises
    ------
    Exception
        Whatever the model raises.
    """
    X = np.asarray(to_numpy(X, "the inputs"), dtype=np.float32)
    kind = _framework(model)
    if kind == "torch":
        return _torch_scores(model, X)
    if kind == "keras":
        return _keras_scores(model, X)
    if kind == "sklearn":
        return _sklearn_scores(model, X, output)
    if kind == "callable":
        return to_numpy(model(X), "the model's output")
    raise TypeError(f"cannot run a {type(model).__name__} as a model")


def error_text(exc: BaseException, limit: int = 160) -> str:
    """``Type: first line`` of an exception, shortened, for a student message."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else ""
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def model_io(model: Any, n_inputs: int, *, output: str = "probability", n_outputs: int = 1) -> None:
    """Check that a model takes ``n_inputs`` features per event and returns one score per event
    (probabilities in [0, 1], or logits when the question asks for them).

    The model gets a fixed batch of 32 events (:func:`probe_batch`); the check records its
    outputs, so nothing of the model itself is recorded.

    Parameters
    ----------
    model : torch.nn.Module, keras.Model, scikit-learn classifier or callable
    n_inputs : int
        Number of input features.
    output : {"probability", "logits"}
        Probabilities must lie in [0, 1] (and sum to 1 over several outputs); logits must be
        finite.
    n_outputs : int
        Scores per event: 1 for a binary classifier with a sigmoid, k for a k-class softmax.

    Raises
    ------
    CheckFailed
        When the model fails on the batch, returns the wrong shape, or values out of range.
    """
    __tracebackhide__ = True
    if output not in {"probability", "logits"}:
        raise ValueError("output must be 'probability' or 'logits'")

    def derive() -> dict[str, Any]:
        probe = probe_batch(n_inputs)
        try:
            out = np.asarray(model_scores(model, probe, output=output), dtype=np.float64)
        except Exception as exc:
            return {"outputs": None, "error": error_text(exc), "n_events": len(probe)}
        return {"outputs": out, "error": None, "n_events": len(probe)}

    spec = {"n_inputs": int(n_inputs), "output": output, "n_outputs": int(n_outputs)}
    run_check("model_io", derive, spec)


@register("model_io")
def _judge_model_io(
    outputs: np.ndarray | None,
    error: str | None,
    n_events: int,
    n_inputs: int,
    output: str,
    n_outputs: int,
) -> Verdict:
    if error is not None or outputs is None:
        return fail(
            f"Your model could not process a batch of {n_events} events with {n_inputs} "
            f"features each ({error}): check that its first layer takes {n_inputs} inputs."
        )
    out = np.asarray(outputs, dtype=np.float64)
    shape = tuple(out.shape)
    ok_shapes = {(n_events, n_outputs)} | ({(n_events,)} if n_outputs == 1 else set())
    if shape not in ok_shapes:
        want = f"({n_events}, {n_outputs})" + (f" or ({n_events},)" if n_outputs == 1 else "")
        return fail(
            f"For {n_events} events your model returns shape {shape}, expected {want}: check "
            f"that the last layer has {n_outputs} output{'s' if n_outputs > 1 else ''}."
        )
    if not np.all(np.isfinite(out)):
        return fail(
            "Your model returns NaN or infinite values: check the layers and their initialisation."
        )
    if output == "probability":
        lo, hi = float(out.min()), float(out.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            last = "a sigmoid" if n_outputs == 1 else "a softmax"
            return fail(
                f"Your model returns values from {fmt(lo, 3)} to {fmt(hi, 3)}, expected "
                f"probabilities in [0, 1]: end the model with {last}."
            )
        if n_outputs > 1:
            sums = out.sum(axis=1)
            if np.any(np.abs(sums - 1) > 1e-4):
                return fail(
                    f"Your model's {n_outputs} outputs per event sum to {fmt(sums[0], 3)}, "
                    "expected 1: end the model with a softmax over the classes."
                )
    return passed()
