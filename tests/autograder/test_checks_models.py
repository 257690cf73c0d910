"""autograder.checks.model_io and auc_on_unseen with models of every framework the course uses."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from autograder import checks
from autograder.checks import CheckFailed
from autograder.checks.models import model_scores, probe_batch

N_IN = 6


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_IN)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(np.float32)
    return X, y


def test_probe_batch_is_fixed():
    a, b = probe_batch(4), probe_batch(4)
    assert a.shape == (32, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[8:16], -a[:8])


def test_sklearn_classifier_passes_and_scores():
    X, y = _data()
    model = LogisticRegression().fit(X, y)
    checks.model_io(model, N_IN)
    np.testing.assert_allclose(model_scores(model, X[:5]), model.predict_proba(X[:5])[:, 1])
    checks.model_io(model, N_IN, output="logits")


def test_plain_function_model():
    def sigmoid_model(x):
        return 1.0 / (1.0 + np.exp(-x.sum(axis=1)))

    checks.model_io(sigmoid_model, N_IN)
    with pytest.raises(CheckFailed) as err:
        checks.model_io(lambda x: x.sum(axis=1), N_IN)
    assert "expected probabilities in [0, 1]: end the model with a sigmoid" in str(err.value)


# ---------------------------------------------------------------------------- torch


@pytest.fixture(scope="module")
def torch_models():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self, n_in: int, sigmoid: bool = True) -> None:
            super().__init__()
            self.hidden = nn.Linear(n_in, 16)
            self.out = nn.Linear(16, 1)
            self.sigmoid = sigmoid

        def forward(self, x):
            z = self.out(torch.relu(self.hidden(x)))
            return torch.sigmoid(z) if self.sigmoid else z

    seq = nn.Sequential(nn.Linear(N_IN, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
    return {
        "torch": torch,
        "sequential": nn.Sequential(*seq, nn.Sigmoid()),
        "sequential_logits": seq,
        "module": Net(N_IN),
        "module_logits": Net(N_IN, sigmoid=False),
        "softmax": nn.Sequential(nn.Linear(N_IN, 3), nn.Softmax(dim=1)),
        "double": nn.Sequential(nn.Linear(N_IN, 1), nn.Sigmoid()).double(),
        "wrong_inputs": nn.Sequential(nn.Linear(N_IN + 1, 1), nn.Sigmoid()),
    }


@pytest.mark.torch
@pytest.mark.parametrize("name", ["sequential", "module", "double"])
def test_torch_probability_models_pass(torch_models, name):
    model = torch_models[name]
    model.train()
    checks.model_io(model, N_IN)
    assert model.training, "the check restores the training flag"


@pytest.mark.torch
@pytest.mark.parametrize("name", ["sequential_logits", "module_logits"])
def test_torch_sigmoid_missing_fails(torch_models, name):
    model = torch_models[name]
    checks.model_io(model, N_IN, output="logits")
    with pytest.raises(CheckFailed) as err:
        checks.model_io(model, N_IN)
    msg = str(err.value)
    assert msg.startswith("Your model returns values from -")
    assert msg.endswith("expected probabilities in [0, 1]: end the model with a sigmoid.")


@pytest.mark.torch
def test_torch_wrong_input_size_fails(torch_models):
    with pytest.raises(CheckFailed) as err:
        checks.model_io(torch_models["wrong_inputs"], N_IN)
    msg = str(err.value)
    assert msg.startswith("Your model could not process a batch of 32 events with 6 features")
    assert "RuntimeError" in msg and msg.endswith("check that its first layer takes 6 inputs.")
    assert "Traceback" not in msg


@pytest.mark.torch
def test_torch_output_count(torch_models):
    checks.model_io(torch_models["softmax"], N_IN, n_outputs=3)
    with pytest.raises(CheckFailed, match=r"returns shape \(32, 3\), expected \(32, 1\) or"):
        checks.model_io(torch_models["softmax"], N_IN)


@pytest.mark.torch
@pytest.mark.slow
def test_torch_trained_model_auc_on_unseen(torch_models):
    torch = torch_models["torch"]
    X, y = _data(800, seed=1)
    X_new, y_new = _data(400, seed=2)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(N_IN, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    with torch.no_grad():
        model[2].weight.zero_()  # untrained output layer: the same score for every event
    with pytest.raises(CheckFailed) as err:
        checks.auc_on_unseen(model, X_new, y_new, 0.9, output="logits", hidden=False)
    assert str(err.value) == (
        "Your AUC on the unseen events is 0.5, expected at least 0.9: near 0.5 the scores do not "
        "separate signal from background (is the model trained?)."
    )
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)[:, None]
    for _ in range(100):  # plain gradient descent (torch.optim takes seconds to import)
        model.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(xt), yt).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    checks.auc_on_unseen(model, X_new, y_new, 0.9, output="logits")
    with pytest.raises(CheckFailed) as err:
        checks.auc_on_unseen(model, X_new, y_new, 0.9999)
    assert str(err.value) == "Your model's AUC on unseen events is below what this part requires."


# ---------------------------------------------------------------------------- keras


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.keras
@pytest.mark.slow
def test_keras_sequential_and_functional(keras):
    layers = keras.layers
    seq = keras.Sequential(
        [keras.Input((N_IN,)), layers.Dense(8, activation="relu"), layers.Dense(1, "sigmoid")]
    )
    checks.model_io(seq, N_IN)
    inputs = keras.Input((N_IN,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    logits = layers.Dense(1)(hidden)
    functional = keras.Model(inputs, layers.Activation("sigmoid")(logits))
    checks.model_io(functional, N_IN)
    no_sigmoid = keras.Model(inputs, logits)
    checks.model_io(no_sigmoid, N_IN, output="logits")
    with pytest.raises(CheckFailed, match="end the model with a sigmoid"):
        checks.model_io(no_sigmoid, N_IN)
    with pytest.raises(CheckFailed, match="could not process a batch of 32 events with 5"):
        checks.model_io(seq, N_IN - 1)


@pytest.mark.keras
@pytest.mark.slow
def test_keras_normalization_layer_fitted_on_train(keras):
    X, _ = _data()
    X_train, X_test = X[:400], X[400:]
    norm = keras.layers.Normalization()
    norm.adapt(X_train)
    checks.scaler_fit_on(norm, X_train, others={"the test set": X_test})
    leaky = keras.layers.Normalization()
    leaky.adapt(X)
    with pytest.raises(CheckFailed, match="fitted on all events, not on the training set only"):
        checks.scaler_fit_on(leaky, X_train, others={"all events": X})


@pytest.mark.keras
@pytest.mark.slow
def test_tensorflow_tensor_spec(keras):
    tf = pytest.importorskip("tensorflow")
    t = tf.zeros((16, N_IN), dtype=tf.float32)
    checks.tensor_spec(t, dtype=tf.float32, shape=(None, N_IN), kind="tensorflow", device="cpu")
    with pytest.raises(CheckFailed) as err:
        checks.tensor_spec(tf.cast(t, tf.float64), dtype="float32", name="X_tf")
    assert str(err.value) == (
        "X_tf has dtype float64, expected float32: convert it with tf.cast(t, tf.float32)."
    )


@pytest.mark.torch
def test_torch_model_and_tensors_on_cuda(torch_models):
    torch = torch_models["torch"]
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    model = torch.nn.Sequential(torch.nn.Linear(N_IN, 4), torch.nn.Sigmoid()).cuda()
    checks.model_io(model, N_IN)
    X, y = _data(200)
    checks.auc_on_unseen(lambda x: x[:, 0] - x[:, 1], X, y, 0.8)
    t = torch.from_numpy(X).cuda()
    checks.tensor_spec(t, device="cuda", dtype=torch.float32)
    with pytest.raises(CheckFailed, match="is on cuda:0, expected cpu"):
        checks.tensor_spec(t, device="cpu")
    checks.split_disjoint_and_complete({"train": t[:150], "test": t[150:]}, X)
