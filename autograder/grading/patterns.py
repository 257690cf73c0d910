"""Collection patterns: matching an LMS download's file names to students, as nbgrader's
``zip_collect`` does.

A pattern is a regular expression with the named groups ``student_id`` and ``file_id`` (and
optionally ``timestamp``), matched (``re.match``) against the path of every file relative to the
submissions folder. ``file_id`` is the file's name in the submission (a name without a suffix gets
the file's own: ``A`` stands for ``A.ipynb``); ``timestamp`` is read as nbgrader reads it
(``parse_utc``) and goes into ``timestamp.txt`` for late penalties; of two files of one student
with the same ``file_id`` the later one wins. :data:`PRESETS` holds patterns by name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from autograder.grading.files import STUDENT_ID, Unmatched, files_below

#: Collection patterns by name (``--pattern lms``).
PRESETS = {
    "lms": r"(?:.*/)?(?P<student_id>[^/_]+)_(?:late_)?\d+_\d+_(?P<file_id>[^/]+?)(?:-\d+)?(?:\.ipynb)?$",
}


class PatternError(ValueError):
    """A collection pattern that is not a regular expression with the groups it needs."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of a pattern (or of a :data:`PRESETS` name), checked.

    Raises
    ------
    PatternError
        Not a regular expression, or without the named groups ``student_id`` and ``file_id``.
    """
    text = PRESETS.get(pattern, pattern)
    try:
        regex = re.compile(text)
    except re.error as exc:
        raise PatternError(f"--pattern {pattern!r} is not a regular expression: {exc}") from None
    missing = {"student_id", "file_id"} - set(regex.groupindex)
    if missing:
        raise PatternError(
            f"--pattern {pattern!r} lacks the named group(s) "
            + ", ".join(f"(?P<{g}>...)" for g in sorted(missing))
            + f" (presets: {', '.join(PRESETS)})"
        )
    return regex


def match(
    folder: Path,
    assignment: str,
    regex: re.Pattern[str],
    *,
    other_assignments: Iterable[str] = (),
) -> tuple[dict[str, list[tuple[str, dict[str, Path]]]], list[Unmatched], dict[str, bytes]]:
    """Match every file under ``folder`` by a pattern (see the module docstring).

    Returns
    -------
    (candidates, unmatched, timestamps)
        As :func:`autograder.grading.collect.match`, plus the ``timestamp.txt`` contents of the students whose pattern
        carried a timestamp. A student's files together make one candidate; the same file name
        twice for one student makes the student ambiguous (unless the timestamps tell the
        latest).
    """
    others = [a for a in other_assignments if a != assignment]
    nb_name = f"{assignment}.ipynb"
    files: dict[str, dict[str, tuple[Path, str, str]]] = {}
    unmatched: list[Unmatched] = []
    clash: dict[str, list[str]] = {}
    for path in files_below(folder):
        rel = path.relative_to(folder).as_posix()
        found = regex.match(rel)
        if not found:
            unmatched.append(Unmatched(rel, f"does not match the pattern {regex.pattern!r}"))
            continue
        student, file_id = found.group("student_id"), found.group("file_id")
        stamp = (found.groupdict().get("timestamp") or "").strip()
        if not PurePosixPath(file_id).suffix:
            file_id += path.suffix
        if not STUDENT_ID.match(student or ""):
            unmatched.append(Unmatched(rel, f"{student!r} is not a usable student id"))
            continue
        other = next((a for a in others if file_id == f"{a}.ipynb"), None)
        if other is not None:
            unmatched.append(Unmatched(rel, f"a notebook of assignment {other}"))
            continue
        if file_id.endswith(".ipynb") and file_id != nb_name:
            unmatched.append(Unmatched(rel, f"a notebook other than {nb_name}"))
            continue
        mine = files.setdefault(student, {})
        if file_id in mine:
            _, prev_rel, prev_stamp = mine[file_id]
            now, before = _parse_stamp(stamp), _parse_stamp(prev_stamp)
            if now is not None and before is not None and now != before:
                if now > before:  # a resubmission: the later one wins
                    mine[file_id] = (path, rel, stamp)
                continue
            clash.setdefault(student, [prev_rel]).append(rel)
            continue
        mine[file_id] = (path, rel, stamp)
    candidates: dict[str, list[tuple[str, dict[str, Path]]]] = {}
    timestamps: dict[str, bytes] = {}
    for student, mine in sorted(files.items()):
        if student in clash:
            places = ", ".join(clash[student])
            unmatched += [
                Unmatched(r, f"several submissions for {student}: {places}") for r in clash[student]
            ]
            continue
        if nb_name not in mine:
            unmatched += [
                Unmatched(r, f"{student} submitted no {nb_name}") for _, r, _ in mine.values()
            ]
            continue
        where = mine[nb_name][1]
        candidates[student] = [(where, {fid: p for fid, (p, _, _) in mine.items()})]
        stamp = mine[nb_name][2]
        if stamp:
            when = _parse_stamp(stamp)
            if when is None:
                unmatched.append(Unmatched(where, f"timestamp {stamp!r} is not a date and time"))
                del candidates[student]
                continue
            timestamps[student] = when.strftime("%Y-%m-%d %H:%M:%S.%f UTC").encode()
    return candidates, unmatched, timestamps


def _parse_stamp(text: str) -> dt.datetime | None:
    """A timestamp of a file name in UTC, as nbgrader reads them (``parse_utc``), or None."""
    from nbgrader.utils import parse_utc

    # nbgrader's example names carry 2026-01-30-15-00-00: dateutil reads -00 as a time zone.
    for candidate in (
        re.sub(r"^(\d{4}-\d\d-\d\d)-(\d\d)-(\d\d)-(\d\d)", r"\1 \2:\3:\4", text),
        text,
    ):
        try:
            return parse_utc(candidate)
        except (ValueError, OverflowError):
            continue
    return None
