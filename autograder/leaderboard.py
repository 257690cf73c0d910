"""``hepml leaderboard``: rank the class's challenge predictions on the hidden labels.

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
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    "SIGNAL_EFFICIENCY",
    "Entry",
    "InvalidPredictions",
    "LeaderboardResult",
    "Rejected",
    "Submission",
    "format_table",
    "leaderboard",
    "limit_models",
    "parse_name",
    "plot_auc_bars",
    "plot_rejection_curves",
    "rank_entries",
    "read_labels",
    "read_predictions",
    "render_html",
    "score",
    "select_submissions",
    "twin_challenge_labels",
    "write_csv",
]

CHALLENGE_DATASET = "top-tagging"
CHALLENGE_FILE = "test_without_truth_100k.h5"
PREDICTIONS_FOLDER = "submission_predictions"
MAX_MODELS_PER_GROUP = 3
SIGNAL_EFFICIENCY = 0.3
AUC_TIE = 1e-12
REJECTION_TIE = 1e-9  # relative
TOP_CURVES = 5  # entries whose rejection curve is drawn
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


@dataclass
class LeaderboardResult:
    """What :func:`leaderboard` produced: the ranking, the files not ranked, the files written."""

    assignment: str
    n_jets: int
    entries: list[Entry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The printed report: the table, the files not ranked, the files written."""
        lines = [
            f"Leaderboard of {self.assignment}: {len(self.entries)} entries ranked on "
            f"{self.n_jets} challenge jets",
            format_table(self.entries, self.rejected),
        ]
        lines += [f"wrote {path}" for path in self.outputs.values()]
        return "\n".join(lines)


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


# --- reports -----------------------------------------------------------------------------------

_COLUMNS = ("rank", "group", "model", "AUC", "1/eps_B@0.3", "rank 1/eps_B", "file")


def _row(e: Entry) -> tuple[str, ...]:
    return (
        str(e.rank),
        e.group,
        e.model,
        f"{e.auc:.5f}",
        f"{e.rejection:.1f}",
        str(e.rejection_rank),
        e.file,
    )


def format_table(entries: Sequence[Entry], rejected: Sequence[Rejected] = ()) -> str:
    """The leaderboard as a plain-text table, then the files not ranked with their reasons."""
    rows = [_COLUMNS, *(_row(e) for e in entries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += [f"  note ({e.group}/{e.model}): {e.note}" for e in entries if e.note]
    if not entries:
        lines.append("(no entry could be ranked)")
    if rejected:
        lines.append(f"Not ranked ({len(rejected)}):")
        lines += [f"  {r.file}: {r.reason}" for r in rejected]
    return "\n".join(lines)


def write_csv(entries: Sequence[Entry], path: str | Path) -> Path:
    """Write the ranking as CSV: rank, group, model, auc, rejection_at_0.3, rejection_rank, file, note."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ("rank", "group", "model", "auc", "rejection_at_0.3", "rejection_rank", "file", "note")
        )
        for e in entries:
            writer.writerow(
                (
                    e.rank,
                    e.group,
                    e.model,
                    repr(e.auc),
                    repr(e.rejection),
                    e.rejection_rank,
                    e.file,
                    e.note,
                )
            )
    return path


def plot_auc_bars(entries: Sequence[Entry], *, ax=None):
    """Horizontal bars of the AUC of each entry, the best at the top; returns the Axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    labels = [f"{e.rank}. {e.group}/{e.model}" for e in entries]
    positions = np.arange(len(entries))[::-1]
    ax.barh(positions, [e.auc for e in entries], color="tab:blue")
    ax.set_yticks(positions, labels)
    for y, e in zip(positions, entries, strict=True):
        ax.text(min(e.auc, 1.0), y, f" {e.auc:.4f}", va="center", fontsize="small")
    ax.axvline(0.5, color="grey", linestyle=":", label="random (0.5)")
    ax.set_xlim(0.0, 1.15)
    ax.set_xlabel("AUC")
    ax.set_title("Challenge leaderboard (AUC)")
    return ax


def plot_rejection_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    working_point: float = SIGNAL_EFFICIENCY,
    ax=None,
):
    """Background rejection 1/ε_B against signal efficiency ε_S (HEP style, log scale).

    Parameters
    ----------
    curves : dict of label -> (efficiency, rejection)
        Arrays of equal shape; non-finite rejections (no background left) are not drawn.
    working_point : float
        The ε_S marked with a dashed line.
    ax : matplotlib Axes, optional
        Where to draw (default: the current Axes).
    """
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    for label, (eff, rejection) in curves.items():
        finite = np.isfinite(rejection)
        if not finite.any():
            label += " (1/ε_B = ∞: no background left)"
        ax.plot(eff[finite], rejection[finite], label=label)
    ax.axvline(working_point, color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    ax.set_title(f"Top {len(curves)} entries")
    if curves:
        ax.legend(fontsize="small")
    return ax


def _figure_png(entries: Sequence[Entry], curves: dict) -> bytes:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    height = max(3.0, 0.35 * len(entries) + 1.5)
    fig = Figure(figsize=(12, height), layout="constrained")
    ax_bars, ax_curves = fig.subplots(1, 2, width_ratios=(1.2, 1))
    plot_auc_bars(entries, ax=ax_bars)
    plot_rejection_curves(curves, ax=ax_curves)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def render_html(result: LeaderboardResult, png: bytes | None = None) -> str:
    """A self-contained HTML page: the ranking, the files not ranked, the plot as base64 PNG."""
    esc = html.escape

    def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "\n".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Leaderboard {esc(result.assignment)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
        "th{background:#eee}img{max-width:100%}</style></head><body>",
        f"<h1>Challenge leaderboard: {esc(result.assignment)}</h1>",
        f"<p>{len(result.entries)} entries ranked on {result.n_jets} challenge jets by AUC; "
        "ties (equal AUC) share a rank and are listed by the background rejection "
        f"1/&epsilon;<sub>B</sub> at &epsilon;<sub>S</sub> = {SIGNAL_EFFICIENCY}, then by name. "
        f"At most {MAX_MODELS_PER_GROUP} models per group. Generated {esc(when)}.</p>",
        table((*_COLUMNS, "note"), ((*_row(e), e.note) for e in result.entries)),
    ]
    if result.rejected:
        parts += [
            f"<h2>Not ranked ({len(result.rejected)})</h2>",
            table(("file", "reason"), ((r.file, r.reason) for r in result.rejected)),
        ]
    if png:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<p><img alt="leaderboard plot" src="data:image/png;base64,{data}"></p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --- the command -------------------------------------------------------------------------------


def _scan(folder: Path, prefix: str = "", submitter: str | None = None):
    for path in folder.iterdir():
        if not path.name.startswith("."):
            yield path, f"{prefix}{path.name}", submitter


def _nbgrader_files(root: Path, assignment: str) -> list[tuple[Path, str, str | None]]:
    submitted = root / "submitted"
    files = []
    for student in sorted(submitted.iterdir()) if submitted.is_dir() else ():
        folder = student / assignment / PREDICTIONS_FOLDER
        if folder.is_dir():
            files += _scan(folder, f"{student.name}/{PREDICTIONS_FOLDER}/", student.name)
    return files


def leaderboard(
    assignment: str,
    *,
    root: str | Path | None = None,
    predictions_dir: str | Path | None = None,
    labels: str | Path | ArrayLike | None = None,
    out_dir: str | Path | None = None,
) -> LeaderboardResult:
    """Rank the challenge prediction files of ``assignment`` and write the reports.

    Parameters
    ----------
    assignment : str
        The assignment id, e.g. ``"04_top_tagging"``.
    root : str or Path, optional
        The course root (default: found from the working directory).
    predictions_dir : str or Path, optional
        A folder of prediction files. Default: every student's
        ``<root>/submitted/<student>/<assignment>/submission_predictions/`` (nbgrader layout).
    labels : str, Path or array_like
        The hidden labels (see :func:`read_labels`); required.
    out_dir : str or Path, optional
        Where ``leaderboard.csv``, ``leaderboard.html`` and ``leaderboard.png`` go (created).
        Default ``<root>/leaderboard/<assignment>/``.

    Returns
    -------
    LeaderboardResult

    Raises
    ------
    ValueError, FileNotFoundError, KeyError
        Without labels, with unreadable labels, without any prediction folder, or for an
        assignment the course manifest does not list.
    """
    if labels is None:
        raise ValueError(
            "the leaderboard needs the hidden labels: pass a .npy/.npz/.csv/.h5 file of "
            "is_signal_new in challenge-file order, or 'twin[:SEED]' for the synthetic twin"
        )
    course_root = None
    if root is not None or predictions_dir is None or out_dir is None:
        from autograder import manifest

        course_root = Path(root).resolve() if root is not None else manifest.find_root()
        if (course_root / "course" / "manifest.toml").is_file():
            manifest.load(course_root).assignment(assignment)  # KeyError for an unknown id
    y = read_labels(labels)
    if predictions_dir is not None:
        folder = Path(predictions_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"no predictions folder {folder}")
        files = list(_scan(folder))
    else:
        files = _nbgrader_files(course_root, assignment)
        if not files:
            raise FileNotFoundError(
                f"no prediction files under {course_root}/submitted/*/{assignment}/"
                f"{PREDICTIONS_FOLDER}/: pass the folder with predictions_dir (--predictions)"
            )
    submissions, rejected = select_submissions(files)
    valid, scores_of, read_notes = [], {}, {}
    for sub in submissions:
        try:
            scores_of[sub.file], read_notes[sub.file] = read_predictions(sub.path, len(y))
        except InvalidPredictions as exc:
            rejected.append(Rejected(sub.file, str(exc), sub.group, sub.model))
            continue
        valid.append(sub)
    kept, extra = limit_models(valid)
    rejected += extra
    entries = []
    for sub in kept:
        auc, rejection = score(y, scores_of[sub.file])
        note = "; ".join(n for n in (sub.note, read_notes[sub.file]) if n)
        entries.append(Entry(sub.group, sub.model, sub.file, auc, rejection, note=note))
    entries = rank_entries(entries)
    rejected.sort(key=lambda r: r.file)
    efficiency = np.linspace(0.02, 1.0, 50)
    curves = {
        f"{e.rank}. {e.group}/{e.model}": (
            efficiency,
            np.asarray(
                metrics.background_rejection(y, scores_of[e.file], signal_efficiency=efficiency)
            ),
        )
        for e in entries[:TOP_CURVES]
    }
    result = LeaderboardResult(assignment, len(y), entries, rejected)
    out = Path(out_dir) if out_dir is not None else course_root / "leaderboard" / assignment
    out.mkdir(parents=True, exist_ok=True)
    png = _figure_png(entries, curves)
    result.outputs["csv"] = write_csv(entries, out / "leaderboard.csv")
    result.outputs["png"] = out / "leaderboard.png"
    result.outputs["png"].write_bytes(png)
    result.outputs["html"] = out / "leaderboard.html"
    result.outputs["html"].write_text(render_html(result, png), encoding="utf-8")
    return result
