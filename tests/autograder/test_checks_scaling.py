"""autograder.checks.scaler_fit_on: scalers fitted on the training set pass, leakage fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from autograder import checks
from autograder.checks import CheckFailed

SCALERS = [
    StandardScaler,
    MinMaxScaler,
    RobustScaler,
    MaxAbsScaler,
    lambda: RobustScaler(quantile_range=(10.0, 90.0), unit_variance=True),
]


@pytest.fixture
def split() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(loc=[0.0, 50.0, -3.0, 125.0], scale=[1.0, 10.0, 0.1, 20.0], size=(1000, 4))
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    return X, X_train, X_test


@pytest.mark.parametrize("make", SCALERS, ids=["standard", "minmax", "robust", "maxabs", "robust2"])
def test_fitted_on_train_passes(split, make):
    X, X_train, X_test = split
    scaler = make().fit(X_train)
    checks.scaler_fit_on(scaler, X_train, others={"all events": X, "the test set": X_test})


def test_float32_training_set_passes(split):
    _, X_train, _ = split
    X32 = X_train.astype(np.float32)
    checks.scaler_fit_on(StandardScaler().fit(X32), X32)


def test_dataframe_and_manual_mean_std_pass(split):
    _, X_train, _ = split
    df = pd.DataFrame(X_train, columns=list("abcd"))
    checks.scaler_fit_on(StandardScaler().fit(df), df)
    checks.scaler_fit_on((X_train.mean(axis=0), X_train.std(axis=0)), X_train)


def test_constant_feature_passes():
    X_train = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    checks.scaler_fit_on(StandardScaler().fit(X_train), X_train)


@pytest.mark.parametrize("make", SCALERS[:3], ids=["standard", "minmax", "robust"])
def test_fitted_on_all_events_is_leakage(split, make):
    X, X_train, X_test = split
    scaler = make().fit(X)
    with pytest.raises(CheckFailed) as err:
        checks.scaler_fit_on(scaler, X_train, others={"all events": X, "the test set": X_test})
    msg = str(err.value)
    assert msg.startswith("Your scaler was fitted on all events, not on the training set only")
    assert "leaks information" in msg


def test_fitted_on_test_set_is_named(split):
    X, X_train, X_test = split
    scaler = StandardScaler().fit(X_test)
    with pytest.raises(CheckFailed, match="fitted on the test set, not on the training set"):
        checks.scaler_fit_on(scaler, X_train, others={"all events": X, "the test set": X_test})


def test_leakage_without_others_says_what_is_off(split):
    X, X_train, _ = split
    with pytest.raises(CheckFailed) as err:
        checks.scaler_fit_on(StandardScaler().fit(X), X_train)
    assert str(err.value).startswith("Your scaler's statistics do not match the training set")


def test_scaled_training_set_passed_is_explained(split):
    _, X_train, _ = split
    scaler = StandardScaler().fit(X_train)
    with pytest.raises(CheckFailed, match="pass X_train unscaled"):
        checks.scaler_fit_on(scaler, scaler.transform(X_train))


def test_unfitted_scaler_fails(split):
    _, X_train, _ = split
    with pytest.raises(CheckFailed, match=r"not fitted yet: call scaler.fit\(X_train\)"):
        checks.scaler_fit_on(StandardScaler(), X_train)


def test_wrong_number_of_features_fails(split):
    _, X_train, _ = split
    scaler = StandardScaler().fit(X_train[:, :3])
    with pytest.raises(CheckFailed, match="fitted on 3 features, but X_train has 4"):
        checks.scaler_fit_on(scaler, X_train)
