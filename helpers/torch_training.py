"""The PyTorch training loop: ``fit``, ``evaluate``, ``predict_scores`` and ``summary``.

:func:`fit` trains the way ``keras.Model.fit`` does and returns a
:class:`~helpers.torch_callbacks.History`; :func:`evaluate` and :func:`predict_scores` run a
model without gradients; :func:`summary` prints its layers. The data plumbing they share (tuples
of arrays batched by slicing, targets shaped like the outputs, one score per example, named
metrics) lives here too. All are re-exported by :mod:`helpers.torch_utils`, the module notebooks
import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from helpers.torch_callbacks import EarlyStopping, History

__all__ = ["evaluate", "fit", "predict_scores", "summary"]

Metric = Callable[[np.ndarray, np.ndarray], float]
DEFAULT_BATCH_SIZE = 32  # as Keras

# --- data plumbing --------------------------------------------------------------------------------


def _tensor(a: Any) -> torch.Tensor:
    """A tensor sharing memory where possible; floating point becomes float32."""
    if isinstance(a, torch.Tensor):
        return a.float() if a.is_floating_point() and a.dtype != torch.float32 else a
    arr = np.asarray(a.to_numpy() if hasattr(a, "to_numpy") else a)  # pandas -> NumPy
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    elif not arr.flags.writeable:  # e.g. a pandas copy-on-write view
        arr = arr.copy()
    return torch.from_numpy(arr)


class _TensorBatches:
    """Batches of in-memory tensors by slicing: what a DataLoader over a TensorDataset yields,
    without its per-example indexing and collation (3x faster for small models)."""

    def __init__(self, tensors: Sequence[torch.Tensor], batch_size: int, shuffle: bool) -> None:
        if len({len(t) for t in tensors}) != 1:
            raise ValueError(f"X and y differ in length: {[len(t) for t in tensors]}")
        self.tensors, self.batch_size, self.shuffle = tuple(tensors), batch_size, shuffle

    def __len__(self) -> int:
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n) if self.shuffle else None
        for i in range(0, n, self.batch_size):
            take = (
                order[i : i + self.batch_size]
                if order is not None
                else slice(i, i + self.batch_size)
            )
            yield tuple(t[take] for t in self.tensors)


def _loader(data: Any, batch_size: int | None, *, shuffle: bool) -> Iterable:
    """Batches from a DataLoader, a Dataset or a tuple ``(X, y)`` / ``(X,)`` / ``X``."""
    if isinstance(data, DataLoader):
        if batch_size is not None:
            raise ValueError("batch_size is set by the DataLoader; pass batch_size=None")
        return data
    size = DEFAULT_BATCH_SIZE if batch_size is None else int(batch_size)
    if isinstance(data, Dataset):
        return DataLoader(data, batch_size=size, shuffle=shuffle)
    if not isinstance(data, tuple):  # a tuple is (X, y); anything else is X
        data = (data,)
    return _TensorBatches([_tensor(a) for a in data], size, shuffle)


def _inputs_targets(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None
        if len(batch) == 2:
            return batch[0], batch[1]
        raise ValueError(f"a batch must be (X, y), not {len(batch)} tensors")
    return batch, None


def _match_target(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Shape and dtype the targets like a one-output model's outputs: (N,) -> (N, 1), int -> float."""
    if out.ndim == y.ndim + 1 and out.shape[-1] == 1 and out.shape[:-1] == y.shape:
        y = y.unsqueeze(-1)
    if y.shape == out.shape and y.dtype != out.dtype:
        y = y.to(out.dtype)
    return y


def _scores(out: torch.Tensor, logits: bool) -> torch.Tensor:
    """One score per example: (N,) or (N, 1) as is, column 1 of a two-class (N, 2) output."""
    if out.ndim == 2 and out.shape[1] == 2:
        return torch.softmax(out, dim=1)[:, 1] if logits else out[:, 1]
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1:
        raise ValueError(f"model output of shape {tuple(out.shape)} is not one score per example")
    return torch.sigmoid(out) if logits else out


def _accuracy(y_true: np.ndarray, y_score: np.ndarray) -> float:
    return float(np.mean((y_score > 0.5) == (y_true > 0.5)))


_BUILTIN_METRICS: dict[str, Metric] = {
    "auc": lambda y, s: float(roc_auc_score(y, s)),
    "accuracy": _accuracy,
}


def _metric_table(metrics: Mapping[str, Metric] | Iterable[str] | None) -> dict[str, Metric]:
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    table = {}
    for name in metrics:
        if name not in _BUILTIN_METRICS:
            known = ", ".join(_BUILTIN_METRICS)
            raise ValueError(f"unknown metric {name!r}: use one of {known} or pass a dict")
        table[name] = _BUILTIN_METRICS[name]
    return table


def _model_device(model: torch.nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _run_epoch(model, loader, loss, optimizer, device, want_scores: bool, logits: bool):
    """One pass over ``loader``: train when ``optimizer`` is given, else evaluate (no grad).
    Returns (mean loss or None, targets, scores)."""
    total = torch.zeros((), device=device)
    count = 0
    ys, ss = [], []
    for batch in loader:
        x, y = _inputs_targets(batch)
        x = x.to(device)
        with torch.set_grad_enabled(optimizer is not None):
            out = model(x)
            if loss is not None:
                if y is None:
                    raise ValueError("the data has no targets: pass (X, y)")
                target = _match_target(out, y.to(device))
                value = loss(out, target)
        if optimizer is not None:
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
        if loss is not None:
            total += value.detach() * len(x)
        count += len(x)
        if want_scores:
            if y is None:
                raise ValueError("metrics need targets: pass (X, y)")
            ys.append(y.detach().reshape(-1).cpu())
            ss.append(_scores(out.detach(), logits).cpu())
    mean = float(total) / max(count, 1) if loss is not None else None
    if not want_scores:
        return mean, None, None
    return mean, torch.cat(ys).numpy(), torch.cat(ss).float().numpy()


def fit(
    model: torch.nn.Module,
    train: DataLoader | Dataset | Sequence,
    val: DataLoader | Dataset | Sequence | None = None,
    *,
    epochs: int,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    batch_size: int | None = None,
    scheduler: Any = None,
    early_stopping: EarlyStopping | None = None,
    metrics: Mapping[str, Metric] | Iterable[str] | None = None,
    logits: bool = False,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> History:
    """Train ``model`` for up to ``epochs`` epochs, the way ``keras.Model.fit`` does.

    Parameters
    ----------
    model : torch.nn.Module
    train, val : DataLoader, Dataset, or tuple ``(X, y)`` of tensors / arrays / pandas objects
        Training and (optional) validation data. Tuples are batched here (training batches
        shuffled each epoch with torch's global generator, so :func:`seed_everything` fixes
        them); float64 arrays become float32. A target of shape (N,) is reshaped to (N, 1) for
        a model with one output, and cast to the output's dtype.
    epochs : int
    loss : callable ``(output, target) -> scalar tensor``
        E.g. ``torch.nn.BCELoss()`` for a sigmoid output, ``torch.nn.BCEWithLogitsLoss()`` for
        logits.
    optimizer : torch.optim.Optimizer
    batch_size : int, optional
        For tuple or Dataset data (default 32, as Keras); must be None for a DataLoader.
    scheduler : torch.optim.lr_scheduler.LRScheduler or ReduceLROnPlateau, optional
        Stepped once per epoch; ``ReduceLROnPlateau`` gets ``val_loss`` (``loss`` without
        validation data). The learning rate is then recorded as ``"learning_rate"``.
    early_stopping : EarlyStopping, optional
        Checked after each epoch on its ``monitor`` key; restores the best weights at the end.
    metrics : dict of name to ``f(y_true, y_score) -> float``, or names, optional
        Built-in names: ``"auc"`` (ROC AUC) and ``"accuracy"`` (score > 0.5). Computed on each
        epoch's training outputs (as Keras, with the weights changing during the epoch) and on
        the validation data, as ``name`` and ``val_name``.
    logits : bool
        The model outputs logits: metrics see ``sigmoid(output)`` (softmax column 1 for two
        outputs).
    progress : bool
        Show a tqdm bar over epochs with the latest values.
    device : torch.device or str, optional
        Move the model there first; default: where the model's parameters already are.

    Returns
    -------
    History
        ``history.history["loss"]`` etc., one value per epoch run. The model is left in eval
        mode (call ``model.train()`` before training it in your own loop).
    """
    if device is not None:
        device = torch.device(device)
        model.to(device)
    else:
        device = _model_device(model)
    train_loader = _loader(train, batch_size, shuffle=True)
    val_loader = None if val is None else _loader(val, batch_size, shuffle=False)
    table = _metric_table(metrics)
    keys = ["loss", *table]
    if val_loader is not None:
        keys += ["val_loss", *(f"val_{name}" for name in table)]
    if scheduler is not None:
        keys.append("learning_rate")
    if early_stopping is not None:
        if early_stopping.monitor not in keys:
            hint = ": pass val data" if val_loader is None else ""
            raise ValueError(
                f"early stopping monitors {early_stopping.monitor!r}, but fit records {keys}{hint}"
            )
        early_stopping.reset()
    history = History(
        params={
            "epochs": int(epochs),
            "steps": len(train_loader),
            "batch_size": train_loader.batch_size,
        }
    )
    bar = tqdm(range(int(epochs)), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        train_loss, y, s = _run_epoch(
            model, train_loader, loss, optimizer, device, bool(table), logits
        )
        logs = {"loss": train_loss}
        logs.update({name: f(y, s) for name, f in table.items()})
        if val_loader is not None:
            model.eval()
            val_loss, y, s = _run_epoch(model, val_loader, loss, None, device, bool(table), logits)
            logs["val_loss"] = val_loss
            logs.update({f"val_{name}": f(y, s) for name, f in table.items()})
        if scheduler is not None:
            logs["learning_rate"] = optimizer.param_groups[0]["lr"]
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(logs.get("val_loss", logs["loss"]))
            else:
                scheduler.step()
        history.append(epoch, logs)
        bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
        if early_stopping is not None:
            if early_stopping.step(logs[early_stopping.monitor], model):
                break
    bar.close()
    if early_stopping is not None:
        early_stopping.restore(model)
    model.eval()
    return history


def evaluate(
    model: torch.nn.Module,
    data: DataLoader | Dataset | Sequence,
    *,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    metrics: Mapping[str, Metric] | Iterable[str] | None = None,
    batch_size: int | None = None,
    logits: bool = False,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``data`` (eval mode, no gradients).

    Parameters are those of :func:`fit`; ``batch_size`` defaults to 32 for tuple data.

    Returns
    -------
    dict of str to float
        ``"loss"`` (mean per example) when ``loss`` is given, and one entry per metric.
    """
    device = torch.device(device) if device is not None else _model_device(model)
    table = _metric_table(metrics)
    was_training = model.training
    model.eval()
    try:
        mean, y, s = _run_epoch(
            model, _loader(data, batch_size, shuffle=False), loss, None, device, bool(table), logits
        )
    finally:
        model.train(was_training)
    out = {} if mean is None else {"loss": mean}
    out.update({name: f(y, s) for name, f in table.items()})
    return out


def predict_scores(
    model: torch.nn.Module,
    X: Any,
    *,
    batch_size: int = 1024,
    logits: bool = False,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """Classifier scores of ``model`` for ``X`` as a 1-D NumPy array.

    Runs in eval mode without gradients (the model's mode is restored afterwards).

    Parameters
    ----------
    model : torch.nn.Module
        Output of shape (N,), (N, 1), or (N, 2) for two classes (column 1 is the signal score).
    X : tensor, array, DataFrame, Dataset or DataLoader, shape (N, ...)
        A DataLoader or Dataset may yield ``(X, y)``; the targets are ignored.
    batch_size : int
        Examples per forward pass (ignored for a DataLoader).
    logits : bool
        Apply the sigmoid (softmax for two outputs) to get probabilities in [0, 1].
    device : torch.device or str, optional
        Default: where the model's parameters are.

    Returns
    -------
    numpy.ndarray, shape (N,), float32
    """
    device = torch.device(device) if device is not None else _model_device(model)
    loader = X if isinstance(X, DataLoader) else _loader(X, batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    scores = []
    try:
        with torch.no_grad():
            for batch in loader:
                x, _ = _inputs_targets(batch)
                scores.append(_scores(model(x.to(device)), logits).float().cpu())
    finally:
        model.train(was_training)
    if not scores:
        return np.zeros(0, dtype=np.float32)
    return torch.cat(scores).numpy()


def summary(model: torch.nn.Module, input_size: Sequence[int] | None = None, **kwargs: Any):
    """Layer-by-layer summary of ``model`` (torchinfo), shown when it ends a notebook cell.

    Parameters
    ----------
    model : torch.nn.Module
    input_size : sequence of int, optional
        Shape of one input batch, batch dimension first, e.g. ``(1, 28)``: with it the summary
        lists output shapes and runs one forward pass on zeros.
    **kwargs
        Passed to ``torchinfo.summary`` (e.g. ``depth=2``, ``col_names=...``).

    Returns
    -------
    torchinfo.ModelStatistics
        Prints as the table; has ``total_params`` and ``trainable_params``.
    """
    try:
        import torchinfo
    except ImportError as err:  # Colab ships torch but not torchinfo
        raise ImportError("summary needs torchinfo: pip install torchinfo") from err
    kwargs.setdefault("verbose", 0)
    kwargs.setdefault("device", _model_device(model))
    return torchinfo.summary(model, input_size=input_size, **kwargs)
