"""Tests of the ``top-tagging`` synthetic twin: pandas/PyTables blosc tables with the reference
dataset's schema, jet physics, images consistent with the constituents, and the exact likelihood
ratio of the constituent list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tables
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from helpers.data.synthetic import _jets, top_tagging

CONSTITUENTS = [f"{c}_{i}" for i in range(200) for c in ("E", "PX", "PY", "PZ")]
TRUTH = ["truthE", "truthPX", "truthPY", "truthPZ"]
IMAGE = [f"img_{i}" for i in range(1600)]


@pytest.fixture(scope="module")
def twin() -> dict[str, pd.DataFrame]:
    return top_tagging.generate(6_000, seed=3)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    return top_tagging.write(tmp_path_factory.mktemp("top"), events=1_200, seed=8)


def _jets_of(frame: pd.DataFrame) -> np.ndarray:
    return frame[CONSTITUENTS].to_numpy(np.float64).reshape(len(frame), 200, 4)


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1), 0.0))


def _w_candidate(con: np.ndarray) -> np.ndarray:
    """Subjets = constituents assigned to the nearest of the three leading ones; the pair mass
    closest to the W mass."""
    pt = np.hypot(con[..., 1], con[..., 2])
    present = pt > 0
    eta = np.arcsinh(con[..., 3] / np.where(present, pt, 1.0))
    phi = np.arctan2(con[..., 2], con[..., 1])
    dist = np.stack(
        [
            (eta - eta[:, [k]]) ** 2 + ((phi - phi[:, [k]] + np.pi) % (2 * np.pi) - np.pi) ** 2
            for k in range(3)
        ],
        axis=-1,
    )
    nearest = dist.argmin(-1)
    sub = np.stack([(con * ((nearest == k) & present)[..., None]).sum(1) for k in range(3)], 1)
    pairs = np.stack([_mass(sub[:, i] + sub[:, j]) for i, j in ((0, 1), (0, 2), (1, 2))], 1)
    return pairs[np.arange(len(pairs)), np.abs(pairs - 80.4).argmin(1)]


def _features(frame: pd.DataFrame, k: int = 10) -> np.ndarray:
    """Jet mass, pT, multiplicity and the leading constituents relative to the jet axis."""
    con = _jets_of(frame)
    jet = con.sum(1)
    pt = np.hypot(jet[:, 1], jet[:, 2])
    eta, phi = np.arcsinh(jet[:, 3] / pt), np.arctan2(jet[:, 2], jet[:, 1])
    cpt = np.hypot(con[:, :k, 1], con[:, :k, 2])
    ok = cpt > 0
    ceta = np.where(ok, np.arcsinh(con[:, :k, 3] / np.where(ok, cpt, 1)) - eta[:, None], 0)
    cphi = (np.arctan2(con[:, :k, 2], con[:, :k, 1]) - phi[:, None] + np.pi) % (2 * np.pi)
    n = (con[..., 0] > 0).sum(1)
    return np.column_stack([_mass(jet), pt, n, cpt / pt[:, None], ceta, np.where(ok, cphi, 0)])


def test_files_have_the_reference_schema_and_read_with_start_stop(files):
    """pd.read_hdf(path, 'table', start=, stop=) works; columns, dtypes, blosc table layout."""
    assert sorted(p.name for p in files.values()) == sorted(
        [
            "train.h5",
            "val.h5",
            "test.h5",
            "train_img.h5",
            "val_img.h5",
            "test_img.h5",
            "test_without_truth_100k.h5",
            "test_without_truth_img_100k.h5",
        ]
    )
    again = top_tagging.generate(1_200, seed=8)
    for name, path in files.items():
        frame = pd.read_hdf(path, "table")
        pd.testing.assert_frame_equal(frame, again[name], check_index_type=False)
        part = pd.read_hdf(path, "table", start=5, stop=15)
        pd.testing.assert_frame_equal(part, frame.iloc[5:15], check_index_type=False)
        with tables.open_file(path) as h5:
            node = h5.root.table.table  # PyTables "table" format written by pandas
            assert node.filters.complib == "blosc" and node.filters.complevel > 0
    train = pd.read_hdf(files["train.h5"], "table")
    assert list(train.columns) == [*CONSTITUENTS, *TRUTH, "ttv", "is_signal_new"]
    assert (train[CONSTITUENTS + TRUTH].dtypes == np.float32).all()
    assert train["ttv"].dtype == np.int64 and train["is_signal_new"].dtype == np.int64
    ttv = {
        n: pd.read_hdf(files[n], "table")["ttv"].unique().tolist()
        for n in ("train.h5", "val.h5", "test.h5")
    }
    assert ttv == {"train.h5": [0], "val.h5": [2], "test.h5": [1]}
    img = pd.read_hdf(files["val_img.h5"], "table")
    assert list(img.columns) == [*IMAGE, "is_signal_new"]
    challenge = pd.read_hdf(files["test_without_truth_100k.h5"], "table")
    assert list(challenge.columns) == [*CONSTITUENTS, "ttv"]
    challenge_img = pd.read_hdf(files["test_without_truth_img_100k.h5"], "table")
    assert list(challenge_img.columns) == IMAGE
    assert len(challenge) == len(challenge_img) == 1_200 // 6


def test_constituents_are_massless_pt_ordered_zero_padded_and_inside_the_jet(twin):
    """The jets pass the reference selection and the constituent list has its layout."""
    frame = twin["train.h5"]
    con = _jets_of(frame)
    pt = np.hypot(con[..., 1], con[..., 2])
    present = con[..., 0] > 0
    assert np.all(np.diff(pt, axis=1) <= 1e-3)  # pT-ordered, padding last
    assert np.all(present[:, :-1] | ~present[:, 1:])  # no gap in the padding
    assert np.all(con[~present] == 0)
    p = np.linalg.norm(con[..., 1:], axis=-1)
    np.testing.assert_allclose(con[..., 0][present], p[present], rtol=1e-4)
    jet = con.sum(1)
    jpt = np.hypot(jet[:, 1], jet[:, 2])
    jeta = np.arcsinh(jet[:, 3] / jpt)
    assert np.all((jpt > 549.9) & (jpt < 650.1)) and np.all(np.abs(jeta) < 2.0)
    ceta = np.arcsinh(con[..., 3] / np.where(present, pt, 1))
    dphi = np.arctan2(con[..., 2], con[..., 1]) - np.arctan2(jet[:, 2], jet[:, 1])[:, None]
    dphi = (dphi + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(ceta - jeta[:, None], dphi)
    assert dr[present].max() < 0.8 + 1e-3
    truth = frame[TRUTH].to_numpy(np.float64)
    top = frame["is_signal_new"].to_numpy() == 1
    assert np.all(truth[~top] == 0)
    np.testing.assert_allclose(_mass(truth[top]), top_tagging.TOP_MASS, rtol=5e-3)
    assert 0.45 < top.mean() < 0.55


def test_images_are_the_pixelised_constituents(twin):
    """Each image is the 40x40 pT image of the same row's constituents; pixel sums equal pT sums."""
    con = _jets_of(twin["val.h5"])
    img = twin["val_img.h5"][IMAGE].to_numpy()
    np.testing.assert_array_equal(img, _jets.jet_images(con))
    pt_sum = np.hypot(con[..., 1], con[..., 2]).sum(1)
    np.testing.assert_allclose(img.sum(1), pt_sum, rtol=1e-4)
    assert np.array_equal(twin["val_img.h5"]["is_signal_new"], twin["val.h5"]["is_signal_new"])
    # centred: the pT-weighted centroid falls in the central pixels
    grid = (np.arange(40) + 0.5) * 0.05 - 1.0
    x = (img.reshape(-1, 40, 40).sum(1) * grid).sum(1) / img.sum(1)
    assert np.abs(x).mean() < 0.05


def test_images_are_physics_jet_images_drawn_the_right_way_up(twin):
    """One jet_images in the course: the twin's images are helpers.physics.jet_images on the twin's
    grid, rows in ascending phi' (plot_jet_images draws them with origin="lower"), so the harder
    half of every jet lies in the upper half and in the right half of the picture."""
    from helpers import physics

    con = _jets_of(twin["val.h5"])
    img = twin["val_img.h5"][IMAGE].to_numpy().reshape(-1, 40, 40)
    expected = physics.jet_images(
        con, n_pixels=40, eta_range=(-1.0, 1.0), phi_range=(-1.0, 1.0), normalize=False
    )
    np.testing.assert_allclose(img, expected, rtol=1e-6, atol=1e-4)
    total = img.sum(axis=(1, 2))
    assert np.all(img[:, 20:, :].sum(axis=(1, 2)) >= 0.5 * total - 1e-3)  # upper rows: phi' > 0
    assert np.all(img[:, :, 20:].sum(axis=(1, 2)) >= 0.5 * total - 1e-3)  # right columns: eta' > 0


def test_top_jets_are_heavy_three_prong_qcd_jets_light_with_more_constituents(twin):
    """Top mass peaks near 175 GeV with a W subjet near 80 GeV; QCD jets do not."""
    frame = pd.concat([twin["train.h5"], twin["val.h5"]])
    con = _jets_of(frame)
    top = frame["is_signal_new"].to_numpy() == 1
    mass = _mass(con.sum(1))
    assert 160 < np.median(mass[top]) < 185
    assert np.mean((mass[top] > 150) & (mass[top] < 200)) > 0.5
    assert np.median(mass[~top]) < 100
    assert np.mean((mass[~top] > 150) & (mass[~top] < 200)) < 0.1
    w = _w_candidate(con)
    assert 70 < np.median(w[top]) < 90
    in_window = (w > 65) & (w < 95)
    assert in_window[top].mean() > 0.6 and in_window[~top].mean() < 0.5 * in_window[top].mean()
    assert np.median(w[~top]) < 65
    n = (con[..., 0] > 0).sum(1)
    assert n[~top].mean() > n[top].mean() + 5


def test_seed_jacobian_matches_finite_differences():
    """Known answer: the analytic Jacobian of the seed map equals a numerical determinant."""
    rng = np.random.default_rng(0)
    keys = ["pt_s", "eta_s", "phi_s", "m_s", "m_y", "cos1", "phi1", "cos2", "phi2"]
    for cls in _jets.CLASSES:
        u = _jets.sample_seed_coordinates(cls, 3, rng)
        for i in range(3):
            v0 = np.array([u[k][i] for k in keys])

            def seeds(v):
                return _jets.seed_momenta({k: np.array([v[j]]) for j, k in enumerate(keys)})[0]

            jac = np.empty((9, 9))
            for j in range(9):
                h = 1e-6 * max(1.0, abs(v0[j]))
                up, dn = v0.copy(), v0.copy()
                up[j] += h
                dn[j] -= h
                jac[:, j] = (seeds(up)[:, 1:] - seeds(dn)[:, 1:]).ravel() / (2 * h)
            s = seeds(v0)
            analytic = _jets.log_jacobian(s[None, 0], s[None, 1], s[None, 2])[0]
            assert np.log(abs(np.linalg.det(jac))) == pytest.approx(analytic, abs=1e-4)
            back = _jets.seed_coordinates(s[None, 0], s[None, 1], s[None, 2])
            for k in back:
                assert back[k][0] == pytest.approx(dict(zip(keys, v0, strict=True))[k], rel=1e-8)


def test_likelihood_ratio_is_calibrated_and_labels_the_challenge(twin):
    """Known answer: the LR posterior matches the top fraction in bins; challenge labels fit."""
    frame = pd.concat([twin["train.h5"], twin["test.h5"]])
    y = frame["is_signal_new"].to_numpy()
    llr = top_tagging.likelihood_ratio(frame, log=True)
    post = 1 / (1 + np.exp(-llr - np.log(y.mean() / (1 - y.mean()))))
    idx = np.clip(np.digitize(post, np.linspace(0, 1, 6)) - 1, 0, 4)
    for i in range(5):
        sel = idx == i
        pred, n = post[sel].mean(), sel.sum()
        assert abs(y[sel].mean() - pred) < 4 * np.sqrt(pred * (1 - pred) / n) + 0.01
    assert roc_auc_score(y, llr) > 0.95
    labels = top_tagging.challenge_labels(6_000, seed=3)
    challenge = twin["test_without_truth_100k.h5"]
    assert len(labels) == len(challenge)
    assert roc_auc_score(labels, top_tagging.likelihood_ratio(challenge, log=True)) > 0.95
    with pytest.raises(KeyError, match="constituent"):
        top_tagging.likelihood_ratio(twin["train_img.h5"])


def test_same_seed_same_jets_other_seed_other_jets():
    a, b = top_tagging.generate(600, seed=1), top_tagging.generate(600, seed=1)
    c = top_tagging.generate(600, seed=2)
    for name in top_tagging.FILES:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not np.allclose(a["train.h5"]["E_0"], c["train.h5"]["E_0"])


@pytest.mark.slow
def test_true_lr_beats_a_gradient_boosted_classifier_and_it_generalises_across_seeds():
    """The LR's AUC exceeds a GBDT's on jet features; the GBDT keeps its AUC on a new seed."""
    a = top_tagging.generate(24_000, seed=21)
    b = top_tagging.generate(12_000, seed=22)
    fit, held, other = a["train.h5"], a["val.h5"], b["test.h5"]
    with threadpool_limits(1):
        clf = HistGradientBoostingClassifier(max_iter=200, random_state=0)
        clf.fit(_features(fit), fit["is_signal_new"])
    auc_same = roc_auc_score(held["is_signal_new"], clf.predict_proba(_features(held))[:, 1])
    auc_other = roc_auc_score(other["is_signal_new"], clf.predict_proba(_features(other))[:, 1])
    auc_lr = roc_auc_score(other["is_signal_new"], top_tagging.likelihood_ratio(other, log=True))
    assert auc_lr > auc_other
    assert abs(auc_same - auc_other) < 0.02


@pytest.mark.slow
def test_acceptance_constants_match_the_generator():
    """The LR's constant (the classes' acceptance of the selection) agrees with a fresh estimate."""
    rng = np.random.default_rng(99)
    for cls in _jets.CLASSES:
        kept, attempts = _jets.sample_jets(cls, 8_000, rng)
        acc = len(kept) / attempts
        err = np.sqrt(acc * (1 - acc) / attempts)
        assert abs(acc - _jets.ACCEPTANCE[cls]) < 4 * err + 0.002
