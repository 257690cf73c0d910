"""Tests of helpers.keras_utils: training to a real AUC, early stopping, seeding, scores.

TensorFlow's import alone takes ~8 s, and every new model traces its train step once, so the
tests share small models and data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from helpers import keras_utils as ku  # noqa: E402

pytestmark = pytest.mark.keras


@pytest.fixture(autouse=True, scope="module")
def _restore_op_determinism():
    """seed_everything turns TF op determinism on for the session: undo it for later tests."""
    yield
    try:
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()
    except (ImportError, AttributeError):  # private API; nothing to undo if it moved
        pass


def _data(n: int = 2000, seed: int = 0):
    X, y = make_classification(
        n_samples=n, n_features=10, n_informative=5, n_redundant=2, class_sep=0.8, random_state=seed
    )
    X = X.astype(np.float32)
    half = n // 2
    return (X[:half], y[:half]), (X[half:], y[half:])


def _mlp(n_in: int = 10, activation: str | None = "sigmoid") -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((n_in,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation=activation),
        ]
    )


@pytest.mark.slow
def test_fit_trains_to_a_real_auc_and_records_history(capsys):
    ku.seed_everything(1)
    (Xt, yt), (Xv, yv) = _data()
    model = _mlp()
    history = ku.fit(
        model,
        (Xt, yt),
        (Xv, yv),
        epochs=6,
        loss="binary_crossentropy",
        optimizer=keras.optimizers.Adam(1e-2),
        metrics=["auc"],
        batch_size=64,
    )
    h = history.history
    assert set(h) == {"loss", "val_loss", "auc", "val_auc"}
    assert all(len(v) == 6 for v in h.values()) and h["loss"][-1] < h["loss"][0]
    assert "training" in capsys.readouterr().err  # the tqdm bar
    linear = LogisticRegression().fit(Xt, yt)
    auc_linear = roc_auc_score(yv, linear.predict_proba(Xv)[:, 1])
    scores = ku.predict_scores(model, pd.DataFrame(Xv))
    assert scores.shape == (1000,) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1))
    auc = roc_auc_score(yv, scores)
    assert auc > auc_linear > 0.8, (auc, auc_linear)  # the data has non-linear structure
    res = ku.evaluate(model, (Xv, yv))
    assert set(res) == {"loss", "auc"}
    assert res["auc"] == pytest.approx(h["val_auc"][-1], abs=1e-6)
    assert res["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-5)
    # Keras's AUC integrates 200 thresholds: close to the exact value, not equal
    assert res["auc"] == pytest.approx(auc, abs=0.01)

    summary = ku.summary(model)
    assert summary.total_params == summary.trainable_params == (10 * 16 + 16) + (16 + 1)
    assert "Dense" in str(summary) and "Total params" in repr(summary)


def test_early_stopping_restores_best_weights_when_val_loss_rises():
    # validation labels are the opposite of the training ones: the validation loss rises as
    # training improves, so the best epoch comes early and training stops after `patience`
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2)).astype(np.float32)
    y_train = (X[:, 0] > 0).astype(np.float32)
    y_val = 1.0 - y_train
    ku.seed_everything(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    stopper = ku.EarlyStopping(patience=2)
    assert isinstance(stopper, keras.callbacks.EarlyStopping) and stopper.restore_best_weights
    history = ku.fit(
        model,
        (X, y_train),
        (X, y_val),
        epochs=30,
        loss="binary_crossentropy",
        optimizer=keras.optimizers.SGD(0.5),
        batch_size=100,
        early_stopping=stopper,
        progress=False,
    )
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert stopper.best_epoch == best
    assert len(val_loss) == best + 2 + 1 < 30  # stopped after `patience` worse epochs
    assert val_loss[-1] > val_loss[best] + 0.05  # it really rose
    now = ku.evaluate(model, (X, y_val))["loss"]
    assert now == pytest.approx(val_loss[best], rel=1e-5)
    with pytest.raises(ValueError, match="val"):
        ku.fit(model, (X, y_train), epochs=1, early_stopping=stopper, progress=False)


@pytest.mark.slow
def test_seed_everything_makes_runs_identical():
    (Xt, yt), _ = _data(400)

    def run(seed):
        ku.seed_everything(seed)
        model = _mlp()
        h = ku.fit(model, (Xt, yt), epochs=2, loss="binary_crossentropy",
                   optimizer=keras.optimizers.Adam(1e-2), batch_size=50, progress=False)  # fmt: skip
        return h.history["loss"], [w.copy() for w in model.get_weights()]

    loss1, w1 = run(5)
    loss2, w2 = run(5)
    loss3, _ = run(6)
    assert loss1 == loss2 and loss1 != loss3
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_predict_scores_with_logits_and_two_outputs():
    (Xt, _), _ = _data(400)
    ku.seed_everything(0)
    raw_model = _mlp(activation=None)
    raw = ku.predict_scores(raw_model, Xt, batch_size=64)
    prob = ku.predict_scores(raw_model, Xt, logits=True)
    assert raw.shape == prob.shape == (200,) and raw.min() < 0
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-raw.astype(np.float64))), rtol=1e-6)
    two = keras.Sequential([keras.Input((10,)), keras.layers.Dense(2)])
    z = np.asarray(two.predict(Xt, verbose=0), dtype=np.float64)
    expected = np.exp(z[:, 1]) / np.exp(z).sum(axis=1)
    np.testing.assert_allclose(ku.predict_scores(two, Xt, logits=True), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="one score"):
        ku.predict_scores(keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)]), Xt)


def test_scheduler_function_records_learning_rate():
    (Xt, yt), _ = _data(200)
    model = _mlp()
    h = ku.fit(model, (Xt, yt), epochs=3, loss="binary_crossentropy",
               optimizer=keras.optimizers.SGD(0.1), scheduler=lambda epoch, lr: 0.1 * 0.5**epoch,
               progress=False)  # fmt: skip
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])


def test_fit_refuses_an_uncompiled_model():
    with pytest.raises(ValueError, match="compile"):
        ku.fit(_mlp(), _data(100)[0], epochs=1, progress=False)


def test_pick_device_and_summary_of_an_unbuilt_model(capsys):
    device = ku.pick_device()
    out = capsys.readouterr().out.strip().splitlines()
    assert device in ("/CPU:0", "/GPU:0")
    assert len(out) == 1 and out[0].startswith(f"Using {device}")
    model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="input_size"):
        ku.summary(model)
    assert ku.summary(model, input_size=(1, 3)).total_params == (3 * 4 + 4) + (4 + 1)
