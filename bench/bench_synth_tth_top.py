"""The tth-multilepton and top-tagging twins: generation time, file size, the true likelihood ratio
against boosted trees, and the physics figures quoted in ``docs/twins_tth_top.md``.

Figures:

- generation time (CPU and wall) and write time and size of the files, at the default size and
  at 1,000,000 events (top tagging: 1,000,000 jets over the four splits; its generation is timed
  by streaming the generator's blocks, since the frames of a million jets would need ~10 GB);
- AUC of the true likelihood ratio and of a ``HistGradientBoostingClassifier`` trained on
  100,000 twin events (seed 1), both on 100,000 events of seed 2, and the gap; the trees' AUC on
  held-out events of their own seed (no memorised artefacts if it matches the other seed's);
  ttH: the binary ttH-vs-(ttW + DY) problem on all feature columns; top tagging: the trees see
  the jet mass, pT, multiplicity and the 10 leading constituents relative to the jet axis;
- ttH: the pairwise optimal AUCs (ttH-ttW, ttH-DY, ttW-DY) and the resolution of the
  Bayes-optimal Higgs-pT regression; top tagging: the jet-mass-only AUC and the acceptance
  constants of the likelihood ratio re-measured on 100,000 selected jets per class.

Run: ``python -m bench synth_tth_top`` or ``python bench/bench_synth_tth_top.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BIG = 1_000_000
TRAIN, TEST = 100_000, 100_000


def _timed(fn, *args, **kwargs) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _write(mod, events: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        wall, _, paths = _timed(mod.write, Path(tmp), events=events, seed=0)
        size = sum(p.stat().st_size for p in paths.values()) / 1e6
    return {"write_s": wall, "size_mb": size}


def _sizes_tth(events: int) -> dict[str, float]:
    from helpers.data.synthetic import tth

    wall, cpu, _ = _timed(tth.generate, events, 0)
    return {"events": events, "generate_s": wall, "generate_cpu_s": cpu, **_write(tth, events)}


def _sizes_top(events: int, in_memory: bool) -> dict[str, float]:
    from helpers.data.synthetic import top_tagging

    def stream() -> None:
        for split in top_tagging.SPLITS:
            for _ in top_tagging._blocks(split, events, 0):
                pass

    wall, cpu, _ = _timed(
        top_tagging.generate if in_memory else stream, *([events, 0] if in_memory else [])
    )
    return {
        "events": events,
        "generate_s": wall,
        "generate_cpu_s": cpu,
        **_write(top_tagging, events),
    }


def _gbdt():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=500, early_stopping=True, random_state=0)


def _auc_tth() -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    from helpers.data.synthetic import tth

    def binary(events: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        frames = tth.generate(events, seed)
        data = pd.concat([frames[f] for f in tth.FILES]).drop(columns=["index"])
        data = data.sample(frac=1.0, random_state=seed)  # mix the processes before splitting
        return data, (data["Hreco_evt_tag"] == 1).to_numpy().astype(int)

    features = [c for c in tth.COLUMNS if c not in tth.TRUTH_COLUMNS]
    train, y_train = binary(TRAIN + 20_000, 1)
    test, y_test = binary(TEST, 2)
    clf = _gbdt().fit(train[features].iloc[:TRAIN], y_train[:TRAIN])
    out = {
        "auc_true_lr": roc_auc_score(y_test, tth.likelihood_ratio(test, log=True)),
        "auc_gbdt_100k": roc_auc_score(y_test, clf.predict_proba(test[features])[:, 1]),
        "auc_gbdt_same_seed": roc_auc_score(
            y_train[TRAIN:], clf.predict_proba(train[features].iloc[TRAIN:])[:, 1]
        ),
    }
    out["gap"] = out["auc_true_lr"] - out["auc_gbdt_100k"]
    frames = tth.generate(TEST, 3)
    procs = dict(zip(("ttH", "ttW", "DY"), (frames[f] for f in tth.FILES), strict=True))
    for sig, bkg in (("ttH", "ttW"), ("ttH", "DY"), ("ttW", "DY")):
        data = pd.concat([procs[sig], procs[bkg]])
        y = np.r_[np.ones(len(procs[sig])), np.zeros(len(procs[bkg]))]
        llr = tth.likelihood_ratio(data, signal=sig, background=bkg, log=True)
        out[f"auc_lr_{sig}_vs_{bkg}"] = roc_auc_score(y, llr)
    sig = procs["ttH"]
    post = tth.regression_truth(sig)
    truth = np.log(sig[tth.REGRESSION_TARGET])
    out["higgs_log_pt_prior_sd"] = float(truth.std())
    out["higgs_log_pt_posterior_sd"] = float(post["log_pt_sd"].mean())
    out["higgs_log_pt_rms_error"] = float(np.sqrt(np.mean((truth - post["log_pt_mean"]) ** 2)))
    out["higgs_pt_min_max_gev"] = (
        f"{sig[tth.REGRESSION_TARGET].min():.1f}..{sig[tth.REGRESSION_TARGET].max():.0f}"
    )
    return out


def _jet_features(frame: pd.DataFrame, k: int = 10) -> np.ndarray:
    from helpers.data.synthetic import top_tagging

    con = frame[list(top_tagging.CONSTITUENT_COLUMNS)].to_numpy(np.float64)
    con = con.reshape(len(frame), -1, 4)
    jet = con.sum(1)
    pt = np.hypot(jet[:, 1], jet[:, 2])
    eta, phi = np.arcsinh(jet[:, 3] / pt), np.arctan2(jet[:, 2], jet[:, 1])
    mass = np.sqrt(np.maximum(jet[:, 0] ** 2 - (jet[:, 1:] ** 2).sum(1), 0.0))
    cpt = np.hypot(con[:, :k, 1], con[:, :k, 2])
    ok = cpt > 0
    ceta = np.where(ok, np.arcsinh(con[:, :k, 3] / np.where(ok, cpt, 1)) - eta[:, None], 0)
    cphi = (np.arctan2(con[:, :k, 2], con[:, :k, 1]) - phi[:, None] + np.pi) % (2 * np.pi)
    n = (con[..., 0] > 0).sum(1)
    return np.column_stack([mass, pt, n, cpt / pt[:, None], ceta, np.where(ok, cphi, 0)])


def _stream_top(split: str, events: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and log LR of one split, block by block (no frames kept)."""
    from helpers.data.synthetic import top_tagging

    feats, labels, llrs = [], [], []
    for data, _ in top_tagging._blocks(split, events, seed):
        feats.append(_jet_features(data))
        labels.append(data["is_signal_new"].to_numpy())
        llrs.append(top_tagging.likelihood_ratio(data, log=True))
    return np.concatenate(feats), np.concatenate(labels), np.concatenate(llrs)


def _auc_top() -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    from helpers.data.synthetic import _jets

    x_train, y_train, _ = _stream_top("train", 2 * TRAIN, 1)  # the train split holds half
    x_same, y_same, _ = _stream_top("val", 2 * TRAIN, 1)
    x_test, y_test, llr = _stream_top("train", 2 * TEST, 2)
    clf = _gbdt().fit(x_train, y_train)
    out = {
        "auc_true_lr": roc_auc_score(y_test, llr),
        "auc_gbdt_100k": roc_auc_score(y_test, clf.predict_proba(x_test)[:, 1]),
        "auc_gbdt_same_seed": roc_auc_score(y_same, clf.predict_proba(x_same)[:, 1]),
        "auc_mass_window": roc_auc_score(y_test, -np.abs(x_test[:, 0] - 172.5)),
    }
    out["gap"] = out["auc_true_lr"] - out["auc_gbdt_100k"]
    rng = np.random.default_rng(2024)
    for cls in _jets.CLASSES:
        n = 100_000
        attempts = 0
        for _ in range(10):  # in pieces of 10,000 jets to bound the memory
            attempts += _jets.sample_jets(cls, n // 10, rng)[1]
        acc = n / attempts
        out[f"acceptance_{cls}"] = acc
        out[f"acceptance_{cls}_err"] = float(np.sqrt(acc * (1 - acc) / attempts))
        out[f"acceptance_{cls}_in_code"] = _jets.ACCEPTANCE[cls]
    return out


def main() -> dict[str, Any]:
    """Measure and print the figures; return them as a dict by dataset."""
    from helpers.data.synthetic import top_tagging, tth

    results: dict[str, Any] = {
        "tth-multilepton": {
            "default": _sizes_tth(tth.DEFAULT_EVENTS),
            "1M": _sizes_tth(BIG),
            "auc": _auc_tth(),
        },
        "top-tagging": {
            "default": _sizes_top(top_tagging.DEFAULT_EVENTS, in_memory=True),
            "1M": _sizes_top(BIG, in_memory=False),
            "auc": _auc_top(),
        },
    }
    names = ("tth-multilepton", "top-tagging")
    print(
        f"{'dataset':16s} {'size':>8s} {'events':>10s} {'gen s':>7s} {'gen cpu s':>10s} "
        f"{'write s':>8s} {'MB':>8s}"
    )
    for name in names:
        for label in ("default", "1M"):
            f = results[name][label]
            print(
                f"{name:16s} {label:>8s} {f['events']:10,d} {f['generate_s']:7.1f} "
                f"{f['generate_cpu_s']:10.1f} {f['write_s']:8.1f} {f['size_mb']:8.1f}"
            )
    print(f"\n{'dataset':16s} {'AUC LR':>8s} {'AUC GBDT':>9s} {'gap':>7s} {'GBDT same seed':>15s}")
    for name in names:
        a = results[name]["auc"]
        print(
            f"{name:16s} {a['auc_true_lr']:8.4f} {a['auc_gbdt_100k']:9.4f} {a['gap']:7.4f} "
            f"{a['auc_gbdt_same_seed']:15.4f}"
        )
    a = results["tth-multilepton"]["auc"]
    print(
        "ttH pairwise LR AUC: "
        + ", ".join(f"{k[7:]} {v:.3f}" for k, v in a.items() if k.startswith("auc_lr_"))
        + f"; Higgs log-pT sd {a['higgs_log_pt_prior_sd']:.2f} -> "
        f"{a['higgs_log_pt_posterior_sd']:.2f} (rms error {a['higgs_log_pt_rms_error']:.2f}), "
        f"pT range {a['higgs_pt_min_max_gev']} GeV"
    )
    a = results["top-tagging"]["auc"]
    print(
        f"top tagging: mass-window AUC {a['auc_mass_window']:.3f}; acceptance "
        + ", ".join(
            f"{c} {a[f'acceptance_{c}']:.4f}+-{a[f'acceptance_{c}_err']:.4f} "
            f"(code {a[f'acceptance_{c}_in_code']:.4f})"
            for c in ("top", "qcd")
        )
    )
    return results


if __name__ == "__main__":
    main()
