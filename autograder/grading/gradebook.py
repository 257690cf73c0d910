"""The grader's gradebook, written by the main process only, through nbgrader.

- :func:`prepare` runs ``nbgrader generate_assignment`` twice at once: into the course gradebook
  (so that it holds the official cells; any nbgrader database URL) and into a fresh SQLite
  *template* that the workers copy (official cells only: no other student's data reaches a
  worker).
- :func:`add_students` puts every collected student into the gradebook.
- :func:`record` writes the grades of executed notebooks in one ``nbgrader autograde`` pass that
  executes nothing: its sanitising chain is empty and its autograding chain is
  :data:`autograder.preprocessors.RECORD` (``SaveAutoGrades``, then ``ApplyCleanScores`` so that
  the grader's clean scores win, ``AssignLatePenalties``, ``CheckCellMetadata``).
- :func:`read_grades` reads per-cell scores back for the exports.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from autograder.course import nbgrader_cli as nbgrader_run
from autograder.grading import warm_start
from autograder.preprocessors import RECORD


def default_db_url(root: Path) -> str:
    """The course's SQLite gradebook, ``<root>/gradebook.db``."""
    return f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"


@dataclass(frozen=True)
class Prepared:
    """What the workers get from the assignment.

    Attributes
    ----------
    template_db : bytes
        SQLite gradebook with the assignment's official cells only.
    public_files : dict of str to bytes
        Files of the fresh release other than notebooks (by POSIX relative path).
    source_digest : str
        SHA-256 of the assignment's source folder: a change regrades everyone on the next run.
    """

    template_db: bytes
    public_files: dict[str, bytes]
    source_digest: str


def source_digest(folder: Path) -> str:
    """SHA-256 over the files of a source folder (sorted relative paths and bytes)."""
    h = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if (
            path.is_file()
            and ".ipynb_checkpoints" not in path.parts
            and "__pycache__" not in path.parts
        ):
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def run_nbgrader(args: list[str], *, root: Path) -> str:
    """Run ``nbgrader ARGS`` in the course root (forked from the preloaded server when it can,
    :mod:`autograder.grading.warm_start`); return its log, raise ``NbgraderError`` when it fails."""
    if not warm_start.available():
        proc = nbgrader_run.run(args, root=root)
        return proc.stdout + proc.stderr
    fd, name = tempfile.mkstemp(prefix="hepml-nbgrader-", suffix=".log")
    os.close(fd)
    log_path = Path(name)
    try:
        code = warm_start.run(args, cwd=root, env=nbgrader_run.environment(), log_path=log_path)
        log = log_path.read_text(errors="replace")
    finally:
        log_path.unlink(missing_ok=True)
    if code != 0:
        tail = "\n".join(log.strip().splitlines()[-25:])
        raise nbgrader_run.NbgraderError(f"nbgrader {' '.join(args)} failed (exit {code}):\n{tail}")
    return log


def _generate(assignment: str, root: Path, db_url: str, release_dir: Path) -> None:
    run_nbgrader(
        [
            "generate_assignment",
            assignment,
            "--force",
            f"--CourseDirectory.root={root}",
            f"--CourseDirectory.release_directory={release_dir}",
            f"--CourseDirectory.db_url={db_url}",
            "--log-level=WARN",
        ],
        root=root,
    )


def prepare(assignment: str, *, root: Path, db_url: str) -> Prepared:
    """Put the assignment's official cells into the gradebook and build the workers' template."""
    root = Path(root).resolve()
    with tempfile.TemporaryDirectory(prefix="hepml-prepare-") as tmp:
        tmp_path = Path(tmp)
        template = tmp_path / "template.db"
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(_generate, assignment, root, db_url, tmp_path / "release-course"),
                pool.submit(
                    _generate, assignment, root, f"sqlite:///{template}", tmp_path / "release"
                ),
            ]
            for fut in futures:
                fut.result()
        release = tmp_path / "release" / assignment
        public = {
            p.relative_to(release).as_posix(): p.read_bytes()
            for p in sorted(release.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb"
        }
        return Prepared(
            template_db=template.read_bytes(),
            public_files=public,
            source_digest=source_digest(root / "source" / assignment),
        )


def add_students(db_url: str, course_id: str, students: list[str]) -> None:
    """Create the students in the gradebook (those that exist are left as they are)."""
    from nbgrader.api import Gradebook

    nbgrader_run.ensure_on_path()
    with Gradebook(db_url, course_id) as gb:
        known = {s.id for s in gb.students}
        for student in students:
            if student not in known:
                gb.add_student(student)


def record(
    notebooks: dict[str, dict[str, bytes]],
    *,
    assignment: str,
    root: Path,
    db_url: str,
    staging: Path,
    timestamps: dict[str, bytes] | None = None,
) -> tuple[dict[str, dict[str, tuple[float | None, float]]], str]:
    """Write the grades of executed notebooks into the gradebook, executing nothing.

    Parameters
    ----------
    notebooks : dict
        ``{student: {notebook file name: autograded .ipynb bytes}}`` from the workers.
    assignment : str
    root : Path
        The course root; the notebooks end in ``autograded/<student>/<assignment>/``.
    db_url : str
    staging : Path
        A folder under ``root`` used as nbgrader's submitted folder for this pass (emptied first).
    timestamps : dict, optional
        ``{student: timestamp.txt bytes}`` for late penalties.

    Returns
    -------
    (grades, log)
        ``{student: {cell: (score, max)}}`` read back from the gradebook for the students whose
        notebooks were recorded (a student missing from it was not recorded), and the log tail.
    """
    root = Path(root).resolve()
    staging = Path(staging).resolve()
    shutil.rmtree(staging, ignore_errors=True)
    for student, files in notebooks.items():
        folder = staging / student / assignment
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        if timestamps and student in timestamps:
            (folder / "timestamp.txt").write_bytes(timestamps[student])
    rel = staging.relative_to(root).as_posix()
    # Command-line values win over the course's nbgrader_config.py (read last by nbgrader).
    chain = list(RECORD)
    log = ""
    try:
        log = run_nbgrader(
            [
                "autograde",
                assignment,
                "--force",
                f"--CourseDirectory.submitted_directory={rel}",
                f"--CourseDirectory.db_url={db_url}",
                "--Autograde.create_student=True",
                "--Autograde.sanitize_preprocessors=[]",
                f"--Autograde.autograde_preprocessors={chain!r}",
                "--log-level=WARN",
            ],
            root=root,
        )[-3000:]
    except nbgrader_run.NbgraderError as exc:  # some notebooks failed: verified below
        log = str(exc)[-3000:]
    grades = read_grades(assignment, db_url=db_url, students=list(notebooks))
    recorded = {
        s: g
        for s, g in grades.items()
        if all((root / "autograded" / s / assignment / n).is_file() for n in notebooks[s])
    }
    shutil.rmtree(staging, ignore_errors=True)
    return recorded, log


def read_grades(
    assignment: str, *, db_url: str, students: list[str] | None = None
) -> dict[str, dict[str, tuple[float | None, float]]]:
    """Per-cell ``(score, max)`` of the assignment's submissions in the gradebook.

    A manual score, where a grader gave one, wins over the automatic one (nbgrader's ``score``).
    """
    from nbgrader.api import Gradebook, MissingEntry

    nbgrader_run.ensure_on_path()
    out: dict[str, dict[str, tuple[float | None, float]]] = {}
    with Gradebook(db_url) as gb:
        try:
            assignment_row = gb.find_assignment(assignment)
        except MissingEntry:
            return out
        for submission in assignment_row.submissions:
            student = submission.student.id
            if students is not None and student not in students:
                continue
            cells: dict[str, tuple[float | None, float]] = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    score = None if grade.score is None else float(grade.score)
                    cells[grade.name] = (score, float(grade.max_score))
            out[student] = cells
    return out


def graded_cells(assignment: str, *, db_url: str) -> list[tuple[str, float]]:
    """The assignment's graded cells ``(grade id, max score)`` in notebook order."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            assignment_row = gb.find_assignment(assignment)
        except MissingEntry:
            return []
        cells = []
        for notebook in assignment_row.notebooks:
            order = {c.name: i for i, c in enumerate(notebook.source_cells)}
            grade_cells = sorted(notebook.grade_cells, key=lambda c: order.get(c.name, 10**9))
            cells += [(c.name, float(c.max_score)) for c in grade_cells]
        return cells
