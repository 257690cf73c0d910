"""The higgs-ww-vs-ttbar and atlas-hww twins: generation time, file size, the true likelihood
ratio against boosted trees, and the atlas-hww twin against the real 10k slice.

Figures:

- generation time (``generate``) and write time and size of the file, at the default size and
  at 1,000,000 events;
- AUC of the true likelihood ratio and of a ``HistGradientBoostingClassifier`` trained on
  100,000 twin events (seed 1), both on 200,000 events of seed 2, and the gap; the trees' AUC on
  held-out events of their own seed (no memorised artefacts if it matches the other seed's);
- AUC of ``lepton0_energy`` alone (the tutorial's first lesson: the classes overlap on it);
- for atlas-hww, when ``../shared/data/real`` is present: per-column and per-process
  Kolmogorov-Smirnov distance between the twin (default size) and the real slice, and the largest
  shift of the 10/50/90% quantiles in units of the real interquartile range.

Run: ``python -m bench synth_higgs_atlas`` or ``python bench/bench_synth_higgs_atlas.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BIG = 1_000_000
TRAIN, TEST = 100_000, 200_000
REAL_SLICE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "real"
    / "atlas-opendata-hww"
    / "dataWW_d1_last10k.root"
)


def _timed(fn, *args, **kwargs) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def _sizes(mod, events: int) -> dict[str, float]:
    """Generation time, write time (s) and file size (MB) of ``events`` events."""
    t_gen, _ = _timed(mod.generate, events, 0)
    with tempfile.TemporaryDirectory() as tmp:
        t_write, paths = _timed(mod.write, Path(tmp), events=events, seed=0)
        size = sum(p.stat().st_size for p in paths.values()) / 1e6
    return {"generate_s": t_gen, "write_s": t_write, "size_mb": size}


def _xy(name: str, frame) -> tuple[np.ndarray, np.ndarray]:
    if name == "higgs-ww-vs-ttbar":
        y = (frame.index.get_level_values("dataset") == "Signal").astype(int)
        return frame.to_numpy(), np.asarray(y)
    from helpers.data.synthetic import atlas_hww

    drop = ("index", "eventNumber", "runNumber", "label", "channelNumber", "mcWeight")
    cols = [c for c in atlas_hww.BRANCHES if c not in drop]
    return frame[cols].to_numpy(), frame["label"].to_numpy()


def _aucs(name: str, mod) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    train = next(iter(mod.generate(TRAIN + TEST // 4, 1).values()))
    train = train.sample(frac=1.0, random_state=0)
    fit, held = train.iloc[:TRAIN], train.iloc[TRAIN:]
    test = next(iter(mod.generate(TEST, 2).values()))
    clf = HistGradientBoostingClassifier(max_iter=300, random_state=0)
    t_fit, _ = _timed(clf.fit, *_xy(name, fit))
    x, y = _xy(name, test)
    xh, yh = _xy(name, held)
    auc_gb = roc_auc_score(y, clf.predict_proba(x)[:, 1])
    auc_lr = roc_auc_score(y, mod.likelihood_ratio(test, log=True))
    out = {
        "auc_true_lr": auc_lr,
        "auc_gbdt_100k": auc_gb,
        "gap": auc_lr - auc_gb,
        "auc_gbdt_same_seed": roc_auc_score(yh, clf.predict_proba(xh)[:, 1]),
        "gbdt_fit_s": t_fit,
    }
    if name == "higgs-ww-vs-ttbar":
        auc = roc_auc_score(y, test["lepton0_energy"])
        out["auc_lepton0_energy"] = max(auc, 1 - auc)
    return out


def _real_comparison() -> dict[str, Any]:
    """KS distance and quantile shift of every column of the atlas-hww twin vs the real slice."""
    import uproot
    from scipy import stats

    from helpers.data.synthetic import atlas_hww

    with uproot.open(REAL_SLICE) as f:
        real = f["tree_event;1;1"].arrays(library="pd")
    twin = atlas_hww.generate(atlas_hww.DEFAULT_EVENTS, 2024)["dataWW_d1.root"]
    skip = ("index", "eventNumber", "runNumber", "label", "channelNumber")
    ks, qshift = {}, {}
    for proc, (ch, _) in atlas_hww.PROCESSES.items():
        r, t = real[real["channelNumber"] == ch], twin[twin["channelNumber"] == ch]
        for col in atlas_hww.BRANCHES:
            if col in skip:
                continue
            ks[(proc, col)] = float(stats.ks_2samp(r[col], t[col]).statistic)
            qr = np.quantile(r[col], [0.1, 0.25, 0.5, 0.75, 0.9])
            qt = np.quantile(t[col], [0.1, 0.5, 0.9])
            iqr = max(qr[3] - qr[1], 1e-12 + 1e-3 * abs(qr[2]))
            qshift[(proc, col)] = float(np.max(np.abs(qt - qr[[0, 2, 4]])) / iqr)
    return {
        "ks": ks,
        "quantile_shift_over_iqr": qshift,
        "signal_fraction": (float(real["label"].mean()), float(twin["label"].mean())),
        "negative_weights": (
            float((real["mcWeight"] < 0).mean()),
            float((twin["mcWeight"] < 0).mean()),
        ),
    }


def main() -> dict[str, Any]:
    """Measure and print the figures; return them as a dict by dataset."""
    from helpers.data.synthetic import atlas_hww, higgs_ww

    results: dict[str, Any] = {}
    for name, mod in (("higgs-ww-vs-ttbar", higgs_ww), ("atlas-hww", atlas_hww)):
        figures: dict[str, Any] = {}
        for label, n in (("default", mod.DEFAULT_EVENTS), ("1M", BIG)):
            figures[label] = {"events": n, **_sizes(mod, n)}
        figures["auc"] = _aucs(name, mod)
        results[name] = figures
    if REAL_SLICE.is_file():
        results["atlas-hww"]["real_slice"] = _real_comparison()

    print(f"{'dataset':20s} {'size':>8s} {'events':>9s} {'gen s':>7s} {'write s':>8s} {'MB':>8s}")
    for name in ("higgs-ww-vs-ttbar", "atlas-hww"):
        for label in ("default", "1M"):
            f = results[name][label]
            print(
                f"{name:20s} {label:>8s} {f['events']:9,d} {f['generate_s']:7.2f} "
                f"{f['write_s']:8.2f} {f['size_mb']:8.1f}"
            )
    print(f"\n{'dataset':20s} {'AUC LR':>8s} {'AUC GBDT':>9s} {'gap':>7s} {'GBDT same seed':>15s}")
    for name in ("higgs-ww-vs-ttbar", "atlas-hww"):
        a = results[name]["auc"]
        print(
            f"{name:20s} {a['auc_true_lr']:8.4f} {a['auc_gbdt_100k']:9.4f} {a['gap']:7.4f} "
            f"{a['auc_gbdt_same_seed']:15.4f}"
        )
    print(
        f"lepton0_energy alone: AUC {results['higgs-ww-vs-ttbar']['auc']['auc_lepton0_energy']:.3f}"
    )
    real = results["atlas-hww"].get("real_slice")
    if real:
        print("\natlas-hww vs real slice: KS distance | max quantile shift / IQR, per process")
        procs = list(atlas_hww.PROCESSES)
        print(f"{'column':14s} " + " ".join(f"{p:>15s}" for p in procs))
        cols = sorted({c for _, c in real["ks"]}, key=list(atlas_hww.BRANCHES).index)
        for col in cols:
            cells = [
                f"{real['ks'][(p, col)]:6.3f} | {real['quantile_shift_over_iqr'][(p, col)]:5.2f}"
                for p in procs
            ]
            print(f"{col:14s} " + " ".join(f"{c:>15s}" for c in cells))
        print(
            f"max KS {max(real['ks'].values()):.3f}; signal fraction real/twin "
            f"{real['signal_fraction'][0]:.4f}/{real['signal_fraction'][1]:.4f}; negative "
            f"weights {real['negative_weights'][0]:.4f}/{real['negative_weights'][1]:.4f}"
        )
    return results


if __name__ == "__main__":
    main()
