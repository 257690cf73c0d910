"""Run time, peak memory and AUCs of the solution notebook of assignment ``01_higgs_torch``.

:func:`main` executes ``source/01_higgs_torch/01_higgs_torch.ipynb`` (solution and hidden tests
included) with nbclient on the default synthetic twin, in a fresh data folder (so the twin is
generated, as on a student's first run), and reports its wall time, the peak resident memory of
the kernel's process tree, and the test AUCs of the networks beside the AUC of the twin's true
likelihood ratio (the optimal classifier).

:func:`measure` runs the notebook for several seeds (the seed of the twin's events and of the
notebook's ``SEED``) and collects the figures the assignment's thresholds come from: losses, test
AUCs, AUCs on fresh twin events (other seeds than the hidden tests use), the AUC of untrained
networks and of a network trained on the test set, and the noise of the permutation importance.
``python bench/bench_notebook_01_higgs_torch.py --measure 5 --write`` writes them, with the chosen
thresholds, to ``course/measurements/01_higgs_torch.json``.

Run: ``python -m bench notebook_01_higgs_torch`` or ``python bench/bench_notebook_01_higgs_torch.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__:
    from bench import _notebook
else:  # run as a script: bench/ is on sys.path
    import _notebook

ASSIGNMENT = "01_higgs_torch"
DATASET = "higgs-ww-vs-ttbar"
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
MEASUREMENTS = ROOT / "course" / "measurements" / f"{ASSIGNMENT}.json"
FRESH_EVENTS = 20_000
FRESH_SEED_OFFSET = 5_000  # fresh events for the measurements: seeds 5000 + s (not the hidden ones)
MARGIN_AUC = 0.02  # below the lowest AUC measured: what a reasonable student solution clears
MARGIN_DROP = 0.5  # loss-drop thresholds: this fraction of the lowest drop measured

# Appended to the executed notebook: figures of the run, as one JSON line.
FIGURES_CELL = """
import json as _json
from helpers.data import synthetic as _synthetic
from torch.utils.data import DataLoader as _DL, TensorDataset as _TD
from autograder.checks.models import model_scores as _model_scores


def _drop(values):
    return (values[0] - values[-1]) / values[0]


def _fresh(seed):
    frame = _synthetic.generate("higgs-ww-vs-ttbar", events={events}, seed=seed)["WW_vs_TT_dataset.h5"]
    sig, bkg = frame.loc["Signal"], frame.loc["Background"]
    table = pd.concat([sig, bkg], ignore_index=True)
    labels = np.r_[np.ones(len(sig)), np.zeros(len(bkg))]
    return table, labels


def _auc(net, table, labels):
    inputs = scaler.transform(table[list(features)])
    return float(metrics.roc_auc(labels, _model_scores(net, inputs).ravel()))


_table, _labels = _fresh({fresh_seed})
_lr = _synthetic.likelihood_ratio("higgs-ww-vs-ttbar", _table, log=True)
_untrained = []
for _s in range(10):
    seed_everything(1000 + _s)
    _untrained.append(_auc(make_model(len(features)).to(device), _table, _labels))
seed_everything(SEED)
_on_test = make_model(len(features)).to(device)
_test_loader = _DL(_TD(X_test_t, y_test_t), batch_size=BATCH_SIZE, shuffle=True)
train_minibatch(_on_test, torch.optim.Adam(_on_test.parameters(), lr=1e-3), loss_fn, _test_loader, MINIBATCH_EPOCHS)
_recheck = metrics.permutation_importance(
    lambda Z: _model_scores(best_model, Z).ravel(), pd.DataFrame(X_test_scaled, columns=list(features)),
    np.asarray(y_test), n_repeats=5, seed=1,
)
_imp = importance.loc[list(features), "mean"].to_numpy()
_ref = _recheck.loc[list(features), "mean"].to_numpy()
_figures = {{
    "events": int(len(X)),
    "n_train": int(len(X_train)),
    "n_test": int(len(X_test)),
    "loss_drop": _drop(history["loss"]),
    "val_loss_drop": _drop(history["val_loss"]),
    "test_auc": float(test_auc),
    "improved_test_auc": float(aucs["improved network"]),
    "optimal_auc_all_events": float(aucs.get("optimal (true likelihood ratio)", float("nan"))),
    "fresh_auc": _auc(model, _table, _labels),
    "fresh_auc_improved": _auc(best_model, _table, _labels),
    "fresh_auc_early_stopping": _auc(es_model, _table, _labels),
    "fresh_auc_module_class": _auc(net, _table, _labels),
    "fresh_auc_optimal": float(metrics.roc_auc(_labels, _lr)),
    "fresh_auc_untrained_max": max(_untrained),
    "fresh_auc_untrained_min": min(_untrained),
    "fresh_auc_trained_on_test_set": _auc(_on_test, _table, _labels),
    "test_auc_trained_on_test_set": float(metrics.roc_auc(y_test, _model_scores(_on_test, X_test_scaled).ravel())),
    "importance_noise_max": float(np.max(np.abs(_imp - _ref))),
    "importance_mislabelled_max": float(np.max(np.abs(_imp[::-1] - _ref))),
    "importance_range": float(np.ptp(_ref)),
    "early_stopping_epochs": len(es_history["val_loss"]),
}}
print("FIGURES " + _json.dumps(_figures))
"""


def execute(
    notebook: Path = SOURCE,
    *,
    seed: int | None = None,
    figures: bool = False,
    prelude: str | None = None,
    timeout_s: int = 900,
) -> dict[str, Any]:
    """Execute a copy of ``notebook`` in a fresh data folder; return its time, memory, outputs.

    Parameters
    ----------
    notebook : Path
        The solution notebook.
    seed : int, optional
        Seed of the twin and of the notebook's ``SEED`` (default: the notebook's own, twin seed 0).
    figures : bool
        Append :data:`FIGURES_CELL` and return its figures (its time is not counted).
    prelude : str, optional
        Code run in the kernel before the notebook (not timed).
    timeout_s : int
        Per-cell timeout.

    Returns
    -------
    dict
        ``wall_s`` (the notebook's cells, from the first one), ``peak_rss_mb`` (kernel process
        tree), ``kernel_cpu_s`` (CPU seconds of the kernel process tree, kernel start and the
        figures cell included), ``stdout`` (all printed text) and, with ``figures``, ``figures``.
    """
    nb = _notebook.read(notebook, seed=seed, dataset=DATASET)
    figures_cell = None
    if figures:
        fresh = FRESH_SEED_OFFSET + (seed or 0)
        figures_cell = FIGURES_CELL.format(events=FRESH_EVENTS, fresh_seed=fresh)
    run = _notebook.execute(
        nb,
        timeout_s=timeout_s,
        prefix="hepml-bench-01-",
        env={"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"},
        fresh_data=True,
        prelude=prelude,
        figures_cell=figures_cell,
        interval_s=0.1,
    )
    stdout = _notebook.stdout(run.nb)
    result: dict[str, Any] = {
        "wall_s": round(run.cells_s, 1),
        "peak_rss_mb": round(run.peak_bytes / 1e6),
        "kernel_cpu_s": round(run.cpu_s, 1),
        "stdout": stdout,
    }
    if figures:
        result["figures"] = _notebook.printed_figures(stdout)
        if result["figures"] is None:
            raise RuntimeError("the figures cell printed nothing")
    return result


def _aucs(stdout: str) -> dict[str, float]:
    """The ``AUC <label>: <value>`` lines the notebook prints in section 8."""
    pattern = r"^AUC (first network|improved network|optimal \(true likelihood ratio\)): ([0-9.]+)$"
    return {label: float(value) for label, value in re.findall(pattern, stdout, flags=re.M)}


def main(*, prelude: str | None = None) -> dict[str, Any]:
    """Execute the solution notebook once on the default twin; print and return the figures."""
    run = execute(prelude=prelude)
    aucs = _aucs(run["stdout"])
    figures: dict[str, Any] = {
        "wall_s": run["wall_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "kernel_cpu_s": run["kernel_cpu_s"],
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "test_auc": aucs,
    }
    print(f"{'solution notebook, default twin':<40} {'value':>10}")
    print(f"{'wall time (s)':<40} {run['wall_s']:>10.1f}")
    print(f"{'CPU time of the kernel (s)':<40} {run['kernel_cpu_s']:>10.1f}")
    print(f"{'peak memory of the kernel (MB)':<40} {run['peak_rss_mb']:>10d}")
    for label, value in aucs.items():
        print(f"{'AUC ' + label:<40} {value:>10.4f}")
    return figures


def thresholds(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The thresholds of the assignment's tests, from the figures of several runs."""

    def low(key: str) -> float:
        return min(r[key] for r in runs)

    def auc(key: str) -> float:
        return _notebook.floor_to(low(key) - MARGIN_AUC, 2)

    return {
        "auc_visible": auc("test_auc"),
        "auc_hidden": auc("fresh_auc"),
        "es_auc_hidden": auc("fresh_auc_early_stopping"),
        "net_auc_hidden": auc("fresh_auc_module_class"),
        "loss_drop": _notebook.floor_to(MARGIN_DROP * low("loss_drop"), 3),
        "val_loss_drop": _notebook.floor_to(MARGIN_DROP * low("val_loss_drop"), 3),
        "importance_atol": round(max(0.01, 2 * max(r["importance_noise_max"] for r in runs)), 3),
    }


def measure(seeds: Sequence[int], *, prelude: str | None = None) -> dict[str, Any]:
    """Run the solution for each seed; return the runs and the thresholds they give."""

    def one(seed: int) -> dict[str, Any]:
        run = execute(seed=seed, figures=True, prelude=prelude)
        figures = {
            "seed": seed,
            "wall_s": run["wall_s"],
            "kernel_cpu_s": run["kernel_cpu_s"],
            "peak_rss_mb": run["peak_rss_mb"],
            "load_average_1min": round(os.getloadavg()[0], 1),
        }
        figures.update(run["figures"])
        return figures

    return report(_notebook.each_seed(seeds, one))


def report(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The measurements file: the runs, a summary of each figure, the thresholds."""
    return {
        "assignment": ASSIGNMENT,
        "dataset": DATASET,
        "variant": "synthetic twin, default size",
        "how": (
            "bench/bench_notebook_01_higgs_torch.py --measure: the solution notebook executed with "
            "SEED = s and the twin's seed s for each seed s; fresh events: "
            f"{FRESH_EVENTS} twin events of seed {FRESH_SEED_OFFSET} + s"
        ),
        "margins": {
            "auc": f"threshold = lowest AUC measured - {MARGIN_AUC}, rounded down to 0.01",
            "loss_drop": (
                f"threshold = {MARGIN_DROP} x the lowest relative drop measured, rounded down "
                "to 0.001"
            ),
            "importance_atol": "twice the largest deviation between two importance estimates",
        },
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "runs": runs,
        "summary": _notebook.summary(runs),
        "thresholds": thresholds(runs),
    }


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=int, metavar="N", help="measure with seeds 0..N-1")
    parser.add_argument("--write", action="store_true", help=f"write {MEASUREMENTS.name}")
    parser.add_argument("--prelude", type=Path, help="file of code to run before the notebook")
    args = parser.parse_args()
    prelude = args.prelude.read_text() if args.prelude else None
    if args.measure:
        result = measure(range(args.measure), prelude=prelude)
        print(json.dumps(result["thresholds"], indent=2))
        if args.write:
            _notebook.write_json(MEASUREMENTS, result)
            print(f"wrote {MEASUREMENTS}")
        return 0
    main(prelude=prelude)
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())
