"""Early stopping and the training history for PyTorch, as ``keras.callbacks`` has them.

:class:`EarlyStopping` watches one quantity per epoch and keeps the best weights, in
:func:`helpers.torch_utils.fit` or in a loop students write themselves; :class:`History` is what
``fit`` returns, with a ``.history`` dict of Keras's keys. Both are re-exported by
:mod:`helpers.torch_utils`, the module notebooks import. This module imports torch only for type
hints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["EarlyStopping", "History"]


class EarlyStopping:
    """Stop training when a monitored quantity stops improving; keep the best weights.

    Same words and rules as ``keras.callbacks.EarlyStopping`` (and
    :class:`helpers.keras_utils.EarlyStopping`): a value improves on the best when it is lower by
    more than ``min_delta`` (``mode="min"``; higher for ``"max"``); training stops once
    ``patience`` epochs in a row brought no improvement. With ``restore_best_weights`` the model
    gets the best epoch's weights back at the end, whether it stopped early or ran out of epochs.

    Parameters
    ----------
    monitor : str
        Key of the history to watch, e.g. ``"val_loss"`` or ``"val_auc"``.
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        Smallest change that counts as an improvement (in the monitored quantity's unit).
    mode : {"auto", "min", "max"}
        Direction of improvement; ``"auto"`` is ``"max"`` for AUC/accuracy, ``"min"`` for losses.
    restore_best_weights : bool
    start_from_epoch : int
        Epochs of warm-up before monitoring starts.
    verbose : bool
        Print a line when stopping and when restoring.

    Examples
    --------
    In your own loop::

        stopper = EarlyStopping(patience=3)
        for epoch in range(100):
            ...  # train one epoch, compute val_loss
            if stopper.step(val_loss, model):
                break
        stopper.restore(model)
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
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', not {mode!r}")
        if mode == "auto":
            name = monitor.removeprefix("val_")
            if "loss" in name:
                mode = "min"
            elif name in ("auc", "accuracy", "acc"):
                mode = "max"
            else:
                raise ValueError(f"cannot tell whether {monitor!r} should rise or fall: pass mode")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self.reset()

    def reset(self) -> None:
        """Forget the previous run (``fit`` calls this at the start)."""
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._epoch = 0

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _snapshot(self, model: torch.nn.Module) -> None:
        if self.restore_best_weights:
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def step(self, value: float, model: torch.nn.Module) -> bool:
        """Record the end of one epoch; return True when training should stop.

        Parameters
        ----------
        value : float
            The monitored quantity at the end of this epoch (a NaN never improves).
        model : torch.nn.Module
            Its weights are copied when this epoch is the best so far.
        """
        epoch = self._epoch
        self._epoch += 1
        value = float(value)
        if epoch < self.start_from_epoch:
            return False
        if self.best_state is None:
            self.best_epoch = epoch
            self._snapshot(model)
        self.wait += 1
        if self._improves(value) and not np.isnan(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self._snapshot(model)
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping ({self.monitor} best {self.best:.5g})")
            return True
        return False

    def restore(self, model: torch.nn.Module) -> bool:
        """Load the best epoch's weights into ``model`` (if ``restore_best_weights``).

        Returns
        -------
        bool
            Whether weights were restored.
        """
        if not (self.restore_best_weights and self.best_state is not None):
            return False
        model.load_state_dict(self.best_state)
        if self.verbose:
            print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
        return True


@dataclass
class History:
    """What :func:`fit` returns: per-epoch values, shaped like ``keras.callbacks.History``.

    Attributes
    ----------
    history : dict of str to list of float
        ``"loss"`` (mean training loss per epoch), ``"val_loss"`` with validation data, one key
        per metric (``"auc"``, ``"val_auc"``, ...) and ``"learning_rate"`` with a scheduler.
    epoch : list of int
        Epoch numbers, from 0.
    params : dict
        ``epochs``, ``steps`` (batches per epoch) and ``batch_size``.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def append(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Add one epoch's values."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
