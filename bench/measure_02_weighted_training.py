"""Measure the weighted-training statistic of 02_atlas_keras (cell ``weighted_training``).

Repeats the notebook's cells (selection, ``make_features``, split, scaler, ``balance``, the
section 8 network) and prints, for training with the balanced weights, without weights, with the
physical weights and with ``validation_split=0.25`` and batches of 256, the mean training score
with each class weighted to the same total. The numbers go into
``course/measurements/02_atlas_keras.json`` under ``weighted_training``.

Usage: ``python bench/measure_02_weighted_training.py SEED [REAL_ROOT_FILE]``.
"""

from __future__ import annotations

import json
import os
import sys


def main(seed: int, real_file: str | None = None) -> dict:
    """The statistic for each way of training, with the load average at the end."""
    import keras
    import numpy as np
    import uproot
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from helpers import data, keras_utils, metrics

    keras_utils.seed_everything(seed)
    path = real_file or data.fetch("atlas-hww")["dataWW_d1.root"]
    root = uproot.open(path)
    key = next(k for k, c in root.classnames().items() if c == "TTree")
    df = root[key].arrays(library="pd")
    sel = df[(df.lep_n == 2) & (df.mcWeight > 0)]
    first_six = ["met_et", "met_phi", "lep_pt_0", "lep_pt_1", "lep_phi_0", "lep_phi_1"]
    more = ["lep_eta_0", "lep_eta_1", "jet_n", "jet_pt_0", "jet_pt_1", "jet_eta_0", "jet_eta_1"]
    X = sel[first_six + more].copy()
    d = sel.lep_phi_0 - sel.lep_phi_1
    X["lep_dphi"] = np.abs((d + np.pi) % (2 * np.pi) - np.pi)
    y, w = sel.label.to_numpy(), sel.mcWeight.to_numpy()
    Xtr, Xr, ytr, yr, wtr, wr = train_test_split(
        X, y, w, train_size=0.5, random_state=seed, stratify=y
    )
    Xva, Xte, yva, yte, wva, wte = train_test_split(
        Xr, yr, wr, test_size=0.5, random_state=seed, stratify=yr
    )
    scaler = StandardScaler().fit(Xtr)
    A, B, C = (scaler.transform(v) for v in (Xtr, Xva, Xte))

    def balance(weights, labels):
        weights = np.asarray(weights, float).copy()
        for cls in (0, 1):
            m = labels == cls
            weights[m] *= 0.5 * len(weights) / weights[m].sum()
        return weights

    wtb, wvb = balance(wtr, ytr), balance(wva, yva)
    each_class = np.asarray(wtr, float).copy()
    for cls in (0, 1):
        each_class[ytr == cls] /= each_class[ytr == cls].sum()
    out: dict = {"seed": seed, "variant": "real" if real_file else "synthetic"}
    variants = {
        "balanced": (wtb, False),
        "unweighted": (None, False),
        "physical": (wtr / wtr.mean(), False),
        "balanced_valsplit_b256": (wtb, True),
    }
    for name, (sample_weight, split) in variants.items():
        keras_utils.seed_everything(seed)
        net = keras.Sequential(
            [keras.Input(shape=(A.shape[1],))]
            + [keras.layers.Dense(128, activation="relu") for _ in range(2)]
            + [keras.layers.Dense(1, activation="sigmoid")]
        )
        net.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
        if split:
            net.fit(A, ytr, sample_weight=sample_weight, validation_split=0.25, epochs=10,
                    batch_size=256, verbose=0)  # fmt: skip
        else:
            net.fit(A, ytr, sample_weight=sample_weight, validation_data=(B, yva, wvb), epochs=10,
                    batch_size=128, verbose=0)  # fmt: skip
        out[name] = {
            "mean_train_each_class": float(
                np.average(keras_utils.predict_scores(net, A), weights=each_class)
            ),
            "auc_test_weighted": metrics.roc_auc(
                yte, keras_utils.predict_scores(net, C), sample_weight=wte
            ),
        }
    out["load_avg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)))
