"""Tests of helpers.plotting on the Agg backend: the returned Axes, and a few image baselines.

Regenerate the PNG baselines in tests/helpers/baseline/ (after a deliberate change of a picture):

    HEPML_REGENERATE_BASELINES=1 .venv/bin/python -m pytest tests/helpers/test_plotting.py -k baseline
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import LogNorm
from matplotlib.container import ErrorbarContainer
from matplotlib.testing.compare import compare_images

from helpers import metrics, plotting

BASELINE_DIR = Path(__file__).parent / "baseline"
# RMS difference allowed, on the 0-255 scale. The pinned matplotlib with its bundled fonts renders
# these byte for byte; measured on roc.png: dropping a curve gives 23, dropping the diagonal 15,
# one wrong letter in the legend 1.5.
BASELINE_TOLERANCE = 1.0


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scored():
    """Labels and sigmoid-like scores of a mediocre classifier, 1,000 events."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 1000)
    score = 1 / (1 + np.exp(-rng.normal(1.6 * y - 0.8, 1.0)))
    return y, score


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# --- plot_roc ---------------------------------------------------------------------------------


def test_plot_roc_lines_and_auc_in_legend(scored):
    y, score = scored
    weight = np.where(y == 1, 0.5, 2.0)
    _, ax = plt.subplots()
    curves = {"net": (y, score), "weighted": (y, score, weight), "cut-based": (y, score**3)}
    returned = plotting.plot_roc(curves, ax=ax)
    assert returned is ax
    assert len(ax.lines) == 4  # three curves and the random-classifier diagonal
    auc = metrics.roc_auc(y, score)
    auc_weighted = metrics.roc_auc(y, score, sample_weight=weight)
    assert legend_texts(ax) == [
        f"net (AUC = {auc:.3f})",
        f"weighted (AUC = {auc_weighted:.3f})",
        f"cut-based (AUC = {auc:.3f})",  # a monotonic transform keeps the ROC
        "random classifier",
    ]
    fpr, tpr, _ = metrics.roc_curve(y, score)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), fpr)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), tpr)
    assert "background efficiency" in ax.get_xlabel()
    assert "signal efficiency" in ax.get_ylabel()


def test_plot_roc_precomputed_curves(scored):
    y, score = scored
    curve = metrics.roc_curve(y, score)
    ax = plotting.plot_roc(
        {"curve": curve, "dict": {"fpr": curve.fpr, "tpr": curve.tpr}}, diagonal=False
    )
    assert len(ax.lines) == 2
    expected = f"(AUC = {metrics.roc_auc(y, score):.3f})"
    assert all(text.endswith(expected) for text in legend_texts(ax))


def test_plot_roc_rejection_view(scored):
    y, score = scored
    _, ax = plt.subplots()
    plotting.plot_roc({"net": (y, score)}, rejection=True, ax=ax)
    assert ax.get_yscale() == "log"
    assert "rejection" in ax.get_ylabel()
    fpr, tpr, _ = metrics.roc_curve(y, score)
    keep = fpr > 0
    np.testing.assert_allclose(ax.lines[0].get_xdata(), tpr[keep])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1 / fpr[keep])
    # the random classifier has eps_B = eps_S
    diagonal = ax.lines[1]
    np.testing.assert_allclose(diagonal.get_ydata(), 1 / diagonal.get_xdata())


def test_plot_roc_rejects_unknown_curve():
    with pytest.raises(TypeError, match="curve 'bad'"):
        plotting.plot_roc({"bad": 0.9})


def test_plot_uses_current_axes_by_default(scored):
    y, score = scored
    plt.figure()
    current = plt.gca()
    assert plotting.plot_roc({"net": (y, score)}) is current


# --- distributions ----------------------------------------------------------------------------


def step_edges(patch):
    """Distinct x coordinates of a step histogram's outline: its bin edges."""
    return np.unique(patch.get_xy()[:, 0])


def test_compare_distributions_one_feature_shares_bins():
    rng = np.random.default_rng(1)
    signal = pd.Series(rng.normal(1.0, 1.0, 500), name="m_jj [GeV]")
    background = rng.normal(0.0, 2.0, 800)
    _, ax = plt.subplots()
    returned = plotting.compare_distributions(signal, background, bins=20, ax=ax)
    assert returned is ax
    assert len(ax.patches) == 2
    np.testing.assert_allclose(step_edges(ax.patches[0]), step_edges(ax.patches[1]))
    assert len(step_edges(ax.patches[0])) == 21
    assert legend_texts(ax) == ["signal", "background"]
    assert ax.get_xlabel() == "m_jj [GeV]"
    assert ax.get_ylabel() == "density"


def test_compare_distributions_weights_and_counts():
    signal, background = np.array([0.1, 0.2, 0.8]), np.array([0.3, 0.7])
    ax = plotting.compare_distributions(
        signal,
        background,
        bins=2,
        range=(0.0, 1.0),
        signal_weight=[1.0, 2.0, 4.0],
        density=False,
    )
    assert ax.get_ylabel() == "weighted events"
    # signal: 1 + 2 = 3 in [0, 0.5), 4 in [0.5, 1]; the outline reaches those heights
    heights = np.unique(ax.patches[0].get_xy()[:, 1])
    np.testing.assert_allclose(heights, [0.0, 3.0, 4.0])


def test_compare_distributions_grid():
    rng = np.random.default_rng(2)
    columns = ["lep_pt_0", "met_et", "jet_n", "m_ll", "dphi"]
    signal = pd.DataFrame(rng.normal(size=(300, 5)), columns=columns)
    background = pd.DataFrame(rng.normal(size=(400, 5)), columns=columns)
    fig, axes = plotting.compare_distributions(signal, background, ncols=2)
    assert axes.shape == (3, 2)
    assert [ax.get_xlabel() for ax in axes.flat[:5]] == columns
    assert not axes.flat[5].get_visible()
    assert all(len(ax.patches) == 2 for ax in axes.flat[:5])
    assert fig is axes.flat[0].figure
    # a subset in a chosen order, with a range per feature
    _, axes = plotting.compare_distributions(
        signal, background, columns=["m_ll", "met_et"], range={"m_ll": (-1.0, 1.0)}
    )
    assert [ax.get_xlabel() for ax in axes.flat] == ["m_ll", "met_et"]
    assert step_edges(axes.flat[0].patches[0])[[0, -1]].tolist() == [-1.0, 1.0]
    # plain 2-D arrays get names x0, x1, ...
    _, axes = plotting.compare_distributions(signal.to_numpy()[:, :2], background.to_numpy()[:, :2])
    assert [ax.get_xlabel() for ax in axes.flat] == ["x0", "x1"]


def test_plot_scores_marks_the_cut(scored):
    y, score = scored
    ax = plotting.plot_scores(y, score, threshold=0.6, bins=25)
    assert len(ax.patches) == 2
    assert legend_texts(ax) == ["signal", "background", "cut at 0.6"]
    assert ax.lines[0].get_xdata()[0] == 0.6


def test_compare_train_test_points_and_ks_in_legend(scored):
    y, score = scored
    y_train, s_train, y_test, s_test = y[:600], score[:600], y[600:], score[600:]
    _, ax = plt.subplots()
    returned = plotting.compare_train_test(y_train, s_train, y_test, s_test, bins=10)
    assert returned is plt.gca() is ax
    assert len(ax.patches) == 2  # filled training histograms
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # test points with errors
    p_signal = metrics.ks_test(s_train[y_train == 1], s_test[y_test == 1])
    p_background = metrics.ks_test(s_train[y_train == 0], s_test[y_test == 0])
    assert legend_texts(ax) == [
        "signal (train)",
        "background (train)",
        f"signal (test), KS p = {p_signal:.3g}",
        f"background (test), KS p = {p_background:.3g}",
    ]
    # the signal test points are the normalised histogram of the test signal scores
    edges = np.histogram_bin_edges(np.r_[s_train, s_test], bins=10)
    counts, _ = np.histogram(s_test[y_test == 1], bins=edges)
    density = counts / (counts.sum() * np.diff(edges))
    points = bars[0].lines[0]
    np.testing.assert_allclose(points.get_ydata(), density[counts > 0])


# --- training history -------------------------------------------------------------------------

HISTORY = {
    "loss": [0.69, 0.55, 0.48, 0.45],
    "val_loss": [0.70, 0.58, 0.52, 0.53],
    "accuracy": [0.55, 0.70, 0.76, 0.78],
    "val_accuracy": [0.54, 0.68, 0.73, 0.72],
}


def test_plot_history_from_keras_history():
    keras_like = types.SimpleNamespace(history=HISTORY)  # duck-typed keras.callbacks.History
    _, ax = plt.subplots()
    assert plotting.plot_history(keras_like, ax=ax) is ax
    assert len(ax.lines) == 2
    assert legend_texts(ax) == ["loss (train)", "loss (validation)"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), HISTORY["val_loss"])
    assert ax.get_xlabel() == "epoch"


def test_plot_history_twin_axes_for_a_metric():
    fig, ax = plt.subplots()
    plotting.plot_history(HISTORY, twin="accuracy", ax=ax)
    assert len(fig.axes) == 2
    twin = fig.axes[-1]
    assert len(ax.lines) == 2 and len(twin.lines) == 2
    np.testing.assert_array_equal(twin.lines[0].get_ydata(), HISTORY["accuracy"])
    assert twin.get_ylabel() == "accuracy"
    assert legend_texts(ax) == [
        "loss (train)",
        "loss (validation)",
        "accuracy (train)",
        "accuracy (validation)",
    ]


def test_plot_history_from_torch_loop_records():
    # a torch loop appending one dict per epoch, with train_ names
    records = [{"train_loss": 0.9, "val_loss": 1.0}, {"train_loss": 0.6, "val_loss": 0.8}]
    ax = plotting.plot_history(records)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.9, 0.6])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1.0, 0.8])
    ax = plotting.plot_history(
        pd.DataFrame(HISTORY), keys=["loss", "accuracy"], ax=plt.figure().gca()
    )
    assert len(ax.lines) == 4
    with pytest.raises(KeyError, match="no 'auc' in the history"):
        plotting.plot_history(HISTORY, keys="auc")
    with pytest.raises(TypeError, match="history must be"):
        plotting.plot_history(42)


# --- confusion matrix, importance, significance ------------------------------------------------


def test_plot_confusion_matrix_counts_and_normalised():
    y_true = [0, 0, 0, 1, 1]
    y_pred = [0, 1, 0, 1, 1]  # 2 TN, 1 FP, 0 FN, 2 TP
    _, ax = plt.subplots()
    plotting.plot_confusion_matrix(y_true, y_pred, class_names=["background", "signal"], ax=ax)
    assert [t.get_text() for t in ax.texts] == ["2", "1", "0", "2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["background", "signal"]
    assert ax.get_ylabel() == "true class"
    ax = plotting.plot_confusion_matrix(y_true, y_pred, normalize="true", ax=plt.figure().gca())
    assert [t.get_text() for t in ax.texts] == ["0.67", "0.33", "0.00", "1.00"]
    with pytest.raises(ValueError, match="not scores"):
        plotting.plot_confusion_matrix(y_true, [0.2, 0.7, 0.1, 0.9, 0.6])


def test_plot_importance_keeps_names_with_values():
    importance = pd.DataFrame(
        {"mean": [0.01, 0.30, 0.08], "std": [0.005, 0.02, 0.01]},
        index=pd.Index(["noise", "m_jj", "pt"], name="feature"),
    )
    importance.attrs["baseline"] = 0.812
    _, ax = plt.subplots()
    plotting.plot_importance(importance, ax=ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["noise", "pt", "m_jj"]  # bottom to top: most important on top
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [0.01, 0.08, 0.30]
    assert "baseline 0.812" in ax.get_xlabel()
    ax = plotting.plot_importance(importance, top=1, ax=plt.figure().gca())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["m_jj"]


def test_plot_significance_scan_marks_best_cut():
    scan = metrics.significance_scan(
        [0, 0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.5], sample_weight=[2.0, 1.0, 1.0, 0.5, 1.0]
    )
    _, ax = plt.subplots()
    plotting.plot_significance_scan(scan, ax=ax)
    assert len(ax.lines) == 3  # Z curve, vertical line at the best cut, star
    assert legend_texts(ax) == ["Asimov Z", f"best cut 0.3: Z = {scan.best_z:.2f}"]
    assert np.isnan(ax.lines[0].get_ydata()[-1])  # Z = inf (no background) is not drawn
    assert ax.lines[2].get_xdata()[0] == 0.3


# --- jet images -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jet_images():
    """Twelve sparse 20x20 images; class 1 has its energy in three prongs."""
    rng = np.random.default_rng(9)
    images = np.zeros((12, 20, 20))
    labels = np.arange(12) % 2
    for k, label in enumerate(labels):
        images[k, 10, 10] = rng.uniform(50, 100)
        if label:
            images[k, 14, 7] = rng.uniform(10, 30)
            images[k, 6, 13] = rng.uniform(5, 20)
        images[k][rng.random((20, 20)) < 0.05] += rng.uniform(0.1, 2.0)
    return images, labels


def test_plot_jet_images_layout_and_average(jet_images):
    images, labels = jet_images
    fig, axes = plotting.plot_jet_images(images, labels, n_examples=2, class_names=["QCD", "top"])
    assert axes.shape == (2, 3)
    assert fig is axes[0, 0].figure
    assert [ax.get_title() for ax in axes[1]] == ["top #1", "top #2", "top: mean of 6"]
    mean_image = axes[1, 2].get_images()[0]
    np.testing.assert_allclose(mean_image.get_array().filled(0.0), images[labels == 1].mean(0))
    assert isinstance(mean_image.norm, LogNorm)
    # rows (phi') upwards and columns (eta') to the right, as helpers.physics.jet_images fills them
    assert mean_image.origin == "lower"
    assert axes[1, 0].get_xlabel() == "η′ (pixels)"
    # flattened and channel-last images give the same picture; linear scale on request
    _, flat_axes = plotting.plot_jet_images(images.reshape(12, 400), labels, n_examples=2)
    _, chan_axes = plotting.plot_jet_images(images[..., None], labels, n_examples=2, log=False)
    np.testing.assert_allclose(flat_axes[0, 0].get_images()[0].get_array().filled(0.0), images[0])
    assert not isinstance(chan_axes[0, 0].get_images()[0].norm, LogNorm)
    with pytest.raises(ValueError, match="images must have shape"):
        plotting.plot_jet_images(np.zeros((3, 5, 6, 2)))


# --- contract: no show, no style change, light import -----------------------------------------


def test_no_function_calls_show(monkeypatch, scored, jet_images):
    def refuse():
        raise AssertionError("plt.show() called")

    monkeypatch.setattr(plt, "show", refuse)
    y, score = scored
    plotting.plot_roc({"a": (y, score)}, ax=plt.figure().gca())
    plotting.compare_train_test(y, score, y, score, ax=plt.figure().gca())
    plotting.plot_scores(y, score, ax=plt.figure().gca())
    plotting.compare_distributions(
        pd.DataFrame({"s": score[y == 1]}), pd.DataFrame({"s": score[y == 0]})
    )
    plotting.plot_history(HISTORY, ax=plt.figure().gca())
    plotting.plot_jet_images(*jet_images)


def test_import_is_light_and_changes_no_style(repo_root):
    code = (
        "import sys, matplotlib\n"
        "before = dict(matplotlib.rcParams)\n"
        "import helpers.plotting, helpers.metrics\n"
        "assert dict(matplotlib.rcParams) == before, 'rcParams changed on import'\n"
        "heavy = {'mplhep', 'torch', 'tensorflow', 'keras', 'sklearn', 'scipy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_use_hep_style_applies_only_when_called():
    with matplotlib.rc_context():
        assert matplotlib.rcParams["xtick.direction"] == "out"  # matplotlib's default
        plotting.use_hep_style("ATLAS")
        assert matplotlib.rcParams["xtick.direction"] == "in"
        assert matplotlib.rcParams["xtick.minor.visible"]
    assert matplotlib.rcParams["xtick.direction"] == "out"


# --- image baselines --------------------------------------------------------------------------


def roc_figure(scored):
    y, score = scored
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5), layout="constrained")
    curves = {"net": (y, score), "weaker": (y, np.sqrt(score) + 0.3 * (1 - y) * score)}
    plotting.plot_roc(curves, ax=left)
    plotting.plot_roc(curves, rejection=True, ax=right)
    return fig


def train_test_figure(scored):
    y, score = scored
    fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    plotting.compare_train_test(y[:500], score[:500], y[500:], score[500:], bins=20, ax=ax)
    return fig


def jet_images_figure(jet_images):
    images, labels = jet_images
    fig, _ = plotting.plot_jet_images(images, labels, n_examples=2, class_names=["QCD", "top"])
    return fig


def history_figure(_):
    fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    plotting.plot_history(HISTORY, twin="accuracy", ax=ax)
    return fig


@pytest.mark.parametrize(
    ("name", "make", "data"),
    [
        ("roc", roc_figure, "scored"),
        ("train_test", train_test_figure, "scored"),
        ("jet_images", jet_images_figure, "jet_images"),
        ("history", history_figure, None),
    ],
)
def test_baseline_image(name, make, data, request, tmp_path):
    baseline = BASELINE_DIR / f"{name}.png"
    with matplotlib.rc_context(), plt.style.context("default"):
        fig = make(request.getfixturevalue(data) if data else None)
        if os.environ.get("HEPML_REGENERATE_BASELINES"):
            BASELINE_DIR.mkdir(exist_ok=True)
            fig.savefig(baseline, dpi=60)
            pytest.skip(f"baseline {baseline.name} written")
        actual = tmp_path / f"{name}.png"
        fig.savefig(actual, dpi=60)
    assert baseline.exists(), f"no baseline {baseline}; see this file's docstring to make it"
    failure = compare_images(str(baseline), str(actual), tol=BASELINE_TOLERANCE)
    assert failure is None, failure
