"""Tests of helpers.metrics against scikit-learn, hand-computed values and analytic cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from helpers import metrics


def pairwise_auc(y, score, weight):
    """Weighted Mann-Whitney statistic by brute force over all (signal, background) pairs."""
    y = np.asarray(y, dtype=bool)
    ss, sb = score[y][:, None], score[~y][None, :]
    ws, wb = weight[y][:, None], weight[~y][None, :]
    wins = (ss > sb) + 0.5 * (ss == sb)
    return float((ws * wb * wins).sum() / (ws.sum() * wb.sum()))


# --- roc_curve and roc_auc -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "score", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),  # perfect separation
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),  # reversed
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # random: all tied
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),  # 3 of 4 pairs ordered
        # ties: S(0.5) vs B(0.5) half, vs B(0.2) one; S(0.9) beats both: (0.5 + 1 + 2) / 4
        ([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9], 0.875),
    ],
)
def test_roc_auc_constructed_cases(y, score, expected):
    assert metrics.roc_auc(y, score) == pytest.approx(expected, abs=1e-12)
    assert metrics.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_roc_auc_equals_sklearn_on_random_weighted_data():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    score = np.round(rng.normal(y, 1.0), 1)  # rounding makes many ties
    weight = rng.uniform(0.1, 3.0, 2000)
    assert metrics.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert metrics.roc_auc(y, score, sample_weight=weight) == pytest.approx(
        roc_auc_score(y, score, sample_weight=weight), abs=1e-12
    )


def test_roc_auc_negative_weights_hand_computed():
    # signal (score, w): (0.9, 1), (0.3, -1), (0.6, 1); background: (0.5, 1), (0.1, -1), (0.7, 1)
    # W_S = W_B = 1. Pairs won, weighted: S0.9 beats all three: 1 - 1 + 1 = 1;
    # S0.3 beats B0.1: (-1)(-1) = 1; S0.6 beats B0.5 and B0.1: 1 - 1 = 0. AUC = 2 / (1 * 1) = 2.
    y = np.array([1, 1, 1, 0, 0, 0])
    score = np.array([0.9, 0.3, 0.6, 0.5, 0.1, 0.7])
    weight = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0])
    assert metrics.roc_auc(y, score, sample_weight=weight) == pytest.approx(2.0, abs=1e-12)
    # scikit-learn refuses this curve (its FPR turns back), which is why we integrate ourselves
    with pytest.raises(ValueError, match="neither increasing nor decreasing"):
        roc_auc_score(y, score, sample_weight=weight)


def test_roc_auc_negative_weights_equals_pairwise_statistic():
    rng = np.random.default_rng(7)
    n = 400
    y = rng.integers(0, 2, n)
    score = np.round(rng.normal(0.8 * y, 1.0), 1)
    weight = rng.uniform(0.2, 1.5, n) * np.where(rng.random(n) < 0.2, -1.0, 1.0)
    auc = metrics.roc_auc(y, score, sample_weight=weight)
    assert auc == pytest.approx(pairwise_auc(y, score, weight), abs=1e-12)
    # and with negative signal weights only (background curve monotonic) sklearn agrees too
    weight_sig_neg = np.where(y == 1, weight, np.abs(weight))
    assert metrics.roc_auc(y, score, sample_weight=weight_sig_neg) == pytest.approx(
        roc_auc_score(y, score, sample_weight=weight_sig_neg), abs=1e-12
    )


def test_roc_curve_points_and_meaning():
    # cuts 0.9, 0.7, 0.5, 0.3: signal kept 1/2, 1/2, 1, 1; background kept 0, 1/2, 1/2, 1
    curve = metrics.roc_curve([1, 0, 1, 0], [0.9, 0.7, 0.5, 0.3])
    fpr, tpr, thresholds = curve
    assert isinstance(curve, metrics.RocCurve)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    assert thresholds[0] == np.inf
    np.testing.assert_allclose(thresholds[1:], [0.9, 0.7, 0.5, 0.3])


@pytest.mark.parametrize(
    ("y", "score", "weight", "message"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], None, "no background"),
        ([0, 0], [0.1, 0.2], None, "no signal"),
        ([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [1, 1, -1, 1], "total background weight is 0"),
        ([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [1, -2, 1, 1], "total signal weight is -1"),
        ([0, 2, 0, 2], [0.1, 0.2, 0.3, 0.4], None, "only 0 .background. and 1"),
        ([0, 1, 0, 1], [0.1, np.nan, 0.3, 0.4], None, "NaN"),
        ([0, 1, 0], [0.1, 0.2, 0.3, 0.4], None, "same length"),
        ([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [1, 1, 1], "sample_weight must have shape"),
    ],
)
def test_roc_auc_undefined_raises(y, score, weight, message):
    with pytest.raises(ValueError, match=message):
        metrics.roc_auc(y, score, sample_weight=weight)


# --- background_rejection ---------------------------------------------------------------------

N_QUANTILES = 20_000
# midpoints of N equal-probability bins: a deterministic sample whose empirical efficiencies
# differ from the exact ones by at most 1/N, so 1/eps_B at eps_B >= 0.09 is right to < 1.5e-3.
U = (np.arange(N_QUANTILES) + 0.5) / N_QUANTILES


def test_background_rejection_exponential_scores():
    # background score ~ Exp(1), signal ~ Exp(mean 2): eps_B(c) = e^-c, eps_S(c) = e^-c/2,
    # so eps_B = eps_S^2 and the rejection is 1/eps_S^2: 1/0.09 at 0.3, 4 at 0.5.
    background = -np.log1p(-U)
    signal = 2 * background
    y = np.r_[np.ones(N_QUANTILES), np.zeros(N_QUANTILES)]
    score = np.r_[signal, background]
    assert metrics.background_rejection(y, score) == pytest.approx(1 / 0.09, rel=1.5e-3)
    rejection = metrics.background_rejection(y, score, signal_efficiency=[0.3, 0.5])
    assert isinstance(rejection, np.ndarray)
    np.testing.assert_allclose(rejection, [1 / 0.09, 4.0], rtol=1.5e-3)


def test_background_rejection_uses_weights():
    # signal uniform on [0, 1]: eps_S(c) = 1 - c. Background uniform but weighted by 2x, i.e. a
    # density 2x: eps_B(c) = 1 - c^2. At eps_S = 0.3: c = 0.7, eps_B = 0.51; at 0.6: eps_B = 0.84.
    y = np.r_[np.ones(N_QUANTILES), np.zeros(N_QUANTILES)]
    score = np.r_[U, U]
    weight = np.r_[np.ones(N_QUANTILES), 2 * U]
    rejection = metrics.background_rejection(
        y, score, signal_efficiency=[0.3, 0.6], sample_weight=weight
    )
    np.testing.assert_allclose(rejection, [1 / 0.51, 1 / 0.84], rtol=1.5e-3)


def test_background_rejection_interpolates_and_handles_zero_background():
    # ROC points (eps_B, eps_S): (0, 0), (0, 1/2) at cut 2, (1/2, 1) at cut 1 (a tied pair),
    # (1, 1). eps_S = 0.75 lies halfway along the tied segment: eps_B = 0.25, rejection 4.
    y, score = [1, 1, 0, 0], [2.0, 1.0, 1.0, 0.0]
    assert metrics.background_rejection(y, score, signal_efficiency=0.75) == pytest.approx(4.0)
    # eps_S = 0.5 is reached by cut 2, which keeps no background: documented inf
    assert metrics.background_rejection(y, score, signal_efficiency=0.5) == np.inf


@pytest.mark.parametrize("efficiency", [0.0, -0.1, 1.2, [0.3, 1.5]])
def test_background_rejection_rejects_bad_efficiency(efficiency):
    with pytest.raises(ValueError, match="signal_efficiency must be in"):
        metrics.background_rejection([0, 1], [0.2, 0.8], signal_efficiency=efficiency)


def test_background_rejection_negative_background_efficiency_raises():
    # background (score, w): (0.9, -1), (0.1, 2), W_B = 1; signal (0.8, 1), (0.05, 1).
    # ROC: (0, 0), (-1, 0) at cut 0.9, (-1, 1/2) at 0.8: eps_S = 0.3 is reached at eps_B = -1
    y, score, weight = [0, 1, 0, 1], [0.9, 0.8, 0.1, 0.05], [-1.0, 1.0, 2.0, 1.0]
    with pytest.raises(ValueError, match="negative"):
        metrics.background_rejection(y, score, signal_efficiency=0.3, sample_weight=weight)


# --- asimov_significance ---------------------------------------------------------------------

# Z = sqrt(2((s+b) ln(1+s/b) - s)), evaluated independently with mpmath at 40 digits:
#   s=1,   b=1:    2 ln 2 = 1.3862943611198906, 2(1.38629... - 1) = 0.7725887222397812
#   s=10,  b=100:  ln 1.1 = 0.09531017980432486, 2(110 * 0.0953... - 10) = 0.9682395570...
#   s=5,   b=0.5:  ln 11 = 2.3978952727983705, 2(5.5 * 2.3979... - 5) = 16.3768480...
#   s=3,   b=1:    ln 4 = 1.3862943611198906, 2(4 * 1.3863... - 3) = 5.0903548889...
#   s=20,  b=5:    ln 5 = 1.6094379124341004, 2(25 * 1.6094... - 20) = 40.4718956...
#   s=100, b=1e4:  ln 1.01 = 0.0099503308531680828 (s/sqrt(b) = 1)
#   s=0.0099, b=1 and s=0.0101, b=1: both sides of the series/closed-form switch at s/b = 0.01
ASIMOV_TABLE = [
    (1.0, 1.0, 0.8789702624320013),
    (10.0, 100.0, 0.98399164475694061),
    (5.0, 0.5, 4.046831847356902),
    (3.0, 1.0, 2.2561814840475766),
    (20.0, 5.0, 6.3617525589812921),
    (100.0, 1e4, 0.99834023959533632),
    (0.0099, 1.0, 0.009883732015072762),
    (0.0101, 1.0, 0.010083069484711032),
]


@pytest.mark.parametrize(("s", "b", "expected"), ASIMOV_TABLE)
def test_asimov_known_values(s, b, expected):
    z = metrics.asimov_significance(s, b)
    assert isinstance(z, float)
    assert z == pytest.approx(expected, rel=1e-13)


def test_asimov_vectorised_matches_table():
    s, b, expected = (np.array(col) for col in zip(*ASIMOV_TABLE, strict=True))
    np.testing.assert_allclose(metrics.asimov_significance(s, b), expected, rtol=1e-13)
    # broadcasting: one background, many signal yields
    assert metrics.asimov_significance([1.0, 3.0], 1.0).shape == (2,)


def test_asimov_small_signal_limit():
    # expansion in x = s/b: Z = (s/sqrt b) sqrt(1 - x/3 + x^2/6 - ...) = (s/sqrt b)(1 - x/6 + 5x^2/72
    # + O(x^3)), so s/sqrt(b) (1 - x/6) is right to a relative 0.07 x^2
    for s, b in [(1.0, 1e4), (1e-6, 1e6), (1e-3, 1e9)]:
        x = s / b
        approx = s / math.sqrt(b) * (1 - x / 6)
        assert metrics.asimov_significance(s, b) == pytest.approx(approx, rel=0.1 * x**2 + 1e-14)


def test_asimov_vanishing_background_limit():
    # b -> 0: Z^2 = 2((s+b) ln(1+s/b) - s) -> 2 s (ln(s/b) - 1) + O(b ln b)
    s = 2.0
    for b in [1e-8, 1e-12]:
        expected = math.sqrt(2 * s * (math.log(s / b) - 1))
        assert metrics.asimov_significance(s, b) == pytest.approx(expected, rel=1e-6)
    z = metrics.asimov_significance(s, [1e-2, 1e-6, 1e-12, 0.0])
    assert np.all(np.diff(z) > 0)
    assert z[-1] == np.inf


def test_asimov_edge_cases_documented():
    s = np.array([0.0, -1.0, 1.0, 1.0, np.nan, np.inf, 1.0, 0.0])
    b = np.array([1.0, 1.0, 0.0, -1.0, 1.0, 1.0, np.inf, 0.0])
    z = metrics.asimov_significance(s, b)
    np.testing.assert_array_equal(z, [0.0, 0.0, np.inf, np.nan, np.nan, np.inf, 0.0, 0.0])


def test_asimov_scales_with_sqrt_of_luminosity():
    # Z(k s, k b) = sqrt(k) Z(s, b): both yields grow with the luminosity
    assert metrics.asimov_significance(40.0, 10.0) == pytest.approx(
        2 * metrics.asimov_significance(10.0, 2.5), rel=1e-14
    )


# --- significance_scan ------------------------------------------------------------------------


def test_significance_scan_hand_table():
    y = [0, 0, 1, 0, 1]
    score = [0.1, 0.2, 0.3, 0.4, 0.5]
    weight = [2.0, 1.0, 1.0, 0.5, 1.0]
    scan = metrics.significance_scan(y, score, sample_weight=weight)
    np.testing.assert_allclose(scan.thresholds, score)
    np.testing.assert_allclose(scan.s, [2, 2, 2, 1, 1])
    np.testing.assert_allclose(scan.b, [3.5, 1.5, 0.5, 0.5, 0])
    assert scan.z[-1] == np.inf  # b = 0: not eligible as the best cut
    # Z(2, 0.5) = sqrt(2(2.5 ln 5 - 2)) = 2.01176... beats Z(2, 1.5) = 1.3896 and Z(1, 0.5) = 1.138
    assert scan.best_threshold == pytest.approx(0.3)
    assert scan.best_z == pytest.approx(math.sqrt(2 * (2.5 * math.log(5) - 2)), rel=1e-12)
    # requiring more background than 0.6 leaves the cuts at 0.1 and 0.2: Z(2, 1.5) wins
    scan = metrics.significance_scan(y, score, sample_weight=weight, min_background=0.6)
    assert scan.best_threshold == pytest.approx(0.2)


def test_significance_scan_known_best_cut():
    # signal uniform on [0.5, 1], background uniform on [0, 1] (midpoint quantiles). Below 0.5 a
    # tighter cut only removes background; above, s and b fall in proportion and
    # Z(k s, k b) = sqrt(k) Z(s, b) falls. The best cut is the lowest signal score, 0.50025.
    n_sig, n_bkg = 1000, 10_000
    signal = 0.5 + (np.arange(n_sig) + 0.5) / (2 * n_sig)
    background = (np.arange(n_bkg) + 0.5) / n_bkg
    y = np.r_[np.ones(n_sig), np.zeros(n_bkg)]
    score = np.r_[signal, background]
    scan = metrics.significance_scan(y, score)
    assert scan.best_threshold == pytest.approx(0.50025, abs=1e-12)
    below = scan.thresholds < 0.5
    assert np.all(np.diff(scan.z[below]) > 0)
    # an int asks for evenly spaced cuts; the best is the last that keeps all the signal
    coarse = metrics.significance_scan(y, score, thresholds=11)
    assert len(coarse.thresholds) == 11
    assert coarse.best_threshold == coarse.thresholds[5]
    assert coarse.thresholds[5] <= signal.min() < coarse.thresholds[6]
    # weights scaling both classes by 4 keep the best cut and double Z
    weighted = metrics.significance_scan(y, score, sample_weight=np.full(len(y), 4.0))
    assert weighted.best_threshold == scan.best_threshold
    assert weighted.best_z == pytest.approx(2 * scan.best_z, rel=1e-12)


def test_significance_scan_without_background_raises():
    with pytest.raises(ValueError, match="best cut is undefined"):
        metrics.significance_scan([1, 1, 1], [0.1, 0.5, 0.9])


# --- permutation_importance -------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted():
    """Labels and a frame with one informative, one weak and one pure-noise feature."""
    rng = np.random.default_rng(11)
    n = 2000
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "m_jj": rng.normal(1.5 * y, 1.0),
            "pt": rng.normal(0.3 * y, 1.0),
        }
    )
    return frame, y


def test_permutation_importance_ranks_planted_feature(planted):
    frame, y = planted
    before = frame.copy()

    def predict(X):
        return X["m_jj"].to_numpy() + 0.3 * X["pt"].to_numpy()

    result = metrics.permutation_importance(predict, frame, y, n_repeats=4, seed=1)
    assert list(result.index) == ["noise", "m_jj", "pt"]  # column order, names attached
    assert list(result.columns) == ["mean", "std"]
    assert result["mean"].idxmax() == "m_jj"
    assert result.loc["m_jj", "mean"] > 3 * result.loc["pt", "mean"] > 0
    # the model ignores the noise column, so shuffling it changes nothing at all
    assert result.loc["noise", "mean"] == 0.0
    assert result.loc["noise", "std"] == 0.0
    assert result.attrs["baseline"] == pytest.approx(metrics.roc_auc(y, predict(frame)))
    pd.testing.assert_frame_equal(frame, before)  # X itself is not shuffled


def test_permutation_importance_subset_keeps_names(planted):
    # the tutorial's bug: bars labelled with the full list of names for a subset of columns
    frame, y = planted
    subset = frame[["pt", "m_jj"]]
    clf = LogisticRegression().fit(subset, y)
    result = metrics.permutation_importance(
        lambda X: clf.predict_proba(X)[:, 1], subset, y, n_repeats=3
    )
    assert list(result.index) == ["pt", "m_jj"]
    assert result["mean"].idxmax() == "m_jj"


def test_permutation_importance_fitted_model_noise_near_zero(planted):
    frame, y = planted
    X = frame.to_numpy()
    clf = LogisticRegression().fit(X, y)
    result = metrics.permutation_importance(
        lambda X: clf.predict_proba(X)[:, 1],
        X,
        y,
        feature_names=["noise", "m_jj", "pt"],
        n_repeats=5,
    )
    # a fitted noise coefficient is O(1/sqrt(n)); its AUC drop is far below the informative 0.3
    assert result.loc["m_jj", "mean"] > 0.2
    assert abs(result.loc["noise", "mean"]) < 0.01
    assert result["mean"].idxmax() == "m_jj"
    again = metrics.permutation_importance(
        lambda X: clf.predict_proba(X)[:, 1], X, y, feature_names=["noise", "m_jj", "pt"]
    )
    pd.testing.assert_frame_equal(result, again)  # same seed, same shuffles


def test_permutation_importance_default_names_and_keras_shape():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    X = np.column_stack([rng.normal(y, 1.0), rng.normal(size=300)])
    # Keras' predict returns shape (n, 1)
    result = metrics.permutation_importance(lambda X: X[:, :1] * 2.0, X, y, n_repeats=2)
    assert list(result.index) == ["x0", "x1"]
    assert result.loc["x0", "mean"] > 0.1


def test_permutation_importance_rejects_bad_input(planted):
    frame, y = planted
    with pytest.raises(ValueError, match="predict_proba"):
        metrics.permutation_importance(lambda X: np.zeros((len(X), 2)), frame, y)
    with pytest.raises(ValueError, match="differ from the DataFrame's columns"):
        metrics.permutation_importance(lambda X: X["m_jj"], frame, y, feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="2 feature_names for 3 columns"):
        metrics.permutation_importance(
            lambda X: X[:, 1], frame.to_numpy(), y, feature_names=["a", "b"]
        )


# --- ks_test ----------------------------------------------------------------------------------


def test_ks_test_known_p_values():
    a = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert metrics.ks_test(a, a) == pytest.approx(1.0)
    # disjoint samples of 5 and 5: D = 1; exact two-sided p = 2 / C(10, 5) = 2 / 252
    assert metrics.ks_test(a, a + 1.0) == pytest.approx(2 / 252, rel=1e-10)


def test_ks_test_rejects_nan():
    with pytest.raises(ValueError, match="train_scores"):
        metrics.ks_test([0.1, np.nan], [0.2, 0.3])


def test_roc_auc_and_plot_roc_need_no_numpy_2(monkeypatch):
    """pyproject allows numpy>=1.26, which has no np.trapezoid: the AUC and the ROC plot's area
    must not need it (issue 19)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import plotting

    monkeypatch.delattr(np, "trapezoid", raising=False)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = y + rng.normal(0, 1, 500)
    assert metrics.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    fig, ax = plt.subplots()
    plotting.plot_roc({"model": (y, score)}, ax=ax)
    plt.close(fig)
