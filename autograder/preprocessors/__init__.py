"""The nbgrader preprocessors of the course, one class a module, and their chains.

The chains are defined here once and imported by ``nbgrader_config.py`` (plain nbgrader commands
and formgrader), by the grading worker and by ``hepml feedback``:

- :data:`SANITIZE`: before anything runs, official cells get their flags and source back and
  deleted test cells come back scoring 0;
- :data:`AUTOGRADE`: execution under limits, then the clean re-check of every test cell, whose
  score nbgrader's reading of the outputs can only lower;
- :data:`RECORD`: the main process's pass that records the workers' notebooks in the class's
  gradebook (the same scores, executing nothing);
- :data:`FEEDBACK`: hidden outputs, hidden regions and test tracebacks removed before the HTML.

Names are dotted paths, as nbgrader's configuration takes them.
"""

from __future__ import annotations

_HERE = "autograder.preprocessors"

SANITIZE = (
    "nbgrader.preprocessors.ClearOutput",
    f"{_HERE}.enforce_official_metadata.EnforceOfficialMetadata",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    f"{_HERE}.restore_deleted_tests.RestoreDeletedTests",
    "nbgrader.preprocessors.CheckCellMetadata",
)
AUTOGRADE = (
    f"{_HERE}.guarded_execute.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    f"{_HERE}.recheck.Recheck",
    "nbgrader.preprocessors.SaveAutoGrades",
    f"{_HERE}.apply_clean_scores.ApplyCleanScores",
    "nbgrader.preprocessors.CheckCellMetadata",
)
#: The main process's recording pass over the workers' autograded notebooks (executes nothing).
RECORD = (
    "nbgrader.preprocessors.SaveAutoGrades",
    f"{_HERE}.apply_clean_scores.ApplyCleanScores",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
)
FEEDBACK = (
    f"{_HERE}.hide_hidden_test_outputs.HideHiddenTestOutputs",
    f"{_HERE}.redact_hidden_tests.RedactHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
)
