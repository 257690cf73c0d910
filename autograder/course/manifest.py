"""The course manifest, ``course/manifest.toml``: the assignments and their budgets, as data."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

FRAMEWORKS = ("none", "torch", "keras")


@dataclass(frozen=True)
class Assignment:
    """One assignment of the course as the manifest describes it."""

    id: str
    title: str
    framework: str
    dataset: str
    points: float
    time_budget_s: float
    bonus_points: float = 0.0
    thresholds: dict = field(default_factory=dict)
    #: False when every test cell is measured by the grader (docs/writing-tests.md): the kernel
    #: then runs test cells without their hidden region.
    hidden_tests_in_kernel: bool = True

    def source_notebook(self, root: Path) -> Path:
        """Path of the solution notebook, ``source/<id>/<id>.ipynb``."""
        return root / "source" / self.id / f"{self.id}.ipynb"

    def release_notebook(self, root: Path) -> Path:
        """Path of the student notebook, ``release/<id>/<id>.ipynb``."""
        return root / "release" / self.id / f"{self.id}.ipynb"


@dataclass(frozen=True)
class Course:
    """The whole course: its id, title, Colab install spec and assignments in order."""

    root: Path
    id: str
    title: str
    colab_install: str
    assignments: tuple[Assignment, ...]

    def assignment(self, assignment_id: str) -> Assignment:
        """The assignment with this id; a ``KeyError`` naming the known ids otherwise."""
        for a in self.assignments:
            if a.id == assignment_id:
                return a
        known = ", ".join(a.id for a in self.assignments)
        raise KeyError(f"no assignment {assignment_id!r} in course/manifest.toml (known: {known})")

    @property
    def ids(self) -> list[str]:
        return [a.id for a in self.assignments]


class ManifestError(ValueError):
    """The manifest is malformed; the message names the entry and the field."""


def find_root(start: Path | None = None) -> Path:
    """The course root: the nearest folder at or above ``start`` holding ``course/manifest.toml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "course" / "manifest.toml").is_file():
            return folder
    raise FileNotFoundError(
        f"no course/manifest.toml at or above {here}: run hepml from the course repository "
        "(or pass --root)"
    )


_REQUIRED = {"id": str, "title": str, "framework": str, "dataset": str}


def load(root: Path | None = None) -> Course:
    """Read and validate ``course/manifest.toml`` under ``root`` (default: found from the cwd)."""
    root = find_root() if root is None else Path(root).resolve()
    path = root / "course" / "manifest.toml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no course manifest {path}: pass --root the course folder (the one holding "
            "course/manifest.toml)"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from None
    course = data.get("course", {})
    entries = data.get("assignments", [])
    if not entries:
        raise ManifestError(f"{path}: no [[assignments]] entries")
    assignments = []
    seen = set()
    for i, entry in enumerate(entries):
        where = f"{path}: [[assignments]] #{i + 1}"
        for key, kind in _REQUIRED.items():
            if not isinstance(entry.get(key), kind):
                raise ManifestError(f"{where}: field {key!r} missing or not a {kind.__name__}")
        for key in ("points", "time_budget_s"):
            if not isinstance(entry.get(key), (int, float)) or entry[key] < 0:
                raise ManifestError(f"{where} ({entry['id']}): {key!r} must be a number >= 0")
        if entry["framework"] not in FRAMEWORKS:
            raise ManifestError(
                f"{where} ({entry['id']}): framework {entry['framework']!r} is not one of "
                f"{', '.join(FRAMEWORKS)}"
            )
        if entry["id"] in seen:
            raise ManifestError(f"{where}: duplicate assignment id {entry['id']!r}")
        seen.add(entry["id"])
        assignments.append(
            Assignment(
                id=entry["id"],
                title=entry["title"],
                framework=entry["framework"],
                dataset=entry["dataset"],
                points=float(entry["points"]),
                bonus_points=float(entry.get("bonus_points", 0)),
                time_budget_s=float(entry["time_budget_s"]),
                thresholds=dict(entry.get("thresholds", {})),
                hidden_tests_in_kernel=bool(entry.get("hidden_tests_in_kernel", True)),
            )
        )
    return Course(
        root=root,
        id=str(course.get("id", "hepml")),
        title=str(course.get("title", "")),
        colab_install=str(course.get("colab_install", "")),
        assignments=tuple(assignments),
    )
