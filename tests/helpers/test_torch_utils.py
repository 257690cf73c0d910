"""Tests of helpers.torch_utils: training to a real AUC, early stopping, seeding, scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from helpers import torch_utils as tu  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread_and_restore_global_state():
    """One thread (tiny models run faster without thread overhead on a shared CI box), and
    undo seed_everything's global deterministic flags for the tests that run after these."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def _data(n: int = 2000, seed: int = 0):
    X, y = make_classification(
        n_samples=n, n_features=10, n_informative=5, n_redundant=2, class_sep=0.8, random_state=seed
    )
    half = n // 2
    return (X[:half], y[:half]), (X[half:], y[half:])


def _mlp(n_in: int = 10, n_out: int = 1) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, 16), nn.ReLU(), nn.Linear(16, n_out))


def _train(seed: int, epochs: int = 3, **kwargs):
    tu.seed_everything(seed)
    (Xt, yt), (Xv, yv) = _data()
    model = _mlp()
    history = tu.fit(
        model,
        (Xt, yt),
        (Xv, yv),
        epochs=epochs,
        loss=nn.BCEWithLogitsLoss(),
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
        batch_size=64,
        metrics=["auc"],
        logits=True,
        progress=False,
        **kwargs,
    )
    return model, history


def test_fit_trains_to_a_real_auc_and_records_history():
    model, history = _train(seed=1, epochs=8)
    (Xt, yt), (Xv, yv) = _data()
    h = history.history
    assert set(h) == {"loss", "val_loss", "auc", "val_auc"}
    assert history.epoch == list(range(8)) and all(len(v) == 8 for v in h.values())
    assert history.params == {"epochs": 8, "steps": 16, "batch_size": 64}
    assert h["loss"][-1] < h["loss"][0]
    # a small MLP must beat a linear model on the same split (0.95 vs 0.88 for seeds 0-5)
    linear = LogisticRegression().fit(Xt, yt)
    auc_linear = roc_auc_score(yv, linear.predict_proba(Xv)[:, 1])
    scores = tu.predict_scores(model, Xv, logits=True)
    auc = roc_auc_score(yv, scores)
    assert auc > auc_linear > 0.8, (auc, auc_linear)  # the data has non-linear structure
    # the recorded last epoch is the model we have, and evaluate agrees with it
    res = tu.evaluate(model, (Xv, yv), loss=nn.BCEWithLogitsLoss(), metrics=["auc"], logits=True)
    assert res["auc"] == pytest.approx(auc, abs=1e-12)
    assert h["val_auc"][-1] == pytest.approx(auc, abs=1e-12)
    assert h["val_loss"][-1] == pytest.approx(res["loss"], rel=1e-5)


def test_fit_on_a_synthetic_twin_between_linear_and_optimal():
    """On the ATLAS H->WW twin the generator knows the true likelihood ratio, whose AUC is the
    best any classifier can reach (0.93 here). A small MLP must beat a linear model (0.75; the
    MLP reaches 0.83 for seeds 0-3) and cannot beat the optimum beyond the statistical spread of
    an AUC on 2,000 test events (~0.006)."""
    synthetic = pytest.importorskip("helpers.data.synthetic")
    try:
        frame = synthetic.generate("atlas-hww", events=4000, seed=3)["dataWW_d1.root"]
    except ImportError as err:
        pytest.skip(f"atlas-hww twin not available: {err}")
    optimal = synthetic.likelihood_ratio("atlas-hww", frame)
    bookkeeping = ["index", "eventNumber", "label", "mcWeight", "runNumber", "channelNumber"]
    X = frame.drop(columns=bookkeeping).to_numpy(np.float32)
    y = frame["label"].to_numpy()
    train, test = slice(0, 2000), slice(2000, None)
    X = (X - X[train].mean(0)) / (X[train].std(0) + 1e-6)
    tu.seed_everything(0)
    model = _mlp(X.shape[1])
    tu.fit(
        model,
        (X[train], y[train]),
        epochs=10,
        loss=nn.BCEWithLogitsLoss(),
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
        batch_size=64,
        progress=False,
    )
    auc = roc_auc_score(y[test], tu.predict_scores(model, X[test], logits=True))
    auc_optimal = roc_auc_score(y[test], optimal[test])
    linear = LogisticRegression(max_iter=1000).fit(X[train], y[train])
    auc_linear = roc_auc_score(y[test], linear.predict_proba(X[test])[:, 1])
    assert auc_linear + 0.03 < auc < auc_optimal + 0.02, (auc_linear, auc, auc_optimal)


def test_seed_everything_makes_runs_identical():
    m1, h1 = _train(seed=7)
    m2, h2 = _train(seed=7)
    _, h3 = _train(seed=8)
    assert h1.history == h2.history
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert h1.history["loss"] != h3.history["loss"]


def test_early_stopping_rules_on_a_scripted_sequence():
    model = nn.Linear(1, 1)

    def run(values, **kwargs):
        stopper = tu.EarlyStopping(**kwargs)
        for epoch, v in enumerate(values):
            with torch.no_grad():
                model.weight.fill_(epoch)  # the weights remember the epoch
            if stopper.step(v, model):
                break
        stopper.restore(model)
        return stopper, int(model.weight.item())

    values = [1.0, 0.8, 0.85, 0.79, 0.9, 0.95, 0.96]
    # min_delta 0.02: 0.79 is not better than 0.8 by more than 0.02 -> stop at epoch 3
    stopper, restored = run(values, patience=2, min_delta=0.02)
    assert (stopper.best_epoch, stopper.stopped_epoch, restored) == (1, 3, 1)
    # no min_delta: 0.79 improves, then two worse epochs -> stop at epoch 5, restore epoch 3
    stopper, restored = run(values, patience=2)
    assert (stopper.best_epoch, stopper.stopped_epoch, restored) == (3, 5, 3)
    # maximise an AUC; the run ends without stopping, best weights restored anyway
    stopper, restored = run([0.6, 0.7, 0.65], monitor="val_auc", patience=5)
    assert stopper.mode == "max" and stopper.stopped_epoch is None and restored == 1
    # a NaN never counts as an improvement
    stopper, restored = run([0.5, float("nan"), float("nan")], patience=1)
    assert (stopper.best_epoch, stopper.stopped_epoch, restored) == (0, 1, 0)
    # without restore_best_weights the last weights stay
    _, restored = run(values, patience=2, restore_best_weights=False)
    assert restored == 5
    with pytest.raises(ValueError, match="mode"):
        tu.EarlyStopping(monitor="val_significance")


def test_early_stopping_restores_best_weights_when_val_loss_rises():
    # validation labels are the opposite of the training ones: as training improves, the
    # validation loss rises, so the best epoch comes early and training stops after `patience`
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2)).astype(np.float32)
    y_train = (X[:, 0] > 0).astype(np.float32)
    y_val = 1.0 - y_train
    tu.seed_everything(0)
    model = nn.Linear(2, 1)
    stopper = tu.EarlyStopping(patience=2)
    history = tu.fit(
        model,
        (X, y_train),
        (X, y_val),
        epochs=30,
        loss=nn.BCEWithLogitsLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
        batch_size=100,
        early_stopping=stopper,
        progress=False,
    )
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert stopper.best_epoch == best
    assert len(val_loss) == best + 2 + 1 < 30  # stopped after `patience` worse epochs
    assert val_loss[-1] > val_loss[best] + 0.05  # it really rose
    now = tu.evaluate(model, (X, y_val), loss=nn.BCEWithLogitsLoss())["loss"]
    assert now == pytest.approx(val_loss[best], rel=1e-5)


def test_fit_checks_the_monitored_key_before_training():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="'val_auc', but fit records"):
        tu.fit(model, *_data(), epochs=1, loss=nn.BCEWithLogitsLoss(), optimizer=opt,
               early_stopping=tu.EarlyStopping("val_auc"), progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="val"):
        tu.fit(
            model,
            _data()[0],
            epochs=1,
            loss=nn.BCEWithLogitsLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            early_stopping=tu.EarlyStopping(),
            progress=False,
        )


def test_schedulers_record_learning_rate():
    (Xt, yt), (Xv, yv) = _data(400)
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = tu.fit(model, (Xt, yt), epochs=3, loss=nn.BCEWithLogitsLoss(), optimizer=opt,
               scheduler=sched, progress=False)  # fmt: skip
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.1)
    h = tu.fit(model, (Xt, yt), (Xv, yv), epochs=3, loss=nn.BCEWithLogitsLoss(), optimizer=opt,
               scheduler=plateau, progress=False)  # fmt: skip
    assert len(h.history["learning_rate"]) == 3 and h.history["learning_rate"][0] == 0.1


def test_dataloader_input_and_two_class_output():
    (Xt, yt), (Xv, yv) = _data(600)
    tu.seed_everything(0)
    loader = DataLoader(
        TensorDataset(torch.tensor(Xt, dtype=torch.float32), torch.tensor(yt)),
        batch_size=50,
        shuffle=True,
    )
    model = _mlp(n_out=2)
    h = tu.fit(
        model,
        loader,
        epochs=3,
        loss=nn.CrossEntropyLoss(),  # long targets of shape (N,) against (N, 2) logits
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
        metrics={"auc": roc_auc_score},
        logits=True,
        progress=False,
    )
    assert h.params["batch_size"] == 50 and len(h.history["auc"]) == 3
    val_loader = DataLoader(TensorDataset(torch.tensor(Xv, dtype=torch.float32), torch.tensor(yv)))
    s = tu.predict_scores(model, val_loader, logits=True)
    with torch.no_grad():
        expected = torch.softmax(model(torch.tensor(Xv, dtype=torch.float32)), 1)[:, 1].numpy()
    np.testing.assert_allclose(s, expected, rtol=1e-5)
    assert roc_auc_score(yv, s) > 0.75
    with pytest.raises(ValueError, match="DataLoader"):
        tu.fit(model, loader, epochs=1, loss=nn.CrossEntropyLoss(),
               optimizer=torch.optim.SGD(model.parameters()), batch_size=8, progress=False)  # fmt: skip


def test_predict_scores_shape_range_and_mode():
    (Xt, _), _ = _data(600)
    tu.seed_everything(0)
    model = nn.Sequential(nn.Linear(10, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    model.train()
    raw = tu.predict_scores(model, Xt, batch_size=64)
    prob = tu.predict_scores(model, pd.DataFrame(Xt), batch_size=7, logits=True)
    assert raw.shape == prob.shape == (300,) and raw.dtype == np.float32
    assert np.all((prob > 0) & (prob < 1)) and raw.min() < 0  # logits were not squashed
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-raw)), rtol=1e-5)  # dropout was off
    assert model.training  # mode restored
    bad = nn.Linear(10, 3)
    with pytest.raises(ValueError, match="one score"):
        tu.predict_scores(bad, Xt)


def test_pick_device_says_why(capsys, monkeypatch):
    device = tu.pick_device()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"Using {device.type}")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Test GPU")
    assert tu.pick_device().type == "cuda"
    assert "Test GPU" in capsys.readouterr().out
    assert tu.pick_device(verbose=False).type == "cuda" and capsys.readouterr().out == ""


def test_summary_counts_parameters():
    pytest.importorskip("torchinfo")
    stats = tu.summary(_mlp(), input_size=(1, 10))
    assert stats.total_params == (10 * 16 + 16) + (16 + 1)
    text = str(stats)
    assert "Linear" in text and "[1, 16]" in text
