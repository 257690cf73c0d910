"""The checks test cells call: each judges what was asked, not how it was written.

A test cell starts with a one-line docstring and calls checks::

    \"\"\"Check that the sets are disjoint, complete and of the right size.\"\"\"
    from autograder import checks

    checks.split_fractions({"train": X_train, "test": X_test}, {"train": 0.8, "test": 0.2})
    checks.split_disjoint_and_complete({"train": X_train, "test": X_test}, X)

A failing check raises :class:`CheckFailed` (an AssertionError, so nbgrader scores the cell 0)
whose message is one or two sentences for the student: what is wrong, the value found, the value
expected, where to look. A hidden check (``hidden=True``) never shows its threshold or its data.

While the grader runs a submission, every call is recorded for a replay in a clean process: see
:mod:`autograder.checks.records` for the protocol and the threat model.

This package imports neither torch nor TensorFlow: checks that run a model use the framework the
student's kernel already imported. scikit-learn and pandas are imported on first use.
"""

from autograder.checks._core import CheckFailed, registered_checks
from autograder.checks.challenge import challenge_predictions
from autograder.checks.models import model_io
from autograder.checks.scaling import scaler_fit_on
from autograder.checks.scores import (
    auc_at_least,
    auc_on_unseen,
    rejection_at_least,
    significance_at_least,
)
from autograder.checks.splits import (
    evaluated_on_unseen,
    labels_aligned,
    split_disjoint_and_complete,
    split_fractions,
)
from autograder.checks.tensors import one_hot, tensor_spec
from autograder.checks.training import loader_covers, loss_decreased
from autograder.checks.values import function_matches, holds, same_items, values_close

__all__ = [
    "CheckFailed",
    "auc_at_least",
    "auc_on_unseen",
    "challenge_predictions",
    "evaluated_on_unseen",
    "function_matches",
    "holds",
    "labels_aligned",
    "loader_covers",
    "loss_decreased",
    "model_io",
    "one_hot",
    "registered_checks",
    "rejection_at_least",
    "same_items",
    "scaler_fit_on",
    "significance_at_least",
    "split_disjoint_and_complete",
    "split_fractions",
    "tensor_spec",
    "values_close",
]
