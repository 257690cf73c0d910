"""Synthetic twin of the ``top-tagging`` reference dataset (boosted tops vs QCD jets).

Files, as in the course mirror of the reference dataset (arXiv:1902.09914), each a pandas HDF5
table under key ``table`` written with blosc compression (PyTables ``table`` format):

* ``train.h5``, ``val.h5``, ``test.h5``: ``E_0, PX_0, PY_0, PZ_0, E_1, ..., PZ_199`` (the 200
  leading constituents, pT-ordered, massless, zero-padded; ``float32``, GeV), then ``truthE,
  truthPX, truthPY, truthPZ`` (the top quark's four-momentum, zeros for QCD jets; ``float32``),
  ``ttv`` (0 train, 1 test, 2 validation; ``int64``) and ``is_signal_new`` (1 top, 0 QCD;
  ``int64``);
* ``train_img.h5``, ``val_img.h5``, ``test_img.h5``: ``img_0 ... img_1599`` (40 x 40 pT images
  of the same jets, row-major, GeV per pixel, ``float32``; see
  :func:`helpers.data.synthetic._jets.jet_images`) and ``is_signal_new``;
* ``test_without_truth_100k.h5`` / ``test_without_truth_img_100k.h5``: the challenge jets,
  without ``truth*`` and ``is_signal_new`` (the constituent file keeps ``ttv``); the names are
  the real ones even though the twin holds fewer jets. Graders get the hidden labels from
  :func:`challenge_labels`.

Jets have 550 < pT < 650 GeV, |eta| < 2 and all constituents within Delta R < 0.8 of the axis;
half are tops (three prongs, mass near 175 GeV, a W subjet near 80 GeV), half QCD jets (one
hard prong, lighter, more constituents). See :mod:`helpers.data.synthetic._jets` for the model.

:func:`likelihood_ratio` is the exact likelihood ratio of the whole constituent list: the
generator lets the class act only through the three leading constituents and the number of
constituents, whose joint density it knows in closed form (up to the classes' acceptance of the
jet selection, a constant measured by Monte Carlo that does not affect the ranking).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data.synthetic import _jets as jets

DEFAULT_EVENTS = 40_000  # jets in train + val + test + challenge
KEY = "table"
SPLITS = ("train", "val", "test", "challenge")
SPLIT_FRACTIONS = {"train": 0.5, "val": 1 / 6, "test": 1 / 6, "challenge": 1 / 6}
TTV = {"train": 0, "test": 1, "val": 2, "challenge": 1}
CONSTITUENT_FILES = {
    "train": "train.h5",
    "val": "val.h5",
    "test": "test.h5",
    "challenge": "test_without_truth_100k.h5",
}
IMAGE_FILES = {
    "train": "train_img.h5",
    "val": "val_img.h5",
    "test": "test_img.h5",
    "challenge": "test_without_truth_img_100k.h5",
}
FILES = (
    "train.h5",
    "val.h5",
    "test.h5",
    "train_img.h5",
    "val_img.h5",
    "test_img.h5",
    "test_without_truth_100k.h5",
    "test_without_truth_img_100k.h5",
)
CONSTITUENT_COLUMNS = tuple(f"{c}_{i}" for i in range(jets.N_MAX) for c in ("E", "PX", "PY", "PZ"))
TRUTH_COLUMNS = ("truthE", "truthPX", "truthPY", "truthPZ")
COLUMNS = (*CONSTITUENT_COLUMNS, *TRUTH_COLUMNS, "ttv", "is_signal_new")
IMAGE_COLUMNS = tuple(f"img_{i}" for i in range(jets.IMAGE_PIXELS**2))
TOP_MASS = 172.5  # GeV, the truth top mass
BLOCK = 5_000  # jets per independently seeded block
CHUNK = 20_000  # rows per likelihood evaluation
COMPLEVEL = 5

__all__ = [
    "COLUMNS",
    "DEFAULT_EVENTS",
    "FILES",
    "IMAGE_COLUMNS",
    "challenge_frame",
    "challenge_labels",
    "generate",
    "likelihood_ratio",
    "write",
    "write_challenge",
]


def _split_sizes(events: int) -> dict[str, int]:
    sizes = {s: round(events * SPLIT_FRACTIONS[s]) for s in SPLITS[:-1]}
    sizes["challenge"] = int(events) - sum(sizes.values())
    return sizes


def _split_streams(seed: int) -> dict[str, tuple[np.random.Generator, np.random.Generator]]:
    """(labels, jets) child streams of ``default_rng(seed)`` for every split."""
    children = np.random.default_rng(seed).spawn(len(SPLITS))
    return {s: tuple(c.spawn(2)) for s, c in zip(SPLITS, children, strict=True)}


def _labels(split: str, events: int, seed: int) -> np.ndarray:
    n = _split_sizes(events)[split]
    return (_split_streams(seed)[split][0].random(n) < 0.5).astype(np.int64)


def challenge_labels(events: int = DEFAULT_EVENTS, seed: int = 0) -> np.ndarray:
    """Hidden ``is_signal_new`` of the challenge jets of the twin ``(events, seed)``, in file order.

    Cheap: the labels have their own random stream, so no jet is generated.
    """
    return _labels("challenge", int(events), int(seed))


def _truth(constituents: np.ndarray, is_top: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Top-quark four-momenta: the jet momentum smeared by 3 % (direction by ~0.02), mass 172.5."""
    p = constituents[..., 1:].astype(np.float64).sum(1)
    p = p * (1.0 + 0.03 * rng.standard_normal((len(p), 1))) + 0.02 * np.linalg.norm(
        p, axis=1, keepdims=True
    ) * rng.standard_normal(p.shape) / np.sqrt(3.0)
    e = np.sqrt((p**2).sum(1) + TOP_MASS**2)
    out = np.concatenate([e[:, None], p], axis=1)
    return np.where(is_top[:, None] == 1, out, 0.0).astype(np.float32)


def _block(
    labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constituents ``(n, 200, 4)`` float32, truth ``(n, 4)`` and images ``(n, 1600)``."""
    n = len(labels)
    con = np.zeros((n, jets.N_MAX, 4), dtype=np.float32)
    for label, cls in enumerate(jets.CLASSES):
        rows = np.flatnonzero(labels == label)
        if len(rows):
            con[rows] = jets.sample_jets(cls, len(rows), rng)[0]
    truth = _truth(con, labels, rng)
    return con, truth, jets.jet_images(con)


def _blocks(split: str, events: int, seed: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Yield the (constituent frame, image frame) of every block of ``split``."""
    sizes = _split_sizes(events)
    label_rng, jet_rng = _split_streams(seed)[split]
    labels = (label_rng.random(sizes[split]) < 0.5).astype(np.int64)
    starts = list(range(0, sizes[split], BLOCK)) or [0]
    for start, rng in zip(starts, jet_rng.spawn(len(starts)), strict=True):
        lab = labels[start : start + BLOCK]
        con, truth, img = _block(lab, rng)
        index = pd.RangeIndex(start, start + len(lab))
        data = pd.DataFrame(
            con.reshape(len(lab), -1), columns=list(CONSTITUENT_COLUMNS), index=index
        )
        images = pd.DataFrame(img, columns=list(IMAGE_COLUMNS), index=index)
        if split == "challenge":
            data["ttv"] = np.int64(TTV[split])
        else:
            for k, col in enumerate(TRUTH_COLUMNS):
                data[col] = truth[:, k]
            data["ttv"] = np.int64(TTV[split])
            data["is_signal_new"] = lab
            images["is_signal_new"] = lab
        yield data, images


def generate(events: int = DEFAULT_EVENTS, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Generate the twin in memory.

    Parameters
    ----------
    events : int
        Jets in the four splits together: half in ``train``, a sixth in each of ``val``,
        ``test`` and the challenge; the image files hold the same jets.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same jets.

    Returns
    -------
    dict
        File name -> frame with the real columns in order (what :func:`write` puts in the file).
    """
    out: dict[str, pd.DataFrame] = {}
    for split in SPLITS:
        parts = list(_blocks(split, int(events), int(seed)))
        out[CONSTITUENT_FILES[split]] = pd.concat([p[0] for p in parts])
        out[IMAGE_FILES[split]] = pd.concat([p[1] for p in parts])
    return {f: out[f] for f in FILES}


def _append(frame: pd.DataFrame, path: Path) -> None:
    """Append a block to a file's pandas ``table`` (blosc, level :data:`COMPLEVEL`)."""
    frame.to_hdf(
        path,
        key=KEY,
        mode="a",
        format="table",
        append=True,
        complib="blosc",
        complevel=COMPLEVEL,
        index=False,
    )


def write(
    out_dir: Path, *, events: int = DEFAULT_EVENTS, seed: int = 0, progress: bool = False
) -> dict[str, Path]:
    """Write the eight HDF5 files into ``out_dir``; return name -> path.

    Each is a pandas ``table`` under key ``table``, blosc-compressed (level 5), appended block by
    block (a tqdm bar over the blocks when ``progress`` and the twin has more than four blocks).
    ``pd.read_hdf(path, "table", start=..., stop=...)`` reads any row range.
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = _split_sizes(int(events))
    n_blocks = sum(max(1, -(-n // BLOCK)) for n in sizes.values())
    paths = {f: out / f for f in FILES}
    for path in paths.values():
        path.unlink(missing_ok=True)
    bar = tqdm(
        total=n_blocks, desc="top-tagging", unit="block", disable=not progress or n_blocks <= 4
    )
    try:
        for split in SPLITS:
            for data, images in _blocks(split, int(events), int(seed)):
                for frame, name in ((data, CONSTITUENT_FILES[split]), (images, IMAGE_FILES[split])):
                    _append(frame, paths[name])
                bar.update(1)
    finally:
        bar.close()
    return paths


def challenge_frame(events: int = DEFAULT_EVENTS, seed: int = 0) -> pd.DataFrame:
    """The challenge jets of the twin ``(events, seed)`` (the rows of ``test_without_truth_100k.h5``)."""
    return pd.concat([data for data, _ in _blocks("challenge", int(events), int(seed))])


def write_challenge(
    out_dir: Path, *, events: int = DEFAULT_EVENTS, seed: int = 0
) -> dict[str, Path]:
    """Write only the two challenge files of the twin ``(events, seed)`` into ``out_dir``.

    A class's challenge uses a seed only the instructor has (``hepml challenge``): the students
    get these files, and the grader regenerates their labels with :func:`challenge_labels`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        name: out / name for name in (CONSTITUENT_FILES["challenge"], IMAGE_FILES["challenge"])
    }
    for path in paths.values():
        path.unlink(missing_ok=True)
    for data, images in _blocks("challenge", int(events), int(seed)):
        for frame, name in (
            (data, CONSTITUENT_FILES["challenge"]),
            (images, IMAGE_FILES["challenge"]),
        ):
            _append(frame, paths[name])
    return paths


def likelihood_ratio(frame: pd.DataFrame, *, log: bool = False) -> np.ndarray:
    """True likelihood ratio ``p(jet | top) / p(jet | QCD)`` of each row of a constituent frame.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (N, >= 800)
        Rows of ``train.h5``, ``val.h5``, ``test.h5`` or the challenge file (the columns
        ``E_i, PX_i, PY_i, PZ_i`` are used; truth and labels are not).
    log : bool
        Return the natural logarithm (recommended: the ratio spans many orders of magnitude).

    Returns
    -------
    numpy.ndarray, shape (N,)
        The exact ratio of the densities of the full constituent list: the twin's classes differ
        only in the three leading constituents and the number of constituents, so this equals
        ``p(3 leading, n | top) / p(3 leading, n | QCD)`` times the ratio of the classes'
        acceptances of the jet selection (a Monte-Carlo constant, ``_jets.ACCEPTANCE``). It is
        the Neyman-Pearson optimal tagger of the twin; it is not defined for the real dataset.
    """
    missing = [c for c in CONSTITUENT_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"the frame lacks constituent columns, e.g. {missing[:4]}")
    llr = np.empty(len(frame))
    for start in range(0, len(frame), CHUNK):  # bounded memory: (CHUNK, 200, 4) at a time
        part = frame.iloc[start : start + CHUNK][list(CONSTITUENT_COLUMNS)]
        con = part.to_numpy(dtype=np.float64).reshape(len(part), -1, 4)
        llr[start : start + CHUNK] = jets.log_likelihood_ratio(con)
    return llr if log else np.exp(llr)
