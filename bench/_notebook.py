"""Execute a solution notebook for a benchmark and read back its time, memory and figures.

Every ``bench/bench_notebook_*.py`` runs a copy of its assignment's solution notebook with nbclient
in a throw-away folder, samples the memory and CPU time of the kernel's process tree meanwhile,
and reads back what the run left in the notebook: the printed text, the cells that raised, how
long each cell took, and the line ``FIGURES {...}`` printed by a cell the script appends. This
module holds that machinery; each script keeps what belongs to its assignment (the figures cell,
the seed of its dataset, the rules its thresholds follow).

Nothing here imports nbformat, nbclient or psutil before it is called, so importing a benchmark
script stays cheap.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

#: What the appended figures cell prints before its JSON.
FIGURES_PREFIX = "FIGURES "


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set environment variables for the block, and restore them after it.

    Parameters
    ----------
    values : mapping of str to str or None
        New value of each variable; None removes the variable for the block.
    """
    old = {key: os.environ.get(key) for key in values}
    _set_environment(values)
    try:
        yield
    finally:
        _set_environment(old)


def _set_environment(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class PeakMemory:
    """Sample the memory and CPU time of this process's children in a background thread.

    The children are the kernel and the processes it starts. Use it as a context manager around
    the execution.

    Parameters
    ----------
    interval_s : float
        Seconds between two samples.

    Attributes
    ----------
    peak_bytes : int
        Largest resident memory (bytes) of all the children together, over the samples.
    """

    def __init__(self, interval_s: float = 0.2) -> None:
        import psutil

        self.interval_s = interval_s
        self.peak_bytes = 0
        self._process = psutil.Process()
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for child in self._process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                    times = child.cpu_times()
                    self._cpu[child.pid] = times.user + times.system
                except psutil.Error:
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval_s)

    @property
    def cpu_s(self) -> float:
        """CPU seconds (user + system) of the children seen, up to the last sample."""
        return sum(self._cpu.values())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Execution:
    """What :func:`execute` measured.

    Attributes
    ----------
    nb : NotebookNode
        The executed notebook, outputs included: the prelude cell first and the figures cell last
        when they were given.
    cells_s : float
        Seconds from the kernel being ready (or the prelude's end) to the end of the notebook's
        last cell: kernel start, prelude and figures cell not counted.
    total_s : float
        Seconds of the whole run: kernel start, every cell, kernel shutdown.
    peak_bytes : int
        Peak resident memory of the kernel's process tree (bytes), see :class:`PeakMemory`.
    cpu_s : float
        CPU seconds (user + system) of the kernel's process tree, every cell and the kernel start
        included.
    """

    nb: Any
    cells_s: float
    total_s: float
    peak_bytes: int
    cpu_s: float


def execute(
    nb: Any,
    *,
    timeout_s: int,
    prefix: str = "hepml-bench-",
    env: Mapping[str, str | None] | None = None,
    fresh_data: bool = False,
    allow_errors: bool = False,
    prelude: str | None = None,
    figures_cell: str | None = None,
    workdir: str | Path | None = None,
    interval_s: float = 0.2,
) -> Execution:
    """Execute ``nb`` (changed in place) in a fresh folder; measure its time and memory.

    Parameters
    ----------
    nb : NotebookNode
        The notebook, read with nbformat (version 4); it receives the outputs.
    timeout_s : int
        Per-cell timeout (s).
    prefix : str
        Name prefix of the temporary folder.
    env : mapping of str to str or None, optional
        Environment of the kernel (see :func:`environment`), restored after the run.
    fresh_data : bool
        Read the synthetic twin from an empty data folder (``HEPML_DATA_SOURCE=synthetic``,
        ``HEPML_DATA_DIR=<folder>/data``), so the twin is generated as on a student's first run.
    allow_errors : bool
        Go on after a cell that raises (the error stays in its outputs; see :func:`errors`);
        otherwise the run stops with nbclient's ``CellExecutionError``.
    prelude : str, optional
        Code run in the kernel before the notebook, as a first cell (not timed in ``cells_s``).
    figures_cell : str, optional
        Code appended as a last cell, to print the figures (not timed in ``cells_s``).
    workdir : path, optional
        Folder the kernel runs in (created if need be, kept after the run); default the temporary
        folder, removed after the run.
    interval_s : float
        Seconds between two memory samples.

    Returns
    -------
    Execution
        The executed notebook and the time, memory and CPU time of the run.
    """
    import nbformat
    from nbclient import NotebookClient

    n_cells = len(nb.cells)
    if figures_cell is not None:
        nb.cells.append(nbformat.v4.new_code_cell(figures_cell))
    if prelude:
        nb.cells.insert(0, nbformat.v4.new_code_cell(prelude))
    first = 1 if prelude else 0
    last = first + n_cells - 1
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        path = Path(workdir) if workdir is not None else Path(tmp)
        path.mkdir(parents=True, exist_ok=True)
        variables = dict(env or {})
        if fresh_data:
            variables["HEPML_DATA_SOURCE"] = "synthetic"
            variables["HEPML_DATA_DIR"] = str(path / "data")
        with environment(variables), PeakMemory(interval_s) as memory:
            client = NotebookClient(
                nb,
                timeout=timeout_s,
                kernel_name="python3",
                allow_errors=allow_errors,
                resources={"metadata": {"path": str(path)}},
            )
            cells_s = 0.0
            begin = time.perf_counter()
            with client.setup_kernel():
                start = time.perf_counter()
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
                    if index == first - 1:
                        start = time.perf_counter()
                    if index == last:
                        cells_s = time.perf_counter() - start
            total_s = time.perf_counter() - begin
    return Execution(nb, cells_s, total_s, memory.peak_bytes, memory.cpu_s)


def read(path: str | Path, *, seed: int | None = None, dataset: str | None = None) -> Any:
    """Read a notebook (nbformat version 4), with another seed when one is given.

    Parameters
    ----------
    path : path
        The notebook file.
    seed : int, optional
        The notebook's ``SEED`` (see :func:`set_seed`); default the notebook's own.
    dataset : str, optional
        With ``seed``, also the seed of this dataset's twin (see :func:`set_seed`).

    Returns
    -------
    NotebookNode
        The notebook.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if seed is not None:
        set_seed(nb, seed, dataset=dataset)
    return nb


def set_seed(nb: Any, seed: int, *, dataset: str | None = None) -> None:
    """Give the notebook (changed in place) another seed: ``SEED = 42`` becomes ``SEED = <seed>``.

    Parameters
    ----------
    nb : NotebookNode
        The notebook; every code cell is searched.
    seed : int
        The new seed.
    dataset : str, optional
        Also fetch the twin of that seed: ``data.fetch("<dataset>")`` becomes
        ``data.fetch("<dataset>", seed=<seed>)``.
    """
    replace = {"SEED = 42": f"SEED = {int(seed)}"}
    if dataset is not None:
        replace[f'data.fetch("{dataset}")'] = f'data.fetch("{dataset}", seed={int(seed)})'
    for cell in nb.cells:
        if cell.cell_type == "code":
            for old, new in replace.items():
                cell.source = cell.source.replace(old, new)


def stdout(nb: Any) -> str:
    """All the text the executed notebook's cells printed to stdout, in order."""
    return "".join(
        out["text"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


def printed_figures(text: str) -> dict[str, Any] | None:
    """The figures of the first ``FIGURES {...}`` line of ``text`` (None when there is none)."""
    for line in text.splitlines():
        if FIGURES_PREFIX in line:
            return json.loads(line.split(FIGURES_PREFIX, 1)[1])
    return None


def cell_name(cell: Any) -> str:
    """The cell's nbgrader ``grade_id``, else its id."""
    return cell.metadata.get("nbgrader", {}).get("grade_id", cell.get("id", "?"))


def errors(nb: Any, *, evalue_chars: int | None = None, by_index: bool = False) -> list[str]:
    """The errors the executed notebook's cells raised, one line each.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook.
    evalue_chars : int, optional
        Keep this many characters of each error's message (default all).
    by_index : bool
        Name the cell ``cell <index>`` instead of by :func:`cell_name`.

    Returns
    -------
    list of str
        ``"<cell>: <exception name>: <message>"``, in the order of the cells.
    """
    lines = []
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}" if by_index else cell_name(cell)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                message = str(out.get("evalue", ""))[:evalue_chars]
                lines.append(f"{where}: {out.get('ename')}: {message}")
    return lines


def cell_seconds(cell: Any) -> float | None:
    """Seconds the kernel spent on an executed cell (nbclient's timing), or None if unknown."""
    timing = cell.metadata.get("execution", {})
    if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
        t0 = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        return (t1 - t0).total_seconds()
    return None


def slowest_cells(cells: Iterable[Any], most: int) -> dict[str, float]:
    """The ``most`` slowest of these executed cells: seconds (rounded to 0.1) by cell name."""
    seconds = {}
    for cell in cells:
        value = cell_seconds(cell)
        if value is not None:
            seconds[cell_name(cell)] = round(value, 1)
    return dict(sorted(seconds.items(), key=lambda kv: -kv[1])[:most])


def each_seed(seeds: Iterable[int], run: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    """``run(seed)`` for each seed, each result printed as one JSON line as it comes.

    Parameters
    ----------
    seeds : iterable of int
        The seeds.
    run : callable
        One run: the figures of the seed. A result without a ``seed`` gets it, last.

    Returns
    -------
    list of dict
        The figures of each run, with its seed.
    """
    runs = []
    for seed in seeds:
        figures = run(seed)
        figures["seed"] = seed
        runs.append(figures)
        print(json.dumps(figures), flush=True)
    return runs


def summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Minimum, median and maximum over the runs of each number of the first run but ``seed``."""
    keys = [k for k in runs[0] if k != "seed" and isinstance(runs[0][k], (int, float))]
    return {
        key: {
            "min": min(r[key] for r in runs),
            "median": statistics.median(r[key] for r in runs),
            "max": max(r[key] for r in runs),
        }
        for key in keys
    }


def floor_to(x: float, digits: int) -> float:
    """``x`` rounded down to ``digits`` decimals (a threshold a little below a figure)."""
    return math.floor(x * 10**digits) / 10**digits


def write_json(path: Path, data: Any, *, indent: int = 2, ensure_ascii: bool = True) -> None:
    """Write ``data`` as JSON (with a final newline) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n")
