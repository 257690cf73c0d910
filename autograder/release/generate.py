"""``hepml release``: regenerate ``release/`` from ``source/`` through nbgrader, deterministically."""

from __future__ import annotations

import filecmp
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import manifest

from autograder.course import nbgrader_cli as nbgrader_run

SETUP_TAG = "colab-setup"

SETUP_TEMPLATE = """\
# Setup: on Google Colab this installs the course package and what Colab lacks (the colab extra),
# at the version these notebooks belong to; Colab's own torch and tensorflow stay. On JupyterHub,
# Binder or your laptop it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    COURSE_PACKAGE = {spec}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", COURSE_PACKAGE],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        errors = [line for line in install.stderr.splitlines() if line.startswith("ERROR")]
        print(
            f"The course package did not install ({{errors[-1] if errors else 'pip failed'}}): "
            "check that this runtime is online and run this cell again, or ask your instructor."
        )"""


class ReleaseError(ValueError):
    """The course cannot be released as it stands; the message says what to change."""


def setup_cell_source(colab_install: str) -> str:
    """Source of the first code cell of every student notebook, for the Colab install spec."""
    return SETUP_TEMPLATE.format(spec=json.dumps(colab_install))


@dataclass
class ReleaseResult:
    """What ``release`` did: the assignments released and the files changed under release/."""

    released: list[str] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"released {', '.join(self.released) or 'nothing'}"]
        lines.append(
            f"{len(self.changed)} file(s) changed under release/"
            if self.changed
            else "release/ was already up to date"
        )
        return "\n".join(lines)


def write_setup_cells(folder: Path, colab_install: str) -> list[Path]:
    """Give every notebook under ``folder`` the Colab setup cell of ``colab_install``.

    The cell tagged ``colab-setup`` of a source notebook is a placeholder: the student version's
    cell is written here, from the manifest's student copy, so it is never edited by hand and
    never stale. Returns the notebooks changed.
    """
    want = setup_cell_source(colab_install)
    changed = []
    for notebook in sorted(folder.rglob("*.ipynb")):
        nb = nbformat.read(notebook, as_version=4)
        cells = [
            c for c in nb.cells if c.cell_type == "code" and SETUP_TAG in c.metadata.get("tags", [])
        ]
        if cells and any(c.source != want for c in cells):
            for cell in cells:
                cell.source = want
            nbformat.write(nb, notebook)
            changed.append(notebook)
    return changed


def generate(assignment_id: str, *, root: Path, release_dir: Path, colab_install: str) -> Path:
    """Run nbgrader generate_assignment for one assignment into ``release_dir/<id>``, then write
    its Colab setup cells for ``colab_install``."""
    nbgrader_run.run(
        [
            "generate_assignment",
            assignment_id,
            "--force",
            "--no-db",
            f"--CourseDirectory.root={root}",
            f"--CourseDirectory.release_directory={release_dir}",
            "--log-level=WARN",
        ],
        root=root,
    )
    write_setup_cells(release_dir / assignment_id, colab_install)
    return release_dir / assignment_id


def _tree(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def diff_trees(expected: Path, actual: Path) -> list[str]:
    """Differences between two folders: files missing, extra or with different bytes."""
    want, have = _tree(expected), _tree(actual) if actual.is_dir() else set()
    problems = [f"missing {p}" for p in sorted(want - have)]
    problems += [f"unexpected {p}" for p in sorted(have - want)]
    problems += [
        f"differs {p}"
        for p in sorted(want & have)
        if not filecmp.cmp(expected / p, actual / p, shallow=False)
    ]
    return problems


def release(assignments: list[str] | None = None, *, root: Path | None = None) -> ReleaseResult:
    """Regenerate ``release/<id>/`` for the given assignments (default: all in the manifest).

    Parameters
    ----------
    assignments
        Assignment ids; every id must be in ``course/manifest.toml``.
    root
        The course root (default: found from the working folder).

    Returns
    -------
    ReleaseResult
        Running it twice in a row changes nothing the second time.

    Raises
    ------
    ReleaseError
        When the manifest names no student copy, or pins it to a branch (see
        :func:`autograder.course.manifest.ref_problem`) without ``allow_unpinned_ref``.
    """
    course = manifest.load(root)
    problem = course.student_copy_problem()
    if problem:
        raise ReleaseError(f"course/manifest.toml: {problem}")
    ids = assignments or course.ids
    result = ReleaseResult()
    for assignment_id in ids:
        a = course.assignment(assignment_id)
        src = a.source_notebook(course.root)
        if not src.is_file():
            raise FileNotFoundError(
                f"{src}: the manifest lists {a.id!r} but its notebook is missing"
            )
        with tempfile.TemporaryDirectory(prefix="hepml-release-") as tmp:
            fresh = generate(
                a.id, root=course.root, release_dir=Path(tmp), colab_install=course.colab_install
            )
            target = course.root / "release" / a.id
            changes = diff_trees(fresh, target)
            if changes:
                staging = target.with_name(f".{a.id}.new")
                shutil.rmtree(staging, ignore_errors=True)
                shutil.copytree(fresh, staging)
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
                result.changed += [target / c.split(" ", 1)[1] for c in changes]
        result.released.append(a.id)
    return result
