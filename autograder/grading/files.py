"""The files of a class: usable student ids, editor debris, and what could not be matched.

Shared by :mod:`autograder.grading.collect` (the layouts by name) and
:mod:`autograder.grading.patterns` (the layouts by pattern).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Student ids: a letter or digit, then letters, digits and ``_ . @ + -`` (at most 128).
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
#: Names skipped silently (editor and OS debris).
DEBRIS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".DS_Store", "Thumbs.db"}


@dataclass(frozen=True)
class Unmatched:
    """Something that could not be matched to a student, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def debris(name: str) -> bool:
    """Editor and OS debris, and hidden names: skipped silently."""
    return name in DEBRIS or name.startswith(".") or name.startswith("._")


def files_below(folder: Path) -> list[Path]:
    """The plain files under ``folder``, sorted (links, debris and hidden names left out)."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(debris(part) for part in rel.parts) or path.is_symlink() or not path.is_file():
            continue
        out.append(path)
    return out
