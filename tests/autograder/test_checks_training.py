"""autograder.checks.loss_decreased and loader_covers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autograder import checks
from autograder.checks import CheckFailed


class _History:  # what keras.Model.fit returns, without importing keras
    def __init__(self, history: dict) -> None:
        self.history = history


@pytest.mark.parametrize(
    "history",
    [
        [0.69, 0.5, 0.4, 0.35],
        np.array([0.69, 0.5, 0.4, 0.35]),
        {"loss": [0.69, 0.5, 0.4, 0.35], "val_loss": [0.7, 0.6, 0.55, 0.5]},
        _History({"loss": [0.69, 0.5, 0.4, 0.35]}),
        pd.DataFrame({"loss": [0.69, 0.5, 0.4, 0.35]}),
    ],
    ids=["list", "array", "dict", "keras_history", "dataframe"],
)
def test_decreasing_loss_passes(history):
    checks.loss_decreased(history)


def test_flat_loss_fails_with_values():
    with pytest.raises(CheckFailed) as err:
        checks.loss_decreased([0.6931, 0.6930, 0.6929])
    assert str(err.value) == (
        "Your loss went from 0.6931 (first epoch) to 0.6929 (last epoch), a drop of 0.02886%; "
        "expected a drop of at least 10%: check that every step calls zero_grad, backward and "
        "step, and the learning rate."
    )


def test_rising_and_nan_and_short_histories_fail():
    with pytest.raises(CheckFailed, match="a rise of 50%"):
        checks.loss_decreased([0.4, 0.5, 0.6])
    with pytest.raises(CheckFailed, match="Your loss became nan at epoch 3: lower the learning"):
        checks.loss_decreased([0.7, 0.5, float("nan"), 0.3])
    with pytest.raises(CheckFailed, match="holds 1 loss value, expected one per epoch"):
        checks.loss_decreased([0.7])
    with pytest.raises(CheckFailed, match="Your history has no 'loss' entry"):
        checks.loss_decreased({"train_loss": [0.7, 0.3]})
    checks.loss_decreased({"train_loss": [0.7, 0.3]}, key="train_loss")


@pytest.mark.torch
def test_loss_list_of_torch_scalars():
    torch = pytest.importorskip("torch")
    checks.loss_decreased([torch.tensor(0.7), torch.tensor(0.4)])


# ---------------------------------------------------------------------------- loaders


def _batches(X, y, batch_size, order):
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield X[idx], y[idx]


@pytest.fixture
def train() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    return rng.normal(size=(103, 4)).astype(np.float32), rng.integers(0, 2, 103)


def test_plain_iterable_loader(train):
    X, y = train
    order = np.random.default_rng(0).permutation(len(X))
    checks.loader_covers(list(_batches(X, y, 16, order)), len(X), X_train=X)
    checks.loader_covers(list(_batches(X, y, 16, order)), len(X))
    checks.loader_covers([{"x": xb, "y": yb} for xb, yb in _batches(X, y, 16, order)], len(X))


def test_drop_last_is_explained(train):
    X, y = train
    batches = [b for b in _batches(X, y, 16, np.arange(len(X))) if len(b[0]) == 16]
    with pytest.raises(CheckFailed) as err:
        checks.loader_covers(batches, len(X))
    assert str(err.value) == (
        "One pass over your loader yields 96 events, expected the 103 training events: with "
        "drop_last=True the last, partial batch is lost: keep it."
    )


def test_sampling_with_replacement_fails(train):
    X, y = train
    order = np.random.default_rng(0).integers(0, len(X), len(X))
    with pytest.raises(CheckFailed, match="training events never come out of your loader"):
        checks.loader_covers(list(_batches(X, y, 16, order)), len(X), X_train=X)


def test_loader_over_the_wrong_set_fails(train):
    X, y = train
    other = X + 1
    with pytest.raises(CheckFailed, match="103 of the 103 events your loader yields are not in"):
        checks.loader_covers(list(_batches(other, y, 16, np.arange(len(X)))), len(X), X_train=X)


def test_endless_loader_is_stopped(train):
    X, y = train

    def forever():
        while True:
            yield X[:10], y[:10]

    with pytest.raises(CheckFailed, match="yields more than twice the 103 training events"):
        checks.loader_covers(forever(), len(X))


def test_loader_that_raises(train):
    def broken():
        yield train[0][:10], train[1][:10]
        raise KeyError("label")

    with pytest.raises(
        CheckFailed, match=r"Iterating over your loader failed \(KeyError: 'label'\)"
    ):
        checks.loader_covers(broken(), 103)


@pytest.mark.torch
def test_torch_dataloader(train):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    X, y = train
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    checks.loader_covers(DataLoader(ds, batch_size=16, shuffle=True), len(X), X_train=X)
    with pytest.raises(CheckFailed, match="drop_last=True"):
        checks.loader_covers(DataLoader(ds, batch_size=16, drop_last=True), len(X), X_train=X)
    gen = torch.Generator().manual_seed(0)
    sampler = torch.utils.data.RandomSampler(ds, replacement=True, generator=gen)
    with pytest.raises(CheckFailed, match="sampling with replacement"):
        checks.loader_covers(DataLoader(ds, batch_size=16, sampler=sampler), len(X), X_train=X)
