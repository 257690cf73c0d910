"""The per-submission grading worker: one student's notebook, executed and autograded in private.

:func:`grade_submission` is the function that ``--workers`` threads and Dask workers run. It
takes a :class:`Job` that carries everything as bytes (the student's files, the public files of
the release, a gradebook holding only the assignment's official cells, the course's nbgrader
configuration), so it needs no shared filesystem, and returns an :class:`Outcome` with the
executed notebook: the main process alone writes the real gradebook.

Inside a scratch folder it runs ``nbgrader autograde`` for this one student against its private
gradebook, with the course's configuration plus the worker's preprocessor chains
(:mod:`autograder.preprocessors.guarded_execute`), a kernelspec that starts the kernel in the sandbox
(:mod:`autograder.grading.sandbox`), and under a watchdog (:mod:`autograder.grading.limits`); nbgrader
starts from a fork server that imported it once (:mod:`autograder.grading.warm_start`) where it can.
Layout::

    scratch/
      course/     nbgrader course root: config, source/<a>/ (public files), submitted/, autograded/
      private/    gradebook copy, check records by test cell, re-check files, log, kill marker
      work/       the kernel's working folder: the student's files and the public files only
      live/       HEPML_ARTEFACT_DIR of the kernel (emptied around every test cell)
      rt/ jp/ cfg/  Jupyter runtime (ipc sockets), the kernelspec, an empty Jupyter config

``course/``, ``private/`` and the course's own working data are hidden from the kernel when the
sandbox is available.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from autograder.course import nbgrader_cli as nbgrader_run
from autograder.grading import limits, warm_start
from autograder.grading import sandbox as kernel_sandbox
from autograder.grading.limits import THREAD_VARS, Limits
from autograder.preprocessors import AUTOGRADE, SANITIZE

#: Environment variables passed to nbgrader and the kernel (plus those with these prefixes).
ENV_KEEP = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "SHELL",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "VIRTUAL_ENV",
    "PYTHONHASHSEED",
    "MPLBACKEND",
)
ENV_PREFIXES = (
    "LC_",
    "CONDA_",
    "CUDA_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "TF_",
    "KERAS_",
    "TORCH_",
    "HEPML_DATA_",
    "HEPML_MIRROR",
    "XDG_CACHE_HOME",
)
#: Keep a worker's scratch folder for debugging when this variable is set.
KEEP_SCRATCH_ENV = "HEPML_KEEP_SCRATCH"
#: Folders or files (``os.pathsep``-separated) that sandboxed kernels may read, read-only, beside
#: the data cache: the real data files a course provides, for example. Everything else under the
#: kernel's private ``/tmp`` stays out of sight.
READABLE_ENV = "HEPML_GRADING_READABLE"


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to grade one submission (picklable, no shared paths needed).

    Attributes
    ----------
    assignment, student : str
    files : dict of str to bytes
        The student's submitted folder, by POSIX relative path (the notebooks and any other file).
    public_files : dict of str to bytes
        Files of the released assignment other than notebooks, by relative path.
    template_db : bytes
        An SQLite gradebook holding the assignment's official cells and nothing else.
    course_config : str
        The text of the course's ``nbgrader_config.py``.
    course_id : str
    limits : Limits
    sha256 : str
        Digest of the submission (for the resume state).
    hide : tuple of str
        Paths (on the grader's machine) the kernel must not see; those absent are ignored.
    threads : int
        Threads for BLAS/OpenMP in the kernel (cores shared by the concurrent workers).
    secret : str
        The grader's secret (:mod:`autograder.grading.secret`), for the clean process only.
    strip_hidden : bool
        The kernel runs test cells without their hidden region (every test cell is measured).
    """

    assignment: str
    student: str
    files: dict[str, bytes]
    public_files: dict[str, bytes]
    template_db: bytes
    course_config: str
    course_id: str
    limits: Limits
    sha256: str
    hide: tuple[str, ...] = ()
    threads: int = 1
    secret: str = ""
    strip_hidden: bool = False


@dataclass
class Outcome:
    """What grading one submission gave.

    Attributes
    ----------
    status : {"graded", "failed"}
    reason : str
        Why it failed (empty when graded).
    notebooks : dict of str to bytes
        The autograded notebooks (name -> ``.ipynb`` bytes) for the recording pass.
    scores, max_scores : dict of str to float
        Per graded cell, as the worker's private gradebook recorded them.
    rechecks : dict
        The clean verdict per test cell the kernel passed (see :mod:`autograder.grading.replay`).
    wall_s, peak_rss_mb : float
    sandboxed : bool
        The kernel ran in the namespaces of :mod:`autograder.grading.sandbox`.
    host : str
        ``hostname:pid`` of the process that ran the job.
    log_tail : str
        The end of nbgrader's log (for the failures report).
    """

    assignment: str
    student: str
    sha256: str
    status: str
    reason: str = ""
    notebooks: dict[str, bytes] = field(default_factory=dict)
    scores: dict[str, float | None] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    rechecks: dict[str, dict] = field(default_factory=dict)
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    sandboxed: bool = False
    host: str = ""
    log_tail: str = ""

    @property
    def total(self) -> float:
        return float(sum(v or 0.0 for v in self.scores.values()))

    @property
    def max_total(self) -> float:
        return float(sum(self.max_scores.values()))


def _safe_write(base: Path, rel: str, data: bytes) -> None:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"refusing a file path outside the folder: {rel!r}")
    target = base.joinpath(*path.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _environment(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ENV_KEEP or k.startswith(ENV_PREFIXES)}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        [bindir, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir]]
    )
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The cores are shared among the workers: a kernel gets its share, or fewer threads when the
    # grader's environment asks for fewer (never more: two workers with two threads each on two
    # cores make BLAS spin against each other).
    for var in THREAD_VARS:
        share = max(1, threads)
        asked = env.get(var, "").strip()
        if asked.isdigit() and int(asked) > 0:
            share = min(share, int(asked))
        env[var] = str(share)
    return env


def invalid_notebook(data: bytes) -> str | None:
    """Why ``data`` is not a notebook nbgrader can grade, or None when it is one."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        return "the file is not UTF-8 text"
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"not a valid notebook ({first[:200]})"
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        return f"not a valid notebook ({exc.message[:200]})"
    return None


def _config(job: Job, d: dict[str, Path], kernel_name: str, measure_argv: list[str]) -> str:
    lim = job.limits
    lines = [
        "c = get_config()  # noqa: F821",
        f"load_subconfig({str(d['course'] / 'course_nbgrader_config.py')!r})  # noqa: F821",
        f"c.CourseDirectory.root = {str(d['course'])!r}",
        f"c.CourseDirectory.course_id = {job.course_id!r}",
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(d['private'] / 'gradebook.db')!r}",
        "c.CourseDirectory.ignore = ['.ipynb_checkpoints', '*.pyc', '__pycache__']",
        "c.Autograde.create_student = True",
        f"c.Autograde.sanitize_preprocessors = {list(SANITIZE)!r}",
        f"c.Autograde.autograde_preprocessors = {list(AUTOGRADE)!r}",
        f"c.GuardedExecute.kernel_name = {kernel_name!r}",
        f"c.GuardedExecute.notebook_timeout = {float(lim.notebook_timeout_s)!r}",
        f"c.GuardedExecute.max_cell_output_bytes = {int(lim.max_cell_output_bytes)!r}",
        f"c.GuardedExecute.max_notebook_output_bytes = {int(lim.max_notebook_output_bytes)!r}",
        f"c.GuardedExecute.run_path = {str(d['work'])!r}",
        f"c.GuardedExecute.artefact_dir = {str(d['live'])!r}",
        f"c.GuardedExecute.records_dir = {str(d['private'] / 'records')!r}",
        f"c.GuardedExecute.kill_marker = {str(d['private'] / 'killed.txt')!r}",
        "c.GuardedExecute.startup_timeout = 120",
        f"c.GuardedExecute.strip_hidden = {bool(job.strip_hidden)!r}",
        f"c.Recheck.records_dir = {str(d['private'] / 'records')!r}",
        f"c.Recheck.work_dir = {str(d['private'] / 'recheck')!r}",
        f"c.Recheck.python = {sys.executable!r}",
        f"c.Recheck.measure_dir = {str(d['live'] / 'measure')!r}",
        f"c.Recheck.measure_argv = {measure_argv!r}",
        f"c.Recheck.measure_cwd = {str(d['work'])!r}",
        f"c.Recheck.secret_file = {str(d['private'] / 'grader-secret')!r}",
        "c.KernelManager.transport = 'ipc'",
        f"c.KernelManager.ip = {str(d['rt'] / 'k')!r}",
        f"c.KernelManager.connection_file = {str(d['rt'] / 'kernel.json')!r}",
        "c.NotebookClient.shutdown_kernel = 'immediate'",
    ]
    if lim.cell_timeout_s is not None:
        lines.append(f"c.GuardedExecute.timeout = {max(1, round(lim.cell_timeout_s))!r}")
    return "\n".join(lines) + "\n"


def _code_folders() -> list[Path]:
    """The Python installation and the course packages (helpers is installed beside autograder,
    one distribution, editable or not)."""
    package = Path(__file__).resolve().parents[1]  # autograder/
    return sorted({Path(sys.prefix), Path(sys.base_prefix), package, package.parent / "helpers"})


def _readable_folders() -> list[Path]:
    """The folders of :data:`READABLE_ENV` (a file stands for the folder that holds it)."""
    out = []
    for item in os.environ.get(READABLE_ENV, "").split(os.pathsep):
        if item.strip():
            path = Path(item).expanduser().resolve()
            out.append(path if path.is_dir() else path.parent)
    return out


def _read_scores(db: Path, job: Job, names: list[str]) -> tuple[dict, dict]:
    from nbgrader.api import Gradebook

    scores: dict[str, float | None] = {}
    max_scores: dict[str, float] = {}
    with Gradebook(f"sqlite:///{db}", job.course_id) as gb:
        for name in names:
            sub = gb.find_submission_notebook(name, job.assignment, job.student)
            for grade in sub.grades:
                scores[grade.name] = None if grade.score is None else float(grade.score)
                max_scores[grade.name] = float(grade.max_score)
    return scores, max_scores


def grade_submission(job: Job) -> Outcome:
    """Execute and autograde one submission in a private scratch folder; never raises.

    Parameters
    ----------
    job : Job

    Returns
    -------
    Outcome
        ``status="graded"`` with the autograded notebooks and per-cell scores, or
        ``status="failed"`` with the reason (invalid notebook, time or log limit, nbgrader error).
    """
    start = time.monotonic()
    outcome = Outcome(
        job.assignment,
        job.student,
        job.sha256,
        "failed",
        host=f"{socket.gethostname()}:{os.getpid()}",
    )
    notebooks = sorted(n for n in job.files if n.endswith(".ipynb") and "/" not in n)
    expected = f"{job.assignment}.ipynb"
    if not notebooks:
        outcome.reason = f"no notebook in the submission (expected {expected})"
        return outcome
    for name in notebooks:
        why = invalid_notebook(job.files[name])
        if why:
            outcome.reason = f"{name}: {why}"
            outcome.wall_s = time.monotonic() - start
            return outcome
    base = os.environ.get("HEPML_GRADING_TMP") or ("/tmp" if os.path.isdir("/tmp") else None)
    scratch = Path(tempfile.mkdtemp(prefix="hg-", dir=base))
    try:
        _grade_in(scratch, job, notebooks, outcome)
    except Exception as exc:  # a bug or an environment problem: report it, never lose the job
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        outcome.status = "failed"
        outcome.reason = (
            f"grader error: {type(exc).__name__}: {exc} "
            f"({Path(frame.filename).name}:{frame.lineno})"
        )
    finally:
        outcome.wall_s = time.monotonic() - start
        if not os.environ.get(KEEP_SCRATCH_ENV):
            shutil.rmtree(scratch, ignore_errors=True)
    return outcome


def _grade_in(scratch: Path, job: Job, notebooks: list[str], outcome: Outcome) -> None:
    d = {name: scratch / name for name in ("course", "private", "work", "live", "rt", "jp", "cfg")}
    for folder in d.values():
        folder.mkdir(mode=0o700)
    (d["private"] / "records").mkdir()
    source = d["course"] / "source" / job.assignment
    submitted = d["course"] / "submitted" / job.student / job.assignment
    source.mkdir(parents=True)
    submitted.mkdir(parents=True)
    for rel, data in job.public_files.items():
        _safe_write(source, rel, data)
        _safe_write(d["work"], rel, data)
    for rel, data in job.files.items():
        _safe_write(submitted, rel, data)
        if rel != "timestamp.txt":
            _safe_write(d["work"], rel, data)
    (d["private"] / "gradebook.db").write_bytes(job.template_db)
    (d["course"] / "course_nbgrader_config.py").write_text(job.course_config)

    isolate = kernel_sandbox.isolation_mode()
    # The checkout the packages come from may hold a course's solutions too.
    checkout_source = Path(__file__).resolve().parents[2] / "source"
    hide = [d["course"], d["private"], d["cfg"], d["jp"], checkout_source, *map(Path, job.hide)]
    keep = [d["work"], d["live"], d["rt"]]
    if os.environ.get("HEPML_DATA_DIR"):
        keep.append(Path(os.environ["HEPML_DATA_DIR"]))
    plan = {
        "hide": hide,
        "isolate": isolate,
        "readonly": [*_code_folders(), *_readable_folders()],
        "private": sorted({Path(tempfile.gettempdir()), scratch.parent}),
        "keep": keep,
    }
    argv = kernel_sandbox.kernel_argv(sys.executable, **plan)
    measure_cmd = [sys.executable, "-I", "-m", "autograder.grading.measure", "{job}"]
    measure_argv = kernel_sandbox.sandbox_argv(sys.executable, measure_cmd, **plan)
    secret_file = d["private"] / "grader-secret"
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(job.secret)
    kernel_env = {"HEPML_ARTEFACT_DIR": str(d["live"])}
    kernel_name = kernel_sandbox.write_kernelspec(d["jp"], argv, kernel_env)
    (d["course"] / "nbgrader_config.py").write_text(_config(job, d, kernel_name, measure_argv))
    outcome.sandboxed = isolate

    env = _environment(job.threads)
    env.update(
        {
            "JUPYTER_PATH": str(d["jp"]),
            "JUPYTER_RUNTIME_DIR": str(d["rt"]),
            "JUPYTER_CONFIG_DIR": str(d["cfg"]),
            "JUPYTER_DATA_DIR": str(d["jp"]),
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(d["work"] / ".ipython"),
            "TMPDIR": str(d["rt"]),
        }
    )
    cmd = [
        *nbgrader_run.NBGRADER,
        "autograde",
        job.assignment,
        f"--student={job.student}",
        "--force",
        "--log-level=INFO",
    ]
    log_path = d["private"] / "nbgrader.log"
    report = limits.run_limited(
        cmd,
        cwd=d["course"],
        env=env,
        log_path=log_path,
        marker_path=d["private"] / "killed.txt",
        limits=job.limits,
        starter=warm_start.launcher(),
    )
    outcome.peak_rss_mb = report.peak_kernel_rss_mb
    outcome.log_tail = limits.tail(log_path, 3000)
    if report.reason:
        outcome.reason = report.reason
        return
    graded = d["course"] / "autograded" / job.student / job.assignment
    missing = [n for n in notebooks if not (graded / n).is_file()]
    if report.returncode != 0 or missing:
        last = [ln for ln in outcome.log_tail.splitlines() if ln.strip()][-3:]
        outcome.reason = f"nbgrader autograde failed (exit {report.returncode}): " + " | ".join(
            last
        )
        return
    names = [n[: -len(".ipynb")] for n in notebooks]
    outcome.scores, outcome.max_scores = _read_scores(d["private"] / "gradebook.db", job, names)
    outcome.notebooks = {n: (graded / n).read_bytes() for n in notebooks}
    for stem in names:
        verdicts = d["private"] / "recheck" / f"{stem}.verdicts.json"
        if verdicts.is_file():
            outcome.rechecks.update(json.loads(verdicts.read_text()))
    outcome.status = "graded"


def files_of(folder: Path) -> dict[str, bytes]:
    """The files under ``folder`` by POSIX relative path (hidden folders and checkpoints left out)."""
    out: dict[str, bytes] = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_file() and not path.is_symlink():
            out[rel.as_posix()] = path.read_bytes()
    return out


def digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the sorted (path, bytes) pairs of a submission."""
    import hashlib

    h = hashlib.sha256()
    for rel in sorted(files):
        data = files[rel]
        h.update(rel.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()
