"""Give official cells their nbgrader flags back; strip nbgrader metadata from unofficial cells.

Sanitising, before anything runs: every cell that carries an official grade id gets the
gradebook's nbgrader flags back (grade, solution, locked, points) and nbgrader metadata that names
no official cell is dropped, so that flipping ``grade`` off, turning a test into a "solution" or
inventing grade ids gains nothing. nbgrader's ``OverwriteCells`` (through
:class:`~autograder.preprocessors.restore_deleted_tests.RestoreDeletedTests`) then puts the official
source back into every test cell and re-adds deleted ones, which score 0.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor


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
