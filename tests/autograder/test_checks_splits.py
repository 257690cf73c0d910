"""autograder.checks split checks: right answers in several styles pass, typical mistakes fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from autograder import checks
from autograder.checks import CheckFailed


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=1000) > 0).astype(np.int64)
    return X, y


def _split_sklearn(X, y):
    X_tmp, X_test, y_tmp, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(X_tmp, y_tmp, test_size=0.25, random_state=0)
    return (X_train, X_val, X_test), (y_train, y_val, y_test)


def _split_permutation(X, y):
    perm = np.random.default_rng(2).permutation(len(X))
    a, b = int(0.6 * len(X)), int(0.8 * len(X))
    idx = perm[:a], perm[a:b], perm[b:]
    return tuple(X[i] for i in idx), tuple(y[i] for i in idx)


def _split_pandas(X, y):
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(label=y)
    train = df.sample(frac=0.6, random_state=3)
    rest = df.drop(train.index)
    val = rest.sample(frac=0.5, random_state=4)
    test = rest.drop(val.index)
    parts = tuple(p.drop(columns="label") for p in (train, val, test))
    return parts, tuple(p["label"] for p in (train, val, test))


STYLES = [_split_sklearn, _split_permutation, _split_pandas]
EXPECTED = {"train": 0.6, "val": 0.2, "test": 0.2}


@pytest.mark.parametrize("style", STYLES, ids=lambda f: f.__name__[7:])
def test_correct_splits_pass(data, style):
    X, y = data
    (X_train, X_val, X_test), (y_train, y_val, y_test) = style(X, y)
    parts = {"train": X_train, "val": X_val, "test": X_test}
    checks.split_fractions(parts, EXPECTED)
    checks.split_disjoint_and_complete(parts, X)
    checks.split_disjoint_and_complete(parts, len(X))
    checks.split_disjoint_and_complete(parts)
    for Xp, yp in zip((X_train, X_val, X_test), (y_train, y_val, y_test), strict=True):
        checks.labels_aligned(Xp, yp, X, y)
    checks.evaluated_on_unseen(X_test, X_train)


def test_dataframe_columns_reordered_still_match(data):
    X, _ = data
    df = pd.DataFrame(X, columns=list("abcde"))
    train = df.sample(frac=0.5, random_state=0)
    test = df.drop(train.index)[list("edcba")]
    checks.split_disjoint_and_complete({"train": train, "test": test}, df)


def test_float32_parts_match_float64_original(data):
    X, _ = data
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    parts = {"train": X_train.astype(np.float32), "test": X_test.astype(np.float32)}
    checks.split_disjoint_and_complete(parts, X)


def test_wrong_fractions_fail_with_values(data):
    X, _ = data
    X_tmp, X_test = train_test_split(X, test_size=0.2, random_state=0)
    X_train, X_val = train_test_split(X_tmp, test_size=0.2, random_state=0)  # 0.2 of the rest
    with pytest.raises(CheckFailed) as err:
        checks.split_fractions({"train": X_train, "val": X_val, "test": X_test}, EXPECTED)
    msg = str(err.value)
    assert msg.startswith("The train set holds 64% of the events (640 of 1000), expected 60% ± 1%")
    assert "second fraction is a fraction of what the first one left" in msg


def test_fraction_names_must_match(data):
    X, _ = data
    with pytest.raises(CheckFailed, match=r"Expected the sets \['test', 'train'\]"):
        checks.split_fractions({"training": X[:800], "test": X[800:]}, {"train": 0.8, "test": 0.2})


def test_fraction_tolerance_allows_rounding():
    parts = {"train": np.zeros((7, 2)), "test": np.zeros((3, 2))}
    checks.split_fractions(parts, {"train": 2 / 3, "test": 1 / 3})  # 7/10 vs 2/3: one event off
    with pytest.raises(CheckFailed):
        checks.split_fractions(parts, {"train": 0.5, "test": 0.5})


def test_overlapping_sets_fail(data):
    X, _ = data
    X_train, X_test = X[:800], X[700:]
    with pytest.raises(CheckFailed) as err:
        checks.split_disjoint_and_complete({"train": X_train, "test": X_test}, X)
    assert "100 events are in both the train and the test set" in str(err.value)
    with pytest.raises(CheckFailed, match="100 events are in both"):
        checks.split_disjoint_and_complete({"train": X_train, "test": X_test})


def test_missing_events_fail(data):
    X, _ = data
    with pytest.raises(CheckFailed) as err:
        checks.split_disjoint_and_complete({"train": X[:700], "test": X[800:]}, X)
    assert str(err.value).startswith("100 of the 1000 original events are in none of the sets")
    with pytest.raises(CheckFailed, match="hold 900 events together, expected 1000"):
        checks.split_disjoint_and_complete({"train": X[:700], "test": X[800:]}, 1000)


def test_sampling_with_replacement_fails(data):
    X, _ = data
    idx = np.random.default_rng(0).choice(len(X), size=len(X), replace=True)
    train_idx, test_idx = idx[:800], np.setdiff1d(np.arange(len(X)), idx[:800])
    with pytest.raises(CheckFailed, match="appear more than once in the train set"):
        checks.split_disjoint_and_complete({"train": X[train_idx], "test": X[test_idx]}, X)


def test_scaled_parts_are_reported_as_not_original(data):
    X, _ = data
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
    mean, std = X_train.mean(0), X_train.std(0)
    parts = {"train": (X_train - mean) / std, "test": (X_test - mean) / std}
    with pytest.raises(CheckFailed, match="800 of the 800 events in the train set are not in"):
        checks.split_disjoint_and_complete(parts, X)


def test_duplicated_events_in_original_are_handled():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(100, 3))
    X[50] = X[10]  # one event occurs twice in the data
    checks.split_disjoint_and_complete({"train": X[:40], "test": X[40:]}, X)  # one copy each side
    with pytest.raises(CheckFailed, match="used in more sets than they occur"):
        checks.split_disjoint_and_complete(
            {"train": X[:40], "test": np.vstack([X[40:], X[10:11]])}, X
        )
    with pytest.raises(CheckFailed, match=r"^1 event is in both the train and the test set"):
        checks.split_disjoint_and_complete({"train": X[:40], "test": np.vstack([X[40:], X[:1]])}, X)


def test_labels_shuffled_apart_fail(data):
    X, y = data
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    y_shuffled = np.random.default_rng(0).permutation(y_train)
    with pytest.raises(CheckFailed) as err:
        checks.labels_aligned(X_train, y_shuffled, X, y)
    msg = str(err.value)
    assert "carry a label that is not their own" in msg
    wrong = int(np.count_nonzero(y_shuffled != y_train))
    assert msg.startswith(f"{wrong} of your 800 events")


def test_labels_split_separately_fail(data):
    X, y = data
    X_train, _ = train_test_split(X, test_size=0.2, random_state=0)
    y_train, _ = train_test_split(y, test_size=0.2, random_state=1)  # another permutation
    with pytest.raises(CheckFailed, match="carry a label that is not their own"):
        checks.labels_aligned(X_train, y_train, X, y)


def test_labels_length_mismatch_fails(data):
    X, y = data
    with pytest.raises(CheckFailed, match="features have 800 events but your labels 799"):
        checks.labels_aligned(X[:800], y[:799], X, y)


def test_one_hot_labels_aligned(data):
    X, y = data
    Y = np.eye(2)[y]
    perm = np.random.default_rng(0).permutation(len(X))
    checks.labels_aligned(X[perm], Y[perm], X, Y)
    with pytest.raises(CheckFailed):
        checks.labels_aligned(X[perm], Y, X, Y)


def test_evaluation_on_training_events_fails(data):
    X, _ = data
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
    with pytest.raises(CheckFailed) as err:
        checks.evaluated_on_unseen(X_train, X_train)
    assert str(err.value).startswith("All 800 events you evaluated on are training events")
    mixed = np.vstack([X_test, X_train[:50]])
    with pytest.raises(CheckFailed, match=r"50 of the 250 events you evaluated on \(20%\) are"):
        checks.evaluated_on_unseen(mixed, X_train)
    checks.evaluated_on_unseen(mixed, X_train, max_shared_fraction=0.25)


def test_parts_must_be_a_dict(data):
    X, _ = data
    with pytest.raises(CheckFailed, match="Pass the sets as a dict"):
        checks.split_fractions([X[:800], X[800:]], EXPECTED)


def test_row_fingerprints_identify_values():
    from autograder.checks._convert import row_fingerprints

    X = np.array([[0.0, 1.0], [-0.0, 1.0], [np.nan, 2.0], [np.nan, 2.0], [1.0, 0.0], [0.1, 1.0]])
    f = row_fingerprints(X)
    assert f.dtype == np.uint64 and f.shape == (6,)
    assert f[0] == f[1], "-0.0 and 0.0 are the same value"
    assert f[2] == f[3], "NaN rows match"
    assert f[0] != f[4], "the column order matters"
    np.testing.assert_array_equal(row_fingerprints(X.astype(np.float32)), f)
    np.testing.assert_array_equal(row_fingerprints(pd.DataFrame(X)), f)
    assert row_fingerprints(np.arange(5.0)).shape == (5,)
    one_column_apart = np.ones((10000, 4))
    one_column_apart[:, 2] = np.arange(10000) * 1e-3  # distinct at float32 precision
    assert len(np.unique(row_fingerprints(one_column_apart))) == 10000
