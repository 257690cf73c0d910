"""The class's challenge on the synthetic twin: jets only the instructor can label, and entries
that are not models flagged.

The twin's generator is public, so the challenge file a student generates locally (seed 0, like
the rest of the twin) can be labelled by anyone with ``top_tagging.challenge_labels``. A graded
challenge therefore uses jets drawn from a seed derived from the grader's secret
(:mod:`autograder.grading.secret`): ``hepml challenge`` writes them, the instructor hands the two
files to the class, and ``hepml leaderboard --labels twin:class`` regenerates their labels from
the same secret.

The generator's exact likelihood ratio is public too, and it is the best possible classifier. An
entry whose scores rank the challenge jets as the true likelihood ratio does (Spearman correlation
above ``TRUTH_CORRELATION`` of :mod:`autograder.checks.scores`; trained networks stay below) is not ranked, nor is one whose
scores are the labels themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autograder.checks.scores import TRUTH_CORRELATION, truth_correlation
from autograder.grading.secret import grader_secret

DATASET = "top-tagging"


def class_seed(root: Path, events: int) -> int:
    """The seed of the class's challenge jets (from the grader's secret of the course)."""
    from helpers.data import synthetic

    return synthetic.unseen_seed(
        DATASET, events=events, salt="challenge", secret=grader_secret(root)
    )


def write(root: Path, out_dir: Path, *, events: int | None = None) -> dict[str, Path]:
    """Write the class's challenge files (constituents and images) into ``out_dir``."""
    from helpers.data.synthetic import top_tagging

    n = top_tagging.DEFAULT_EVENTS if events is None else int(events)
    return top_tagging.write_challenge(Path(out_dir), events=n, seed=class_seed(root, n))


def true_log_ratio(seed: int, events: int | None = None) -> np.ndarray:
    """The twin's true log likelihood ratio of every challenge jet of ``(events, seed)``."""
    from helpers.data.synthetic import top_tagging

    n = top_tagging.DEFAULT_EVENTS if events is None else int(events)
    return top_tagging.likelihood_ratio(top_tagging.challenge_frame(n, seed), log=True)


def not_a_model(scores: np.ndarray, labels: np.ndarray, truth: np.ndarray | None) -> str:
    """Why an entry is not a model's scores ("" when nothing says so)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if np.unique(s).size <= 2 and np.array_equal(s > s.min(), y == y.max()):
        return "its scores are the challenge labels, not a model's scores: not ranked"
    if truth is not None:
        rho = truth_correlation(s, truth)
        if np.isfinite(rho) and rho > TRUTH_CORRELATION:
            return (
                f"its scores rank the jets as the twin's true likelihood ratio does (Spearman "
                f"{rho:.4f}): the generator's formula, not a trained model: not ranked"
            )
    return ""
