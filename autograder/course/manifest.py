"""The course manifest, ``course/manifest.toml``: the assignments and their budgets, as data."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from packaging.version import InvalidVersion, Version

FRAMEWORKS = ("none", "torch", "keras")
#: The distribution and extra that the Colab setup cell installs from the student copy.
COLAB_REQUIREMENT = "hepml-course[colab]"
_COMMIT = re.compile(r"[0-9a-f]{40}")


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


def ref_problem(ref: str) -> str | None:
    """Why ``ref`` does not pin the student copy, or None when it does.

    A ref is pinned when it is a full 40-digit commit hash or a version tag (``v1.0``,
    ``2026.1``, ``v0.3.0rc1``: anything PEP 440 reads as a version). A branch such as ``main``
    is not: it moves under the students in the middle of a term.
    """
    if _COMMIT.fullmatch(ref):
        return None
    try:
        Version(ref)
    except InvalidVersion:
        return (
            f"student_copy_ref {ref!r} is not pinned: use a version tag (v1.0, 2026.1) or a full "
            "40-digit commit hash of the student copy"
        )
    return None


@dataclass(frozen=True)
class StudentCopy:
    """Where students install the course from: the published copy (``hepml publish``) and a ref."""

    url: str
    ref: str
    allow_unpinned: bool = False

    @property
    def install_spec(self) -> str:
        """The pip requirement of the Colab setup cell: the ``colab`` extra at this ref."""
        return f"{COLAB_REQUIREMENT} @ git+{self.url}@{self.ref}"

    def pin_problem(self, *, strict: bool = False) -> str | None:
        """Why the ref is unpinned, unless the manifest allows it (``strict`` ignores that)."""
        problem = ref_problem(self.ref)
        if problem is None or strict:
            return problem
        if self.allow_unpinned:
            return None
        return f"{problem} (or set allow_unpinned_ref = true under [course] while in development)"


@dataclass(frozen=True)
class Course:
    """The whole course: its id, title, student copy and assignments in order."""

    root: Path
    id: str
    title: str
    student_copy: StudentCopy | None
    assignments: tuple[Assignment, ...]

    @property
    def colab_install(self) -> str:
        """What the Colab setup cell pip-installs; empty when the manifest names no student copy."""
        return self.student_copy.install_spec if self.student_copy else ""

    def student_copy_problem(self, *, strict: bool = False) -> str | None:
        """Why the Colab setup cell cannot be written from this manifest, or None."""
        if self.student_copy is None:
            return (
                "no student copy: set student_copy_url and student_copy_ref under [course] "
                "(the Colab setup cell installs from them)"
            )
        return self.student_copy.pin_problem(strict=strict)

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
    student_copy = _student_copy(course, path)
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
        student_copy=student_copy,
        assignments=tuple(assignments),
    )


def _student_copy(course: dict, path: Path) -> StudentCopy | None:
    if "colab_install" in course:
        raise ManifestError(
            f"{path}: [course] colab_install is replaced by student_copy_url and student_copy_ref "
            "(the setup cell installs hepml-course[colab] from them)"
        )
    url, ref = course.get("student_copy_url"), course.get("student_copy_ref")
    if url is None and ref is None:
        return None
    for key, value in (("student_copy_url", url), ("student_copy_ref", ref)):
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(f"{path}: [course] {key} missing or not a string")
    if urlparse(url).scheme not in ("https", "http", "ssh", "file") or url.endswith("/"):
        raise ManifestError(
            f"{path}: [course] student_copy_url {url!r} must be a git URL such as "
            "https://github.com/ORG/REPO.git"
        )
    allow = course.get("allow_unpinned_ref", False)
    if not isinstance(allow, bool):
        raise ManifestError(f"{path}: [course] allow_unpinned_ref must be true or false")
    return StudentCopy(url=url, ref=ref.strip(), allow_unpinned=allow)
