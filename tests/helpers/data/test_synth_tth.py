"""Tests of the ``tth-multilepton`` synthetic twin: real-format schema, seeding, the tutorials'
physics lessons and the exactness of its likelihood ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import uproot
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from helpers.data.synthetic import tth

OBJECTS = ["Lep0", "Lep1", "Lep2", "HadTop", "All5_Jets", "More5_Jets", "Jets_plus_Lep"]
EXPECTED = [f"Hreco_{o}_{v}" for o in OBJECTS for v in ("pt", "eta", "phi", "mass")] + [
    "Hreco_TopScore",
    "Hreco_met",
    "Hreco_met_phi",
    "Hreco_HTXS_Higgs_pt",
    "Hreco_HTXS_Higgs_y",
    "Hreco_evt_tag",
]
TUTORIAL_DROP = [
    "Hreco_Lep2_pt",
    "Hreco_Lep2_eta",
    "Hreco_Lep2_phi",
    "Hreco_Lep2_mass",
    "Hreco_evt_tag",
    "Hreco_HTXS_Higgs_pt",
    "Hreco_HTXS_Higgs_y",
]
PHI_COLUMNS = [c for c in EXPECTED if c.endswith("_phi")]


@pytest.fixture(scope="module")
def twin() -> dict[str, pd.DataFrame]:
    return tth.generate(30_000, seed=11)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    return tth.write(tmp_path_factory.mktemp("tth"), events=3_000, seed=5)


def _by_process(twin):
    return dict(zip(("ttH", "ttW", "DY"), (twin[f] for f in tth.FILES), strict=True))


def _dilepton_mass(frame: pd.DataFrame) -> np.ndarray:
    p = [
        tth._four_vector(*(frame[f"Hreco_Lep{i}_{v}"] for v in ("pt", "eta", "phi", "mass")))
        for i in (0, 1)
    ]
    s = p[0] + p[1]
    return np.sqrt(np.maximum(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2, 0.0))


def _posterior_pulls(llr: np.ndarray, y: np.ndarray, prior: float) -> float:
    """Largest |observed - predicted| / error of the signal fraction in posterior bins."""
    post = 1.0 / (1.0 + np.exp(-(llr + np.log(prior / (1 - prior)))))
    idx = np.clip(np.digitize(post, np.linspace(0, 1, 11)) - 1, 0, 9)
    worst = 0.0
    for i in range(10):
        sel = idx == i
        if sel.sum() < 100:
            continue
        pred = post[sel].mean()
        err = np.sqrt(pred * (1 - pred) / sel.sum()) + 1e-3
        worst = max(worst, abs(y[sel].mean() - pred) / err)
    return worst


def test_files_open_with_tutorial_code_and_have_exact_schema(files, tmp_path):
    """The tutorials' uproot code reads the three files; names, order, dtypes as in the real ones."""
    assert [p.name for p in files.values()] == [
        "signal_blind20.root",
        "background_1.root",
        "background_2.root",
    ]
    frames = {
        name: uproot.open(path)["Friends"].arrays(library="pd") for name, path in files.items()
    }
    sig = frames["signal_blind20.root"]
    assert list(sig.columns) == ["index", *EXPECTED]
    assert sig["index"].dtype == np.int64
    assert (sig[EXPECTED].dtypes == np.float32).all()
    for name in ("background_1.root", "background_2.root"):
        assert list(frames[name].columns) == EXPECTED
        assert (frames[name].dtypes == np.float32).all()
    # what write() put in the files is exactly what generate() returns
    again = tth.generate(3_000, seed=5)
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, again[name])
    # the tutorial's preprocessing runs: 2lss selection, drop, 27 features left
    sig = sig.drop(columns=["index"])
    data = pd.concat([sig.assign(label=1), frames["background_1.root"].assign(label=0)])
    data = data[data["Hreco_Lep2_pt"] == -99].drop(TUTORIAL_DROP, axis=1)
    assert data.shape[1] == 27 + 1 and not data.isna().any().any()


def test_fill_values_units_and_truth_columns(twin):
    """-99 fills come in whole objects, leptons are ordered, truth holds the Higgs for ttH only."""
    for proc, frame in _by_process(twin).items():
        for obj in ("Lep2", "More5_Jets", "HadTop"):
            block = frame[[f"Hreco_{obj}_{v}" for v in ("pt", "eta", "phi", "mass")]]
            missing = block == -99
            assert (missing.all(axis=1) | ~missing.any(axis=1)).all(), obj
        assert ((frame["Hreco_HadTop_pt"] == -99) == (frame["Hreco_TopScore"] <= 0)).all()
        assert frame["Hreco_TopScore"].between(-1, 1).all()
        lep2 = frame["Hreco_Lep2_pt"] > -99
        assert 0.5 < (~lep2).mean() < 1.0  # most events are two same-sign leptons
        assert (frame["Hreco_Lep0_pt"] > 25).all() and (frame["Hreco_Lep1_pt"] > 15).all()
        assert (frame["Hreco_Lep0_pt"] >= frame["Hreco_Lep1_pt"]).all()
        assert (frame.loc[lep2, "Hreco_Lep2_pt"] > 10).all()
        assert (frame.loc[lep2, "Hreco_Lep2_pt"] <= frame.loc[lep2, "Hreco_Lep1_pt"]).all()
        masses = np.unique(frame[["Hreco_Lep0_mass", "Hreco_Lep1_mass"]].to_numpy())
        np.testing.assert_allclose(masses, [0.000511, 0.105658], rtol=1e-6)
        assert frame["Hreco_Lep0_eta"].abs().max() < 2.5
        for col in PHI_COLUMNS:
            present = frame[col] > -99
            assert frame.loc[present, col].abs().max() <= np.pi + 1e-6
        higgs = frame["Hreco_HTXS_Higgs_pt"]
        if proc == "ttH":
            assert (frame["Hreco_evt_tag"] == 1).all() and (higgs > 0).all()
            assert higgs.max() / higgs.min() > 100  # spans orders of magnitude
        else:
            assert (frame["Hreco_evt_tag"] == 0).all() and (higgs == -99).all()
            assert (frame["Hreco_HTXS_Higgs_y"] == -99).all()
    index = twin["signal_blind20.root"]["index"].to_numpy()
    assert np.all(np.diff(index) > 0) and index.max() < len(index) / tth.BLIND_KEPT + 1


def test_jets_plus_leptons_is_the_sum_of_the_objects(twin):
    """The derived Jets_plus_Lep four-vector is recomputed from the object columns."""
    frame = twin["background_1.root"].iloc[:2000]
    total = np.zeros((4, len(frame)))
    for obj in ("All5_Jets", "More5_Jets", "Lep0", "Lep1", "Lep2"):
        cols = [
            frame[f"Hreco_{obj}_{v}"].to_numpy(np.float64) for v in ("pt", "eta", "phi", "mass")
        ]
        ok = cols[0] > -99
        pt, eta, phi, m = (np.where(ok, c, 0.0) for c in cols)
        e = np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)
        total += np.where(ok, [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e], 0.0)
    np.testing.assert_allclose(frame["Hreco_Jets_plus_Lep_pt"], np.hypot(total[0], total[1]), 1e-4)
    m2 = total[3] ** 2 - (total[:3] ** 2).sum(0)
    np.testing.assert_allclose(frame["Hreco_Jets_plus_Lep_mass"], np.sqrt(m2), rtol=2e-3)


def test_same_seed_same_events_other_seed_other_events():
    """Seeds make the twin reproducible; different seeds give different events."""
    a, b, c = tth.generate(2_000, seed=1), tth.generate(2_000, seed=1), tth.generate(2_000, 2)
    for name in tth.FILES:
        pd.testing.assert_frame_equal(a[name], b[name])
        assert not np.allclose(a[name]["Hreco_Lep0_pt"], c[name]["Hreco_Lep0_pt"])
    sizes = [len(a[f]) for f in tth.FILES]
    assert sum(sizes) == 2_000 and sizes[0] < sizes[1]  # backgrounds are the larger files


def test_drell_yan_has_a_z_peak_few_jets_and_low_met(twin):
    """DY: Z peak in same-flavour dilepton mass, few jets, low MET, rarely a top candidate."""
    procs = _by_process(twin)
    frac_z = {}
    for proc, frame in procs.items():
        same = frame["Hreco_Lep0_mass"] == frame["Hreco_Lep1_mass"]
        mll = _dilepton_mass(frame[same])
        frac_z[proc] = np.mean((mll > 81) & (mll < 101))
    assert frac_z["DY"] > 0.45 and frac_z["ttH"] < 0.2 and frac_z["ttW"] < 0.2
    met = {p: f["Hreco_met"].median() for p, f in procs.items()}
    assert met["DY"] < 0.5 * min(met["ttH"], met["ttW"])
    more5 = {p: (f["Hreco_More5_Jets_pt"] > -99).mean() for p, f in procs.items()}
    assert more5["DY"] < 0.05 < more5["ttW"] < more5["ttH"]
    top = {p: (f["Hreco_TopScore"] > 0).mean() for p, f in procs.items()}
    assert top["DY"] < 0.5 * top["ttW"]


def test_ttw_is_signal_like_dy_is_not_and_background_scores_are_bimodal(twin):
    """Pairwise optimal AUCs: ttH-ttW hard, ttH-DY easy; so the binary score is bimodal on bkg."""
    procs = _by_process(twin)
    auc = {}
    for bkg in ("ttW", "DY"):
        data = pd.concat([procs["ttH"], procs[bkg]])
        y = np.r_[np.ones(len(procs["ttH"])), np.zeros(len(procs[bkg]))]
        auc[bkg] = roc_auc_score(y, tth.likelihood_ratio(data, background=bkg, log=True))
    assert 0.65 < auc["ttW"] < 0.85
    assert auc["DY"] > 0.97
    # posterior P(ttH | x) of the binary problem, on the two backgrounds
    score = {
        b: 1 / (1 + np.exp(-tth.likelihood_ratio(procs[b], log=True) - np.log(0.3 / 0.7)))
        for b in ("ttW", "DY")
    }
    assert np.quantile(score["DY"], 0.9) < np.quantile(score["ttW"], 0.25)
    hist, _ = np.histogram(np.r_[score["ttW"], score["DY"]], bins=10, range=(0, 1))
    assert hist[0] > 2 * hist[1] and hist[2:5].max() > hist[1]  # two modes with a dip between


def test_azimuths_are_near_useless_noise(twin):
    """Lep0_phi has the same law for every process and a global rotation leaves the LR unchanged."""
    procs = _by_process(twin)
    for a, b in (("ttH", "ttW"), ("ttH", "DY")):
        assert stats.ks_2samp(procs[a]["Hreco_Lep0_phi"], procs[b]["Hreco_Lep0_phi"]).pvalue > 1e-3
    frame = pd.concat(list(procs.values())).iloc[::7]
    rotated = frame.copy()
    for col in PHI_COLUMNS:
        present = frame[col] > -99
        new = (frame.loc[present, col].astype(np.float64) + 2.0 + np.pi) % (2 * np.pi) - np.pi
        rotated.loc[present, col] = new.astype(np.float32)
    np.testing.assert_allclose(
        tth.likelihood_ratio(rotated, log=True), tth.likelihood_ratio(frame, log=True), atol=1e-3
    )


def test_likelihood_ratio_is_calibrated(twin):
    """Known answer: the posterior built from the LR matches the true class fraction in bins."""
    procs = _by_process(twin)
    data = pd.concat(list(procs.values()))
    y = np.r_[np.ones(len(procs["ttH"])), np.zeros(len(data) - len(procs["ttH"]))]
    prior = len(procs["ttH"]) / len(data)
    assert _posterior_pulls(tth.likelihood_ratio(data, log=True), y, prior) < 4.0
    # also with the third lepton's columns dropped (the category is then summed over)
    llr = tth.likelihood_ratio(data.drop(columns=TUTORIAL_DROP[:4]), log=True)
    assert _posterior_pulls(llr, y, prior) < 4.0
    # pairwise ratio for the multiclass exercise
    ww = pd.concat([procs["ttW"], procs["DY"]])
    y2 = np.r_[np.ones(len(procs["ttW"])), np.zeros(len(procs["DY"]))]
    llr2 = tth.likelihood_ratio(ww, signal="ttW", background="DY", log=True)
    assert _posterior_pulls(llr2, y2, 0.5) < 4.0
    # a one-process mixture is that process
    np.testing.assert_allclose(
        tth.likelihood_ratio(ww.iloc[:500], background_weights=[1.0, 0.0], log=True),
        tth.likelihood_ratio(ww.iloc[:500], background="ttW", log=True),
    )


def test_likelihood_ratio_rejects_bad_arguments(twin):
    frame = twin["background_2.root"].iloc[:10]
    with pytest.raises(ValueError, match="unknown processes"):
        tth.likelihood_ratio(frame, background="ttZ")
    with pytest.raises(ValueError, match="cannot also be a background"):
        tth.likelihood_ratio(frame, signal="ttW")
    with pytest.raises(KeyError, match="Hreco_met"):
        tth.likelihood_ratio(frame.drop(columns=["Hreco_met"]))


def test_higgs_pt_is_predictable_to_a_known_resolution(twin):
    """The Bayes-optimal regression of log(pT_H) has N(0, 1) pulls and beats the prior width."""
    sig = twin["signal_blind20.root"]
    post = tth.regression_truth(sig)
    pull = (np.log(sig["Hreco_HTXS_Higgs_pt"]) - post["log_pt_mean"]) / post["log_pt_sd"]
    assert abs(pull.mean()) < 0.05 and 0.95 < pull.std() < 1.05
    prior_sd = np.log(sig["Hreco_HTXS_Higgs_pt"]).std()
    assert post["log_pt_sd"].mean() < 0.8 * prior_sd
    r = np.corrcoef(post["log_pt_mean"], np.log(sig["Hreco_HTXS_Higgs_pt"]))[0, 1]
    assert r > 0.6


@pytest.mark.slow
def test_true_lr_beats_a_gradient_boosted_classifier_and_it_generalises_across_seeds():
    """The LR's AUC exceeds a GBDT's trained on twin events; the GBDT keeps its AUC on a new seed."""

    def binary(frames):
        data = pd.concat([frames[f] for f in tth.FILES]).drop(columns=["index"])
        y = (data["Hreco_evt_tag"] == 1).to_numpy().astype(int)
        return data, y

    train, y_train = binary(tth.generate(40_000, seed=21))
    other, y_other = binary(tth.generate(20_000, seed=22))
    features = [c for c in EXPECTED if c not in tth.TRUTH_COLUMNS]
    fit, held = train.iloc[::2], train.iloc[1::2]
    clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0)
    with threadpool_limits(1):  # threads only oversubscribe a loaded 2-core runner
        clf.fit(fit[features], y_train[::2])
    auc_same = roc_auc_score(y_train[1::2], clf.predict_proba(held[features])[:, 1])
    auc_other = roc_auc_score(y_other, clf.predict_proba(other[features])[:, 1])
    auc_lr = roc_auc_score(y_other, tth.likelihood_ratio(other, log=True))
    assert auc_lr > auc_other
    assert abs(auc_same - auc_other) < 0.015
