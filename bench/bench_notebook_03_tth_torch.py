"""Run time, CPU time, peak memory and AUCs of the solution notebook of assignment ``03_tth_torch``.

:func:`main` executes ``source/03_tth_torch/03_tth_torch.ipynb`` (solution, bonus and hidden tests
included) with nbclient on the default synthetic twin, in a fresh data folder (so the twin is
written, as on a student's first run), and reports its wall time, the CPU time of the kernel, the
peak resident memory of the kernel's process tree, and the test AUCs of the BDT and the networks
beside the AUC of the twin's true likelihood ratio (the optimal classifier).

:func:`measure` runs the notebook for several seeds (the seed of the twin's events and of the
notebook's ``SEED``) and collects the figures the assignment's thresholds come from: loss drops,
test AUCs, AUCs on fresh twin events (other seeds than the hidden tests use), the AUCs of untrained
networks, what a network and a BDT trained on the test set look like to the tests, and the
permutation importance of the planted noise column.
``python bench/bench_notebook_03_tth_torch.py --measure 5 --write`` writes them, with the chosen
thresholds, to ``course/measurements/03_tth_torch.json``.

Torch runs with one thread per kernel here (``OMP_NUM_THREADS=1``), as the grader gives each of
its two workers on two cores: on a shared machine, two threads per kernel oversubscribe the cores
and small networks train many times slower.

Run: ``python -m bench notebook_03_tth_torch`` or ``python bench/bench_notebook_03_tth_torch.py``.
"""

from __future__ import annotations

import argparse
import json
import math
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

ASSIGNMENT = "03_tth_torch"
DATASET = "tth-multilepton"
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
MEASUREMENTS = ROOT / "course" / "measurements" / f"{ASSIGNMENT}.json"
FRESH_EVENTS = 30_000
FRESH_SEED_OFFSET = 5_000  # fresh events for the measurements: seeds 5000 + s (not the hidden ones)
MARGIN_AUC = 0.02  # below the lowest AUC measured: what a reasonable student solution clears
MARGIN_DROP = 0.5  # loss-drop thresholds: this fraction of the lowest drop measured
REAL_GUARD = 0.6  # AUC bound on the real files (not measured: no real slice), against chance only
THREADS = "1"

# Appended to the executed notebook: figures of the run, as one JSON line.
FIGURES_CELL = """
import json as _json
import resource as _resource
from helpers.data import synthetic as _synthetic
from autograder.checks.models import model_scores as _model_scores

_cpu = _resource.getrusage(_resource.RUSAGE_SELF)
_kernel_cpu_s = _cpu.ru_utime + _cpu.ru_stime


def _drop(values):
    return (values[0] - values[-1]) / values[0]


def _auc(net, table, labels):
    return float(metrics.roc_auc(labels, _model_scores(net, table).ravel()))


_fresh = _synthetic.generate("tth-multilepton", events={events}, seed={fresh_seed})
_unseen = pd.concat([_fresh[f].assign(label=lab) for f, lab in zip(FILES, (1, 0, 0))], ignore_index=True)
_unseen = _unseen[_unseen["Hreco_Lep2_pt"] == -99].copy()
_unseen["noise"] = np.random.default_rng({fresh_seed}).normal(size=len(_unseen)).astype(np.float32)
_raw = _unseen[list(X_train.columns)]
_scaled = scaler.transform(_raw)
_labels = _unseen["label"].to_numpy()
_lr = _synthetic.likelihood_ratio(
    "tth-multilepton", _raw.assign(**{{c: -99.0 for c in DROP_COLUMNS[:4]}}), background_weights=[1, 1], log=True
)
_untrained_raw, _untrained_scaled = [], []
for _s in range(10):
    seed_everything(1000 + _s)
    _untrained_raw.append(_auc(Classifier(len(FEATURES)).to(device), _raw, _labels))
    seed_everything(2000 + _s)
    _untrained_scaled.append(_auc(Classifier(len(FEATURES)).to(device), _scaled, _labels))
# a network trained on the test set with the section-7 recipe (20 epochs), and a BDT fitted on it
_on_test, _on_test_history = train_network(X_test, y_test, X_train, y_train, recipe="sgd", epochs=20)
_bdt_on_test = AdaBoostClassifier(DecisionTreeClassifier(max_depth=3), n_estimators=100, random_state=SEED).fit(X_test, y_test)
_figures = {{
    "kernel_cpu_s": round(_kernel_cpu_s, 1),
    "events": int(len(sample)),
    "n_train": int(len(X_train)),
    "n_test": int(len(X_test)),
    "loss_drop": _drop(history["loss"]),
    "test_loss_drop": _drop(history["test_loss"]),
    "test_auc_bdt": float(aucs["BDT"]),
    "test_auc_net": float(aucs["network, raw features, SGD"]),
    "test_auc_scaled_sgd": float(aucs["network, scaled features, SGD"]),
    "test_auc_scaled": float(aucs["network, scaled features, Adam"]),
    "test_auc_weighted": float(metrics.roc_auc(y_test, p_weighted_test)),
    "test_auc_pruned_raw": float(auc_pruned_raw),
    "test_auc_pruned_scaled": float(auc_pruned_scaled),
    "test_auc_big": float(auc_big),
    "train_auc_big": float(auc_big_train),
    "test_auc_optimal": float(aucs.get("optimal (true likelihood ratio)", float("nan"))),
    "fresh_auc_bdt": float(metrics.roc_auc(_labels, bdt.predict_proba(_raw)[:, 1])),
    "fresh_auc_net": _auc(model, _raw, _labels),
    "fresh_auc_scaled": _auc(model_scaled, _scaled, _labels),
    "fresh_auc_optimal": float(metrics.roc_auc(_labels, _lr)),
    "fresh_auc_untrained_raw_max": max(_untrained_raw),
    "fresh_auc_untrained_scaled_max": max(_untrained_scaled),
    "fresh_auc_net_trained_on_test_set": _auc(_on_test, _raw, _labels),
    "events_per_epoch_net_trained_on_test_set": int(_on_test_history["events"][-1]),
    "bdt_trained_on_test_set_root_events": int(_bdt_on_test.estimators_[0].tree_.n_node_samples[0]),
    "importance_noise_raw": float(importance_unscaled.loc["noise", "mean"]),
    "importance_noise_scaled": float(importance_scaled.loc["noise", "mean"]),
    "importance_max_raw": float(importance_unscaled["mean"].max()),
    "importance_max_scaled": float(importance_scaled["mean"].max()),
    "dropped_by_pruning": dropped,
}}
print("FIGURES " + _json.dumps(_figures))
"""


def execute(
    notebook: Path = SOURCE,
    *,
    seed: int | None = None,
    figures: bool = False,
    timeout_s: int = 1800,
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
    timeout_s : int
        Per-cell timeout.

    Returns
    -------
    dict
        ``wall_s`` (the notebook's cells, kernel start excluded), ``kernel_cpu_s`` (CPU time of
        the kernel process when the last cell of the notebook ended, with figures only),
        ``peak_rss_mb`` (kernel process tree), ``stdout`` (all printed text), ``errors`` (cells
        that raised) and, with ``figures``, ``figures``.
    """
    nb = _notebook.read(notebook, seed=seed, dataset=DATASET)
    figures_cell = None
    if figures:
        fresh = FRESH_SEED_OFFSET + (seed or 0)
        figures_cell = FIGURES_CELL.format(events=FRESH_EVENTS, fresh_seed=fresh)
    env = {
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": THREADS,
        "MKL_NUM_THREADS": THREADS,
    }
    run = _notebook.execute(
        nb,
        timeout_s=timeout_s,
        prefix="hepml-bench-03-",
        env=env,
        fresh_data=True,
        allow_errors=True,
        figures_cell=figures_cell,
        interval_s=0.1,
    )
    stdout = _notebook.stdout(run.nb)
    errors = _notebook.errors(run.nb, by_index=True)
    result: dict[str, Any] = {
        "wall_s": round(run.cells_s, 1),
        "peak_rss_mb": round(run.peak_bytes / 1e6),
        "stdout": stdout,
        "errors": errors,
    }
    if figures:
        result["figures"] = _notebook.printed_figures(stdout)
        if result["figures"] is None:
            raise RuntimeError(f"the figures cell printed nothing; errors: {errors}")
        result["kernel_cpu_s"] = result["figures"]["kernel_cpu_s"]
    return result


def _aucs(stdout: str) -> dict[str, float]:
    """The ``AUC <label>: <value>`` lines the notebook prints in section 10."""
    pattern = re.compile(r"^AUC (.+): ([0-9.]+)$")
    return {m.group(1): float(m.group(2)) for m in map(pattern.match, stdout.splitlines()) if m}


def main() -> dict[str, Any]:
    """Execute the solution notebook once on the default twin; print and return the figures."""
    run = execute(figures=True)
    aucs = _aucs(run["stdout"])
    figures: dict[str, Any] = {
        "wall_s": run["wall_s"],
        "kernel_cpu_s": run["kernel_cpu_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "errors": run["errors"],
        "test_auc": aucs,
    }
    print(f"{'solution notebook, default twin':<44} {'value':>10}")
    print(f"{'wall time (s)':<44} {run['wall_s']:>10.1f}")
    print(f"{'CPU time of the kernel (s)':<44} {run['kernel_cpu_s']:>10.1f}")
    print(f"{'peak memory of the kernel (MB)':<44} {run['peak_rss_mb']:>10d}")
    print(f"{'load average while it ran (1 min)':<44} {figures['load_average_1min']:>10.1f}")
    for label, value in aucs.items():
        print(f"{'AUC ' + label:<44} {value:>10.4f}")
    for error in run["errors"]:
        print("ERROR", error)
    return figures


def _floor(x: float, step: float = 0.01) -> float:
    """``x`` rounded down to a multiple of ``step``, forgiving float noise just below one."""
    return round(math.floor(x / step + 1e-9) * step, 4)


def thresholds(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The thresholds of the assignment's tests, from the figures of several runs."""

    def low(key: str) -> float:
        return min(r[key] for r in runs)

    def auc(*keys: str) -> float:
        return _floor(min(low(k) for k in keys) - MARGIN_AUC)

    noise = max(
        max(abs(r["importance_noise_raw"]), abs(r["importance_noise_scaled"])) for r in runs
    )
    return {
        "loss_drop": _floor(MARGIN_DROP * low("loss_drop")),
        "test_loss_drop": _floor(MARGIN_DROP * low("test_loss_drop")),
        "bdt_auc": auc("test_auc_bdt", "fresh_auc_bdt"),
        "net_auc": auc("test_auc_net", "fresh_auc_net"),
        "scaled_auc": auc("test_auc_scaled", "fresh_auc_scaled"),
        "weighted_auc": auc("test_auc_weighted"),
        "noise_atol": round(max(0.005, 5 * noise), 3),
        "real_guard": REAL_GUARD,
    }


def run_seeds(seeds: Sequence[int]) -> list[dict[str, Any]]:
    """Run the solution for each seed; return the figures of each run."""

    def one(seed: int) -> dict[str, Any]:
        run = execute(seed=seed, figures=True)
        figures = {"seed": seed, "wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"]}
        figures["errors"] = run["errors"]  # failing test cells (thresholds being set) or bugs
        figures.update(run["figures"])
        return figures

    return _notebook.each_seed(seeds, one)


def measure(seeds: Sequence[int]) -> dict[str, Any]:
    """Run the solution for each seed; return the runs and the thresholds they give."""
    return record(run_seeds(seeds))


def record(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The measurements file's content for these runs: runs, summary, margins and thresholds."""
    return {
        "assignment": ASSIGNMENT,
        "dataset": DATASET,
        "variant": "synthetic twin, default size (90,000 events)",
        "how": (
            "bench/bench_notebook_03_tth_torch.py --measure: the solution notebook executed with "
            "SEED = s and the twin's seed s for each seed s, one torch thread; fresh events: "
            f"{FRESH_EVENTS} twin events of seed {FRESH_SEED_OFFSET} + s (not the hidden seeds), "
            "2lss, with a noise column"
        ),
        "margins": {
            "auc": (
                f"threshold = lowest AUC measured (test set and fresh events) - {MARGIN_AUC}, "
                "rounded down to 0.01; the visible and the hidden test of a model share it"
            ),
            "loss_drop": f"threshold = {MARGIN_DROP} x the lowest relative drop, rounded down to 0.01",
            "noise_atol": "5 x the largest |AUC drop| of the noise column measured, at least 0.005",
        },
        "real_variant": (
            "not measured: ../shared/data/real holds no tth-multilepton slice. On the real files "
            "the AUC tests only guard against chance (real_guard) and the hidden tests repeat "
            "them on the test set."
        ),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "runs": runs,
        "summary": _notebook.summary(runs),
        "thresholds": thresholds(runs),
    }


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=int, metavar="N", help="measure with seeds 0..N-1")
    parser.add_argument("--write", action="store_true", help=f"write {MEASUREMENTS.name}")
    args = parser.parse_args()
    if args.measure:
        result = measure(range(args.measure))
        print(json.dumps(result["thresholds"], indent=2))
        if args.write:
            _notebook.write_json(MEASUREMENTS, result)
            print(f"wrote {MEASUREMENTS}")
        return 0
    main()
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())
