"""Write the grader's clean score of every test cell into the gradebook, after nbgrader's reading.

nbgrader's ``SaveAutoGrades`` scores a code cell from its outputs (an error gives 0, a number in an
``execute_result`` is a partial score, anything else full marks). Outputs are what the kernel made,
so they may only lower a score: this preprocessor, which runs after ``SaveAutoGrades``, sets every
test cell's ``auto_score`` to ``min(nbgrader's reading, clean score)``, where the clean score is
what :class:`~autograder.preprocessors.recheck.Recheck` wrote into the cell's metadata. A test cell
without a clean score (the re-check did not run on it) scores 0. It runs in the worker and again
in the main process's recording pass, so formgrader, ``nbgrader export`` and ``grades.csv`` read
the same numbers.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.preprocessors.recheck import CLEAN_KEY


def clean_score(cell: NotebookNode) -> float:
    """The clean score of a test cell from its metadata; 0 when there is none."""
    meta = cell.metadata.get(CLEAN_KEY) or {}
    try:
        return max(0.0, float(meta.get("clean_score", 0.0)))
    except (TypeError, ValueError):
        return 0.0


class ApplyCleanScores(NbGraderPreprocessor):
    """Lower every test cell's gradebook score to the grader's clean score."""

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                    continue
                grade = gb.find_grade(
                    cell.metadata["nbgrader"]["grade_id"],
                    info["notebook"],
                    info["assignment"],
                    info["student"],
                )
                clean = clean_score(cell)
                if grade.auto_score is None or grade.auto_score > clean:
                    self.log.info(
                        "%s: nbgrader read %s, the clean score is %s",
                        grade.name,
                        grade.auto_score,
                        clean,
                    )
                    grade.auto_score = clean
            gb.db.commit()
        return nb, resources
