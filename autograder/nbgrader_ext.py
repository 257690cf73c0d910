"""nbgrader preprocessors of the course, configured in ``nbgrader_config.py``.

- :class:`RestoreDeletedTests` puts a deleted test cell back (nbgrader's ``OverwriteCells`` with
  ``add_missing_cells``) and makes it score 0 with a message, instead of leaving a "needs manual
  grade" hole in the gradebook.
- :class:`RedactHiddenTests` removes hidden-test regions from the autograded notebook before the
  feedback HTML is made, and shortens the tracebacks of the cells that held them to their last line,
  so neither hidden test source nor a hidden threshold reaches a student.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool

DELETED_TEST_MESSAGE = (
    "This test cell was deleted from the submission. The grader put it back; a deleted test "
    "cell scores 0. Keep every test cell in your notebook."
)


class RestoreDeletedTests(OverwriteCells):
    """Overwrite grade cells from the gradebook and put deleted ones back, scoring 0."""

    add_missing_cells = Bool(True).tag(config=True)

    def missing_cell_transform(self, source_cell, max_score, is_solution=False, is_task=False):
        cell = super().missing_cell_transform(source_cell, max_score, is_solution, is_task)
        is_autograded_test = cell.cell_type == "code" and not is_solution and not is_task
        if is_autograded_test:
            # Do not run the test: a deleted test cell scores 0 whatever the rest of the notebook.
            cell.source = (
                f"# {DELETED_TEST_MESSAGE}\nraise AssertionError({DELETED_TEST_MESSAGE!r})\n"
            )
        return cell


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove hidden test regions and their tracebacks from an autograded notebook."""

    enabled = Bool(True).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._clear = ClearHiddenTests(enforce_metadata=False)

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        # Only test cells carry hidden tests; a student's own cell that happens to contain the
        # delimiter text is left alone (and must not break the whole feedback).
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        try:
            self._clear._remove_hidden_test_region(cell)
        except RuntimeError:  # unbalanced delimiters in a tampered cell: drop its source
            cell.source = "# (test source hidden)"
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                # The traceback shows source lines of the test: keep only the message.
                output["traceback"] = [
                    f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                ]
        return cell, resources
