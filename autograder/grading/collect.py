"""Finding submissions and importing them into nbgrader's ``submitted/`` folder.

A class arrives in one of these shapes (``A`` is the assignment id):

- nbgrader's own layout under the course root: ``submitted/<student>/A/A.ipynb`` (nothing to
  import);
- a folder or a ``.zip`` holding, for each student, one of
  ``<student>.ipynb``, ``<student>_A.ipynb``, ``<student>/A.ipynb`` (with any other files of that
  student beside it) or ``<student>/A/A.ipynb``.

Other names (an LMS download such as ``name_123_456_A.ipynb``) are matched by a *pattern*, as
nbgrader's ``zip_collect`` does: a regular expression with the named groups ``student_id`` and
``file_id`` (and optionally ``timestamp``), matched (``re.match``) against the path of every file
relative to the folder. ``file_id`` is the file's name in the submission (a name without a
suffix gets the file's own: ``A`` stands for ``A.ipynb``); ``timestamp`` goes into
``timestamp.txt`` for late penalties (:mod:`autograder.grading.patterns`). Its ``PRESETS`` hold
patterns by name: ``lms`` matches
Canvas-style downloads, ``<name>_[late_]<user id>_<submission id>_<file>``, with the name as the
student id and a resubmission's ``-1`` dropped. ``hepml grade --dry-run`` shows the matching.

Imports are copies (the originals are never moved or changed) into
``submitted/<student>/A/``, with a ``timestamp.txt`` from the file's modification time when there
is none. Anything that cannot be matched to exactly one student is reported with the reason, never
silently dropped: a notebook named for another assignment, two submissions for one student, a
name that is not a usable student id, a file that is not a notebook, a zip entry that points
outside the archive.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.grading import patterns
from autograder.grading.files import STUDENT_ID, Unmatched, debris, files_below

#: Limits on an archive: total uncompressed bytes and number of entries.
MAX_ZIP_BYTES = 4 * 2**30
MAX_ZIP_ENTRIES = 100_000


@dataclass(frozen=True)
class Submission:
    """One student's submission of an assignment, in ``submitted/``.

    Attributes
    ----------
    student : str
    folder : Path
        ``<root>/submitted/<student>/<assignment>``.
    """

    student: str
    folder: Path


@dataclass(frozen=True)
class Match:
    """A file matched to a student: where it comes from and where it goes."""

    path: str
    student: str
    assignment: str
    file: str

    def __str__(self) -> str:
        return f"{self.path} -> {self.student}, {self.assignment} ({self.file})"


@dataclass
class Collection:
    """The result of :func:`collect`.

    Attributes
    ----------
    submissions : list of Submission
        Every submission of the assignment now in ``submitted/`` (imported or already there).
    unmatched : list of Unmatched
    imported : list of str
        Students whose files were copied in (new or changed) by this call.
    matched : list of Match
        Every file of ``source`` matched to a student (also in a dry run).
    """

    submissions: list[Submission] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    matched: list[Match] = field(default_factory=list)

    def dry_run_lines(self) -> list[str]:
        """What a dry run prints: every match, then every unmatched file with the reason."""
        lines = [str(m) for m in self.matched]
        lines += [f"unmatched  {u}" for u in self.unmatched]
        return lines

    @property
    def students(self) -> list[str]:
        return [s.student for s in self.submissions]


def safe_extract(archive: Path, dest: Path) -> list[Unmatched]:
    """Extract a zip into ``dest``, refusing absolute paths, ``..``, links and zip bombs.

    Returns
    -------
    list of Unmatched
        The entries that were refused.
    """
    refused = []
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise ValueError(f"{archive}: more than {MAX_ZIP_ENTRIES} entries")
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise ValueError(f"{archive}: more than {MAX_ZIP_BYTES // 2**30} GiB uncompressed")
        for info in infos:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            if name.is_absolute() or ".." in name.parts or is_link:
                refused.append(Unmatched(f"{archive.name}:{info.filename}", "unsafe zip entry"))
                continue
            if info.is_dir():
                continue
            target = dest.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            stamp = dt.datetime(*info.date_time).timestamp()
            os.utime(target, (stamp, stamp))
    return refused


def _top(folder: Path, assignment: str) -> Path:
    """Descend through single wrapping folders (``class.zip`` -> ``class/``), stopping at a
    folder that is itself one student's (it holds ``A.ipynb`` or ``A/A.ipynb``)."""
    nb_name = f"{assignment}.ipynb"
    while True:
        entries = [p for p in folder.iterdir() if not debris(p.name)]
        if len(entries) != 1 or not entries[0].is_dir():
            return folder
        inner = entries[0]
        if (inner / nb_name).is_file() or (inner / assignment / nb_name).is_file():
            return folder
        folder = inner


def match(
    folder: Path, assignment: str, *, other_assignments: Iterable[str] = ()
) -> tuple[dict[str, list[tuple[str, dict[str, Path]]]], list[Unmatched]]:
    """Match the entries of ``folder`` to students.

    Returns
    -------
    (candidates, unmatched)
        ``candidates[student]`` is a list of ``(where, files)`` with ``files`` mapping the
        relative path inside ``submitted/<student>/<assignment>/`` to the source file; a student
        with more than one candidate is ambiguous.
    """
    others = [a for a in other_assignments if a != assignment]
    nb_name = f"{assignment}.ipynb"
    candidates: dict[str, list[tuple[str, dict[str, Path]]]] = {}
    unmatched: list[Unmatched] = []

    def add(student: str, where: str, files: dict[str, Path]) -> None:
        if not STUDENT_ID.match(student):
            unmatched.append(Unmatched(where, f"{student!r} is not a usable student id"))
            return
        candidates.setdefault(student, []).append((where, files))

    for entry in sorted(folder.iterdir()):
        if debris(entry.name):
            continue
        where = entry.name
        if entry.is_file():
            if entry.suffix != ".ipynb":
                unmatched.append(Unmatched(where, "not a notebook"))
                continue
            stem = entry.stem
            other = next((a for a in others if stem == a or stem.endswith(f"_{a}")), None)
            if other is not None:
                unmatched.append(Unmatched(where, f"a notebook of assignment {other}"))
            elif stem == assignment:
                unmatched.append(Unmatched(where, "the file name names no student"))
            elif stem.endswith(f"_{assignment}"):
                add(stem[: -len(assignment) - 1], where, {nb_name: entry})
            else:
                add(stem, where, {nb_name: entry})
        elif entry.is_dir():
            nested = entry / assignment
            if (nested / nb_name).is_file():
                files = {p.relative_to(nested).as_posix(): p for p in files_below(nested)}
                add(entry.name, f"{where}/{assignment}/{nb_name}", files)
            elif (entry / nb_name).is_file():
                files = {
                    p.relative_to(entry).as_posix(): p
                    for p in files_below(entry)
                    if p.suffix != ".ipynb" or p.name == nb_name
                }
                # Other assignments' folders of the same student do not belong here.
                files = {k: v for k, v in files.items() if k.split("/")[0] not in others}
                add(entry.name, f"{where}/{nb_name}", files)
            else:
                found = sorted(p.name for p in entry.glob("*.ipynb"))
                hint = f" (found {', '.join(found)})" if found else ""
                unmatched.append(Unmatched(where, f"holds no {nb_name}{hint}"))
    return candidates, unmatched


def _timestamp(path: Path) -> bytes:
    when = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f %Z").encode()


def _same(files: dict[str, Path], folder: Path) -> bool:
    if not folder.is_dir():
        return False
    have = {p.relative_to(folder).as_posix() for p in files_below(folder)} - {"timestamp.txt"}
    if have != set(files):
        return False
    return all((folder / rel).read_bytes() == src.read_bytes() for rel, src in files.items())


def import_files(files: dict[str, Path], target: Path, *, timestamp: bytes | None = None) -> bool:
    """Make ``target`` hold copies of ``files``; True when something changed.

    ``timestamp`` is written as ``timestamp.txt`` (default: the notebook's modification time,
    unless the files hold a ``timestamp.txt``).
    """
    stamp_file = target / "timestamp.txt"
    if _same(files, target) and (
        timestamp is None or (stamp_file.is_file() and stamp_file.read_bytes() == timestamp)
    ):
        return False
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for rel, src in files.items():
        dest = target.joinpath(*PurePosixPath(rel).parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    if timestamp is not None:
        (target / "timestamp.txt").write_bytes(timestamp)
    elif "timestamp.txt" not in files:
        nb = files.get(f"{target.name}.ipynb")
        if nb is not None:
            (target / "timestamp.txt").write_bytes(_timestamp(nb))
    return True


def collect(
    assignment: str,
    source: Path | None = None,
    *,
    root: Path,
    other_assignments: Iterable[str] = (),
    pattern: str | None = None,
    dry_run: bool = False,
) -> Collection:
    """Import submissions from ``source`` (a folder or a .zip) and list all of the assignment's.

    Parameters
    ----------
    assignment : str
    source : Path, optional
        Where the class's files are; None to use what is already in ``submitted/``.
    root : Path
        The course root.
    other_assignments : iterable of str
        The course's other assignment ids, to recognise notebooks that belong to them.
    pattern : str, optional
        A collection pattern or a preset name (:mod:`autograder.grading.patterns`);
        None for the layouts of the module docstring.
    dry_run : bool
        Match and report only: copy nothing (``matched`` and ``unmatched`` are filled in,
        ``submissions`` is left empty).

    Returns
    -------
    Collection

    Raises
    ------
    FileNotFoundError
        No such ``source``.
    autograder.grading.patterns.PatternError
        A pattern that is not usable.
    """
    root = Path(root)
    result = Collection()
    submitted = root / "submitted"
    regex = patterns.compile_pattern(pattern) if pattern else None
    if source is not None:
        source = Path(source)
        if not source.exists():
            raise FileNotFoundError(f"{source}: no such folder or zip file of submissions")
        with tempfile.TemporaryDirectory(prefix="hepml-collect-") as tmp:
            if source.is_file():
                if not zipfile.is_zipfile(source):
                    raise ValueError(f"{source}: not a folder and not a zip file")
                result.unmatched += safe_extract(source, Path(tmp))
                folder = _top(Path(tmp), assignment)
                label = f"{source.name}:"
            else:
                folder = _top(source, assignment)
                label = ""
            timestamps: dict[str, bytes] = {}
            if regex is None:
                candidates, unmatched = match(
                    folder, assignment, other_assignments=other_assignments
                )
            else:
                candidates, unmatched, timestamps = patterns.match(
                    folder, assignment, regex, other_assignments=other_assignments
                )
            result.unmatched += unmatched
            for student, found in sorted(candidates.items()):
                if len(found) > 1:
                    places = ", ".join(where for where, _ in found)
                    for where, _ in found:
                        result.unmatched.append(
                            Unmatched(where, f"several submissions for {student}: {places}")
                        )
                    continue
                files = found[0][1]
                for rel, src in sorted(files.items()):
                    where = label + src.relative_to(folder).as_posix()
                    result.matched.append(Match(where, student, assignment, rel))
                if dry_run:
                    continue
                target = submitted / student / assignment
                if import_files(files, target, timestamp=timestamps.get(student)):
                    result.imported.append(student)
    if dry_run:
        return result
    if submitted.is_dir():
        for folder in sorted(submitted.iterdir()):
            target = folder / assignment
            if not target.is_dir():
                continue
            if not (target / f"{assignment}.ipynb").is_file():
                result.unmatched.append(
                    Unmatched(str(target.relative_to(root)), f"holds no {assignment}.ipynb")
                )
                continue
            result.submissions.append(Submission(folder.name, target))
    return result
