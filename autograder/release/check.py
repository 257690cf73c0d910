"""``hepml check``: what must hold before a release is published.

Fails, naming the file and the cell, when
- ``release/`` is stale against ``source/`` (it is regenerated in a scratch folder and compared);
- solution text, a hidden test or a hidden threshold appears anywhere under ``release/``, in any
  text file (nbgrader copies every file of a source folder, not only notebooks);
- a source notebook carries outputs or execution counts;
- grade ids are not unique;
- the points of a notebook's graded cells disagree with ``course/manifest.toml``;
- the manifest names no student copy, or pins it to a branch rather than a tag or commit
  (unless ``allow_unpinned_ref = true``).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course import manifest

from autograder.release import generate as release

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# Lines shorter than this are too generic to call a leak ("return x", "else:").
MIN_LEAK_LINE = 12
# Secret lines at least this long are also found as part of a longer line.
MIN_SUBSTRING_LEAK = 24
# Numbers in hidden tests that count as hidden values: decimals like 0.815, or integers of 3+
# digits (seeds of hidden events).
_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d{3,})(?![\w.])")


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with where it is: a file and, for notebooks, the cell."""

    path: Path
    where: str
    message: str
    #: for a leak: its kind ("solution text", "hidden test", "hidden value") and the secret found
    kind: str = ""
    secret: str = ""

    def __str__(self) -> str:
        return f"{self.path}{' ' + self.where if self.where else ''}: {self.message}"


def _cell_name(index: int, cell) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index}" + (f" ({grade_id})" if grade_id else "")


def _regions(source: str, begin: str, end: str) -> list[str]:
    """Lines inside begin/end delimiter pairs."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _outside(source: str) -> list[str]:
    """Lines outside every solution and hidden-test region."""
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN_SOLUTION in line or BEGIN_HIDDEN in line:
            inside = True
        elif END_SOLUTION in line or END_HIDDEN in line:
            inside = False
        elif not inside:
            lines.append(line)
    return lines


@dataclass
class Secrets:
    """What must never reach a student: solution lines, hidden test lines, hidden numbers."""

    solution_lines: dict[str, str]  # stripped line -> where it comes from
    hidden_lines: dict[str, str]
    hidden_numbers: dict[str, str]


def collect_secrets(notebooks: list[Path], *, also_visible: list[Path] = ()) -> Secrets:
    """Secrets of the source notebooks; lines that also appear in visible text are not secret.

    ``also_visible`` are further notebooks whose visible text counts (the rest of the course):
    a line that one assignment shows openly is no secret of another.
    """
    visible: set[str] = set()
    visible_text: list[str] = []
    solution: dict[str, str] = {}
    hidden: dict[str, str] = {}
    for path in also_visible:
        if path in notebooks or not path.is_file():
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            outside = _outside(cell.source)
            visible.update(line.strip() for line in outside)
            visible_text.extend(outside)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            where = f"{path.name} {_cell_name(i, cell)}"
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and meta.get("solution"):
                for line in cell.source.splitlines():
                    solution.setdefault(line.strip(), where)
                continue
            for line in _regions(cell.source, BEGIN_SOLUTION, END_SOLUTION):
                solution.setdefault(line.strip(), where)
            for line in _regions(cell.source, BEGIN_HIDDEN, END_HIDDEN):
                hidden.setdefault(line.strip(), where)
            outside = _outside(cell.source)
            visible.update(line.strip() for line in outside)
            visible_text.extend(outside)

    def keep(lines: dict[str, str]) -> dict[str, str]:
        return {
            line: where
            for line, where in lines.items()
            if len(line) >= MIN_LEAK_LINE and line not in visible and not line.startswith("#")
        }

    visible_blob = "\n".join(visible_text)
    visible_numbers = set(_NUMBER.findall(visible_blob))
    numbers = {}
    for line, where in hidden.items():
        for number in _NUMBER.findall(line):
            if number not in visible_numbers:
                numbers.setdefault(number, where)
    return Secrets(keep(solution), keep(hidden), numbers)


def _text_units(path: Path) -> list[tuple[str, str]]:
    """(where, text) units of a release file: notebook cells (source and outputs) or the file."""
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:
            return [("", f"<unreadable notebook: {exc}>")]
        units = []
        for i, cell in enumerate(nb.cells):
            parts = [cell.source]
            for out in cell.get("outputs", []):
                parts.append(str(out.get("text", "")))
                parts.extend(str(v) for v in out.get("data", {}).values())
                parts.extend(out.get("traceback", []))
            units.append((_cell_name(i, cell), "\n".join(parts)))
        units.append(("metadata", str(nb.metadata)))
        return units
    try:
        return [("", path.read_text(encoding="utf-8"))]
    except (UnicodeDecodeError, OSError):
        return []  # binary data files cannot carry source text


def find_leaks(release_dir: Path, secrets: Secrets, *, root: Path) -> list[Problem]:
    """Every place under ``release_dir`` where a secret appears."""
    problems = []
    for path in sorted(p for p in release_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        for where, text in _text_units(path):
            lines = {line.strip() for line in text.splitlines()}
            for kind, secret_lines in (
                ("solution text", secrets.solution_lines),
                ("hidden test", secrets.hidden_lines),
            ):
                for line, origin in secret_lines.items():
                    # a long secret line is found inside any line (a trailing comment does not
                    # hide it); a short one only as a whole line, since fragments of wrapped
                    # calls ("lowest[name],") occur in ordinary code
                    if line in lines or (len(line) >= MIN_SUBSTRING_LEAK and line in text):
                        problems.append(
                            Problem(
                                rel, where, f"{kind} leaked (from {origin}): {line!r}", kind, line
                            )
                        )
            for number in set(_NUMBER.findall(text)) & secrets.hidden_numbers.keys():
                problems.append(
                    Problem(
                        rel,
                        where,
                        f"hidden value {number} leaked (from {secrets.hidden_numbers[number]})",
                        "hidden value",
                        number,
                    )
                )
    return problems


def check_source_notebook(path: Path, *, root: Path) -> tuple[list[Problem], float, float]:
    """Outputs, execution counts and duplicate grade ids; returns (problems, points, bonus)."""
    rel = path.relative_to(root)
    problems: list[Problem] = []
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        return [Problem(rel, "", f"not a valid notebook ({exc})")], 0.0, 0.0
    seen: dict[str, int] = {}
    points = bonus = 0.0
    for i, cell in enumerate(nb.cells):
        name = _cell_name(i, cell)
        if cell.cell_type == "code":
            if cell.get("outputs"):
                problems.append(Problem(rel, name, "carries outputs: clear them before committing"))
            if cell.get("execution_count") is not None:
                problems.append(Problem(rel, name, "carries an execution count: clear outputs"))
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id:
            if grade_id in seen:
                problems.append(
                    Problem(rel, name, f"grade id {grade_id!r} also used by cell {seen[grade_id]}")
                )
            seen.setdefault(grade_id, i)
        if meta.get("grade") or meta.get("task"):
            value = float(meta.get("points", 0))
            if str(grade_id).startswith("bonus_"):
                bonus += value
            else:
                points += value
    return problems, points, bonus


def check(assignments: list[str] | None = None, *, root: Path | None = None) -> list[Problem]:
    """All problems of the course (or of the given assignments); empty when all is well."""
    course = manifest.load(root)
    root = course.root
    ids = assignments or course.ids
    problems: list[Problem] = []
    setup_problem = course.student_copy_problem()
    if setup_problem:
        problems.append(Problem(Path("course/manifest.toml"), "", setup_problem))
    sources = []
    for assignment_id in ids:
        a = course.assignment(assignment_id)
        src = a.source_notebook(root)
        if not src.is_file():
            problems.append(
                Problem(src.relative_to(root), "", "listed in the manifest but missing")
            )
            continue
        sources.append(src)
        found, points, bonus = check_source_notebook(src, root=root)
        problems += found
        if abs(points - a.points) > 1e-9:
            problems.append(
                Problem(
                    src.relative_to(root),
                    "",
                    f"graded cells carry {points:g} points, course/manifest.toml says {a.points:g}",
                )
            )
        if abs(bonus - a.bonus_points) > 1e-9:
            problems.append(
                Problem(
                    src.relative_to(root),
                    "",
                    f"bonus cells carry {bonus:g} points, course/manifest.toml says {a.bonus_points:g}",
                )
            )
        nb = nbformat.read(src, as_version=4)
        if not any(release.SETUP_TAG in c.metadata.get("tags", []) for c in nb.cells):
            problems.append(Problem(src.relative_to(root), "", "no cell tagged 'colab-setup'"))
        with tempfile.TemporaryDirectory(prefix="hepml-check-") as tmp:
            try:
                fresh = release.generate(
                    a.id, root=root, release_dir=Path(tmp), colab_install=course.colab_install
                )
            except Exception as exc:
                problems.append(
                    Problem(src.relative_to(root), "", f"nbgrader cannot release it: {exc}")
                )
                continue
            for diff in release.diff_trees(fresh, root / "release" / a.id):
                problems.append(
                    Problem(
                        Path("release") / a.id,
                        "",
                        f"stale against source/ ({diff}): run hepml release",
                    )
                )
    secrets = collect_secrets(
        sources, also_visible=[a.source_notebook(root) for a in course.assignments]
    )
    release_root = root / "release"
    if release_root.is_dir():
        problems += find_leaks(release_root, secrets, root=root)
    return problems
