"""The grader's secret: the seed of every hidden event set, which no student kernel ever holds.

Test cells draw hidden events with :func:`helpers.data.synthetic.unseen`, seeded from
``HEPML_GRADER_SECRET``. The grader takes the secret from that variable when it is set (a course
that grades on several machines sets the same value everywhere), else from the course's
``.hepml/grader-secret`` (created on first use, readable by the instructor only, git-ignored, and
hidden from grading kernels). Only the clean process gets it; kernels and the measurement process
never do.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from helpers.data.synthetic import SECRET_ENV

SECRET_FILE = Path(".hepml") / "grader-secret"


def grader_secret(root: Path) -> str:
    """The course's grader secret (see the module docstring); created when there is none."""
    value = os.environ.get(SECRET_ENV, "").strip()
    if value:
        return value
    path = Path(root) / SECRET_FILE
    if path.is_file():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value
