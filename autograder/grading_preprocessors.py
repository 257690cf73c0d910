"""The nbgrader preprocessors of a grading worker (configured by :mod:`autograder.sandbox_exec`).

Sanitising (before anything runs):

- :class:`EnforceOfficialMetadata` gives every cell that carries an official grade id the
  gradebook's nbgrader flags back (grade, solution, locked, points) and strips nbgrader metadata
  that names no official cell, so that flipping ``grade`` off, turning a test into a "solution"
  or inventing grade ids gains nothing. nbgrader's ``OverwriteCells`` (through
  :class:`autograder.nbgrader_ext.RestoreDeletedTests`) then puts the official source back into
  every test cell and re-adds deleted ones, which score 0.

Autograding:

- :class:`GuardedExecute` is nbgrader's ``Execute`` with limits and bookkeeping: the kernel runs
  in a working folder of the student's files only; each cell gets the smaller of the per-cell
  timeout and the time left to the notebook; the output a cell may collect is capped; a kernel
  that dies, is killed for memory or does not stop when interrupted ends execution, and every
  later code cell gets an error output (a test cell that did not run scores 0, it is never left
  without output, which nbgrader would count as a pass). Around each test cell it moves the check
  records (``HEPML_ARTEFACT_DIR``) that the cell produced into a private folder, by grade id: the
  grader, not the kernel, decides which records belong to which cell.
- :class:`Recheck` re-judges every test cell that the kernel passed in a clean Python process
  (:mod:`autograder.recheck`) and appends an error output with a message for the student to
  those the clean process fails, so the final score of a cell is the minimum of the two verdicts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Float, Integer, Unicode

from autograder.limits import tail

NOT_RUN_TIME = (
    "Not run: the notebook reached its time limit of {limit:.0f} s before this cell. Make "
    "sure the whole notebook runs within the time the assignment allows."
)
NOT_RUN_DEAD = "Not run: the kernel had stopped in an earlier cell ({why})."
KERNEL_DIED = (
    "The kernel stopped while this cell ran (the notebook exited, crashed or was killed): the "
    "cells after it were not run and their tests score 0."
)
STUCK = (
    "This cell ran past its time limit of {limit:.0f} s and did not stop when interrupted: the "
    "kernel was stopped and the cells after it were not run."
)
CELL_TIMEOUT = (
    "This cell ran longer than its time limit of {limit:.0f} s and was interrupted. Check for "
    "endless loops or training that runs far longer than the assignment asks."
)
NOTEBOOK_TIMEOUT = (
    "The notebook reached its time limit of {limit:.0f} s while this cell ran; it was "
    "interrupted and the cells after it were not run."
)
OUTPUT_CAPPED = "[output truncated by the grader: this cell printed more than {limit} bytes]\n"


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]
    )


class EnforceOfficialMetadata(NbGraderPreprocessor):
    """Restore the nbgrader flags of official cells from the gradebook; drop unofficial ones."""

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            self._sources = {c.name: c for c in notebook.source_cells}
            self._points = {c.name: float(c.max_score) for c in notebook.grade_cells}
            self._solutions = {c.name for c in notebook.solution_cells}
            self._tasks = {c.name: float(c.max_score) for c in notebook.task_cells}
        return super().preprocess(nb, resources)

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            return cell, resources
        grade_id = meta.get("grade_id")
        if grade_id not in self._sources:
            if grade_id is not None or meta:
                self.log.warning("Dropping nbgrader metadata of an unofficial cell %r", grade_id)
            del cell.metadata["nbgrader"]
            return cell, resources
        source = self._sources[grade_id]
        meta["grade"] = grade_id in self._points
        meta["solution"] = grade_id in self._solutions
        meta["locked"] = bool(source.locked)
        if grade_id in self._tasks:
            meta["task"] = True
            meta["points"] = self._tasks[grade_id]
        else:
            meta.pop("task", None)
        if meta["grade"]:
            meta["points"] = self._points[grade_id]
        elif grade_id not in self._tasks:
            meta.pop("points", None)
        return cell, resources


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` with a notebook deadline, output caps, kernel-death handling and
    per-test-cell bookkeeping of check records."""

    notebook_timeout = Float(1800.0, help="Seconds all cells of the notebook may run.").tag(
        config=True
    )
    max_cell_output_bytes = Integer(1_000_000).tag(config=True)
    max_notebook_output_bytes = Integer(10_000_000).tag(config=True)
    run_path = Unicode("", help="Working folder of the kernel (the student's files).").tag(
        config=True
    )
    artefact_dir = Unicode("", help="HEPML_ARTEFACT_DIR of the kernel.").tag(config=True)
    records_dir = Unicode("", help="Private folder the records of each test cell go to.").tag(
        config=True
    )
    kill_marker = Unicode("", help="File where the watchdog explains a memory kill.").tag(
        config=True
    )

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict, km=None):
        self._deadline: float | None = None
        self._stopped: str | None = None
        self._nb_bytes = 0
        self._cell_bytes = 0
        self._capped = False
        self._last_timeout_was_notebook = False
        if self.run_path:
            resources = dict(resources)
            resources["metadata"] = {**resources.get("metadata", {}), "path": self.run_path}
        return super().preprocess(nb, resources, km=km)

    # -- limits ---------------------------------------------------------------------------------

    def _remaining(self) -> float:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.notebook_timeout
        return self._deadline - time.monotonic()

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        remaining = self._remaining()
        per_cell = self.timeout if self.timeout and self.timeout > 0 else None
        if per_cell is None or remaining < per_cell:
            self._last_timeout_was_notebook = True
            limit = max(1, int(remaining + 0.999))
            message = NOTEBOOK_TIMEOUT.format(limit=self.notebook_timeout)
        else:
            self._last_timeout_was_notebook = False
            limit = int(per_cell)
            message = CELL_TIMEOUT.format(limit=per_cell)
        self.error_on_timeout = {
            "ename": "CellTimeoutError",
            "evalue": message,
            "traceback": [f"CellTimeoutError: {message}"],
        }
        return limit

    def output(self, outs, msg, display_id, cell_index):
        kind = msg.get("msg_type")
        if kind not in {"stream", "display_data", "execute_result", "update_display_data"}:
            return super().output(outs, msg, display_id, cell_index)
        content = msg.get("content", {})
        if kind == "stream":
            size = len(content.get("text", ""))
        else:
            size = sum(len(str(v)) for v in content.get("data", {}).values())
        room = min(
            self.max_cell_output_bytes - self._cell_bytes,
            self.max_notebook_output_bytes - self._nb_bytes,
        )
        if size <= room:
            self._cell_bytes += size
            self._nb_bytes += size
            return super().output(outs, msg, display_id, cell_index)
        if kind == "stream" and room > 0:  # keep what fits of the text
            msg = {**msg, "content": {**content, "text": content.get("text", "")[:room]}}
            super().output(outs, msg, display_id, cell_index)
        self._cell_bytes += max(room, 0)
        self._nb_bytes += max(room, 0)
        if not self._capped:
            self._capped = True
            over_cell = self.max_cell_output_bytes - self._cell_bytes <= 0
            limit = self.max_cell_output_bytes if over_cell else self.max_notebook_output_bytes
            outs.append(
                NotebookNode(
                    output_type="stream", name="stdout", text=OUTPUT_CAPPED.format(limit=limit)
                )
            )
        return None

    # -- cells ----------------------------------------------------------------------------------

    def _kill_kernel(self) -> None:
        try:
            if self.km is not None:
                self.km.shutdown_kernel(now=True)
        except Exception as exc:  # the kernel may already be gone
            self.log.warning("Could not stop the kernel: %s", exc)

    def _death_reason(self) -> str:
        if self.kill_marker and os.path.exists(self.kill_marker):
            return Path(self.kill_marker).read_text().strip()
        return KERNEL_DIED

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._stopped is None and self._remaining() <= 0:
            self._stopped = NOT_RUN_TIME.format(limit=self.notebook_timeout)
        if self._stopped is not None:
            cell.outputs = [_error("CellNotRun", self._stopped)]
            return cell, resources
        is_test = utils.is_grade(cell) and not utils.is_solution(cell)
        if is_test:
            self._quarantine()
        self._cell_bytes = 0
        self._capped = False
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            why = self._death_reason()
            cell.outputs.append(_error("KernelDied", why))
            self._stopped = NOT_RUN_DEAD.format(why=why.rstrip("."))
        except CellTimeoutError:
            limit = self.notebook_timeout if self._last_timeout_was_notebook else self.timeout
            message = STUCK.format(limit=limit)
            cell.outputs.append(_error("CellTimeoutError", message))
            self._stopped = NOT_RUN_DEAD.format(why="it did not stop when interrupted")
            self._kill_kernel()
        finally:
            if is_test:
                self._collect(cell.metadata["nbgrader"]["grade_id"])
        return cell, resources

    # -- records --------------------------------------------------------------------------------

    def _move_all(self, dest: Path) -> None:
        live = Path(self.artefact_dir)
        if not self.artefact_dir or not live.is_dir():
            return
        entries = list(live.iterdir())
        if not entries:
            return
        dest.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            target = dest / entry.name
            try:
                if target.exists():
                    target = dest / f"{entry.name}.{time.monotonic_ns()}"
                shutil.move(str(entry), str(target))
            except OSError as exc:
                self.log.warning("Could not move %s: %s", entry, exc)

    def _quarantine(self) -> None:
        """Move whatever is in the artefact folder before a test cell out of the way."""
        if self.records_dir:
            self._move_all(Path(self.records_dir) / "_outside_test_cells")

    def _collect(self, grade_id: str) -> None:
        """Move the records a test cell produced into the private folder of that cell."""
        if self.records_dir:
            self._move_all(Path(self.records_dir) / grade_id)


class Recheck(NbGraderPreprocessor):
    """Re-judge the test cells the kernel passed in a clean process; fail those it does not pass."""

    records_dir = Unicode("", help="Folder of the per-cell record folders.").tag(config=True)
    work_dir = Unicode("", help="Private folder for the job and the verdicts.").tag(config=True)
    python = Unicode(sys.executable, help="Interpreter of the clean process.").tag(config=True)
    timeout = Float(300.0, help="Seconds the clean process may take.").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        work = Path(self.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        cells = []
        with Gradebook(info["db_url"]) as gb:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                    continue
                score, _ = utils.determine_grade(cell, self.log)
                if not score:
                    continue  # the kernel failed it already: the minimum is 0
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                official = gb.find_source_cell(grade_id, info["notebook"], info["assignment"])
                cells.append(
                    {
                        "index": index,
                        "grade_id": grade_id,
                        "source": official.source,
                        "records": str(Path(self.records_dir) / grade_id),
                    }
                )
        stem = info["notebook"]
        job_path, out_path = work / f"{stem}.recheck.json", work / f"{stem}.verdicts.json"
        job_path.write_text(json.dumps({"cells": cells}))
        if cells:
            log_path = work / f"{stem}.recheck.log"
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", ""),
                "MPLBACKEND": "Agg",
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONHASHSEED": "0",
            }
            for key in ("HEPML_DATA_DIR", "HEPML_DATA_SOURCE", "LANG", "LC_ALL", "TMPDIR"):
                if key in os.environ:
                    env[key] = os.environ[key]
            with open(log_path, "wb") as log:
                proc = subprocess.run(
                    [self.python, "-I", "-m", "autograder.recheck", str(job_path), str(out_path)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=work,
                    timeout=self.timeout,
                    check=False,
                )
            if proc.returncode != 0 or not out_path.is_file():
                raise RuntimeError(
                    f"the clean re-check failed (exit {proc.returncode}):\n{tail(log_path, 2000)}"
                )
            verdicts = json.loads(out_path.read_text())
        else:
            verdicts = {}
            out_path.write_text("{}")
        for entry in cells:
            verdict = verdicts.get(entry["grade_id"])
            if verdict is None:
                raise RuntimeError(f"the clean re-check gave no verdict for {entry['grade_id']}")
            if not verdict["passed"]:
                nb.cells[entry["index"]].outputs.append(
                    _error("CleanRecheckFailed", verdict["message"])
                )
        return nb, resources
