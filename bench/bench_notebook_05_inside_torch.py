"""Run time, peak memory and results of the 05_inside_torch solution notebook.

``main()`` executes ``source/05_inside_torch/05_inside_torch.ipynb`` (solution and hidden tests,
bonus included) once with nbclient on the default synthetic twin and returns its wall time, the
peak resident memory of the kernel, and the figures the notebook's tests are about: the binary test
AUC beside the twin's optimal AUC, the diagonal of the normalised confusion matrix, the AUC of each
pair of classes (network and optimal) and the correlation of the regressed with the true log pT
(network and the twin's best possible prediction).

``measure(seeds)`` runs it once per seed and returns the figures the thresholds of the tests are
set from (``course/measurements/05_inside_torch.json`` records them): the same figures on the
notebook's test sets and on the unseen events of its hidden tests, and, for comparison, those of
untrained networks and of a binary network trained on the test set.

Run: ``python -m bench.bench_notebook_05_inside_torch [--measure SEEDS] [--threads N]``.
``--threads`` sets ``OMP_NUM_THREADS`` for the kernel (torch's intra-op threads); by default the
kernel inherits the environment.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

if __package__:
    from bench import _notebook
else:  # run as a script: bench/ is on sys.path
    import _notebook

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "05_inside_torch"
NOTEBOOK = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

# Appended to the executed copy: prints the figures as one JSON line. The unseen events are those
# of the notebook's hidden tests (their seeds and sizes are read from the test cells), so the
# figures calibrate the hidden thresholds.
_FIGURES_CELL = """
import json as _json
from helpers.data import loaders as _loaders


def _unseen(n, seed):
    fresh = synthetic.generate("tth-multilepton", events=n, seed=seed)
    return pd.concat([fresh[f].assign(process=p) for p, f in _loaders.TTH_FILES.items()], ignore_index=True)


def _labels(frame):
    return frame["process"].map({"DY": 0, "ttW": 1, "ttH": 2}).to_numpy()


def _pairs(P, labels):
    out = {}
    for name, (s, b) in PAIRS.items():
        y_pair, score_pair = pair_scores(P, labels, s, b)
        out[name] = float(metrics.roc_auc(y_pair, score_pair))
    return out


def _corr(pred, truth):
    pred = np.asarray(pred, dtype=float)
    return float(np.corrcoef(np.log(pred), np.log(truth))[0, 1]) if np.all(pred > 0) and np.std(pred) > 0 else float("nan")


_f = {"variant": variant, "events": int(len(events))}
# binary
_u = _unseen(*BINARY_UNSEEN)
_X_u, _y_u = scaler.transform(_u[FEATURES].to_numpy(np.float32)), (_u["process"] == "ttH").to_numpy(int)
_f.update(auc_train=float(auc_train), auc_test=float(auc_test), auc_hidden=float(metrics.roc_auc(_y_u, predict(model, _X_u)[:, 0])))
_f["auc_optimal"] = float(auc_optimal) if variant == "synthetic" else None
_f["auc_optimal_hidden"] = float(metrics.roc_auc(_y_u, synthetic.likelihood_ratio("tth-multilepton", _u, log=True)))
_f["loss_first"] = [float(v) for v in history_first["loss"]]
_f["loss_bce_raw"] = [float(v) for v in history_bce_raw["loss"]]
_f["loss"] = [float(v) for v in history["loss"]]
_f["val_loss"] = [float(v) for v in history["val_loss"]]
seed_everything(SEED + 1)
_untrained = make_network(len(FEATURES)).to(device)
_f["auc_untrained"] = float(metrics.roc_auc(y_test, predict(_untrained, X_test_scaled)[:, 0]))
_f["auc_first_attempt"] = float(metrics.roc_auc(y_test, predict(model_first, X_test)[:, 0]))
# the wrong submission: the same network trained on the test set
seed_everything(SEED)
_cheat = make_network(len(FEATURES)).to(device)
_opt = torch.optim.SGD(_cheat.parameters(), lr=0.05, momentum=0.9)
_tl, _vl = make_loaders(X_test_scaled, y_test, X_train_scaled, y_train)
train(_cheat, _tl, _vl, nn.BCELoss(), _opt, epochs=20, scheduler=torch.optim.lr_scheduler.ExponentialLR(_opt, gamma=0.95))
_f["test_trained"] = {
    "auc_train": float(metrics.roc_auc(y_train, predict(_cheat, X_train_scaled)[:, 0])),
    "auc_test": float(metrics.roc_auc(y_test, predict(_cheat, X_test_scaled)[:, 0])),
    "auc_hidden": float(metrics.roc_auc(_y_u, predict(_cheat, _X_u)[:, 0])),
}
# multiclass
_f["cm_diag"] = [float(v) for v in np.diag(cm)]
_f["pair_auc"] = _pairs(P_test_m, y_test_m)
_u = _unseen(*CM_UNSEEN)
_P_u = class_probabilities(model_m, scaler_m.transform(_u[FEATURES].to_numpy(np.float32)))
_f["cm_diag_hidden"] = [float(v) for v in np.diag(confusion_matrix(_labels(_u), _P_u.argmax(axis=1), labels=[0, 1, 2], normalize="true"))]
_u = _unseen(*PAIR_UNSEEN)
_f["pair_auc_hidden"] = _pairs(class_probabilities(model_m, scaler_m.transform(_u[FEATURES].to_numpy(np.float32))), _labels(_u))
_f["pair_auc_optimal"] = {}
for _name, (_s, _b) in PAIRS.items():
    _keep = (y_test_m == _s) | np.isin(y_test_m, np.atleast_1d(_b))
    _lr = synthetic.likelihood_ratio("tth-multilepton", multi_test[_keep], signal=CLASSES[_s], background=[CLASSES[k] for k in np.atleast_1d(_b)], log=True)
    _f["pair_auc_optimal"][_name] = float(metrics.roc_auc((y_test_m[_keep] == _s).astype(int), _lr))
seed_everything(SEED + 1)
_untrained_m = make_network(len(FEATURES), 3, output=None).to(device)
_P0 = class_probabilities(_untrained_m, X_test_m_scaled)
_f["cm_diag_untrained"] = [float(v) for v in np.diag(confusion_matrix(y_test_m, _P0.argmax(axis=1), labels=[0, 1, 2], normalize="true"))]
_f["pair_auc_untrained"] = _pairs(_P0, y_test_m)
# regression
_f["loss_raw_target"] = [float(v) for v in history_pt["loss"]]
_f["loss_log_target"] = [float(v) for v in history_r["loss"]]
_f["reg_corr"] = _corr(pt_pred_test, pt_test)
_f["reg_corr_optimal"] = float(corr_optimal) if variant == "synthetic" else None
_q = np.percentile((pt_pred_test - pt_test) / pt_test, [16, 50, 84])
_f["reg_resolution_68"] = float((_q[2] - _q[0]) / 2)
_f["reg_bias_median"] = float(_q[1])
_fresh = synthetic.generate("tth-multilepton", events=REG_UNSEEN[0], seed=REG_UNSEEN[1])["signal_blind20.root"]
_f["reg_corr_hidden"] = _corr(predict_pt(model_r, scaler_r.transform(_fresh[FEATURES].to_numpy(np.float32))), _fresh["Hreco_HTXS_Higgs_pt"].to_numpy(float))
seed_everything(SEED + 1)
_untrained_r = make_network(len(FEATURES), 1, output=None).to(device)
_f["reg_corr_untrained"] = _corr(predict_pt(_untrained_r, X_test_r_scaled), pt_test)
_f["log_pt_std"] = {"true": float(np.std(np.log(pt_test))), "mse": float(np.std(np.log(pt_pred_test))), "mse_spread": float(np.std(np.log(pt_spread_test)))}
_f["reg_corr_spread"] = _corr(pt_spread_test, pt_test)
_f["remedies"] = {k: {c: (None if isinstance(v, float) and not np.isfinite(v) else v) for c, v in row.items()} for k, row in remedies.to_dict(orient="index").items()}
print("FIGURES " + _json.dumps(_f))
"""


def _hidden_draw(nb, grade_id: str) -> tuple[int, int]:
    """(events, seed) of the unseen events drawn by the hidden part of a test cell."""
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1]
    match = re.search(r"events=([0-9_]+), seed=(\d+)", hidden)
    if match is None:
        raise ValueError(f"no unseen events drawn in the hidden part of {grade_id}")
    return int(match.group(1).replace("_", "")), int(match.group(2))


def _figures_cell(nb) -> str:
    draws = {
        "BINARY_UNSEEN": _hidden_draw(nb, "binary_test_auc"),
        "CM_UNSEEN": _hidden_draw(nb, "confusion_matrix"),
        "PAIR_UNSEEN": _hidden_draw(nb, "pair_aucs"),
        "REG_UNSEEN": _hidden_draw(nb, "regression_correlation"),
    }
    head = "\n".join(f"{name} = {value!r}" for name, value in draws.items())
    return head + "\n" + _FIGURES_CELL


def run_notebook(*, seed: int | None = None, threads: int | None = None) -> dict:
    """Execute the solution notebook once; return wall time, peak memory and its figures.

    Parameters
    ----------
    seed : int, optional
        Replaces the notebook's ``SEED`` (samples, initialisation, batch order).
    threads : int, optional
        ``OMP_NUM_THREADS`` of the kernel.

    Returns
    -------
    dict
        ``wall_s`` (s, the notebook's own cells: the appended figures cell is not counted),
        ``cpu_s`` (CPU seconds, user + system, of the kernel and its children, all cells),
        ``peak_kernel_mb`` (MiB), ``slowest_cells_s``, ``errors`` (cells that raised), the
        figures of :data:`_FIGURES_CELL`.
    """
    nb = _notebook.read(NOTEBOOK, seed=seed)
    env = {"MPLBACKEND": os.environ.get("MPLBACKEND", "Agg")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(int(threads))
    run = _notebook.execute(
        nb,
        timeout_s=900,
        prefix="bench-05-",
        env=env,
        allow_errors=True,
        figures_cell=_figures_cell(nb),
    )
    figures_cell_s = _notebook.cell_seconds(run.nb.cells[-1]) or 0.0
    return {
        "wall_s": round(run.total_s - figures_cell_s, 1),
        "cpu_s": round(run.cpu_s, 1),
        "peak_kernel_mb": round(run.peak_bytes / 2**20),
        "threads": os.environ.get("OMP_NUM_THREADS") if threads is None else int(threads),
        "slowest_cells_s": _notebook.slowest_cells(run.nb.cells[:-1], 8),
        "errors": _notebook.errors(run.nb, evalue_chars=200),
        **(_notebook.printed_figures(_notebook.stdout(run.nb)) or {}),
    }


def measure(seeds: list[int], *, threads: int | None = None) -> list[dict]:
    """One run per seed on the default twin; the figures of each run (printed as JSON lines)."""
    return _notebook.each_seed(seeds, lambda seed: run_notebook(seed=seed, threads=threads))


def main() -> dict:
    """Execute the solution notebook on the default twin; print and return the figures."""
    result = run_notebook()
    print(f"{'figure':<26} value")
    for key in (
        "wall_s",
        "cpu_s",
        "peak_kernel_mb",
        "auc_test",
        "auc_optimal",
        "auc_hidden",
        "cm_diag",
        "pair_auc",
        "pair_auc_optimal",
        "reg_corr",
        "reg_corr_optimal",
        "reg_resolution_68",
    ):
        value = result.get(key)
        if isinstance(value, float):
            value = round(value, 4)
        elif isinstance(value, list):
            value = [round(v, 3) for v in value]
        elif isinstance(value, dict):
            value = {k: round(v, 3) for k, v in value.items()}
        print(f"{key:<26} {value}")
    if result["errors"]:
        print("cells with errors:", *result["errors"], sep="\n  ")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=str, default=None, help="comma-separated seeds")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the kernel")
    args = parser.parse_args()
    if args.measure:
        measure([int(s) for s in args.measure.split(",")], threads=args.threads)
    else:
        main()
