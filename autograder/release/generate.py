"""``hepml release``: regenerate ``release/`` from ``source/`` through nbgrader, deterministically."""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import manifest

from autograder.course import nbgrader_cli as nbgrader_run

SETUP_TAG = "colab-setup"

SETUP_TEMPLATE = """\
# Setup: on Google Colab this installs the course package (and only that: Colab's own torch and
# tensorflow stay). On JupyterHub, Binder or your laptop it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {spec!r}], check=True)"""


def setup_cell_source(colab_install: str) -> str:
    """Source of the first code cell of every notebook, for the manifest's Colab install spec."""
    return SETUP_TEMPLATE.format(spec=colab_install)


@dataclass
class ReleaseResult:
    """What ``release`` did: the assignments released, files changed, source setup cells synced."""

    released: list[str] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    synced_setup: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"released {', '.join(self.released) or 'nothing'}"]
        if self.synced_setup:
            lines.append(
                "updated the Colab setup cell of " + ", ".join(map(str, self.synced_setup))
            )
        lines.append(
            f"{len(self.changed)} file(s) changed under release/"
            if self.changed
            else "release/ was already up to date"
        )
        return "\n".join(lines)


def sync_setup_cell(notebook: Path, colab_install: str) -> bool:
    """Make the notebook's ``colab-setup`` cell match the manifest; True when the file changed."""
    nb = nbformat.read(notebook, as_version=4)
    want = setup_cell_source(colab_install)
    for cell in nb.cells:
        if cell.cell_type == "code" and SETUP_TAG in cell.metadata.get("tags", []):
            if cell.source == want:
                return False
            cell.source = want
            nbformat.write(nb, notebook)
            return True
    return False


def generate(assignment_id: str, *, root: Path, release_dir: Path) -> Path:
    """Run nbgrader generate_assignment for one assignment into ``release_dir/<id>``."""
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


def release(
    assignments: list[str] | None = None, *, root: Path | None = None, sync_setup: bool = True
) -> ReleaseResult:
    """Regenerate ``release/<id>/`` for the given assignments (default: all in the manifest).

    Parameters
    ----------
    assignments
        Assignment ids; every id must be in ``course/manifest.toml``.
    root
        The course root (default: found from the working folder).
    sync_setup
        First make each source notebook's Colab setup cell match the manifest's install spec.

    Returns
    -------
    ReleaseResult
        Running it twice in a row changes nothing the second time.
    """
    course = manifest.load(root)
    ids = assignments or course.ids
    result = ReleaseResult()
    for assignment_id in ids:
        a = course.assignment(assignment_id)
        src = a.source_notebook(course.root)
        if not src.is_file():
            raise FileNotFoundError(
                f"{src}: the manifest lists {a.id!r} but its notebook is missing"
            )
        if sync_setup and sync_setup_cell(src, course.colab_install):
            result.synced_setup.append(src.relative_to(course.root))
        with tempfile.TemporaryDirectory(prefix="hepml-release-") as tmp:
            fresh = generate(a.id, root=course.root, release_dir=Path(tmp))
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
