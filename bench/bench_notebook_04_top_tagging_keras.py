"""Run time, peak memory and results of the 04_top_tagging_keras solution notebook.

``main()`` executes ``source/04_top_tagging_keras/04_top_tagging_keras.ipynb`` (solution and hidden
tests, bonus included) once with nbclient on the default synthetic twin and returns its wall time,
CPU time, the peak resident memory of the kernel, and the test AUC and background rejection
1/eps_B at eps_S = 0.3 of the dense network, the improved dense network and the CNN beside the
twin's optimal tagger (the true likelihood ratio). These are twin figures: they are not comparable
with the figures arXiv:1902.09914 reports for the real dataset (:data:`PAPER`).

``measure(seeds)`` runs it once per seed and returns the figures the thresholds of the notebook's
tests are set from (``course/measurements/04_top_tagging_keras.json`` records them): the test AUCs,
the AUCs on the hidden tests' unseen jets, the relative drop of the training loss, and the AUC of
untrained copies of the networks for comparison.

Run: ``python -m bench.bench_notebook_04_top_tagging_keras [--measure SEEDS]``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

if __package__:
    from bench import _notebook
else:  # run as a script: bench/ is on sys.path
    import _notebook

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "04_top_tagging_keras"
NOTEBOOK = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

#: Figures of the comparison paper on the real dataset (Table 1 of arXiv:1902.09914):
#: (AUC, 1/eps_B at eps_S = 0.3).
PAPER = {"TopoDNN": (0.972, 295), "CNN": (0.981, 914), "ParticleNet": (0.985, 1298)}

# Appended to the executed copy: prints the figures as one JSON line. The unseen jets are those the
# hidden tests draw (``unseen_jets`` / ``unseen_images`` are left in the kernel by them).
_FIGURES_CELL = """
import json as _json


def _untrained_auc(model, X, y):
    clone = keras.models.clone_model(model)
    return float(metrics.roc_auc(y, keras_utils.predict_scores(clone, X)))


def _drop(history):
    loss = history.history["loss"]
    return float((loss[0] - loss[-1]) / loss[0])


def _figures():
    out = {
        "variant": variant,
        "jets": {"train": len(df_train), "val": len(df_val), "test": len(df_test), "challenge": len(df_challenge)},
        "dense_auc": float(dense_auc),
        "dense_rejection": float(dense_rejection),
        "dense_auc_unseen": float(metrics.roc_auc(unseen_jets["is_signal_new"], keras_utils.predict_scores(dense_model, dense_inputs(unseen_jets)))),
        "dense_auc_untrained": _untrained_auc(dense_model, X_test_dense, y_test),
        "dense_loss_drop": _drop(dense_history),
        "cnn_auc": float(cnn_auc),
        "cnn_rejection": float(cnn_rejection),
        "cnn_auc_unseen": float(metrics.roc_auc(unseen_images["is_signal_new"], keras_utils.predict_scores(cnn_model, cnn_inputs(unseen_images)))),
        "cnn_auc_untrained": _untrained_auc(cnn_model, X_test_cnn, y_test),
        "cnn_loss_drop": _drop(cnn_history),
        "improved_auc": float(improved_auc),
        "improved_rejection": float(improved_rejection),
        "improved_auc_unseen": float(metrics.roc_auc(unseen_jets["is_signal_new"], keras_utils.predict_scores(improved_model, improved_inputs(unseen_jets)))),
        "challenge_files": sorted(p.name for p in Path("submission_predictions").iterdir()),
        "unseen_jets": len(unseen_jets),
    }
    if variant == "synthetic":
        out["optimal_auc"] = float(optimal_auc)
        out["optimal_rejection"] = float(optimal_rejection)
    return out


print("FIGURES " + _json.dumps(_figures()))
"""


def run_notebook(*, seed: int | None = None, workdir: str | Path | None = None) -> dict:
    """Execute the solution notebook once; return wall time, CPU time, peak memory and figures.

    Parameters
    ----------
    seed : int, optional
        Replaces the notebook's ``SEED`` (initial weights, order of the training batches).
    workdir : path, optional
        Folder the notebook runs in (its ``submission_predictions/`` stays there); default a
        temporary folder that is removed.

    Returns
    -------
    dict
        ``wall_s`` (s), ``cpu_s`` (CPU seconds, user + system, of the kernel: on a busy machine a
        better measure of the cost than the wall time), ``peak_kernel_mb`` (MiB),
        ``slowest_cells_s``, ``errors`` (cells that raised) and the figures of
        :data:`_FIGURES_CELL`.
    """
    nb = _notebook.read(NOTEBOOK, seed=seed)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run = _notebook.execute(
        nb,
        timeout_s=900,
        prefix="bench-04-",
        allow_errors=True,
        figures_cell=_FIGURES_CELL,
        workdir=workdir,
    )
    return {
        "wall_s": round(run.total_s, 1),
        "cpu_s": round(run.cpu_s, 1),
        "peak_kernel_mb": round(run.peak_bytes / 2**20),
        "slowest_cells_s": _notebook.slowest_cells(run.nb.cells, 8),
        "errors": _notebook.errors(run.nb, evalue_chars=300),
        **(_notebook.printed_figures(_notebook.stdout(run.nb)) or {}),
    }


def measure(seeds: list[int]) -> list[dict]:
    """One run per seed on the default twin; the figures of each run (printed as JSON lines)."""
    return _notebook.each_seed(seeds, lambda seed: run_notebook(seed=seed))


def main() -> dict:
    """Execute the solution notebook on the default twin; print and return the figures."""
    result = run_notebook()
    print(f"{'figure':<22} value")
    for key in ("wall_s", "cpu_s", "peak_kernel_mb"):
        print(f"{key:<22} {result.get(key)}")
    print(f"{'tagger (twin, test)':<22} {'AUC':>7} {'1/eps_B@0.3':>12}")
    for name in ("dense", "improved", "cnn", "optimal"):
        auc, rej = result.get(f"{name}_auc"), result.get(f"{name}_rejection")
        if auc is not None:
            print(f"{name:<22} {auc:7.4f} {rej:12.1f}")
    print("paper, real data (arXiv:1902.09914), not comparable with the twin:")
    for name, (auc, rej) in PAPER.items():
        print(f"{name:<22} {auc:7.3f} {rej:12d}")
    if result["errors"]:
        print("cells with errors:", *result["errors"], sep="\n  ")
    result["paper_real_data"] = {
        k: {"auc": a, "rejection_at_0.3": r} for k, (a, r) in PAPER.items()
    }
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=str, default=None, help="comma-separated seeds")
    args = parser.parse_args()
    if args.measure:
        measure([int(s) for s in args.measure.split(",")])
    else:
        main()
