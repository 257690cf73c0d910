"""Cost of the training helpers and of the jet-image preprocessing that feeds the CNN notebooks.

* ``torch_fit``: seconds per epoch of :func:`helpers.torch_utils.fit` against a bare hand-written
  loop (same model, data, batch size, one thread), and the overhead in per cent. ``fit`` also
  computes the loss on the validation set and the AUC each epoch: that is the bookkeeping a
  student would otherwise write, and is timed too (``fit_with_val_auc``).
* ``predict_scores``: events per second of :func:`helpers.torch_utils.predict_scores`.
* ``jet_images``: jets per second of :func:`helpers.physics.jet_images` on zero-padded
  (n, 200, 4) constituents with 40 real constituents per jet, as in the top-tagging dataset.

Run: ``python -m bench training_utils`` or ``python bench/bench_training_utils.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

REPEAT = 3
N_TRAIN, N_FEATURES, BATCH, EPOCHS = 20_000, 20, 256, 3


def _median_time(fn: Callable[[], Any], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _bench_torch() -> dict:
    import torch
    from torch import nn

    from helpers import torch_utils as tu

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_TRAIN, N_FEATURES)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.float32)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(N_FEATURES, 64), nn.ReLU(), nn.Linear(64, 1))

    def bare() -> None:
        m = model()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        loss = nn.BCEWithLogitsLoss()
        for _ in range(EPOCHS):
            perm = torch.randperm(N_TRAIN)
            for i in range(0, N_TRAIN, BATCH):
                idx = perm[i : i + BATCH]
                opt.zero_grad()
                loss(m(Xt[idx])[:, 0], yt[idx]).backward()
                opt.step()

    def helper(val: bool) -> None:
        m = model()
        tu.fit(
            m,
            (X, y),
            (X[:5000], y[:5000]) if val else None,
            epochs=EPOCHS,
            loss=nn.BCEWithLogitsLoss(),
            optimizer=torch.optim.Adam(m.parameters(), lr=1e-3),
            batch_size=BATCH,
            metrics=["auc"] if val else None,
            logits=True,
            progress=False,
        )

    t_bare = _median_time(bare) / EPOCHS
    t_fit = _median_time(lambda: helper(False)) / EPOCHS
    t_full = _median_time(lambda: helper(True)) / EPOCHS
    m = model()
    t_pred = _median_time(lambda: tu.predict_scores(m, X, batch_size=4096))
    return {
        "torch_fit": {
            "events": N_TRAIN,
            "batch_size": BATCH,
            "bare_loop_s_per_epoch": round(t_bare, 4),
            "fit_s_per_epoch": round(t_fit, 4),
            "overhead_pct": round(100 * (t_fit / t_bare - 1), 1),
            "fit_with_val_auc_s_per_epoch": round(t_full, 4),
        },
        "predict_scores": {"events_per_s": round(N_TRAIN / t_pred)},
    }


def _bench_jet_images(n_jets: int = 20_000) -> dict:
    from helpers import physics

    rng = np.random.default_rng(1)
    k = 40
    pt = rng.exponential(20.0, size=(n_jets, k))
    eta = rng.normal(0.0, 0.3, size=(n_jets, k))
    phi = rng.uniform(-np.pi, np.pi, size=(n_jets, 1)) + rng.normal(0.0, 0.3, size=(n_jets, k))
    e, px, py, pz = physics.pt_eta_phi_m_to_e_px_py_pz(pt, eta, phi, 0.0)
    jets = np.zeros((n_jets, 200, 4), dtype=np.float32)
    jets[:, :k] = np.stack([e, px, py, pz], axis=-1)
    seconds = _median_time(lambda: physics.jet_images(jets, dtype=np.float32))
    return {
        "jet_images": {
            "jets": n_jets,
            "seconds": round(seconds, 3),
            "jets_per_s": round(n_jets / seconds),
        }
    }


def main() -> dict:
    """Time the helpers; print a small table and return the figures."""
    figures = {}
    figures.update(_bench_torch())
    figures.update(_bench_jet_images())
    for topic, values in figures.items():
        print(f"{topic}:")
        for key, value in values.items():
            print(f"  {key:<30} {value}")
    return figures


if __name__ == "__main__":
    main()
