"""What ``hepml grade`` checks before any notebook runs: the sandbox, the data paths, what to hide.

- :func:`sandbox_decision`: grading refuses to start where the sandbox is unavailable (user
  namespaces off: containers, many HPC nodes, stock Ubuntu 24.04) unless told ``--no-sandbox``
  (or ``HEPML_SANDBOX=off``); it never turns itself off silently.
- :func:`check_data_paths`: every data folder named for the kernels (``HEPML_DATA_DIR``, the
  entries of ``HEPML_GRADING_READABLE``) must exist and be readable, and, with the sandbox, be
  readable *inside* it, probed by a short process in the same namespaces
  (:func:`autograder.grading.sandbox.unreadable`). A folder behind a symbolic link is given to
  the kernels by its real path.
- :func:`hidden_paths`: the course's working data, the gradebook and nbgrader's exchange root.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autograder.grading import sandbox as kernel_sandbox
from autograder.grading.worker import _code_folders as code_folders

#: The data cache of :mod:`helpers.data` (bound back into every sandboxed kernel).
DATA_DIR_ENV = "HEPML_DATA_DIR"
#: Folders the kernels may read (see :data:`autograder.grading.worker.READABLE_ENV`).
READABLE_ENV = "HEPML_GRADING_READABLE"
#: nbgrader's default exchange root (``Exchange.root`` of its default exchange).
DEFAULT_EXCHANGE = "/usr/local/share/nbgrader/exchange"


class DataPathError(OSError):
    """A data folder named for the grading kernels cannot be read by them."""


def sandbox_decision(*, sandbox: bool = True) -> bool:
    """Whether the kernels run in the sandbox; refuse where it is wanted but unavailable.

    Parameters
    ----------
    sandbox : bool
        False for ``--no-sandbox``: grade without it, knowingly.

    Raises
    ------
    autograder.grading.sandbox.SandboxUnavailable
        The sandbox is wanted (``HEPML_SANDBOX`` is ``auto`` or ``required``) and this machine
        cannot create the namespaces.
    """
    if not sandbox:
        return False
    mode = os.environ.get(kernel_sandbox.SANDBOX_ENV, "auto").strip().lower()
    if mode in {"off", "0", "no", "false"}:
        return False
    if not kernel_sandbox.isolation_mode():
        raise kernel_sandbox.SandboxUnavailable(
            "the grading sandbox is unavailable here (unprivileged user namespaces are off: "
            "`unshare -r` fails), so student code would run with the grader's rights; grade "
            "where they are on, or pass --no-sandbox to grade without it"
        )
    return True


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the duration of the block.

    Variables that already hold their value are left alone, so that runs at the same time in
    threads (the demo grades several assignments at once) change nothing they all agree on.
    """
    values = {k: v for k, v in values.items() if os.environ.get(k) != v}
    old = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def data_dir_for_kernels() -> str | None:
    """``HEPML_DATA_DIR`` with its symbolic links resolved (None when it is not set)."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return os.path.realpath(os.path.expanduser(value)) if value else None


def _readable() -> list[str]:
    items = os.environ.get(READABLE_ENV, "").split(os.pathsep)
    return [os.path.expanduser(i.strip()) for i in items if i.strip()]


def check_data_paths(*, isolate: bool, hide: tuple[str, ...] = ()) -> list[str]:
    """Fail when a data path named for the kernels cannot be read by them; return those checked.

    Parameters
    ----------
    isolate : bool
        The kernels run in the sandbox: probe the paths inside the same namespaces.
    hide : tuple of str
        The paths hidden from the kernels (:func:`hidden_paths`).

    Raises
    ------
    DataPathError
        Naming the path, what it points to and why the kernel cannot read it.
    """
    data_dir = data_dir_for_kernels()
    named = [(f"{READABLE_ENV} entry", p) for p in _readable()]
    if data_dir is not None:
        named.insert(0, (DATA_DIR_ENV, os.environ[DATA_DIR_ENV].strip()))
    for what, path in named:
        real = os.path.realpath(path)
        link = f" (a link to {real})" if real != os.path.abspath(path) else ""
        if not os.path.exists(real):
            raise DataPathError(
                f"{what} {path}{link} does not exist: fix the path (or the link) before grading"
            )
        if not os.access(real, os.R_OK | (os.X_OK if os.path.isdir(real) else 0)):
            raise DataPathError(
                f"{what} {path}{link} is not readable by the grader: make it readable "
                "(chmod -R a+rX) before grading"
            )
    if not isolate or not named:
        return [p for _, p in named]
    readable = [Path(p) for p in _readable()]
    folders = [p if p.is_dir() else p.parent for p in readable]
    probe = [data_dir] if data_dir is not None else []
    probe += [str(p) for p in readable]
    failed = kernel_sandbox.unreadable(
        [Path(p) for p in probe],
        hide=[Path(h) for h in hide],
        readonly=[*code_folders(), *folders],
        private=[Path(tempfile.gettempdir())],
        keep=[Path(data_dir)] if data_dir is not None else [],
    )
    for path in probe:
        if path in failed:
            real = os.path.realpath(path)
            hint = (
                f"; it is a link to {real}: name the real path instead"
                if real != os.path.abspath(path)
                else "; is it inside a folder hidden from the kernels (source/, submitted/, "
                "the gradebook, the exchange)? keep the data elsewhere"
            )
            raise DataPathError(
                f"the grading kernel cannot read {path} ({failed[path]}) inside the sandbox{hint}"
            )
    return probe


def exchange_root(root: Path) -> str:
    """nbgrader's exchange root for the course: ``c.Exchange.root`` of its nbgrader_config.py,
    else nbgrader's default."""
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    except ConfigFileNotFound:
        return DEFAULT_EXCHANGE
    value = config.get("Exchange", {}).get("root")
    return str(value) if value else DEFAULT_EXCHANGE


def hidden_paths(root: Path, db_url: str) -> tuple[str, ...]:
    """What grading kernels must not see: the course's working data, the gradebook, the
    exchange root (every student's inbound submissions), and a SQLite gradebook elsewhere."""
    names = ("source", "submitted", "autograded", "feedback", "exchange")
    paths = [root / name for name in names]
    paths += [root / ".hepml", root / "gradebook.db", Path(exchange_root(root))]
    if db_url.startswith("sqlite:///"):
        paths.append(Path(db_url[len("sqlite:///") :]))
    return tuple(dict.fromkeys(str(p) for p in paths))
