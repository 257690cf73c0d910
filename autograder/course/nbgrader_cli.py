"""Run nbgrader commands for the course, from Python, in a subprocess.

nbgrader shells out to ``alembic`` (and Jupyter to ``jupyter-*``) by name, so the folder of the
running interpreter goes first on PATH: ``hepml`` then works from an un-activated virtualenv.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The command that starts nbgrader (see :mod:`autograder.course.nbgrader_main`).
NBGRADER = (sys.executable, "-m", "autograder.course.nbgrader_main")


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds the command and the end of its log."""


def environment() -> dict[str, str]:
    """The environment for nbgrader subprocesses: this interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    parts = env.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bindir:
        env["PATH"] = os.pathsep.join([bindir, *[p for p in parts if p and p != bindir]])
    env.setdefault("PYTHONHASHSEED", "0")
    # Framework chatter that nbgrader would otherwise record in outputs.
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def ensure_on_path() -> None:
    """Put this interpreter's bin folder first on PATH in this process (for in-process nbgrader)."""
    os.environ["PATH"] = environment()["PATH"]


def run(
    args: list[str], *, root: Path, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` with the course root as working folder; raise on failure."""
    cmd = [*NBGRADER, *args]
    proc = subprocess.run(
        cmd,
        cwd=root,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        log = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(log[-25:])
        raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc
