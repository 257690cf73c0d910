"""Where ``hepml grade`` keeps its own working data: the resume state and the reports.

Everything lives under ``<root>/.hepml/grading/<assignment>/`` (git-ignored, like the rest of
nbgrader's working data):

``state.json``
    Per student: the SHA-256 of the submission and of the assignment's source, the status
    (``graded`` or ``failed``), the reason of a failure, the scores and when. A re-run skips a
    student whose entry is ``graded`` with the same digests (and whose autograded notebook is
    there); ``--force`` ignores the state.
``grades.csv``, ``failures.csv``
    Written at the end of every run (see :mod:`autograder.export`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

GRADING_DIR = Path(".hepml") / "grading"


def folder(root: Path, assignment: str) -> Path:
    """``<root>/.hepml/grading/<assignment>`` (created)."""
    path = Path(root) / GRADING_DIR / assignment
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(root: Path, assignment: str) -> dict[str, dict[str, Any]]:
    """The state of an assignment: ``{student: entry}`` (empty when there is none)."""
    path = Path(root) / GRADING_DIR / assignment / "state.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def save(root: Path, assignment: str, state: dict[str, dict[str, Any]]) -> Path:
    """Write the state atomically (a crash never leaves half a file)."""
    target = folder(root, assignment) / "state.json"
    fd, tmp = tempfile.mkstemp(prefix=".state.", dir=target.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
    os.replace(tmp, target)
    return target
