"""Limits on a grading run: time per cell and per notebook, memory, output; killing process trees.

Two layers enforce them.

* Inside nbgrader, :class:`autograder.preprocessors.guarded_execute.GuardedExecute` gives each cell the
  smaller of the per-cell timeout and the time left to the notebook, caps the output a cell may
  collect, and turns a dead or stuck kernel into error outputs, so that the cells that ran keep
  their scores and the rest score 0.
* Around nbgrader, :func:`run_limited` runs the grading subprocess under a :class:`Watchdog`
  thread that watches the resident memory (RSS) of the kernel's process tree with psutil and kills
  that tree when it goes over the limit (leaving a note in a marker file that the executor reads,
  so the student sees why), kills everything at the hard wall-time limit, and stops a log that
  grows past its cap (output written around nbgrader's capture). The log is written by a
  :class:`LogPump` reading a FIFO, so it never holds more than the cap however fast the kernel
  writes: a writer past the cap blocks on the full pipe until the watchdog kills it.

Memory is watched rather than limited with ``RLIMIT_AS``: PyTorch and TensorFlow reserve far more
virtual memory than they use, so an address-space limit breaks them long before the real
footprint matters.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

#: Default memory limit of one kernel's process tree, in MiB.
#: The thread-count variables of the BLAS and OpenMP libraries (kernels, clean processes).
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
DEFAULT_MEMORY_MB = 4096.0
#: The per-notebook wall time is this factor times the manifest's ``time_budget_s``, plus startup.
BUDGET_FACTOR = 3.0
#: Seconds allowed for nbgrader, the kernel start and the clean re-check on top of the cells.
STARTUP_S = 60.0


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    Attributes
    ----------
    cell_timeout_s : float or None
        Seconds one cell may run (None: the course's ``Execute.timeout``).
    notebook_timeout_s : float
        Seconds all cells of a notebook may run together; cells after that are not run (score 0).
    memory_mb : float or None
        MiB of resident memory of the kernel's process tree; None for no limit.
    max_cell_output_bytes : int
        Output bytes kept per cell; the rest is dropped with a note.
    max_notebook_output_bytes : int
        Output bytes kept per notebook.
    max_log_bytes : int
        Bytes of grader log (nbgrader's and the kernel's own stdout/stderr) before the run is
        stopped.
    startup_s : float
        Grace on top of ``notebook_timeout_s`` for nbgrader, the kernel start and the re-check:
        the hard wall-time limit of the whole run is their sum.
    """

    cell_timeout_s: float | None = None
    notebook_timeout_s: float = 3 * 600.0
    memory_mb: float | None = DEFAULT_MEMORY_MB
    max_cell_output_bytes: int = 1_000_000
    max_notebook_output_bytes: int = 10_000_000
    max_log_bytes: int = 20_000_000
    startup_s: float = STARTUP_S

    @property
    def hard_timeout_s(self) -> float:
        """Wall-time after which the whole grading run of a submission is killed."""
        return self.notebook_timeout_s + self.startup_s


def resolve(
    time_budget_s: float,
    *,
    cell_timeout: float | None = None,
    notebook_timeout: float | None = None,
    memory_limit_mb: float | None = None,
) -> Limits:
    """Limits for an assignment: explicit values win, otherwise derived from its time budget.

    Parameters
    ----------
    time_budget_s : float
        The manifest's ``time_budget_s`` (seconds a reference solution needs).
    cell_timeout, notebook_timeout : float, optional
        Seconds; the notebook default is ``BUDGET_FACTOR * time_budget_s + STARTUP_S``.
    memory_limit_mb : float, optional
        MiB; default :data:`DEFAULT_MEMORY_MB`; 0 or less means no limit.
    """
    nb_timeout = (
        float(notebook_timeout)
        if notebook_timeout is not None
        else BUDGET_FACTOR * float(time_budget_s) + STARTUP_S
    )
    if nb_timeout <= 0:
        raise ValueError("the notebook timeout must be positive")
    if cell_timeout is not None and cell_timeout <= 0:
        raise ValueError("the cell timeout must be positive")
    memory = DEFAULT_MEMORY_MB if memory_limit_mb is None else float(memory_limit_mb)
    return Limits(
        cell_timeout_s=None if cell_timeout is None else float(cell_timeout),
        notebook_timeout_s=nb_timeout,
        memory_mb=memory if memory > 0 else None,
    )


# ---------------------------------------------------------------------------------------------
# Process trees.


def descendants(pid: int) -> list[psutil.Process]:
    """The living descendants of ``pid`` (empty when it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def rss_mb(processes: Iterable[psutil.Process]) -> float:
    """Summed resident memory in MiB of the processes that still exist."""
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**20


def kill_processes(processes: Iterable[psutil.Process], *, wait_s: float = 5.0) -> None:
    """SIGKILL every process given (stopping them first so none can spawn more), then reap."""
    procs = list(processes)
    for proc in procs:
        try:
            proc.suspend()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    for proc in procs:
        try:
            proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    psutil.wait_procs(procs, timeout=wait_s)


def kill_tree(pid: int, *, include_root: bool = True) -> None:
    """Kill the process ``pid`` and all its descendants (or only the descendants)."""
    procs = descendants(pid)
    if include_root:
        try:
            procs.insert(0, psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    kill_processes(procs)


# ---------------------------------------------------------------------------------------------
# Watching a grading subprocess.

_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()


def stop_all() -> int:
    """Kill every grading run this process started that is still running (on Ctrl-C).

    Returns
    -------
    int
        How many runs were stopped.
    """
    with _RUNNING_LOCK:
        pids = list(_RUNNING)
    for pid in pids:
        kill_tree(pid)
    return len(pids)


@dataclass
class RunReport:
    """How a limited run ended.

    Attributes
    ----------
    returncode : int
        The subprocess's exit status (negative: killed by that signal).
    reason : str or None
        Why the watchdog intervened (None when it did not): for the failures report.
    wall_s : float
        Seconds from start to exit.
    peak_kernel_rss_mb : float
        Largest RSS in MiB seen for the descendants (the kernel's tree).
    """

    returncode: int
    reason: str | None
    wall_s: float
    peak_kernel_rss_mb: float


class LogPump(threading.Thread):
    """Copy what a process writes into a FIFO to its log file, up to ``max_bytes``.

    The process opens :attr:`fifo_path` (or the descriptor from :meth:`writer_fd`) as its stdout
    and stderr. Once more than ``max_bytes`` arrive the pump stops reading and sets :attr:`full`;
    the writer then blocks on the full pipe until :class:`Watchdog` stops the run, and the log
    keeps exactly its first ``max_bytes``.

    Raises
    ------
    OSError
        When the folder cannot hold a FIFO; :func:`run_limited` then lets the process write the
        log file directly and watches its size instead.
    """

    def __init__(self, log_path: Path, max_bytes: int) -> None:
        super().__init__(daemon=True, name="hepml-log-pump")
        self.log_path = Path(log_path)
        self.fifo_path = self.log_path.with_name(self.log_path.name + ".fifo")
        self.fifo_path.unlink(missing_ok=True)
        os.mkfifo(self.fifo_path, 0o600)
        self._read_fd = os.open(self.fifo_path, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(self._read_fd, True)
        # Held open until the process has exited, so the pump sees no end-of-file before the
        # process has opened its end.
        self._hold_fd: int | None = os.open(self.fifo_path, os.O_WRONLY)
        self._out = open(self.log_path, "wb")  # closed by run()
        self.max_bytes = max_bytes
        self.written = 0
        self.full = False

    def writer_fd(self) -> int:
        """A new write descriptor on the FIFO, for ``subprocess.Popen(stdout=...)``."""
        return os.open(self.fifo_path, os.O_WRONLY)

    def run(self) -> None:
        failed = False  # a log that cannot be written (disk full) is drained, not a hung run
        try:
            while chunk := os.read(self._read_fd, 1 << 16):
                room = self.max_bytes - self.written
                if not failed:
                    try:
                        self._out.write(chunk[:room])
                        self._out.flush()
                    except OSError:
                        failed = True
                self.written += min(len(chunk), room)
                if len(chunk) > room:
                    self.full = True
                    return
        finally:
            with contextlib.suppress(OSError):
                self._out.close()

    def finish(self, timeout_s: float = 5.0) -> None:
        """After the process has exited: read what is left, close the FIFO and remove it."""
        if self._hold_fd is not None:
            os.close(self._hold_fd)
            self._hold_fd = None
        self.join(timeout_s)
        if not self.is_alive():  # else a stray writer still holds the pipe: leave the fd be
            os.close(self._read_fd)
        self.fifo_path.unlink(missing_ok=True)


class Watchdog(threading.Thread):
    """Watch a subprocess; enforce wall time, descendants' memory and log size.

    Parameters
    ----------
    proc : subprocess.Popen
        The grading process (nbgrader); its descendants are the kernel's tree.
    limits : Limits
    log_path : Path
        The file the process writes its stdout and stderr to.
    marker_path : Path
        Where a memory kill is explained, for the executor to report in the cell.
    interval_s : float
        Polling period.
    pump : LogPump, optional
        The pump that writes the log; its :attr:`LogPump.full` is watched instead of the file's
        size.
    """

    def __init__(
        self,
        proc: Any,
        limits: Limits,
        log_path: Path,
        marker_path: Path,
        *,
        interval_s: float = 0.1,
        pump: LogPump | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"hepml-watchdog-{proc.pid}")
        self.proc = proc
        self.limits = limits
        self.log_path = Path(log_path)
        self.marker_path = Path(marker_path)
        self.interval_s = interval_s
        self.pump = pump
        self.reason: str | None = None
        self.peak_rss_mb = 0.0
        self._stop_event = threading.Event()
        self._seen: dict[int, psutil.Process] = {}

    def stop(self) -> None:
        """Stop watching (after the process has exited)."""
        self._stop_event.set()

    def _kill_all(self, reason: str) -> None:
        self.reason = self.reason or reason
        tree = list(self._seen.values()) + descendants(self.proc.pid)
        try:  # the process itself is killed but not reaped here: its parent reads its status
            os.kill(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        kill_processes(tree)

    def _log_over_the_cap(self) -> bool:
        if self.pump is not None:
            return self.pump.full
        try:
            return self.log_path.stat().st_size > self.limits.max_log_bytes
        except FileNotFoundError:
            return False

    def run(self) -> None:
        start = time.monotonic()
        memory_killed = False
        while not self._stop_event.wait(self.interval_s):
            if self.proc.poll() is not None:
                break
            kids = descendants(self.proc.pid)
            for kid in kids:
                self._seen.setdefault(kid.pid, kid)
            used = rss_mb(kids)
            self.peak_rss_mb = max(self.peak_rss_mb, used)
            if self.limits.memory_mb is not None and used > self.limits.memory_mb:
                if not memory_killed:
                    note = (
                        f"The kernel used {used:.0f} MiB of memory, more than the limit of "
                        f"{self.limits.memory_mb:.0f} MiB, and was stopped."
                    )
                    self.marker_path.write_text(note)
                    memory_killed = True
                kill_processes(kids)
                continue
            elapsed = time.monotonic() - start
            if elapsed > self.limits.hard_timeout_s:
                self._kill_all(
                    f"grading took longer than the hard limit of {self.limits.hard_timeout_s:.0f} s "
                    "and was stopped"
                )
                break
            if self._log_over_the_cap():
                self._kill_all(
                    f"the run wrote more than {self.limits.max_log_bytes // 10**6} MB of log "
                    "output (outside the notebook cells) and was stopped"
                )
                break
        # Leftovers (a kernel that outlived nbgrader) are killed in any case.
        leftovers = [p for p in self._seen.values() if p.is_running()]
        if leftovers:
            kill_processes(leftovers)


def run_limited(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    marker_path: Path,
    limits: Limits,
    starter: Callable[..., Any] | None = None,
) -> RunReport:
    """Run ``cmd`` in its own session under a :class:`Watchdog`; stdout and stderr go to a file.

    Parameters
    ----------
    starter : callable, optional
        ``starter(cmd, cwd, env, log_path)`` returning a ``Popen``-like object (``pid``, ``poll``,
        ``wait``, ``returncode``) whose process starts its own session and writes to
        ``log_path``, e.g. :func:`autograder.grading.warm_start.launcher`; default ``subprocess.Popen``.

    Returns
    -------
    RunReport
        Never raises for what the process does; the caller reads ``returncode`` and ``reason``.
    """
    start = time.monotonic()
    try:
        pump: LogPump | None = LogPump(Path(log_path), limits.max_log_bytes)
    except OSError:  # no FIFOs in this folder: the file is written directly, its size watched
        pump = None
    with contextlib.ExitStack() as stack:
        if pump is None:
            out: Any = stack.enter_context(open(log_path, "wb"))
        else:
            pump.start()
            stack.callback(pump.finish)
        if starter is not None:
            target = Path(log_path) if pump is None else pump.fifo_path
            proc = starter(list(cmd), Path(cwd), dict(env), target)
        else:
            if pump is not None:
                out = pump.writer_fd()
                stack.callback(os.close, out)
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with _RUNNING_LOCK:
            _RUNNING.add(proc.pid)
        dog = Watchdog(proc, limits, log_path, marker_path, pump=pump)
        dog.start()
        try:
            proc.wait()
        except BaseException:
            kill_tree(proc.pid)
            raise
        finally:
            dog.stop()
            dog.join()
            with _RUNNING_LOCK:
                _RUNNING.discard(proc.pid)
        # Anything still in the session (the process group) goes too, before the pump's last
        # read: nothing may hold the pipe open then.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return RunReport(
        returncode=proc.returncode,
        reason=dog.reason,
        wall_s=time.monotonic() - start,
        peak_kernel_rss_mb=dog.peak_rss_mb,
    )


def tail(path: Path, max_bytes: int = 4000) -> str:
    """The last ``max_bytes`` of a text file (decoded leniently); empty when absent."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            return fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
