"""The higgs-ww-vs-ttbar twin: WW_vs_TT_dataset.h5 schema, derived columns, the tutorial's
physics lessons and the true likelihood ratio."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from helpers.data import synthetic
from helpers.data.synthetic import higgs_ww as hww

FILE = "WW_vs_TT_dataset.h5"
M_E, M_MU = 0.000511, 0.10566


@pytest.fixture(scope="module")
def twin() -> pd.DataFrame:
    return hww.generate(hww.DEFAULT_EVENTS, 2024)[FILE]


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return (frame.index.get_level_values("dataset") == "Signal").astype(int)


def _auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return float(np.sqrt(var / (n_pos * n_neg)))


def _p3(frame: pd.DataFrame, obj: str) -> np.ndarray:
    return frame[[f"{obj}_px", f"{obj}_py", f"{obj}_pz"]].to_numpy()


# ----------------------------------------------------------------------------- file and schema


def test_written_file_reads_with_tutorial_code_and_has_the_schema(tmp_path):
    path = synthetic.write_twin("higgs-ww-vs-ttbar", tmp_path, events=4001, seed=1)[FILE]
    assert path.name == FILE
    with h5py.File(path, "r") as file:  # the tutorial's own code
        assert sorted(file) == ["Background", "Signal"]
        df_signal = pd.DataFrame(file["Signal"][:])
        df_background = pd.DataFrame(file["Background"][:])
        assert file["Signal"].shape == (2001,) and file["Background"].shape == (2000,)
    for frame in (df_signal, df_background):
        assert list(frame.columns) == list(hww.FIELDS)
        assert len(frame.columns) == 26
        assert {k: np.dtype(v) for k, v in frame.dtypes.items()} == {
            k: np.dtype(v) for k, v in hww.FIELDS.items()
        }
    ref = hww.generate(4001, 1)[FILE]
    pd.testing.assert_frame_equal(df_signal, ref.loc["Signal"].reset_index(drop=True))
    pd.testing.assert_frame_equal(df_background, ref.loc["Background"].reset_index(drop=True))


def test_project_loader_reads_the_twin(tmp_path):
    from helpers.data.loaders import load_higgs_ww

    path = hww.write(tmp_path, events=1000, seed=2)[FILE]
    signal, background = load_higgs_ww(path)
    assert len(signal) == len(background) == 500


def test_same_seed_same_bytes_other_seed_other_events(tmp_path):
    digests = []
    for sub in ("a", "b"):
        path = hww.write(tmp_path / sub, events=2000, seed=9)[FILE]
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    a = hww.generate(2000, 9)[FILE]
    b = hww.generate(2000, 10)[FILE]
    assert (a["lepton0_px"].to_numpy() != b["lepton0_px"].to_numpy()).all()


@pytest.mark.slow
def test_write_in_slices_with_progress_gives_the_same_events(tmp_path):
    path = hww.write(tmp_path, events=420_000, seed=5, progress=True)[FILE]
    ref = hww.generate(420_000, 5)[FILE]
    with h5py.File(path, "r") as f:
        back = f["Background"]["HT_all"]
    np.testing.assert_array_equal(back, ref.loc["Background"]["HT_all"].to_numpy())


# ----------------------------------------------------------------------------- derived columns


def test_derived_columns_follow_from_the_base_ones(twin):
    for obj in ("lepton0", "lepton1", "jet0", "jet1"):
        p = _p3(twin, obj)
        e = np.sqrt((p**2).sum(axis=1) + twin[f"{obj}_mass"].to_numpy() ** 2)
        np.testing.assert_allclose(twin[f"{obj}_energy"], e, rtol=1e-12)
    assert set(np.unique(twin[["lepton0_mass", "lepton1_mass"]])) == {M_E, M_MU}
    s = sum(twin[[f"lepton0_{c}", f"lepton1_{c}"]].sum(axis=1) ** 2 * (1 if c == "energy" else -1)
            for c in ("energy", "px", "py", "pz"))  # fmt: skip
    np.testing.assert_allclose(twin["combined_leptons_mass"], np.sqrt(s), rtol=1e-6)
    l0, l1 = _p3(twin, "lepton0"), _p3(twin, "lepton1")
    cos = (l0 * l1).sum(1) / np.linalg.norm(l0, axis=1) / np.linalg.norm(l1, axis=1)
    np.testing.assert_allclose(twin["angle_between_leptons"], np.arccos(cos), atol=1e-7)
    pt = {
        o: np.hypot(twin[f"{o}_px"], twin[f"{o}_py"])
        for o in ("lepton0", "lepton1", "jet0", "jet1")
    }
    assert (pt["lepton0"] >= pt["lepton1"]).all() and (pt["jet0"] >= pt["jet1"]).all()
    visible = sum(pt.values())
    njets = twin["Njets"].to_numpy()
    np.testing.assert_allclose(twin["HT_all"][njets <= 2], visible[njets <= 2], rtol=1e-12)
    extra = (twin["HT_all"] - visible)[njets > 2] / (njets[njets > 2] - 2)
    assert (extra >= 20 - 1e-9).all() and (extra <= pt["jet1"][njets > 2] + 1e-9).all()
    for i in (0, 1):
        missing = njets <= i
        cols = [f"jet{i}_{c}" for c in ("px", "py", "pz", "energy", "mass")]
        assert (twin.loc[missing, cols] == 0).all().all()
        assert (pt[f"jet{i}"][~missing] >= 20).all()
    assert (twin.loc[njets < 2, "angle_between_jets"] == 0).all()
    assert (twin.loc[njets >= 2, "angle_between_jets"] > 0).all()
    assert (twin["MissingEnergy"] > 0).all()


def test_classes_are_balanced(twin):
    assert len(twin.loc["Signal"]) == len(twin.loc["Background"]) == hww.DEFAULT_EVENTS // 2


# ----------------------------------------------------------------------------- physics lessons


def test_signal_and_background_overlap_on_lepton0_energy_alone(twin):
    y = _labels(twin)
    energy = twin["lepton0_energy"].to_numpy()
    auc = roc_auc_score(y, energy)
    assert max(auc, 1 - auc) < 0.7
    edges = np.quantile(energy, np.linspace(0, 1, 41))
    hs, _ = np.histogram(energy[y == 1], edges)
    hb, _ = np.histogram(energy[y == 0], edges)
    overlap = np.minimum(hs / hs.sum(), hb / hb.sum()).sum()
    assert overlap > 0.6
    # ... while the full event separates them well
    assert roc_auc_score(y, hww.likelihood_ratio(twin, log=True)) > 0.93


def test_signal_has_close_light_lepton_pairs_and_few_light_jets(twin):
    s, b = twin.loc["Signal"], twin.loc["Background"]
    assert s["angle_between_leptons"].median() < b["angle_between_leptons"].median() - 0.4
    assert s["combined_leptons_mass"].median() < 0.6 * b["combined_leptons_mass"].median()
    assert (s["combined_leptons_mass"] < 80).mean() > 0.95  # H -> WW* kinematic limit
    assert s["Njets"].mean() + 1 < b["Njets"].mean()
    assert (b["Njets"] >= 2).mean() > 0.75 and (s["Njets"] <= 1).mean() > 0.65
    assert s["HT_all"].median() * 1.8 < b["HT_all"].median()
    assert s["MissingEnergy"].median() < b["MissingEnergy"].median()
    # b-jets are heavier than the gluon and light-quark jets of the signal
    ratio = lambda f: (f["jet0_mass"] / np.hypot(f["jet0_px"], f["jet0_py"]))[f["Njets"] > 0]  # noqa: E731
    assert ratio(b).median() > 1.15 * ratio(s).median()


# ----------------------------------------------------------------------------- likelihood ratio


def test_likelihood_ratio_is_the_generators_density_ratio(twin):
    """Known answers of a true density ratio: E_B[LR] = 1, and P(S | x) is calibrated."""
    llr = synthetic.likelihood_ratio("higgs-ww-vs-ttbar", twin, log=True)
    y = _labels(twin)
    assert llr.shape == (len(twin),) and np.isfinite(llr).all()
    lr_b = np.exp(llr[y == 0])
    assert abs(lr_b.mean() - 1) < 4 * lr_b.std() / np.sqrt(len(lr_b))
    post = 1 / (1 + np.exp(-np.clip(llr, -50, 50)))  # balanced classes
    edges = np.quantile(post, np.linspace(0, 1, 11))
    idx = np.clip(np.digitize(post, edges) - 1, 0, 9)
    for k in range(10):
        m = idx == k
        expect, seen = post[m].mean(), y[m].mean()
        tol = 4 * np.sqrt(max(expect * (1 - expect), 1e-4) / m.sum()) + 0.005
        assert abs(seen - expect) < tol, (k, expect, seen)
    # one dataset at a time gives the same values
    n_sig = len(twin.loc["Signal"])
    np.testing.assert_allclose(hww.likelihood_ratio(twin.loc["Signal"], log=True), llr[:n_sig])


@pytest.mark.slow
def test_true_likelihood_ratio_beats_boosted_trees_and_auc_carries_across_seeds():
    def xy(frame):
        return frame.to_numpy(), _labels(frame)

    train = hww.generate(16_000, 101)[FILE].sample(frac=1.0, random_state=0)
    other = hww.generate(20_000, 202)[FILE]
    fit, held = train.iloc[:10_000], train.iloc[10_000:]
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(*xy(fit))
    x, y = xy(other)
    auc_gb = roc_auc_score(y, clf.predict_proba(x)[:, 1])
    auc_lr = roc_auc_score(y, hww.likelihood_ratio(other, log=True))
    assert auc_lr > auc_gb
    xh, yh = xy(held)
    auc_held = roc_auc_score(yh, clf.predict_proba(xh)[:, 1])
    se = np.hypot(
        _auc_se(auc_held, int(yh.sum()), int((1 - yh).sum())),
        _auc_se(auc_gb, int(y.sum()), int((1 - y).sum())),
    )
    assert abs(auc_held - auc_gb) < 4 * se
