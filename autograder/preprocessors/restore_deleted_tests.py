"""Put a deleted test cell back, scoring 0 (nbgrader's ``OverwriteCells`` with missing cells).

Without it a deleted test cell would leave a "needs manual grade" hole in the gradebook.
"""

from __future__ import annotations

from nbgrader.preprocessors import OverwriteCells
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
