"""nbgrader's ``Execute`` with limits and the bookkeeping of check records.

The kernel runs in a working folder of the student's files only; each cell gets the smaller of the
per-cell timeout and the time left to the notebook; the output a cell may collect is capped; a
kernel that dies, is killed for memory or does not stop when interrupted ends execution, and every
later code cell gets an error output (a test cell that did not run scores 0, it is never left
without output, which nbgrader would count as a pass). Around each test cell it moves the check
records (``HEPML_ARTEFACT_DIR``) that the cell produced into a private folder, by grade id: the
grader, not the kernel, decides which records belong to which cell.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_code_cell
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, Execute
from traitlets import Bool, Float, Integer, Unicode

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
    strip_hidden = Bool(
        False,
        help="Run test cells in the kernel without their hidden region (the clean process runs "
        "the whole cell): for assignments whose test cells are all measured.",
    ).tag(config=True)

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
        official = cell.source
        try:
            if is_test:
                self._export(cell, resources, index)
                if self.strip_hidden:
                    ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
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
            cell.source = official
            if is_test:
                self._collect(cell.metadata["nbgrader"]["grade_id"])
        return cell, resources

    # -- records --------------------------------------------------------------------------------

    def _export(self, cell: NotebookNode, resources: ResourcesDict, index: int) -> None:
        """Have the kernel write the exhibits of the names the test cell reads (its free names in
        the official source, which ``OverwriteCells`` put back) into the artefact folder; they are
        filed with the cell's records. The snippet's outputs are dropped."""
        if not self.artefact_dir:
            return
        from autograder.grading import exhibits
        from autograder.grading.replay import free_names

        try:
            names = free_names(cell.source)
        except SyntaxError:
            return
        folder = Path(self.artefact_dir) / "exhibits"
        probe = new_code_cell(exhibits.export_snippet(names, folder))
        super().preprocess_cell(probe, resources, index)

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
