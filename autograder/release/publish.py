"""``hepml publish OUT``: write the student copy of the course, and refuse a copy that leaks.

The student copy is what students open and install: the release notebooks, the installable package
(``helpers`` and ``autograder``, which test cells import), a student README, ``environment.yml``,
``binder/``, ``pyproject.toml``, ``constraints.txt`` and a licence file. It is an allow-list: nothing
else of the instructor repository goes in, so never ``source/`` (solutions, hidden tests and their
seeds), ``course/`` (the manifest's thresholds, ``course/measurements/``, ``course/demo.toml``),
``tests/`` or ``bench/``.

Before anything is written, ``hepml check`` must pass (the release is current and clean) and the
manifest must pin the student copy to a tag or a commit (``allow_unpinned_ref`` does not count
here). The copy is assembled in a temporary folder beside ``OUT`` and scanned, every file, with
the leak scan of :mod:`autograder.release.check` (solution text, hidden-test text, hidden
numbers); it replaces ``OUT`` only when clean, keeping ``OUT/.git``. A finding that is public on
purpose (``helpers`` implements what an early assignment asks students to write, such as the
training loop of ``helpers.torch_training.fit``) is accepted only when ``course/publish-accepted.toml``
names it, file by file; hidden-test text is never accepted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import manifest
from autograder.release import check

#: Findings of the scan reviewed and accepted as public (instructor side, never published).
ACCEPTED_FILE = Path("course") / "publish-accepted.toml"
#: Written into every student copy; an existing ``OUT`` is replaced only when it holds this file.
MARKER = ".hepml-student-copy.json"
#: Where the release notebooks go in the student copy: ``notebooks/<id>/<id>.ipynb``.
NOTEBOOKS = Path("notebooks")
#: Files and folders copied as they are.
REQUIRED = ("helpers", "autograder", "pyproject.toml", "constraints.txt", "environment.yml", "binder")
LICENSES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING")
#: Parts of the packages that work only in the instructor repository (they read source/ and
#: course/demo.toml): left out.
LEFT_OUT = (Path("autograder") / "demo",)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
#: Keys of an accepted file's table, by the kind of finding they accept.
_ACCEPTABLE = {"solution": "solution text", "numbers": "hidden value"}
_GITHUB = re.compile(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?")


class PublishError(RuntimeError):
    """The student copy cannot be written; the message names the problem and the fix."""


@dataclass
class PublishResult:
    """What ``publish`` wrote: the folder, its files, and the findings accepted as public."""

    out: Path
    files: list[Path] = field(default_factory=list)
    accepted: list[check.Problem] = field(default_factory=list)
    unused_accepted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"wrote the student copy {self.out} ({len(self.files)} files, no leaks)"]
        if self.accepted:
            lines.append(f"{len(self.accepted)} finding(s) accepted by {ACCEPTED_FILE}")
        for entry in self.unused_accepted:
            lines.append(f"{ACCEPTED_FILE}: {entry} matches nothing any more: remove it")
        return "\n".join(lines)


def _accepted(root: Path) -> dict[tuple[str, str], set[str]]:
    """(file, kind) -> accepted secrets, from ``course/publish-accepted.toml`` (if present)."""
    path = root / ACCEPTED_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PublishError(f"{ACCEPTED_FILE}: not valid TOML ({exc})") from None
    accepted: dict[tuple[str, str], set[str]] = {}
    for name, table in data.get("files", {}).items():
        unknown = set(table) - {*_ACCEPTABLE, "reason"}
        if unknown:
            raise PublishError(
                f"{ACCEPTED_FILE}: [files.{name!r}] has {', '.join(sorted(unknown))}: only "
                "solution, numbers and reason (hidden-test text is never accepted)"
            )
        if not str(table.get("reason", "")).strip():
            raise PublishError(f"{ACCEPTED_FILE}: [files.{name!r}] needs a reason")
        for key, kind in _ACCEPTABLE.items():
            accepted[(name, kind)] = {str(s) for s in table.get(key, [])}
    return accepted


def _check_out(out: Path, root: Path) -> None:
    if out == root or root in out.parents or out in root.parents:
        raise PublishError(f"{out}: the student copy must be outside the course repository {root}")
    if out.exists():
        if not out.is_dir():
            raise PublishError(f"{out} exists and is not a folder: choose another OUT")
        entries = {p.name for p in out.iterdir()} - {".git"}
        if entries and MARKER not in entries:
            raise PublishError(
                f"{out} exists and is not a student copy written by hepml publish (no {MARKER}): "
                "choose a new or empty folder, or a clone of the student copy"
            )


def _links(url: str, ref: str) -> tuple[str | None, str | None]:
    """(Binder URL, Colab URL prefix) for a GitHub student copy; None elsewhere."""
    match = _GITHUB.fullmatch(url)
    if not match:
        return None, None
    org, repo = match.groups()
    return (
        f"https://mybinder.org/v2/gh/{org}/{repo}/{ref}",
        f"https://colab.research.google.com/github/{org}/{repo}/blob/{ref}",
    )


def student_readme(course: manifest.Course) -> str:
    """The README of the student copy: how to open, install and submit each assignment."""
    copy = course.student_copy
    binder, colab = _links(copy.url, copy.ref)
    lines = [
        f"# {course.title or course.id}",
        "",
        "The student copy of the course: the assignment notebooks and the `hepml-course` package "
        "they import (data helpers, plots, and the checks of the test cells).",
        "",
        "| assignment | notebook |",
        "| --- | --- |",
    ]
    for a in course.assignments:
        rel = f"{NOTEBOOKS.as_posix()}/{a.id}/{a.id}.ipynb"
        link = f" ([open in Colab]({colab}/{rel}))" if colab else ""
        lines.append(f"| {a.title} | `{rel}`{link} |")
    lines += [
        "",
        "## Where to work",
        "",
        "- **Google Colab**: open a notebook (File → Open notebook → GitHub, or the links above) "
        "and run its first cell: it installs",
        f"  `{course.colab_install}` (what Colab lacks, such as torchinfo; Colab's own torch "
        "and tensorflow stay).",
        "- **Binder or JupyterHub**: the environment of `environment.yml` (`binder/` for Binder"
        + (f": [launch]({binder})" if binder else "")
        + "); open the notebooks in the `python3` kernel (Python 3 (ipykernel)).",
        "- **Your laptop**: `pip install -c constraints.txt \".[torch,keras]\"` in a fresh virtual "
        "environment (Python 3.11 or newer); on Linux add "
        "`--extra-index-url https://download.pytorch.org/whl/cpu` for the CPU-only torch.",
        "",
        "Start with `00_setup`: its first cells check your environment and say how to fix what "
        "is missing where you are.",
        "",
        "## Working on an assignment",
        "",
        "Fill in the cells marked `YOUR CODE HERE` / `YOUR ANSWER HERE` and run the test cells "
        "below them: no error means you are on track (the grader runs hidden tests as well). Before "
        "you submit, run *Kernel → Restart & Run All* and check that it runs to the end.",
        "",
    ]
    return "\n".join(lines)


def _assemble(course: manifest.Course, staging: Path) -> list[Path]:
    """Copy the allow-list into ``staging``; return the files written, relative to it."""
    root = course.root
    for name in REQUIRED:
        if not (root / name).exists():
            raise PublishError(f"{root / name} is missing: the student copy needs it")
    for name in REQUIRED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, staging / name, ignore=_IGNORE, symlinks=False)
        else:
            shutil.copy2(src, staging / name)
    for rel in LEFT_OUT:
        shutil.rmtree(staging / rel, ignore_errors=True)
    for name in LICENSES:
        if (root / name).is_file():
            shutil.copy2(root / name, staging / name)
    for a in course.assignments:
        folder = root / "release" / a.id
        if not a.release_notebook(root).is_file():
            raise PublishError(f"{a.release_notebook(root)} is missing: run hepml release")
        shutil.copytree(folder, staging / NOTEBOOKS / a.id, ignore=_IGNORE)
    (staging / "README.md").write_text(student_readme(course), encoding="utf-8")
    files = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    marker = {
        "course": course.id,
        "student_copy_url": course.student_copy.url,
        "student_copy_ref": course.student_copy.ref,
        "files": [p.as_posix() for p in files],
    }
    (staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    return [*files, Path(MARKER)]


def _replace(out: Path, staging: Path) -> None:
    """Move ``staging`` into place as ``out``, keeping ``out/.git``."""
    if not out.exists():
        staging.rename(out)
        return
    if (out / ".git").exists():
        (out / ".git").rename(staging / ".git")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old)


def publish(out: Path, *, root: Path | None = None) -> PublishResult:
    """Write the student copy of the course into ``out``.

    Parameters
    ----------
    out
        The folder of the student copy: new, empty, a clone of the student copy's repository
        (its ``.git`` is kept) or an earlier ``hepml publish`` output. Outside the course root.
    root
        The course root (default: found from the working folder).

    Returns
    -------
    PublishResult
        The files written, relative to ``out``.

    Raises
    ------
    PublishError
        Nothing is written: the manifest does not pin the student copy, ``hepml check`` finds a
        problem, a required file is missing, ``out`` holds something else, or the scan finds a
        leak not accepted in ``course/publish-accepted.toml``.
    """
    course = manifest.load(root)
    root = course.root
    out = Path(out).resolve()
    problem = course.student_copy_problem(strict=True)
    if problem:
        raise PublishError(f"course/manifest.toml: {problem}")
    _check_out(out, root)
    accepted = _accepted(root)
    problems = check.check(root=root)
    if problems:
        raise PublishError(
            f"hepml check finds {len(problems)} problem(s), the first: {problems[0]} "
            "(run hepml check, fix, then publish)"
        )
    sources = [a.source_notebook(root) for a in course.assignments]
    secrets = check.collect_secrets(sources, also_visible=sources)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the copy is for everyone
    try:
        files = _assemble(course, staging)
        result = PublishResult(out=out, files=files)
        leaks, used = [], set()
        for leak in check.find_leaks(staging, secrets, root=staging):
            key = (leak.path.as_posix(), leak.kind)
            if leak.secret in accepted.get(key, ()):
                result.accepted.append(leak)
                used.add((*key, leak.secret))
            else:
                leaks.append(leak)
        if leaks:
            more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
            raise PublishError(
                f"refusing to write {out}: {leaks[0]}{more}; remove it from the file, or if it "
                f"is public on purpose (not a hidden test) accept it in {ACCEPTED_FILE}"
            )
        result.unused_accepted = [
            f"[files.{name!r}] {kind} {secret!r}"
            for (name, kind), secrets_ in sorted(accepted.items())
            for secret in sorted(secrets_)
            if (name, kind, secret) not in used
        ]
        _replace(out, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
