"""Start nbgrader without paying for its imports every time (a preloaded fork server).

Importing nbgrader (nbconvert, jupyter_client, SQLAlchemy, ...) costs about 3 s of CPU, more than
executing a small notebook. A worker that grades submission after submission therefore starts
each ``nbgrader autograde`` from a :mod:`multiprocessing` *fork server* that imported nbgrader
once: every run is still a separate process (its own session, environment, working folder and
log; killed as a tree like any other), only the imports are shared, copy-on-write.

Used when the current process may have children (not inside a daemonic process such as a Dask
worker) on POSIX, and its ``__main__`` can be imported again safely (multiprocessing re-imports a
script's main module in each child), and only when ``HEPML_WARM_START=1``: it is opt-in while a
sporadic exit status 255 of forked runs (seen grading assignment 01) is unexplained; otherwise
``python -m nbgrader`` is started as a plain subprocess.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

#: Modules the fork server imports once.
PRELOAD = [
    "nbgrader.apps.nbgraderapp",
    "nbgrader.apps.autogradeapp",
    "nbgrader.converters",
    "nbgrader.preprocessors",
    "nbconvert.exporters",
    "nbclient",
    "jupyter_client",
    "sqlalchemy",
    "autograder.preprocessors.guarded_execute",
    "autograder.preprocessors.redact_hidden_tests",
]
WARM_ENV = "HEPML_WARM_START"

_lock = threading.Lock()
_context: multiprocessing.context.BaseContext | None = None


def _main_is_import_safe() -> bool:
    """Whether multiprocessing may re-import the ``__main__`` script in a child (it does, for
    scripts run by path): true for ``python -m``, interactive sessions, notebooks and scripts
    that guard their work with ``if __name__ == "__main__"``."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if path is None or (spec is not None and spec.name.endswith("__main__")):
        return True
    try:
        text = Path(path).read_text(errors="ignore")
    except OSError:
        return False
    return "__name__" in text and "__main__" in text


def available() -> bool:
    """Whether nbgrader runs can be forked from a preloaded server in this process."""
    if os.environ.get(WARM_ENV, "0").strip().lower() in {"0", "off", "no", "false"}:
        return False
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon:  # e.g. a Dask worker: no children allowed
        return False
    return _main_is_import_safe()


def _get_context() -> multiprocessing.context.BaseContext:
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _context = ctx
        return _context


def _child(args: list[str], cwd: str, env: dict[str, str], log_path: str) -> None:
    """Run ``nbgrader ARGS`` in this forked process, as ``python -m nbgrader`` would."""
    os.setsid()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["nbgrader", *args]
    from autograder.course.nbgrader_main import block_unused_imports

    block_unused_imports()
    from nbgrader.apps.nbgraderapp import main

    main()


class ForkedNbgrader:
    """A ``subprocess.Popen``-like handle on an nbgrader run forked from the server."""

    def __init__(self, args: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path):
        self._proc = _get_context().Process(
            target=_child,
            args=(list(args), str(cwd), dict(env), str(log_path)),
            name="hepml-nbgrader",
        )
        self._proc.start()
        self.pid = self._proc.pid
        # The exit status is read once from a pipe: the watchdog's poll() and wait() must not
        # both read it (the loser would see end-of-file and report 255).
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        with self._lock:
            return self._proc.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        multiprocessing.connection.wait([self._proc.sentinel], timeout)
        return self.poll()

    @property
    def returncode(self) -> int | None:
        return self.poll()


def launcher() -> Callable[..., ForkedNbgrader] | None:
    """A starter for :func:`autograder.grading.limits.run_limited`, or None when not :func:`available`.

    The starter takes ``([python, "-m", "nbgrader", *args], cwd, env, log_path)``.
    """
    if not available():
        return None

    def start(cmd: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path):
        if list(cmd[1:3]) not in (["-m", "nbgrader"], ["-m", "autograder.course.nbgrader_main"]):
            raise ValueError("the warm start only runs `python -m nbgrader ...`")
        return ForkedNbgrader(cmd[3:], cwd, env, log_path)

    return start


def run(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    timeout: float | None = None,
) -> int:
    """Run ``nbgrader ARGS`` forked from the server and wait; the exit status (-9 on timeout)."""
    Path(log_path).write_bytes(b"")
    proc = ForkedNbgrader(args, cwd, env, log_path)
    code = proc.wait(timeout)
    if code is None:
        os.killpg(proc.pid, 9)
        proc.wait()
        return -9
    return code
