"""Synthetic twin of the ``tth-multilepton`` dataset (ttH vs ttW vs Drell-Yan, CMS-like).

Three ROOT files with a TTree ``Friends``, as in the Lisbon ML school tarball:
``signal_blind20.root`` (ttH; 80 % of the generated signal, the rest kept blind for a challenge,
hence its extra ``index`` column: the event's row in the unblinded sample),
``background_1.root`` (ttW) and ``background_2.root`` (Drell-Yan). Every branch is ``float32``
(``index``: ``int64``); pT, masses and missing ET in GeV, angles in radians. Events have two
same-sign leptons (``2lss``, third lepton ``Hreco_Lep2_* = -99``) or three leptons (``3l``).

Fill values: a missing third lepton, hadronic-top candidate (``Hreco_TopScore <= 0``) or sum of
the jets beyond the fifth (five jets or fewer) has all four of its columns at ``-99``.
``Hreco_HTXS_Higgs_pt`` / ``_y`` hold the generator-level Higgs pT (GeV) and rapidity for ttH
and ``-99`` for the backgrounds, which have no Higgs boson (a choice of the twin: the real files'
background values are not documented). ``Hreco_evt_tag`` is 1 for ttH and 0 for the backgrounds
(the tutorial describes it as the signal flag). The lepton masses are the electron or muon mass.

Physics (see ``docs/twins_tth_top.md``): ttW is signal-like (a hadronic top, jets, real missing
ET), Drell-Yan is not (a Z peak in the dilepton mass of same-flavour pairs, leptons back to back,
few jets, low missing ET, no top), so a ttH-vs-background classifier scores the background
bimodally. The azimuths are individually useless (only their differences carry information), the
true Higgs pT spans two orders of magnitude and is predictable from the reconstructed objects to
about 50 % (see :func:`regression_truth`). The generator knows every process's density in closed
form (:mod:`helpers.data.synthetic._tth_model`), so :func:`likelihood_ratio` is exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from helpers.data.synthetic import _tth_model as model

DEFAULT_EVENTS = 90_000
FILES = ("signal_blind20.root", "background_1.root", "background_2.root")
TREE = "Friends"
PROCESS_OF_FILE = dict(zip(FILES, model.PROCESSES, strict=True))
#: Share of each process among the generated events (the real backgrounds are the larger files).
FRACTIONS = {"ttH": 0.30, "ttW": 0.35, "DY": 0.35}
BLIND_KEPT = 0.8  # fraction of the generated signal written to signal_blind20.root
BLOCK = 100_000  # events per independently seeded block (generation and writing)
CHUNK = 50_000  # rows per likelihood evaluation (bounds the memory)
MISSING = model.MISSING

OBJECTS = ("Lep0", "Lep1", "Lep2", "HadTop", "All5_Jets", "More5_Jets", "Jets_plus_Lep")
COLUMNS: tuple[str, ...] = (
    *(f"Hreco_{obj}_{var}" for obj in OBJECTS for var in ("pt", "eta", "phi", "mass")),
    "Hreco_TopScore",
    "Hreco_met",
    "Hreco_met_phi",
    "Hreco_HTXS_Higgs_pt",
    "Hreco_HTXS_Higgs_y",
    "Hreco_evt_tag",
)
#: Generator truth and label columns: never classifier features.
TRUTH_COLUMNS = ("Hreco_HTXS_Higgs_pt", "Hreco_HTXS_Higgs_y", "Hreco_evt_tag")
REGRESSION_TARGET = "Hreco_HTXS_Higgs_pt"

_OBJECT_KEYS = {
    "Lep0": ("pt0", "eta0", "phi0", "m0"),
    "Lep1": ("pt1", "eta1", "phi1", "m1"),
    "Lep2": ("pt2", "eta2", "phi2", "m2"),
    "HadTop": ("ht_pt", "ht_eta", "ht_phi", "ht_m"),
    "All5_Jets": ("a5_pt", "a5_eta", "a5_phi", "a5_m"),
    "More5_Jets": ("m5_pt", "m5_eta", "m5_phi", "m5_m"),
}
_RAW_OF_COLUMN = {
    **{
        f"Hreco_{obj}_{var}": key
        for obj, keys in _OBJECT_KEYS.items()
        for var, key in zip(("pt", "eta", "phi", "mass"), keys, strict=True)
    },
    "Hreco_TopScore": "score",
    "Hreco_met": "met",
    "Hreco_met_phi": "met_phi",
    "Hreco_HTXS_Higgs_pt": "higgs_pt",
    "Hreco_HTXS_Higgs_y": "higgs_y",
}
_LEP2_COLUMNS = tuple(f"Hreco_Lep2_{v}" for v in ("pt", "eta", "phi", "mass"))

__all__ = [
    "COLUMNS",
    "DEFAULT_EVENTS",
    "FILES",
    "FRACTIONS",
    "REGRESSION_TARGET",
    "TREE",
    "TRUTH_COLUMNS",
    "generate",
    "likelihood_ratio",
    "regression_truth",
    "write",
]


def _counts(events: int) -> dict[str, int]:
    """Rows per process for ``events`` rows in all three files together."""
    n_tth = round(events * FRACTIONS["ttH"])
    n_ttw = round(events * FRACTIONS["ttW"])
    return {"ttH": n_tth, "ttW": n_ttw, "DY": int(events) - n_tth - n_ttw}


def _four_vector(pt, eta, phi, mass) -> np.ndarray:
    pt, eta, phi, mass = (np.asarray(v, dtype=np.float64) for v in (pt, eta, phi, mass))
    e = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e])


def _jets_plus_leptons(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Sum of all jets and leptons, from the (rounded) object columns, as the real files do."""
    total = np.zeros((4, len(frame)))
    for obj in ("All5_Jets", "More5_Jets", "Lep0", "Lep1", "Lep2"):
        cols = [frame[f"Hreco_{obj}_{v}"].to_numpy() for v in ("pt", "eta", "phi", "mass")]
        present = cols[0] > MISSING + 1
        safe = [np.where(present, c, 0.0) for c in cols]
        total += np.where(present, _four_vector(*safe), 0.0)
    px, py, pz, e = total
    pt = np.hypot(px, py)
    return {
        "pt": pt,
        "eta": np.arcsinh(pz / pt),
        "phi": np.arctan2(py, px),
        "mass": np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0)),
    }


def _frame(proc: str, raw: dict[str, np.ndarray]) -> pd.DataFrame:
    """The file's columns (without ``index``) from the model's raw arrays."""
    data = {}
    for col in COLUMNS:
        if col.startswith("Hreco_Jets_plus_Lep") or col == "Hreco_evt_tag":
            continue
        data[col] = raw[_RAW_OF_COLUMN[col]].astype(np.float32)
    frame = pd.DataFrame(data)
    for var, values in _jets_plus_leptons(frame).items():
        frame[f"Hreco_Jets_plus_Lep_{var}"] = values.astype(np.float32)
    frame["Hreco_evt_tag"] = np.float32(1.0 if proc == "ttH" else 0.0)
    return frame[list(COLUMNS)]


def _blocks(events: int, seed: int) -> Iterator[tuple[str, pd.DataFrame]]:
    """Yield ``(file name, block frame)``: blocks of at most :data:`BLOCK` rows, file by file.

    Each block has its own child stream of ``numpy.random.default_rng(seed)``, so the content
    does not depend on how the caller consumes the blocks.
    """
    root = np.random.default_rng(seed)
    proc_rngs = root.spawn(len(model.PROCESSES))
    bookkeeping = root.spawn(1)[0]
    counts = _counts(events)
    n_sig = counts["ttH"]
    unblinded = round(n_sig / BLIND_KEPT)
    index = np.sort(bookkeeping.choice(max(unblinded, n_sig), size=n_sig, replace=False))
    for fname, proc, prng in zip(FILES, model.PROCESSES, proc_rngs, strict=True):
        n = counts[proc]
        starts = list(range(0, n, BLOCK)) or [0]
        block_rngs = prng.spawn(len(starts))
        for start, brng in zip(starts, block_rngs, strict=True):
            size = min(BLOCK, n - start)
            frame = _frame(proc, model.sample(proc, size, brng))
            if proc == "ttH":
                frame.insert(0, "index", index[start : start + size].astype(np.int64))
            yield fname, frame


def generate(events: int = DEFAULT_EVENTS, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Generate the twin in memory.

    Parameters
    ----------
    events : int
        Rows in the three files together (30 % ttH, 35 % ttW, 35 % Drell-Yan).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same events.

    Returns
    -------
    dict
        File name -> frame with the real columns in order (the signal frame starts with
        ``index``); the frames equal what :func:`write` puts in the files.
    """
    parts: dict[str, list[pd.DataFrame]] = {f: [] for f in FILES}
    for fname, frame in _blocks(int(events), int(seed)):
        parts[fname].append(frame)
    return {f: pd.concat(frames, ignore_index=True) for f, frames in parts.items()}


def write(
    out_dir: Path, *, events: int = DEFAULT_EVENTS, seed: int = 0, progress: bool = False
) -> dict[str, Path]:
    """Write the three ROOT files (TTree ``Friends``) into ``out_dir``; return name -> path.

    The files hold the events of :func:`generate` with the same arguments, written block by
    block (a tqdm bar over the blocks when ``progress`` and there is more than one block).
    """
    import uproot
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = _counts(int(events))
    n_blocks = sum(max(1, -(-n // BLOCK)) for n in counts.values())
    bar = tqdm(
        total=n_blocks, desc="tth-multilepton", unit="block", disable=not progress or n_blocks <= 3
    )
    paths = {f: out / f for f in FILES}
    files = {f: uproot.recreate(p) for f, p in paths.items()}
    try:
        started: set[str] = set()
        for fname, frame in _blocks(int(events), int(seed)):
            arrays = {c: frame[c].to_numpy() for c in frame.columns}
            if fname not in started:  # mktree keeps the branch order (assigning a dict sorts it)
                files[fname].mktree(TREE, {c: a.dtype for c, a in arrays.items()})
                started.add(fname)
            files[fname][TREE].extend(arrays)
            bar.update(1)
    finally:
        for f in files.values():
            f.close()
        bar.close()
    return paths


def _raw_columns(frame: pd.DataFrame, *, lep2: bool) -> dict[str, np.ndarray]:
    needed = [c for c in COLUMNS if c not in TRUTH_COLUMNS and "Jets_plus_Lep" not in c]
    if not lep2:
        needed = [c for c in needed if c not in _LEP2_COLUMNS]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise KeyError(f"the frame lacks the feature columns {missing} needed by the likelihood")
    cols = {_RAW_OF_COLUMN[c]: frame[c].to_numpy(dtype=np.float64) for c in needed}
    if not lep2:
        for key in _OBJECT_KEYS["Lep2"]:
            cols[key] = np.full(len(frame), MISSING)
    return cols


def _as_tuple(names: str | Sequence[str]) -> tuple[str, ...]:
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [n for n in names if n not in model.PROCESSES]
    if unknown:
        raise ValueError(f"unknown processes {unknown}; choose among {model.PROCESSES}")
    return names


def likelihood_ratio(
    frame: pd.DataFrame,
    signal: str = "ttH",
    background: str | Sequence[str] = ("ttW", "DY"),
    background_weights: Sequence[float] | None = None,
    *,
    log: bool = False,
) -> np.ndarray:
    """True likelihood ratio ``p(x | signal) / p(x | background)`` of each row.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (N, ...)
        Rows of the twin with (at least) the feature columns: every ``Hreco_*`` column except
        ``Hreco_Jets_plus_Lep_*`` (derived from the others) and :data:`TRUTH_COLUMNS`. The third
        lepton's columns may be dropped (as the tutorials do): the lepton category is then
        summed over, giving the exact ratio of the remaining columns. Extra columns are ignored.
    signal : str
        Numerator process: ``"ttH"``, ``"ttW"`` or ``"DY"``.
    background : str or sequence of str
        Denominator process, or processes mixed with ``background_weights`` (for the multiclass
        exercise, pairwise ratios such as ``signal="ttW", background="DY"``).
    background_weights : sequence of float, optional
        Mixture proportions of the background processes (normalised here); by default their
        shares in the files (:data:`FRACTIONS`), i.e. ttW and Drell-Yan half and half. Use the
        proportions of your own sample if you subsampled the backgrounds.
    log : bool
        Return the natural logarithm of the ratio (recommended for plots: it spans hundreds).

    Returns
    -------
    numpy.ndarray, shape (N,)
        The Neyman-Pearson optimal discriminant; monotonic transformations keep its ROC curve.
    """
    sig = _as_tuple(signal)
    if len(sig) != 1:
        raise ValueError("signal must be a single process")
    bkg = _as_tuple(background)
    if sig[0] in bkg:
        raise ValueError("the signal process cannot also be a background")
    weights = np.asarray(
        [FRACTIONS[b] for b in bkg] if background_weights is None else background_weights, float
    )
    if weights.shape != (len(bkg),) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError("background_weights needs one non-negative weight per background")
    weights = weights / weights.sum()
    lep2 = all(c in frame.columns for c in _LEP2_COLUMNS)
    llr = np.empty(len(frame))
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    for start, cols in _chunks(frame, lep2):
        log_sig = model.log_density(sig[0], cols, lep2=lep2)[0]
        log_bkg = special.logsumexp(
            [
                lw + model.log_density(b, cols, lep2=lep2)[0]
                for b, lw in zip(bkg, log_w, strict=True)
            ],
            axis=0,
        )
        llr[start : start + CHUNK] = log_sig - log_bkg
    return llr if log else np.exp(llr)


def _chunks(frame: pd.DataFrame, lep2: bool) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(first row, raw columns) of consecutive chunks of :data:`CHUNK` rows (bounded memory)."""
    for start in range(0, len(frame), CHUNK):
        yield start, _raw_columns(frame.iloc[start : start + CHUNK], lep2=lep2)


def regression_truth(frame: pd.DataFrame) -> pd.DataFrame:
    """Bayes-optimal prediction of the true Higgs pT of ttH events from their features.

    The twin draws ``log(pT_H / GeV)`` from a normal law and lets the means of the lepton, missing
    ET, jet-sum and top-candidate pT depend linearly on it, so its posterior given an event is a
    mixture of normals known in closed form. This is the best any regression can do; the spread
    of the truth around ``log_pt_mean`` is ``log_pt_sd`` (about 0.5, i.e. a ~50 % resolution).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (N, ...)
        ttH rows with the feature columns (as for :func:`likelihood_ratio`).

    Returns
    -------
    pandas.DataFrame, shape (N, 3)
        ``log_pt_mean`` and ``log_pt_sd`` (posterior mean and standard deviation of
        ``log(pT_H / GeV)``) and ``pt_median`` (``exp(log_pt_mean)``, GeV).
    """
    lep2 = all(c in frame.columns for c in _LEP2_COLUMNS)
    mean, var = np.empty(len(frame)), np.empty(len(frame))
    for start, cols in _chunks(frame, lep2):
        _, mean[start : start + CHUNK], var[start : start + CHUNK] = model.log_density(
            "ttH", cols, lep2=lep2
        )
    return pd.DataFrame(
        {"log_pt_mean": mean, "log_pt_sd": np.sqrt(var), "pt_median": np.exp(mean)},
        index=frame.index,
    )
