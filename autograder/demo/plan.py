"""The demo class of ``hepml demo``: submissions built from the release notebooks, as data.

``course/demo.toml`` declares, per assignment, the submissions to build and the grade each one
deserves. For **every** assignment of the manifest two submissions are built without being
declared:

``correct``
    the release notebook with every solution cell filled in from ``source/`` (full marks);
``untouched``
    the release notebook as handed out (no marks).

A declared submission starts from one of those two (``base = "solution"`` or ``"release"``) and
applies edits to cells chosen by grade id (``cell = "split"``) or by a piece of their source
(``cell_containing = "check_environment("``). An edit replaces the source (``source``),
substitutes a regular expression (``regex`` + ``replace``; it must match), adds code before or
after (``prepend``, ``append``), deletes the cell (``delete = true``) and/or changes its nbgrader
metadata (``metadata = {points = 100}``). What it deserves is given per autograded test cell:
``lose = [...]`` (every cell full marks but these), ``keep = [...]`` (no marks but these) and
``scores = {cell = points}`` for partial credit; ``status = "failed"`` for a submission the
grader must list as failed (``corrupt = true`` writes a notebook that is not valid JSON).

Challenge assignments (``[assignments.<id>.challenge]``) also get prediction files in
``submission_predictions/`` of the named demo students, made from the hidden labels with a chosen
quality (``make = "noisy"``, ``"random"``, ``"column"``) or broken on purpose (``"wrong_length"``,
``"nan"``, ``"text"``), each with what the leaderboard must do with it (``expect = "ranked"``,
optionally at ``rank``, or ``"rejected"``).

Only autograded (code) test cells carry expectations: written answers are graded by hand and
score nothing automatically.
"""

from __future__ import annotations

import copy
import re
import tomllib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from autograder.course.manifest import Course

CONFIG_PATH = Path("course") / "demo.toml"
BUILTIN = ("correct", "untouched")
BASES = ("solution", "release")
MAKES = ("noisy", "random", "column", "wrong_length", "nan", "text")
PREDICTIONS_FOLDER = "submission_predictions"
_SOURCE_ACTIONS = ("source", "regex", "prepend", "append", "delete")
_EDIT_KEYS = {"cell", "cell_containing", "replace", "metadata", *_SOURCE_ACTIONS}
_SUBMISSION_KEYS = {
    "student",
    "about",
    "base",
    "edits",
    "lose",
    "keep",
    "scores",
    "status",
    "corrupt",
    "quick",
}
_ASSIGNMENT_KEYS = {
    "cell_timeout",
    "notebook_timeout",
    "memory_limit_mb",
    "common_edits",
    "submissions",
    "challenge",
}
_LIMIT_KEYS = ("cell_timeout", "notebook_timeout", "memory_limit_mb")


class DemoConfigError(ValueError):
    """``course/demo.toml`` is malformed or no longer fits a notebook; the message says where."""


@dataclass(frozen=True)
class Edit:
    """One change to one cell of a notebook (see the module docstring for the fields)."""

    cell: str | None = None
    cell_containing: str | None = None
    source: str | None = None
    regex: str | None = None
    replace: str = ""
    prepend: str | None = None
    append: str | None = None
    delete: bool = False
    metadata: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        return (
            f"cell {self.cell!r}" if self.cell else f"the cell containing {self.cell_containing!r}"
        )

    def apply(self, nb: nbformat.NotebookNode, where: str) -> None:
        """Apply the edit to ``nb`` in place; :class:`DemoConfigError` when it does not fit."""
        if self.cell is not None:
            index = [i for i, c in enumerate(nb.cells) if grade_id(c) == self.cell]
        else:
            index = [i for i, c in enumerate(nb.cells) if self.cell_containing in c.source]
        if len(index) != 1:
            found = "no" if not index else f"{len(index)}"
            raise DemoConfigError(f"{where}: {found} cells match {self.target}")
        cell = nb.cells[index[0]]
        if self.delete:
            del nb.cells[index[0]]
            return
        if self.source is not None:
            cell.source = self.source
        elif self.regex is not None:
            cell.source, n = re.subn(self.regex, self.replace, cell.source)
            if n == 0:
                raise DemoConfigError(
                    f"{where}: the regex {self.regex!r} matches nothing in {self.target}: "
                    "update course/demo.toml to the notebook"
                )
        if self.prepend is not None:
            cell.source = self.prepend + cell.source
        if self.append is not None:
            cell.source = cell.source + self.append
        if self.metadata:
            cell.metadata.setdefault("nbgrader", {}).update(self.metadata)


@dataclass(frozen=True)
class DemoSubmission:
    """One submission of the demo class and the grade it deserves.

    Attributes
    ----------
    assignment, student, about : str
        Which assignment, the student id, and what the notebook does (one line).
    base : {"solution", "release"}
    edits : tuple of Edit
    expected : dict of str to float
        Points each autograded test cell deserves (empty when ``status`` is ``"failed"``).
    status : {"graded", "failed"}
    corrupt : bool
        Write a truncated, invalid notebook instead.
    """

    assignment: str
    student: str
    about: str
    base: str = "solution"
    edits: tuple[Edit, ...] = ()
    expected: dict[str, float] = field(default_factory=dict)
    status: str = "graded"
    corrupt: bool = False

    @property
    def expected_total(self) -> float | None:
        return float(sum(self.expected.values())) if self.status == "graded" else None


@dataclass(frozen=True)
class PredictionFile:
    """A challenge prediction file of the demo and what the leaderboard must do with it.

    Attributes
    ----------
    student : str
        The demo student whose ``submission_predictions/`` holds it.
    file : str
        The file name, e.g. ``quarks__cnn.npy``.
    make : str
        One of :data:`MAKES`.
    noise : float
        Width of the Gaussian noise added to the labels for ``noisy`` and ``column`` (score units).
    expect : {"ranked", "rejected"}
    rank : int or None
        The AUC rank it must get, where given.
    """

    student: str
    file: str
    make: str
    noise: float = 1.0
    expect: str = "ranked"
    rank: int | None = None

    @property
    def path(self) -> str:
        """Where the leaderboard reports it: ``<student>/submission_predictions/<file>``."""
        return f"{self.student}/{PREDICTIONS_FOLDER}/{self.file}"


@dataclass(frozen=True)
class Challenge:
    """The challenge part of an assignment: the hidden labels and the demo's prediction files."""

    labels: str
    files: tuple[PredictionFile, ...]


@dataclass(frozen=True)
class AssignmentPlan:
    """The demo class of one assignment.

    Attributes
    ----------
    assignment : str
    points : dict of str to float
        Points of every autograded test cell, by grade id, in notebook order.
    manual_points : float
        Points of the cells graded by hand (written answers).
    limits : dict
        Keyword arguments for :func:`autograder.grading.grade.grade` (``cell_timeout``, ...).
    submissions : tuple of DemoSubmission
    challenge : Challenge or None
    time_budget_s : float
        The manifest's time budget of one run of the notebook, in seconds.
    """

    assignment: str
    points: dict[str, float]
    manual_points: float
    limits: dict[str, float]
    submissions: tuple[DemoSubmission, ...]
    challenge: Challenge | None = None
    time_budget_s: float = 60.0


@dataclass
class DemoPlan:
    """The whole demo class; ``not_in_manifest`` lists assignments of demo.toml left out."""

    assignments: list[AssignmentPlan]
    not_in_manifest: list[str] = field(default_factory=list)

    @property
    def n_submissions(self) -> int:
        return sum(len(a.submissions) for a in self.assignments)


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    """The nbgrader grade id of a cell, or None."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def graded_points(source_nb: Path) -> tuple[dict[str, float], float]:
    """Points of the autograded test cells (by grade id, in order) and of the hand-graded cells.

    Parameters
    ----------
    source_nb : Path
        The solution notebook, ``source/<id>/<id>.ipynb``.

    Returns
    -------
    (dict of str to float, float)
    """
    nb = nbformat.read(source_nb, as_version=4)
    auto: dict[str, float] = {}
    manual = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        points = float(meta.get("points", 0))
        if cell.cell_type == "code" and not meta.get("solution"):
            auto[meta["grade_id"]] = points
        else:
            manual += points
    return auto, manual


def solution_notebook(source_nb: Path, release_nb: Path) -> nbformat.NotebookNode:
    """The release notebook with every solution cell filled in from the source (no markers)."""
    src = nbformat.read(source_nb, as_version=4)
    rel = nbformat.read(release_nb, as_version=4)
    answers = {
        grade_id(c): c.source for c in src.cells if c.metadata.get("nbgrader", {}).get("solution")
    }
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    for cell in rel.cells:
        gid = grade_id(cell)
        if gid in answers:
            lines = answers[gid].splitlines()
            cell.source = "\n".join(ln for ln in lines if not any(m in ln for m in markers))
    return rel


# --- reading demo.toml ---------------------------------------------------------------------


def _check_keys(entry: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise DemoConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _edit(raw: object, where: str) -> Edit:
    if not isinstance(raw, dict):
        raise DemoConfigError(f"{where}: an edit must be a table")
    _check_keys(raw, _EDIT_KEYS, where)
    if ("cell" in raw) == ("cell_containing" in raw):
        raise DemoConfigError(f"{where}: name exactly one of 'cell' or 'cell_containing'")
    actions = [k for k in _SOURCE_ACTIONS if k in raw and k not in ("prepend", "append")]
    if len(actions) > 1:
        raise DemoConfigError(f"{where}: at most one of source, regex, delete")
    if not actions and not {"prepend", "append", "metadata"} & set(raw):
        raise DemoConfigError(f"{where}: the edit changes nothing")
    if "regex" in raw:
        try:
            re.compile(raw["regex"])
        except re.error as exc:
            raise DemoConfigError(f"{where}: bad regex {raw['regex']!r} ({exc})") from None
    if "replace" in raw and "regex" not in raw:
        raise DemoConfigError(f"{where}: 'replace' needs 'regex'")
    if raw.get("delete") and {"prepend", "append", "metadata"} & set(raw):
        raise DemoConfigError(f"{where}: a deleted cell takes no other change")
    return Edit(**raw)


def _expected(raw: dict, base: str, points: dict[str, float], where: str) -> dict[str, float]:
    lose, keep, scores = raw.get("lose"), raw.get("keep"), raw.get("scores", {})
    if lose is not None and keep is not None:
        raise DemoConfigError(f"{where}: give 'lose' or 'keep', not both")
    for name in [*(lose or []), *(keep or []), *scores]:
        if name not in points:
            raise DemoConfigError(
                f"{where}: {name!r} is not an autograded test cell of the notebook "
                f"(those are: {', '.join(points)})"
            )
    if keep is None and lose is None:
        keep = None if base == "solution" else []
        lose = [] if base == "solution" else None
    if keep is not None:
        expected = {c: (p if c in keep else 0.0) for c, p in points.items()}
    else:
        expected = {c: (0.0 if c in lose else p) for c, p in points.items()}
    for name, value in scores.items():
        if not isinstance(value, (int, float)) or not 0 <= value <= points[name]:
            raise DemoConfigError(f"{where}: score of {name!r} must be in [0, {points[name]:g}]")
        expected[name] = float(value)
    return expected


def _submission(
    raw: dict, assignment: str, points: dict[str, float], common: list[Edit], where: str
) -> tuple[DemoSubmission, bool]:
    _check_keys(raw, _SUBMISSION_KEYS, where)
    student = raw.get("student")
    if not isinstance(student, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", student):
        raise DemoConfigError(f"{where}: 'student' must be a usable student id, got {student!r}")
    where = f"{where} ({student})"
    base = raw.get("base", "release" if student == "untouched" else "solution")
    if base not in BASES:
        raise DemoConfigError(f"{where}: base must be one of {', '.join(BASES)}")
    status = raw.get("status", "graded")
    if status not in ("graded", "failed"):
        raise DemoConfigError(f"{where}: status must be 'graded' or 'failed'")
    edits = [_edit(e, f"{where} edit {i + 1}") for i, e in enumerate(raw.get("edits", []))]
    own = tuple(edits if student in BUILTIN else [*common, *edits])
    expected = {} if status == "failed" else _expected(raw, base, points, where)
    return (
        DemoSubmission(
            assignment=assignment,
            student=student,
            about=str(raw.get("about", "")),
            base=base,
            edits=own,
            expected=expected,
            status=status,
            corrupt=bool(raw.get("corrupt", False)),
        ),
        bool(raw.get("quick", False)),
    )


def _challenge(raw: dict, students: set[str], where: str) -> Challenge:
    _check_keys(raw, {"labels", "predictions"}, where)
    files = []
    for i, entry in enumerate(raw.get("predictions", [])):
        here = f"{where}.predictions[{i}]"
        _check_keys(entry, {"student", "file", "make", "noise", "expect", "rank"}, here)
        if entry.get("student") not in students:
            raise DemoConfigError(f"{here}: student {entry.get('student')!r} is not in the class")
        if entry.get("make") not in MAKES:
            raise DemoConfigError(f"{here}: make must be one of {', '.join(MAKES)}")
        if entry.get("expect", "ranked") not in ("ranked", "rejected"):
            raise DemoConfigError(f"{here}: expect must be 'ranked' or 'rejected'")
        if not isinstance(entry.get("file"), str) or "/" in entry["file"]:
            raise DemoConfigError(f"{here}: 'file' must be a file name")
        files.append(PredictionFile(**entry))
    return Challenge(labels=str(raw.get("labels", "twin")), files=tuple(files))


def read_config(path: Path) -> dict:
    """The parsed ``demo.toml`` (an empty configuration when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DemoConfigError(f"{path}: not valid TOML ({exc})") from None
    _check_keys(data, {"assignments"}, str(path))
    return data


def plan(
    course: Course,
    config: dict,
    *,
    quick: bool = False,
    assignments: Sequence[str] | None = None,
) -> DemoPlan:
    """The demo class of every assignment of the manifest (or of ``assignments``).

    Parameters
    ----------
    course : Course
        The course (its root holds ``source/`` and ``release/``).
    config : dict
        The parsed ``demo.toml`` (see :func:`read_config`).
    quick : bool
        Keep only ``correct``, ``untouched`` and the submissions declared with ``quick = true``.
    assignments : sequence of str, optional
        Only these assignment ids (each must be in the manifest).

    Returns
    -------
    DemoPlan
    """
    declared: dict = config.get("assignments", {})
    ids = list(assignments) if assignments else course.ids
    for a in ids:
        course.assignment(a)  # KeyError naming the known ids
    result = DemoPlan([], not_in_manifest=sorted(set(declared) - set(course.ids)))
    for a in ids:
        spec = course.assignment(a)
        entry = declared.get(a, {})
        where = f"demo.toml: assignments.{a}"
        _check_keys(entry, _ASSIGNMENT_KEYS, where)
        points, manual = graded_points(spec.source_notebook(course.root))
        common = [
            _edit(e, f"{where}.common_edits[{i}]")
            for i, e in enumerate(entry.get("common_edits", []))
        ]
        subs: dict[str, DemoSubmission] = {}
        for student in BUILTIN:
            subs[student], _ = _submission({"student": student}, a, points, common, where)
        for i, raw in enumerate(entry.get("submissions", [])):
            sub, in_quick = _submission(raw, a, points, common, f"{where}.submissions[{i}]")
            if sub.student in subs and sub.student not in BUILTIN:
                raise DemoConfigError(f"{where}: student {sub.student!r} is declared twice")
            if quick and not in_quick and sub.student not in BUILTIN:
                continue
            subs[sub.student] = sub
        challenge = None
        if "challenge" in entry:
            challenge = _challenge(entry["challenge"], set(subs), f"{where}.challenge")
        limits = {k: float(entry[k]) for k in _LIMIT_KEYS if k in entry}
        result.assignments.append(
            AssignmentPlan(
                a, points, manual, limits, tuple(subs.values()), challenge, spec.time_budget_s
            )
        )
    return result


# --- writing the class ---------------------------------------------------------------------


def notebook_of(sub: DemoSubmission, root: Path) -> nbformat.NotebookNode:
    """The notebook a demo submission hands in, built from ``release/`` (and ``source/``)."""
    rel = root / "release" / sub.assignment / f"{sub.assignment}.ipynb"
    if sub.base == "solution":
        src = root / "source" / sub.assignment / f"{sub.assignment}.ipynb"
        nb = solution_notebook(src, rel)
    else:
        nb = nbformat.read(rel, as_version=4)
    nb = copy.deepcopy(nb)
    for i, edit in enumerate(sub.edits):
        edit.apply(nb, f"demo.toml: {sub.assignment}/{sub.student} edit {i + 1}")
    return nb


def predictions(item: PredictionFile, labels: np.ndarray) -> bytes:
    """The bytes of a demo prediction file, seeded by its name (the same file every run)."""
    import io

    rng = np.random.default_rng(zlib.crc32(item.file.encode()))
    n = len(labels)
    y = labels.astype(np.float32)
    if item.make == "text":
        return "\n".join(f"{v:.4f}" for v in rng.random(n)).encode()
    if item.make == "random":
        array = rng.random(n).astype(np.float32)
    else:
        array = (y + rng.normal(0.0, item.noise, n)).astype(np.float32)
    if item.make == "column":
        array = array.reshape(-1, 1)
    elif item.make == "wrong_length":
        array = array[: n - max(1, n // 100)]
    elif item.make == "nan":
        array[rng.integers(n)] = np.nan
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def build(
    demo: DemoPlan,
    root: Path,
    class_dir: Path,
    *,
    labels: dict[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write the demo class as students hand it in, one folder per assignment.

    ``class_dir/<assignment>/<student>/<assignment>.ipynb`` (with the student's
    ``submission_predictions/`` beside it for a challenge), the layout ``hepml grade`` imports.

    Parameters
    ----------
    demo : DemoPlan
    root : Path
        The course root whose ``release/`` and ``source/`` the notebooks are built from.
    class_dir : Path
        Where to write (created).
    labels : dict of str to ndarray, optional
        The hidden challenge labels of each challenge assignment (needed when there is one).

    Returns
    -------
    dict of str to Path
        The folder of each assignment's class.
    """
    folders = {}
    for a in demo.assignments:
        folder = Path(class_dir) / a.assignment
        folder.mkdir(parents=True, exist_ok=True)
        for sub in a.submissions:
            target = folder / sub.student
            target.mkdir(exist_ok=True)
            path = target / f"{a.assignment}.ipynb"
            if sub.corrupt:
                text = nbformat.writes(notebook_of(sub, root))
                path.write_text(text[: len(text) // 3])
            else:
                nbformat.write(notebook_of(sub, root), path)
        if a.challenge is not None:
            y = (labels or {}).get(a.assignment)
            if y is None:
                raise ValueError(f"{a.assignment}: the challenge needs its hidden labels")
            for item in a.challenge.files:
                out = folder / item.student / PREDICTIONS_FOLDER / item.file
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(predictions(item, y))
        folders[a.assignment] = folder
    return folders


def students(demo: DemoPlan) -> Iterable[tuple[str, str]]:
    """Every ``(assignment, student)`` of the plan."""
    for a in demo.assignments:
        for sub in a.submissions:
            yield a.assignment, sub.student
