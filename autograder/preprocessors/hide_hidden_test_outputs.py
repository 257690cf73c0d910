"""Keep only the error outputs of test cells that hold hidden tests (feedback).

A student's function that prints its arguments would otherwise show the hidden inputs in the
feedback; error messages stay.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.release import check as course_check

HIDDEN_OUTPUT_NOTE = "[the output of the hidden tests is not shown]\n"


class HideHiddenTestOutputs(NbGraderPreprocessor):
    """Keep only the error outputs of test cells that hold hidden tests."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        if (
            cell.cell_type == "code"
            and utils.is_grade(cell)
            and course_check.BEGIN_HIDDEN in cell.source
        ):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if len(errors) != len(cell.get("outputs", [])):
                note = NotebookNode(output_type="stream", name="stdout", text=HIDDEN_OUTPUT_NOTE)
                cell.outputs = [note, *errors]
        return cell, resources
