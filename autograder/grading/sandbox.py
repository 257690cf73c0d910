"""Run a grading kernel without the network and without sight of the grader's files (Linux).

When unprivileged user namespaces work (``unshare -r``), the kernel of a submission starts as

``unshare -rm -- python -m autograder.grading.sandbox hide PATH... -- unshare -rmnpf --mount-proc
--kill-child -- python -m autograder.grading.sandbox init -- python -m ipykernel_launcher -f CONN``

1. the outer ``unshare -rm`` gives a private mount namespace, in which ``hide``
   (a) makes the Python installation and the course packages read-only (the clean re-check
   imports them: a kernel must not patch them on disk), (b) mounts an empty tmpfs over every
   hidden folder (the grader's scratch course with its gradebook copy and the official notebook,
   the course's ``source/``, ``gradebook.db``, ``submitted/``, ``autograded/``) and ``/dev/null``
   over every hidden file, (c) gives the kernel a private, empty ``/tmp`` (so other students'
   grading folders there are out of sight) and (d) binds back the few folders the kernel needs
   inside those (its working folder, its artefact folder, the Jupyter runtime folder, the data
   cache);
2. the inner ``unshare`` makes a *second* user and mount namespace, so those mounts are locked (a
   process there is root of its own namespace but cannot unmount what its parent mounted), a new
   network namespace (a loopback interface that is down: no network at all, not even the
   grader's localhost) and a new PID namespace with its own ``/proc`` (so the kernel cannot
   reach the grader's files through ``/proc/<pid>/root`` or ``cwd``);
3. ``init`` is PID 1 of that namespace: it starts the kernel as its child (a kernel that is PID 1
   could not be killed by a ``SIGKILL`` it sends itself, which would change what a
   kernel-killing notebook scores), passes termination signals on, reaps orphans, and exits with
   the kernel's status. ``hide`` sets ``PR_SET_PDEATHSIG`` so the namespace dies with nbgrader.

Jupyter talks to the kernel over ``ipc`` (Unix sockets in a runtime folder that is not hidden),
since TCP on the grader's loopback cannot be reached from the new network namespace.

Where namespaces are not available (macOS, a container that forbids them, ``HEPML_SANDBOX=off``)
the kernel runs as a plain ``ipykernel`` in a working folder that holds only the student's files;
``docs/threat-model.md`` says what that leaves open.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: Environment variable: ``auto`` (default: isolate when possible), ``off``, or ``required``.
SANDBOX_ENV = "HEPML_SANDBOX"
KERNEL_NAME = "hepml-grading"

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC = 1, 2, 4, 32, 4096, 16384
_PR_SET_PDEATHSIG = 1
_INNER = ("unshare", "-rmnpf", "--mount-proc", "--kill-child", "--")


class SandboxUnavailable(RuntimeError):
    """``HEPML_SANDBOX=required`` but this machine cannot create the namespaces."""


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """True when this machine lets an unprivileged process create the namespaces used here.

    Probed once per process by running ``true`` inside the same nesting of ``unshare`` calls.
    """
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    try:
        proc = subprocess.run(
            ["unshare", "-rm", "--", *_INNER, "true"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def isolation_mode() -> bool:
    """Whether kernels should run isolated, from ``HEPML_SANDBOX`` and :func:`namespaces_available`.

    Raises
    ------
    SandboxUnavailable
        With ``HEPML_SANDBOX=required`` on a machine without namespaces.
    """
    mode = os.environ.get(SANDBOX_ENV, "auto").strip().lower()
    if mode in {"off", "0", "no", "false"}:
        return False
    available = namespaces_available()
    if mode == "required" and not available:
        raise SandboxUnavailable(
            "HEPML_SANDBOX=required but unprivileged user namespaces are not available here "
            "(`unshare -r` fails): run the grader where they are, or in a container per kernel"
        )
    return available


def _real(paths: Sequence[Path]) -> list[str]:
    """Each path with every symbolic link resolved (``os.path.realpath``): a mount follows links,
    and a link into a folder that the plan covers (``/tmp``) would dangle once it is covered."""
    return [os.path.realpath(p) for p in paths]


def kernel_argv(
    python: str,
    *,
    hide: Sequence[Path] = (),
    isolate: bool,
    readonly: Sequence[Path] = (),
    private: Sequence[Path] = (),
    keep: Sequence[Path] = (),
) -> list[str]:
    """The kernelspec ``argv`` of a grading kernel.

    Parameters
    ----------
    python : str
        The interpreter that has ipykernel and the course packages.
    hide : sequence of Path
        Folders and files the kernel must not see (only those that exist are hidden).
    isolate : bool
        Use the namespaces; False gives a plain ipykernel (the other arguments are ignored).
    readonly : sequence of Path
        Folders the kernel may read but not change (the Python installation, the course code).
    private : sequence of Path
        Folders replaced by an empty, writable tmpfs of the kernel's own (``/tmp``).
    keep : sequence of Path
        Folders inside hidden or private ones that the kernel still needs, bound back in place.
    """
    kernel = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return sandbox_argv(
        python,
        kernel,
        hide=hide,
        isolate=isolate,
        readonly=readonly,
        private=private,
        keep=keep,
    )


def sandbox_argv(
    python: str,
    command: Sequence[str],
    *,
    hide: Sequence[Path] = (),
    isolate: bool,
    readonly: Sequence[Path] = (),
    private: Sequence[Path] = (),
    keep: Sequence[Path] = (),
) -> list[str]:
    """``command`` run in the grading sandbox (the arguments are those of :func:`kernel_argv`);
    the kernel and the measurement process of a submission share one plan.

    Every path is resolved first (``os.path.realpath``): a mount follows links, and a link into
    a folder that the plan covers (``/tmp``) would dangle once it is covered.
    """
    command = list(command)
    if not isolate:
        return command
    plan = [f"ro:{p}" for p in _real(readonly) if Path(p).is_dir()]
    plan += [f"hide:{p}" for p in _real(hide) if Path(p).exists()]
    plan += [f"tmpfs:{p}" for p in _real(private) if Path(p).is_dir()]
    plan += [f"keep:{p}" for p in _real(keep) if Path(p).is_dir()]
    me = [python, "-m", "autograder.grading.sandbox"]
    return ["unshare", "-rm", "--", *me, "hide", *plan, "--", *_INNER, *me, "init", "--", *command]


_PROBE = """
import json, os, sys
out = {}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").close()
    except OSError as exc:
        out[path] = exc.strerror or type(exc).__name__
print(json.dumps(out))
"""


def unreadable(
    paths: Sequence[Path],
    *,
    python: str | None = None,
    hide: Sequence[Path] = (),
    readonly: Sequence[Path] = (),
    private: Sequence[Path] = (),
    keep: Sequence[Path] = (),
) -> dict[str, str]:
    """The paths that a process in the sandbox cannot read, with the reason.

    Runs a short Python in the namespaces that a grading kernel gets (same arguments as
    :func:`kernel_argv`) and lists or opens each path there, as the kernel would: a path that
    lies under a hidden folder, or behind a link that leaves what is bound back, is found here
    before any notebook runs. Paths are probed as given (links are followed by the probe).
    """
    python = python or sys.executable
    argv = sandbox_argv(
        python,
        [python, "-c", _PROBE, *map(str, paths)],
        hide=hide,
        isolate=True,
        readonly=readonly,
        private=private,
        keep=keep,
    )
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return {str(p): f"the sandbox probe did not run ({exc})" for p in paths}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
        return {str(p): f"the sandbox probe failed (exit {proc.returncode}: {tail})" for p in paths}
    return json.loads(lines[-1])


def write_kernelspec(
    jupyter_dir: Path, argv: Sequence[str], env: dict[str, str] | None = None
) -> str:
    """Write ``jupyter_dir/kernels/<KERNEL_NAME>/kernel.json``; return the kernel name.

    Point ``JUPYTER_PATH`` at ``jupyter_dir`` so that Jupyter finds it.
    """
    folder = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": list(argv),
        "display_name": "Python 3 (hepml grading)",
        "language": "python",
        "interrupt_mode": "signal",
        "env": dict(env or {}),
        "metadata": {"debugger": False},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return KERNEL_NAME


# ---------------------------------------------------------------------------------------------
# The two steps that run inside the namespaces (``python -m autograder.grading.sandbox ...``).


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount(
    libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int, data=None
) -> None:
    rc = libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount over {target} failed: {os.strerror(err)}")


def hide(plan: Sequence[str]) -> None:
    """Carry out a mount plan of ``kind:path`` items (see :func:`kernel_argv`), in this order:
    private tmpfs, read-only binds, hidden folders and files, folders kept.

    Read-only and kept folders are opened before anything covers them and bound back from those
    handles, so an installation or a course that lives under a private folder (a clone in
    ``/tmp``) stays visible to the kernel, read-only, while the rest of ``/tmp`` is not.
    """
    libc = _libc()
    items = [item.split(":", 1) for item in plan]
    unknown = [kind for kind, _ in items if kind not in {"ro", "hide", "tmpfs", "keep"}]
    if unknown:
        raise ValueError(f"unknown mount plan items: {unknown}")
    handles = {
        path: os.open(path, os.O_PATH | os.O_DIRECTORY)
        for kind, path in items
        if kind in {"ro", "keep"}
    }

    def bind_back(path: str) -> None:
        os.makedirs(path, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{handles[path]}", path, None, _MS_BIND | _MS_REC)

    for kind, path in items:
        if kind == "tmpfs":
            _mount(libc, "none", path, "tmpfs", _MS_NOSUID | _MS_NODEV, b"mode=1777")
    for kind, path in items:
        if kind == "ro":
            bind_back(path)
            _mount(libc, None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
    covers = []
    for kind, path in items:
        if kind == "hide" and os.path.isdir(path):
            _mount(libc, "none", path, "tmpfs", _MS_NOSUID | _MS_NODEV, b"size=16m,mode=755")
            covers.append(path)
        elif kind == "hide" and os.path.exists(path):
            _mount(libc, "/dev/null", path, None, _MS_BIND)
    for kind, path in items:
        if kind == "keep":
            bind_back(path)
    for fd in handles.values():
        os.close(fd)
    for path in covers:  # hidden folders become read-only once the kept ones are back
        if not os.path.ismount(path):  # pragma: no cover - covered again since
            continue
        _mount(libc, None, path, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def _init(argv: Sequence[str]) -> int:
    """PID 1 of the kernel's namespace: run ``argv`` as a child, reap, pass signals on."""
    env = dict(os.environ)
    # ipykernel would take PID 1 (us) for a dead parent and exit; the namespace dies with us.
    env.pop("JPY_PARENT_PID", None)
    child = os.fork()
    if child == 0:  # pragma: no cover - replaced by exec
        os.execvpe(argv[0], list(argv), env)
    # SIGINT (interrupt) reaches the kernel directly through its process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda signum, _frame: os.kill(child, signum))
    status = 0
    while True:
        try:
            pid, wstatus = os.wait()
        except ChildProcessError:
            return status
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        if pid == child:
            status = os.waitstatus_to_exitcode(wstatus)
            status = 128 - status if status < 0 else status
            return status


def main(argv: Sequence[str] | None = None) -> int:
    """``hide KIND:PATH... -- CMD...`` or ``init -- CMD...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in {"hide", "init"} or "--" not in args:
        print("usage: kernel_sandbox hide KIND:PATH... -- CMD... | init -- CMD...", file=sys.stderr)
        return 2
    mode, rest = args[0], args[1:]
    cut = rest.index("--")
    paths, cmd = rest[:cut], rest[cut + 1 :]
    if mode == "init":
        return _init(cmd)
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    hide(paths)
    os.execvp(cmd[0], cmd)
    return 127  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
