"""Remove hidden-test regions and their tracebacks from an autograded notebook (feedback).

Applied to test cells only: hidden tests exist only in (locked, official) test cells, and a
student's own cell that happens to contain the delimiter text (``### BEGIN HIDDEN TESTS`` in a
string or a comment) must not make nbgrader's region parser fail the whole feedback. The
tracebacks of test cells are shortened to their last line, so neither hidden test source nor a
hidden threshold reaches a student.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Bool


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
