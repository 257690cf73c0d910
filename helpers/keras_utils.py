"""Training utilities for Keras 3, with the same public names as :mod:`helpers.torch_utils`.

``seed_everything``, ``pick_device``, ``EarlyStopping``, ``fit``, ``evaluate``,
``predict_scores`` and ``summary`` are thin layers over Keras, so that the Keras and PyTorch
notebooks use the same words, defaults and output shapes: :func:`fit` returns Keras's own
``History`` (keys ``loss``, ``val_loss``, ``auc``, ``val_auc``, ...), :func:`predict_scores` a 1-D
NumPy array, :func:`evaluate` a dict. The TensorFlow backend is assumed where a function needs the
backend (device listing, op determinism).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import keras
import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "EarlyStopping",
    "ModelSummary",
    "evaluate",
    "fit",
    "pick_device",
    "predict_scores",
    "seed_everything",
    "summary",
]


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy's global generator and the Keras backend (TensorFlow).

    Parameters
    ----------
    seed : int
    deterministic : bool
        Also turn on TensorFlow's op determinism (``tf.config.experimental.
        enable_op_determinism``): GPU runs then repeat exactly, and an operation that has no
        deterministic GPU kernel raises an error instead of varying. It stays on for the session.

    Notes
    -----
    ``PYTHONHASHSEED`` is set for subprocesses only; the running interpreter's string hashing is
    fixed at start-up.
    """
    keras.utils.set_random_seed(int(seed))  # random, numpy, backend
    os.environ["PYTHONHASHSEED"] = str(int(seed))
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def pick_device(*, verbose: bool = True) -> str:
    """The device TensorFlow will run Keras models on: the first GPU if one is visible, else CPU.

    Parameters
    ----------
    verbose : bool
        Print one line saying which device and why.

    Returns
    -------
    str
        ``"/GPU:0"`` or ``"/CPU:0"`` (usable in ``with tf.device(...)``; Keras places models
        there by itself).
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        device, why = "/CPU:0", f"the {backend} backend chooses its own device"
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            device = "/GPU:0"
            why = f"{details.get('device_name', gpus[0].name)}; {len(gpus)} GPU(s) visible"
        else:
            device = "/CPU:0"
            why = f"no GPU visible to TensorFlow {tf.__version__}"
    if verbose:
        print(f"Using {device}: {why}")
    return device


class EarlyStopping(keras.callbacks.EarlyStopping):
    """``keras.callbacks.EarlyStopping`` with the course's defaults and keyword-only words.

    Same constructor words and rules as :class:`helpers.torch_utils.EarlyStopping`: an
    improvement is a change by more than ``min_delta`` in the right direction; training stops
    after ``patience`` epochs in a row without one; with ``restore_best_weights`` (default True
    here, False in Keras) the best epoch's weights are restored at the end of training, whether it
    stopped early or not. ``best_epoch`` and ``stopped_epoch`` are Keras's attributes
    (``stopped_epoch`` is 0 when it did not stop).

    Parameters
    ----------
    monitor : str
        ``"val_loss"``, ``"val_auc"``, ...
    patience : int
    min_delta : float
    mode : {"auto", "min", "max"}
    restore_best_weights : bool
    start_from_epoch : int
    verbose : bool
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: Literal["auto", "min", "max"] = "auto",
        restore_best_weights: bool = True,
        start_from_epoch: int = 0,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            monitor=monitor,
            min_delta=min_delta,
            patience=patience,
            verbose=int(verbose),
            mode=mode,
            restore_best_weights=restore_best_weights,
            start_from_epoch=start_from_epoch,
        )


class _TqdmProgress(keras.callbacks.Callback):
    """One tqdm bar over epochs showing the latest logs (as :func:`helpers.torch_utils.fit`)."""

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.params.get("epochs"), desc="training", unit="epoch")

    def on_epoch_end(self, epoch, logs=None):
        self.bar.set_postfix({k: f"{float(v):.4g}" for k, v in (logs or {}).items()}, refresh=False)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


def _metric_objects(metrics: Iterable[Any] | None, logits: bool) -> list[Any]:
    """``"auc"`` and ``"accuracy"`` as Keras metrics named like the torch helpers' keys."""
    out = []
    for m in metrics or []:
        if m == "auc":
            out.append(keras.metrics.AUC(from_logits=logits, name="auc"))
        elif m == "accuracy":
            out.append(keras.metrics.BinaryAccuracy(threshold=0.0 if logits else 0.5, name=m))
        else:
            out.append(m)
    return out


def _split(data: Any) -> dict[str, Any]:
    """``(X, y)`` / ``(X, y, w)`` tuples into fit/evaluate keywords; datasets passed as ``x``."""
    if isinstance(data, tuple):
        if len(data) not in (2, 3):
            raise ValueError("data must be (X, y) or (X, y, sample_weight)")
        return dict(zip(("x", "y", "sample_weight"), data, strict=False))
    return {"x": data}


def fit(
    model: keras.Model,
    train: Any,
    val: Any = None,
    *,
    epochs: int,
    loss: Any = None,
    optimizer: Any = None,
    metrics: Sequence[Any] | None = None,
    logits: bool = False,
    batch_size: int | None = None,
    scheduler: Callable[[int, float], float] | keras.callbacks.Callback | None = None,
    early_stopping: keras.callbacks.EarlyStopping | None = None,
    progress: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    **fit_kwargs: Any,
) -> keras.callbacks.History:
    """Train a Keras model: ``model.fit`` with the course's words and a tqdm progress bar.

    Parameters
    ----------
    model : keras.Model
        Compiled here when ``loss`` is given; otherwise it must already be compiled.
    train, val : tuple ``(X, y)`` or ``(X, y, sample_weight)``, or a ``tf.data.Dataset``
        Training and (optional) validation data.
    epochs : int
    loss, optimizer : Keras loss / optimizer (objects or names), optional
        ``optimizer`` defaults to ``"adam"`` when ``loss`` is given.
    metrics : sequence, optional
        ``"auc"`` and ``"accuracy"`` (recorded as ``auc``/``val_auc`` etc.) or Keras metrics.
    logits : bool
        The model outputs logits: ``"auc"`` and ``"accuracy"`` are set up for them (the loss is
        yours to choose, e.g. ``keras.losses.BinaryCrossentropy(from_logits=True)``).
    batch_size : int, optional
        Keras's default (32) for arrays; must be None for a dataset.
    scheduler : callable ``(epoch, lr) -> lr`` or a Keras callback, optional
        A function becomes ``keras.callbacks.LearningRateScheduler``; a callback such as
        ``ReduceLROnPlateau`` is used as is. Keras then records ``"learning_rate"``.
    early_stopping : EarlyStopping, optional
    progress : bool
        A tqdm bar over epochs (Keras's own output is off; pass ``verbose=1`` with
        ``progress=False`` for the Keras progress bar).
    callbacks : sequence of keras.callbacks.Callback
        More callbacks.
    **fit_kwargs
        Passed to ``model.fit`` (``class_weight``, ``shuffle``, ``verbose``, ...).

    Returns
    -------
    keras.callbacks.History
        ``history.history["loss"]`` etc., one value per epoch run.
    """
    if loss is not None:
        model.compile(
            optimizer=optimizer if optimizer is not None else "adam",
            loss=loss,
            metrics=_metric_objects(metrics, logits),
        )
    elif optimizer is not None or metrics is not None:
        raise ValueError("pass loss too: the model is compiled with loss, optimizer and metrics")
    elif not model.compiled:
        raise ValueError("the model is not compiled: pass loss= (and optimizer=) or compile it")
    cbs = list(callbacks)
    if scheduler is not None:
        if isinstance(scheduler, keras.callbacks.Callback):
            cbs.append(scheduler)
        elif callable(scheduler):
            cbs.append(keras.callbacks.LearningRateScheduler(scheduler))
        else:
            raise TypeError("scheduler must be a function (epoch, lr) -> lr or a Keras callback")
    if early_stopping is not None:
        if early_stopping.monitor.startswith("val_") and val is None:
            raise ValueError(f"early stopping monitors {early_stopping.monitor!r}: pass val data")
        cbs.append(early_stopping)
    if progress:
        cbs.append(_TqdmProgress())
    fit_kwargs.setdefault("verbose", 0)
    return model.fit(
        **_split(train),
        validation_data=val,
        epochs=int(epochs),
        batch_size=batch_size,
        callbacks=cbs,
        **fit_kwargs,
    )


def evaluate(model: keras.Model, data: Any, *, batch_size: int | None = None) -> dict[str, float]:
    """Loss and compiled metrics of ``model`` on ``data``.

    Parameters
    ----------
    model : keras.Model
        Compiled (e.g. by :func:`fit`).
    data : tuple ``(X, y)`` or ``(X, y, sample_weight)``, or a dataset
    batch_size : int, optional

    Returns
    -------
    dict of str to float
        ``"loss"`` and one entry per metric (``"auc"``, ...), as in :func:`fit`'s history.
    """
    res = model.evaluate(**_split(data), batch_size=batch_size, verbose=0, return_dict=True)
    return {k: float(v) for k, v in res.items()}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow for large |x|."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def predict_scores(
    model: keras.Model, X: Any, *, batch_size: int | None = 1024, logits: bool = False
) -> np.ndarray:
    """Classifier scores of ``model`` for ``X`` as a 1-D NumPy array (inference mode).

    Parameters
    ----------
    model : keras.Model
        Output of shape (N,), (N, 1), or (N, 2) for two classes (column 1 is the signal score).
    X : array, DataFrame or dataset, shape (N, ...)
    batch_size : int, optional
        Examples per forward pass (None for a dataset).
    logits : bool
        Apply the sigmoid (softmax for two outputs) to get probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (N,), float32
    """
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    out = np.asarray(model.predict(X, batch_size=batch_size, verbose=0))
    if out.ndim == 2 and out.shape[1] == 2:
        # softmax column 1 of two logits is the sigmoid of their difference
        out = _sigmoid(out[:, 1] - out[:, 0]) if logits else out[:, 1]
    else:
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.ndim != 1:
            raise ValueError(f"model output of shape {out.shape} is not one score per example")
        out = _sigmoid(out) if logits else out
    return out.astype(np.float32, copy=False)


@dataclass(frozen=True)
class ModelSummary:
    """What :func:`summary` returns: the Keras summary table, shown when it ends a cell.

    Attributes
    ----------
    text : str
    total_params, trainable_params : int
        As ``torchinfo.ModelStatistics`` has them (model weights only, no optimizer state).
    """

    text: str
    total_params: int
    trainable_params: int

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def _count(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def summary(model: keras.Model, input_size: Sequence[int] | None = None) -> ModelSummary:
    """Layer-by-layer summary of ``model`` (Keras's ``model.summary``), as text and counts.

    Parameters
    ----------
    model : keras.Model
    input_size : sequence of int, optional
        Shape of one input batch, batch dimension first, e.g. ``(1, 28)`` (as for torchinfo):
        builds a model that has not seen data yet. Not needed after ``keras.Input``.

    Returns
    -------
    ModelSummary
    """
    if not model.built:
        if input_size is None:
            raise ValueError("the model is not built yet: pass input_size=(batch, features...)")
        model.build((None, *tuple(input_size)[1:]))
    lines: list[str] = []
    model.summary(print_fn=lambda text, *args, **kwargs: lines.append(str(text)))
    return ModelSummary(
        text="\n".join(lines).rstrip(),
        total_params=_count(model.weights),
        trainable_params=_count(model.trainable_weights),
    )
