"""The atlas-hww twin: schema of dataWW_d1.root, fidelity to the real slice, the true likelihood
ratio, and the shared densities of helpers.data.synthetic._kinematics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import uproot
from scipy import integrate, stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from helpers.data import synthetic
from helpers.data.synthetic import _kinematics as kin
from helpers.data.synthetic import atlas_hww as atlas

REAL = "atlas-opendata-hww/dataWW_d1_last10k.root"
# KS distance allowed between twin and real slice, per column and process: no quantile of a
# column may be off by more than 7.5 percentile points (statistical resolution with the real
# slice's 3,000-3,400 events per process is about 0.03 at 99% confidence).
KS_BOUND = 0.075
NUMBERING = ("index", "eventNumber", "runNumber", "label", "channelNumber")


@pytest.fixture(scope="module")
def twin() -> pd.DataFrame:
    return atlas.generate(atlas.DEFAULT_EVENTS, 2024)["dataWW_d1.root"]


@pytest.fixture(scope="module")
def real(real_data_dir) -> pd.DataFrame:
    path = real_data_dir / REAL
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with uproot.open(path) as f:
        return f["tree_event;1;1"].arrays(library="pd")


def _auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return float(np.sqrt(var / (n_pos * n_neg)))


# ----------------------------------------------------------------------------- file and schema


def test_written_file_reads_with_tutorial_code_and_has_the_schema(tmp_path):
    path = synthetic.write_twin("atlas-hww", tmp_path, events=3000, seed=1)["dataWW_d1.root"]
    assert path.name == "dataWW_d1.root"
    with uproot.open(path) as f:
        assert [k.split(";")[0] for k in f.keys()] == ["tree_event"]
        tree = f["tree_event"]
        types = tree.typenames()
        frame = tree.arrays(library="pd")
    assert list(frame.columns) == list(atlas.BRANCHES)
    assert {k: str(v) for k, v in frame.dtypes.items()} == atlas.BRANCHES
    expected = {"int64": "int64_t", "float64": "double"}
    assert types == {k: expected[v] for k, v in atlas.BRANCHES.items()}
    assert len(frame) == 3000
    generated = atlas.generate(3000, 1)["dataWW_d1.root"]
    pd.testing.assert_frame_equal(frame, generated)


def test_units_fill_values_and_numbering(twin):
    jet_n = twin["jet_n"].to_numpy()
    for i in (0, 1):
        missing = jet_n <= i
        for v in ("pt", "eta", "phi", "E"):
            assert (twin.loc[missing, f"jet_{v}_{i}"] == -7.0).all()
        present = ~missing
        assert (twin.loc[present, f"jet_pt_{i}"] >= 20.0).all()
        assert (twin.loc[present, f"jet_eta_{i}"].abs() <= 2.5).all()
        # energies in MeV, momenta in GeV: E >= |p| = pT cosh(eta)
        p_mev = 1e3 * twin.loc[present, f"jet_pt_{i}"] * np.cosh(twin.loc[present, f"jet_eta_{i}"])
        assert (twin.loc[present, f"jet_E_{i}"] >= p_mev * (1 - 1e-4)).all()
        lep_p = 1e3 * twin[f"lep_pt_{i}"] * np.cosh(twin[f"lep_eta_{i}"])
        np.testing.assert_allclose(twin[f"lep_E_{i}"], lep_p, rtol=2e-4)
    assert (twin["lep_pt_0"] >= twin["lep_pt_1"]).all()
    assert twin["lep_pt_0"].min() >= 25.0 and twin["lep_pt_1"].min() >= 7.0
    assert set(np.unique(twin[["lep_type_0", "lep_type_1"]])) == {11, 13}
    assert set(np.unique(twin[["lep_charge_0", "lep_charge_1"]])) == {-1, 1}
    # electrons are not reconstructed in the barrel-endcap crack
    for i in (0, 1):
        ele = twin.loc[twin[f"lep_type_{i}"] == 11, f"lep_eta_{i}"].abs()
        assert not ((ele > 1.37) & (ele < 1.52)).any() and ele.max() <= 2.47
    # 5 significant digits, as in the real file
    assert np.array_equal(twin["met_et"], kin.round_significant(twin["met_et"]))
    assert np.array_equal(twin["index"], np.arange(len(twin)))
    assert (twin["runNumber"] == 284500).all()
    for _, part in twin.groupby("channelNumber"):
        assert part["eventNumber"].is_unique and part["eventNumber"].min() > 0


def test_classes_channels_weights_and_multiplicities(twin):
    n = len(twin)
    assert abs(int(twin["label"].sum()) - round(2 * n / 3)) <= 1
    pairs = set(map(tuple, twin[["channelNumber", "label"]].drop_duplicates().to_numpy()))
    assert pairs == {(345323, 1), (345324, 1), (363492, 0)}
    w = twin["mcWeight"]
    assert 0.01 < (w < 0).mean() < 0.06  # real slice: 3.3%
    for ch, value in ((345323, 2.0068e-06), (345324, 2.9122e-05)):
        assert set(np.abs(w[twin["channelNumber"] == ch])) == {value}
    assert (twin["lep_n"] == 2).mean() > 0.98 and set(twin["lep_n"]) == {2, 3}
    assert twin["jet_n"].max() >= 5
    # the tutorial's selection (lep_n == 2 and mcWeight > 0) keeps about 96%
    kept = ((twin["lep_n"] == 2) & (w > 0)).mean()
    assert 0.94 < kept < 0.98


def test_seeds_reproduce_and_differ(tmp_path):
    a = atlas.generate(2000, 7)["dataWW_d1.root"]
    pd.testing.assert_frame_equal(a, atlas.generate(2000, 7)["dataWW_d1.root"])
    b = atlas.generate(2000, 8)["dataWW_d1.root"]
    assert (a["lep_pt_0"].to_numpy() != b["lep_pt_0"].to_numpy()).mean() > 0.99
    # ROOT files carry a UUID and a date, so same-seed files are compared by content
    frames = []
    for sub in ("x", "y"):
        path = atlas.write(tmp_path / sub, events=2000, seed=7)["dataWW_d1.root"]
        with uproot.open(path) as f:
            frames.append(f["tree_event"].arrays(library="pd"))
    pd.testing.assert_frame_equal(frames[0], frames[1])


@pytest.mark.slow
def test_write_in_chunks_with_progress_gives_the_same_events(tmp_path):
    path = atlas.write(tmp_path, events=210_000, seed=3, progress=True)["dataWW_d1.root"]
    with uproot.open(path) as f:
        back = f["tree_event"].arrays(["index", "lep_pt_0", "jet_E_1"], library="pd")
    ref = atlas.generate(210_000, 3)["dataWW_d1.root"]
    assert len(back) == 210_000
    np.testing.assert_array_equal(back["lep_pt_0"], ref["lep_pt_0"])
    np.testing.assert_array_equal(back["jet_E_1"], ref["jet_E_1"])


# ----------------------------------------------------------------------------- the real slice


@pytest.mark.real_data
def test_same_branches_and_types_as_the_real_file(real, real_data_dir):
    with uproot.open(real_data_dir / REAL) as f:
        real_types = f["tree_event;1;1"].typenames()
    expected = {"int64": "int64_t", "float64": "double"}
    assert real_types == {k: expected[v] for k, v in atlas.BRANCHES.items()}
    assert list(real.columns) == list(atlas.BRANCHES)


@pytest.mark.real_data
def test_marginals_close_to_the_real_slice(real, twin):
    """Two-sample KS distance of every column, process by process, below KS_BOUND."""
    worst = {}
    for ch in (345323, 345324, 363492):
        r, t = real[real["channelNumber"] == ch], twin[twin["channelNumber"] == ch]
        for col in atlas.BRANCHES:
            if col in NUMBERING:
                continue
            d = stats.ks_2samp(r[col], t[col]).statistic
            worst[(ch, col)] = d
    bad = {k: round(v, 3) for k, v in worst.items() if v > KS_BOUND}
    assert not bad, f"columns off the real slice: {bad}"


@pytest.mark.real_data
def test_class_balance_and_weights_close_to_the_real_slice(real, twin):
    assert abs(real["label"].mean() - twin["label"].mean()) < 0.01
    for ch in (345323, 345324, 363492):
        assert (
            abs((real["channelNumber"] == ch).mean() - (twin["channelNumber"] == ch).mean()) < 0.01
        )
    assert abs((real["mcWeight"] < 0).mean() - (twin["mcWeight"] < 0).mean()) < 0.01
    jet_real = real.groupby("label")["jet_n"].mean()
    jet_twin = twin.groupby("label")["jet_n"].mean()
    np.testing.assert_allclose(jet_twin, jet_real, atol=0.05)


@pytest.mark.real_data
@pytest.mark.slow
def test_model_is_the_maximum_likelihood_fit_to_the_real_slice(real):
    fitted = atlas.calibrate(real)
    for name, proc in atlas.MODEL["processes"].items():
        new = fitted["processes"][name]
        for key in ("share", "lep_n3", "flavour", "charge", "jet_n", "weight", "channel"):
            assert new[key] == proc[key], (name, key)
        # the continuous factors: the same likelihood on the real events (flat directions of
        # the fit may wander, the density may not)
        rows = real["channelNumber"] == proc["channel"]
        lat = atlas.latents(real[rows])
        keep = np.hypot(lat["eta1"] - lat["eta0"], lat["dphi"]) >= atlas.SELECTION.lep_dr_min
        lat = {k: v[keep] for k, v in lat.items()}
        args = {
            "jet_n": lat["jet_n"],
            "acc0": atlas.lepton_acceptance(lat["type0"]),
            "acc1": atlas.lepton_acceptance(lat["type1"]),
            "same_flavour": lat["type0"] == lat["type1"],
            "sel": atlas.SELECTION,
        }
        ll_model = kin.event_logpdf(lat, proc["kin"], **args).mean()
        ll_fit = kin.event_logpdf(lat, new["kin"], **args).mean()
        assert abs(ll_model - ll_fit) < 1e-3, name


# ----------------------------------------------------------------------------- likelihood ratio


def test_likelihood_ratio_is_the_generators_density_ratio(twin):
    """Known answers of a true density ratio: E_B[LR] = 1, and P(S | x) is calibrated."""
    llr = synthetic.likelihood_ratio("atlas-hww", twin, log=True)
    y = twin["label"].to_numpy()
    assert llr.shape == (len(twin),) and np.isfinite(llr).all()
    lr_b = np.exp(llr[y == 0])
    assert abs(lr_b.mean() - 1) < 4 * lr_b.std() / np.sqrt(len(lr_b))
    prior = y.mean()
    post = 1 / (1 + np.exp(-np.clip(llr + np.log(prior / (1 - prior)), -50, 50)))
    edges = np.quantile(post, np.linspace(0, 1, 11))
    idx = np.clip(np.digitize(post, edges) - 1, 0, 9)
    for k in range(10):
        m = idx == k
        expect, seen = post[m].mean(), y[m].mean()
        tol = 4 * np.sqrt(max(expect * (1 - expect), 1e-4) / m.sum()) + 0.005
        assert abs(seen - expect) < tol, (k, expect, seen)


def test_likelihood_ratio_ignores_labels_weights_and_numbering(twin):
    part = twin.iloc[:500]
    lr = atlas.likelihood_ratio(part)
    scrambled = part.assign(
        label=1 - part["label"], mcWeight=-part["mcWeight"], channelNumber=0, eventNumber=1, index=7
    )
    np.testing.assert_array_equal(atlas.likelihood_ratio(scrambled), lr)
    np.testing.assert_allclose(atlas.likelihood_ratio(part.iloc[::-1]), lr[::-1])


@pytest.mark.slow
def test_true_likelihood_ratio_beats_boosted_trees_and_auc_carries_across_seeds():
    train = atlas.generate(16_000, 101)["dataWW_d1.root"]
    test_other = atlas.generate(20_000, 202)["dataWW_d1.root"]
    features = [c for c in atlas.BRANCHES if c not in (*NUMBERING, "mcWeight")]
    fit, held = train.iloc[:10_000], train.iloc[10_000:]
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    clf.fit(fit[features], fit["label"])
    y = test_other["label"].to_numpy()
    auc_gb = roc_auc_score(y, clf.predict_proba(test_other[features])[:, 1])
    auc_lr = roc_auc_score(y, atlas.likelihood_ratio(test_other, log=True))
    assert auc_lr > auc_gb
    auc_held = roc_auc_score(held["label"], clf.predict_proba(held[features])[:, 1])
    se = np.hypot(
        _auc_se(auc_held, int(held["label"].sum()), int((1 - held["label"]).sum())),
        _auc_se(auc_gb, int(y.sum()), int((1 - y).sum())),
    )
    assert abs(auc_held - auc_gb) < 4 * se


def test_signal_leptons_are_closer_and_lighter_than_the_diboson_background(twin):
    lat = atlas.latents(twin)
    sig = twin["label"].to_numpy() == 1
    assert np.median(np.abs(lat["dphi"][sig])) < np.median(np.abs(lat["dphi"][~sig])) - 0.5
    assert np.median(lat["mll"][sig]) < 0.6 * np.median(lat["mll"][~sig])
    # the background's same-flavour pairs include Z -> ll (ZZ -> ll nu nu)
    same = (lat["type0"] == lat["type1"]) & ~sig
    near_z = (np.abs(lat["mll"] - 91.19) < 5).astype(float)
    assert near_z[same].mean() > near_z[~sig & ~same].mean() + 0.01


# ----------------------------------------------------------------------------- shared densities


@pytest.mark.parametrize(
    ("logpdf", "lo", "hi"),
    [
        (lambda x: kin.burr_logpdf(x, 1.7, 3.0, 25.0), 0.0, np.inf),
        (lambda x: kin.burr_logpdf(x, 2.2, 8103.0, 40.0), 0.0, np.inf),
        (lambda x: kin.circ_logpdf(x, 0.7, -0.4), -np.pi, np.pi),
        (lambda x: kin.lognormal_ratio_logpdf(x, 50.0, -2.0, 0.6), 0.0, np.inf),
        (lambda x: kin.beta_logpdf(x, 1.3, 2.5), 0.0, 1.0),
    ],
)
def test_shared_densities_integrate_to_one(logpdf, lo, hi):
    total, _ = integrate.quad(lambda x: float(np.exp(logpdf(np.array([x]))[0])), lo, hi, limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_truncated_densities_integrate_to_one_and_samplers_follow_them():
    rng = np.random.default_rng(0)
    acc = np.broadcast_to(atlas.ACCEPTANCE[11], (1, 3, 2))
    f = lambda x: float(np.exp(kin.trunc_normal_logpdf(np.array([x]), 0.9, 1.1, acc))[0])  # noqa: E731
    total = sum(integrate.quad(f, a, b)[0] for a, b in atlas.ACCEPTANCE[11])
    assert total == pytest.approx(1.0, abs=1e-8)
    x = kin.trunc_normal_sample(rng, 0.9, 1.1, np.broadcast_to(acc[0], (20_000, 3, 2)))
    cdf = np.vectorize(lambda v: integrate.quad(f, -2.47, v, points=[-1.52, -1.37, 1.37, 1.52])[0])
    grid = np.linspace(-2.4, 2.4, 9)
    np.testing.assert_allclose([np.mean(x <= g) for g in grid], cdf(grid), atol=0.015)
    # wrapped Cauchy + flat, truncated to |x| >= 0.3
    g = lambda v: float(np.exp(kin.circ_logpdf(np.array([v]), 0.6, 0.5, 0.3))[0])  # noqa: E731
    assert integrate.quad(g, 0.3, np.pi)[0] * 2 == pytest.approx(1.0, abs=1e-8)
    y = kin.circ_sample(rng, 0.6, 0.5, 20_000, 0.3)
    assert np.abs(y).min() >= 0.3
    assert np.mean(np.abs(y) <= 1.0) == pytest.approx(2 * integrate.quad(g, 0.3, 1.0)[0], abs=0.015)
    # Burr truncated to per-event ranges
    lo, hi = np.full(20_000, 10.0), np.full(20_000, 60.0)
    z = kin.trunc_burr_sample(rng, 2.0, 3.0, 30.0, lo, hi, 20_000)
    h = lambda v: float(np.exp(kin.trunc_burr_logpdf(np.array([v]), 2.0, 3.0, 30.0, 10.0, 60.0))[0])  # noqa: E731
    assert integrate.quad(h, 10.0, 60.0)[0] == pytest.approx(1.0, abs=1e-8)
    assert np.mean(z <= 30.0) == pytest.approx(integrate.quad(h, 10.0, 30.0)[0], abs=0.015)


def test_weights_stay_within_the_real_range():
    """No absurd Sherpa weights: the largest |mcWeight| is at most the real slice's (0.0097)."""
    for seed in (0, 2):
        frame = synthetic.generate("atlas-hww", events=60_000, seed=seed)["dataWW_d1.root"]
        weights = frame["mcWeight"].to_numpy()
        assert np.abs(weights).max() <= 0.0097258 * (1 + 1e-9)
        assert 0.02 < (weights < 0).mean() < 0.05
