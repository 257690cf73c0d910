"""The ranking core of ``hepml leaderboard``: prediction files, hidden labels, scores, ranks.

The challenge (assignment 04, top tagging): each group saves the scores of up to three models on
the challenge jets (``test_without_truth_100k.h5`` of dataset ``top-tagging``; the twin has fewer
jets), one score per jet in file order, with ``numpy.save`` into ``submission_predictions/``.

File names
    ``<group>__<model>.npy`` (two underscores), e.g. ``tauons__cnn.npy``: everything before the
    first ``__`` is the group, everything after it the model. What students plausibly write
    instead is read with a note in the table: one underscore (``tauons_cnn_v2.npy``: group
    ``tauons``, model ``cnn_v2``), else one hyphen (``tauons-cnn.npy``), else, in the nbgrader
    layout only, a bare model name (``cnn.npy``) whose group is the submitting student. Anything
    else (no ``.npy`` suffix, no group, no model, a sub-folder) is reported and not ranked.
    Groups and models compare case-insensitively: the same (group, model) twice is ranked once
    (the first file by path) and the other is reported as a duplicate.

Valid predictions
    A ``.npy`` file holding a 1-D array of real numbers (float, int or bool; scores need not lie
    in [0, 1]: logits rank the same) with one finite value per challenge jet. A column vector of
    shape (n, 1), what ``keras.Model.predict`` returns, is read as 1-D with a note. Files are
    read without ``allow_pickle``: object arrays and pickles are refused unread, and the header is
    checked before any data is read. Wrong length, NaN or inf, another dtype (strings, complex,
    objects), another shape, an ``.npz`` archive or an unreadable file: reported with the reason.

Ranking rule
    Entries are ranked on the AUC, larger first. AUCs that differ by at most ``AUC_TIE`` (1e-12,
    far below the resolution 1/(n_S n_B) of an AUC on the challenge set) are tied: tied entries
    share the best rank of their block (competition ranking, "1, 2, 2, 4") and are listed by the
    background rejection 1/ε_B at ε_S = 0.3 (larger first), then by group and model name. The
    rejection has its own rank column under the same rule (ties within a relative 1e-9; a
    rejection of ``inf``, no background left at 30% signal efficiency, ties with ``inf``). A group
    with more than three valid models has its first three by model name ranked; the rest are
    reported (a broken file is reported with its own reason and takes no valid model's place).

Hidden labels
    ``labels`` is a path to a ``.npy`` file, an ``.npz`` archive (array ``is_signal_new`` or
    ``labels``, or its only array), a ``.csv`` file (column ``is_signal_new`` or a single column,
    with or without header) or a pandas HDF5 table with column ``is_signal_new`` (key ``table``):
    ``is_signal_new`` (1 = top, 0 = QCD) of every challenge jet in file order. An array works too.
    For the synthetic twin the grader regenerates them: ``labels="twin"`` or ``"twin:SEED"`` calls
    :func:`twin_challenge_labels` (the seed of the twin the students were given, default 0).
    A graded class uses ``"twin:class"`` (read by ``board.leaderboard``): the challenge files that
    ``hepml challenge`` wrote from the grader's secret (:mod:`autograder.leaderboard.challenge`).

Not a model
    With twin labels, an entry whose scores rank the jets as the generator's true likelihood ratio
    does, and with any labels an entry whose scores are the labels, is reported, not ranked.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from helpers import metrics

__all__ = [
    "AUC_TIE",
    "CHALLENGE_DATASET",
    "CHALLENGE_FILE",
    "MAX_MODELS_PER_GROUP",
    "PREDICTIONS_FOLDER",
    "REJECTION_TIE",
    "SIGNAL_EFFICIENCY",
    "Entry",
    "InvalidPredictions",
    "Rejected",
    "Submission",
    "limit_models",
    "parse_name",
    "rank_entries",
    "read_labels",
    "read_predictions",
    "score",
    "select_submissions",
    "twin_challenge_labels",
]

CHALLENGE_DATASET = "top-tagging"
CHALLENGE_FILE = "test_without_truth_100k.h5"
PREDICTIONS_FOLDER = "submission_predictions"
MAX_MODELS_PER_GROUP = 3
SIGNAL_EFFICIENCY = 0.3
AUC_TIE = 1e-12
REJECTION_TIE = 1e-9  # relative
_NAMING = "name it <group>__<model>.npy"


@dataclass(frozen=True)
class Submission:
    """A prediction file matched to a group and a model (not yet read)."""

    path: Path
    file: str  # as shown in the reports (relative to the folder scanned)
    group: str
    model: str
    note: str = ""


@dataclass(frozen=True)
class Rejected:
    """A file that is not ranked, with the reason (a sentence for the grader and the student)."""

    file: str
    reason: str
    group: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class Entry:
    """A ranked entry.

    Attributes
    ----------
    group, model, file : str
        Who, which model, and the file (relative to the folder scanned).
    auc : float
        Area under the ROC curve on the hidden labels (1 perfect, 0.5 random, 0 inverted).
    rejection : float
        Background rejection 1/ε_B at signal efficiency ε_S = 0.3 (``inf``: no background left).
    rank, rejection_rank : int
        Rank on the AUC (the order of the table) and rank on the rejection; 0 until ranked.
    note : str
        How the file was read, where it needed interpretation.
    """

    group: str
    model: str
    file: str
    auc: float
    rejection: float
    rank: int = 0
    rejection_rank: int = 0
    note: str = ""


class InvalidPredictions(ValueError):
    """A prediction file that cannot be ranked; the message says why."""


# --- names and files ---------------------------------------------------------------------------


def parse_name(filename: str, *, submitter: str | None = None) -> tuple[str, str, str]:
    """Group and model of a prediction file name.

    Parameters
    ----------
    filename : str
        The base name, e.g. ``"tauons__cnn.npy"``.
    submitter : str, optional
        The student who submitted the file (nbgrader layout): the group of a bare model name.

    Returns
    -------
    (group, model, note) : tuple of str
        ``note`` is empty for the canonical ``<group>__<model>.npy`` and says how the name was
        read otherwise.

    Raises
    ------
    ValueError
        When the name says no group or no model, or the file is not ``.npy``.
    """
    stem, dot, ext = filename.rpartition(".")
    if not dot or ext.lower() != "npy":
        raise ValueError(f"not a .npy file: save the scores with numpy.save and {_NAMING}")
    stem = stem.strip()
    note = ""
    for sep in ("__", "_", "-"):
        if sep in stem:
            group, model = (part.strip(" _-") for part in stem.split(sep, 1))
            if sep != "__":
                note = f"read as group {group!r}, model {model!r} ({_NAMING})"
            break
    else:
        if submitter is None:
            raise ValueError(f"the name gives no group and model: {_NAMING}")
        group, model = submitter, stem
        note = f"group taken from the submitter {submitter!r} ({_NAMING})"
    if not group or not model:
        raise ValueError(f"the name gives no {'group' if not group else 'model'}: {_NAMING}")
    return group, model, note


def select_submissions(
    files: Iterable[tuple[Path, str, str | None]],
) -> tuple[list[Submission], list[Rejected]]:
    """Match files to groups and models; set aside unmatched names and duplicates.

    Parameters
    ----------
    files : iterable of (path, file, submitter)
        Each file's path, the name shown for it, and its submitter (``None`` outside the nbgrader
        layout). Handled in order of ``file``: of two files with the same group and model, the
        first is kept.

    Returns
    -------
    (submissions, rejected) : tuple of lists
        In order of ``file``.
    """
    rejected: list[Rejected] = []
    by_key: dict[tuple[str, str], Submission] = {}
    for path, shown, submitter in sorted(files, key=lambda f: f[1]):
        if path.is_dir():
            reason = f"a folder: put prediction files directly in {PREDICTIONS_FOLDER}/"
            rejected.append(Rejected(shown, reason))
            continue
        try:
            group, model, note = parse_name(path.name, submitter=submitter)
        except ValueError as exc:
            rejected.append(Rejected(shown, str(exc)))
            continue
        key = (group.casefold(), model.casefold())
        if key in by_key:
            reason = f"duplicate of {by_key[key].file} (same group and model)"
            rejected.append(Rejected(shown, reason, group, model))
            continue
        by_key[key] = Submission(path, shown, group, model, note)
    return list(by_key.values()), rejected


def limit_models(
    submissions: Sequence[Submission], *, max_models: int = MAX_MODELS_PER_GROUP
) -> tuple[list[Submission], list[Rejected]]:
    """Keep the first ``max_models`` submissions of each group by model name; report the rest.

    The leaderboard applies it to the valid files only, so a broken file does not take the place
    of a valid one (the broken file is reported with its own reason).

    Returns
    -------
    (kept, rejected) : tuple of lists
        ``kept`` in the order given.
    """
    groups: dict[str, list[Submission]] = {}
    for sub in submissions:
        groups.setdefault(sub.group.casefold(), []).append(sub)
    dropped: dict[str, Rejected] = {}
    for subs in groups.values():
        subs = sorted(subs, key=lambda s: (s.model.casefold(), s.model))
        first = ", ".join(s.model for s in subs[:max_models])
        for extra in subs[max_models:]:
            reason = (
                f"group {extra.group!r} has {len(subs)} valid models; only the first {max_models} "
                f"by name ({first}) are ranked"
            )
            dropped[extra.file] = Rejected(extra.file, reason, extra.group, extra.model)
    return [s for s in submissions if s.file not in dropped], list(dropped.values())


def _npy_header(f: io.BufferedReader) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading the data."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return shape, dtype


def read_predictions(path: str | Path, n_jets: int) -> tuple[np.ndarray, str]:
    """Read and validate one prediction file, never unpickling anything.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file.
    n_jets : int
        The number of challenge jets (of hidden labels).

    Returns
    -------
    (scores, note) : (ndarray of float64, shape (n_jets,), str)
        ``note`` is non-empty when the file was read with an interpretation (a column vector).

    Raises
    ------
    InvalidPredictions
        With the reason, for every file that cannot be ranked.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise InvalidPredictions("the file is empty")
    with path.open("rb") as f:
        head = f.read(6)
        f.seek(0)
        if head.startswith(b"PK"):
            raise InvalidPredictions(
                "a zip archive (numpy.savez or torch.save), not a .npy array: save one array "
                "with numpy.save"
            )
        if not head.startswith(b"\x93NUMPY"):
            kind = "a Python pickle" if head[:1] == b"\x80" else "not a NumPy file"
            raise InvalidPredictions(f"{kind} (pickles are never loaded): save with numpy.save")
        try:
            shape, dtype = _npy_header(f)
        except (ValueError, EOFError, SyntaxError) as exc:
            raise InvalidPredictions(f"a corrupt .npy header ({exc})") from None
        if dtype.hasobject:
            raise InvalidPredictions(
                "holds Python objects (dtype object); save a float array, e.g. "
                "np.save(path, scores.astype('float32'))"
            )
        if dtype.kind not in "fiub":
            raise InvalidPredictions(
                f"dtype {dtype} is not a real number type: save float scores, one per jet"
            )
        note = ""
        if len(shape) == 2 and shape[1] == 1:
            note = f"shape {shape} read as ({shape[0]},)"
        elif len(shape) != 1:
            raise InvalidPredictions(
                f"shape {shape} is not 1-D: save one score per jet, shape ({n_jets},)"
            )
        if shape[0] != n_jets:
            raise InvalidPredictions(
                f"{shape[0]} predictions, expected {n_jets} (one per challenge jet, in file order)"
            )
        try:
            f.seek(0)
            array = np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InvalidPredictions(
                f"a corrupt .npy file: its data cannot be read ({exc})"
            ) from None
    scores = array.reshape(-1).astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(scores)))
    if bad:
        n_nan = int(np.count_nonzero(np.isnan(scores)))
        raise InvalidPredictions(
            f"{n_nan} NaN and {bad - n_nan} infinite value(s) among the scores"
        )
    return scores, note


# --- labels ------------------------------------------------------------------------------------


def twin_challenge_labels(*, seed: int = 0, events: int | None = None) -> np.ndarray:
    """The hidden labels of the synthetic twin's challenge file, regenerated from its seed.

    Uses the top-tagging twin module: its ``challenge_labels(events, seed)`` where it has one,
    else the ``is_signal_new`` column of the challenge frame of
    ``helpers.data.synthetic.generate("top-tagging", events=events, seed=seed)``.

    Raises
    ------
    LookupError
        When the twin provides neither.
    """
    from helpers.data import synthetic

    module = synthetic.twin_module(CHALLENGE_DATASET)
    if hasattr(module, "challenge_labels"):
        n = module.DEFAULT_EVENTS if events is None else int(events)
        return np.asarray(module.challenge_labels(n, int(seed)))
    frame = synthetic.generate(CHALLENGE_DATASET, events=events, seed=seed).get(CHALLENGE_FILE)
    if frame is None or "is_signal_new" not in frame:
        raise LookupError(
            f"the {CHALLENGE_DATASET} twin cannot regenerate the labels of {CHALLENGE_FILE}: "
            "pass a labels file instead"
        )
    return frame["is_signal_new"].to_numpy()


def _labels_from_path(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            for key in ("is_signal_new", "labels"):
                if key in archive.files:
                    return archive[key]
            if len(archive.files) == 1:
                return archive[archive.files[0]]
            raise ValueError(f"{path}: no array 'is_signal_new' or 'labels' among {archive.files}")
    if suffix in (".csv", ".txt"):
        import pandas as pd

        frame = pd.read_csv(path)
        if "is_signal_new" in frame.columns:
            return frame["is_signal_new"].to_numpy()
        if frame.shape[1] == 1:
            if str(frame.columns[0]).strip() in ("0", "1", "0.0", "1.0"):  # no header line
                frame = pd.read_csv(path, header=None)
            return frame.iloc[:, 0].to_numpy()
        raise ValueError(f"{path}: no column 'is_signal_new' among {list(frame.columns)}")
    if suffix in (".h5", ".hdf5"):
        import pandas as pd

        return pd.read_hdf(path, "table", columns=["is_signal_new"])["is_signal_new"].to_numpy()
    raise ValueError(f"{path}: labels must be a .npy, .npz, .csv or pandas .h5 file")


def read_labels(labels: str | Path | ArrayLike) -> np.ndarray:
    """The hidden challenge labels (1 = top jet, 0 = QCD jet), as an int8 array of shape (n_jets,).

    Parameters
    ----------
    labels : str, Path or array_like
        A file (see the module docstring for the formats), ``"twin"`` or ``"twin:SEED"`` for the
        synthetic twin's labels, or the labels themselves.

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing file, or labels that are not a 1-D array of 0 and 1 with both classes.
    """
    if isinstance(labels, str) and (labels == "twin" or labels.startswith("twin:")):
        seed = labels.partition(":")[2]
        array = twin_challenge_labels(seed=int(seed) if seed else 0)
    elif isinstance(labels, (str, Path)):
        path = Path(labels)
        if not path.is_file():
            raise FileNotFoundError(f"no labels file {path}")
        array = _labels_from_path(path)
    else:
        array = np.asarray(labels)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"the labels must be a non-empty 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "fiub" or not np.isin(array, (0, 1)).all():
        raise ValueError("the labels must hold only 0 (QCD) and 1 (top)")
    if array.min() == array.max():
        raise ValueError("the labels hold one class only: the ROC curve is undefined")
    return array.astype(np.int8)


# --- scoring and ranking -----------------------------------------------------------------------


def score(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """AUC and background rejection 1/ε_B at ε_S = 0.3 of one set of scores.

    Parameters
    ----------
    labels : array_like, shape (n_jets,)
        1 for top (signal), 0 for QCD (background).
    scores : array_like, shape (n_jets,)
        The predictions; larger is more top-like.

    Returns
    -------
    (auc, rejection) : tuple of float
        Dimensionless; the rejection is ``inf`` when no background passes the cut.
    """
    auc = metrics.roc_auc(labels, scores)
    rejection = metrics.background_rejection(labels, scores, signal_efficiency=SIGNAL_EFFICIENCY)
    return float(auc), float(rejection)


def _same(a: float, b: float, *, abs_tol: float = 0.0, rel_tol: float = 0.0) -> bool:
    return a == b or math.isclose(a, b, abs_tol=abs_tol, rel_tol=rel_tol)


def rank_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Order and rank entries by the rule of the module docstring (AUC, then 1/ε_B, then names).

    Returns new entries with ``rank`` and ``rejection_rank`` set, in table order.
    """
    ordered = sorted(
        entries, key=lambda e: (-e.auc, -e.rejection, e.group.casefold(), e.model.casefold())
    )
    ranks = _competition_ranks([e.auc for e in ordered], abs_tol=AUC_TIE)
    by_rejection = sorted(range(len(ordered)), key=lambda i: -ordered[i].rejection)
    rejection_ranks = _competition_ranks(
        [ordered[i].rejection for i in by_rejection], rel_tol=REJECTION_TIE
    )
    rejection_rank = dict(zip(by_rejection, rejection_ranks, strict=True))
    return [
        dataclasses.replace(e, rank=ranks[i], rejection_rank=rejection_rank[i])
        for i, e in enumerate(ordered)
    ]


def _competition_ranks(values: Sequence[float], **tol: float) -> list[int]:
    """Ranks of values sorted best first: a value tied with the one before shares its rank."""
    ranks: list[int] = []
    for i, value in enumerate(values):
        tied = i > 0 and _same(value, values[i - 1], **tol)
        ranks.append(ranks[-1] if tied else i + 1)
    return ranks
