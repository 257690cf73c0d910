"""``hepml leaderboard``: rank the class's challenge predictions on the hidden labels.

The challenge (assignment 04, top tagging): each group saves the scores of up to three models on
the challenge jets (``test_without_truth_100k.h5`` of dataset ``top-tagging``; the twin has fewer
jets), one score per jet in file order, with ``numpy.save`` into ``submission_predictions/``.

The rules (file names, valid predictions, ranking, hidden labels) and the functions that apply
them are in :mod:`autograder.leaderboard.ranking`; the table, plot, CSV and HTML in
:mod:`autograder.leaderboard.report`. This module is the command, :func:`leaderboard`, and
re-exports the public names of both, so ``from autograder import leaderboard`` reaches them all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from autograder.leaderboard.ranking import (
    AUC_TIE,
    CHALLENGE_DATASET,
    CHALLENGE_FILE,
    MAX_MODELS_PER_GROUP,
    PREDICTIONS_FOLDER,
    REJECTION_TIE,
    SIGNAL_EFFICIENCY,
    Entry,
    InvalidPredictions,
    Rejected,
    Submission,
    limit_models,
    parse_name,
    rank_entries,
    read_labels,
    read_predictions,
    score,
    select_submissions,
    twin_challenge_labels,
)
from autograder.leaderboard.report import (
    LeaderboardResult,
    figure_png,
    format_table,
    plot_auc_bars,
    plot_rejection_curves,
    render_html,
    write_csv,
)
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

TOP_CURVES = 5  # entries whose rejection curve is drawn


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


def _twin_seed(labels: object, root: Path | None) -> int | None:
    """The twin seed of ``"twin"``, ``"twin:SEED"`` or ``"twin:class"`` labels (None otherwise)."""
    if not isinstance(labels, str) or not (labels == "twin" or labels.startswith("twin:")):
        return None
    seed = labels.partition(":")[2]
    if seed == "class":
        from autograder.leaderboard import challenge
        from helpers.data.synthetic import top_tagging

        if root is None:
            raise ValueError("labels 'twin:class' need the course root (the grader's secret)")
        return challenge.class_seed(root, top_tagging.DEFAULT_EVENTS)
    return int(seed) if seed else 0


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
            "is_signal_new in challenge-file order, 'twin:class' for the class's challenge files "
            "(hepml challenge), or 'twin[:SEED]' for a synthetic twin"
        )
    course_root = None
    if root is not None or predictions_dir is None or out_dir is None:
        from autograder.course import manifest

        course_root = Path(root).resolve() if root is not None else manifest.find_root()
        if (course_root / "course" / "manifest.toml").is_file():
            manifest.load(course_root).assignment(assignment)  # KeyError for an unknown id
    twin_seed = _twin_seed(labels, course_root)
    class_labels = isinstance(labels, str) and labels == "twin:class"  # labels may be an array
    y = twin_challenge_labels(seed=twin_seed) if class_labels else read_labels(labels)
    truth = None
    if twin_seed is not None:
        from autograder.leaderboard import challenge

        truth = challenge.true_log_ratio(twin_seed)
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
    from autograder.leaderboard.challenge import not_a_model

    for sub in submissions:
        try:
            scores_of[sub.file], read_notes[sub.file] = read_predictions(sub.path, len(y))
        except InvalidPredictions as exc:
            rejected.append(Rejected(sub.file, str(exc), sub.group, sub.model))
            continue
        why = not_a_model(scores_of[sub.file], y, truth)
        if why:
            rejected.append(
                Rejected(sub.file, why[0].upper() + why[1:] + ".", sub.group, sub.model)
            )
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
    png = figure_png(entries, curves)
    result.outputs["csv"] = write_csv(entries, out / "leaderboard.csv")
    result.outputs["png"] = out / "leaderboard.png"
    result.outputs["png"].write_bytes(png)
    result.outputs["html"] = out / "leaderboard.html"
    result.outputs["html"].write_text(render_html(result, png), encoding="utf-8")
    return result
