"""nbgrader configuration of the hepml course. The repository root is the nbgrader course directory.

Read by every nbgrader command run from this folder and by ``hepml`` (which runs nbgrader here).
"""

import os

from autograder.preprocessors import FEEDBACK, SANITIZE

c = get_config()  # noqa: F821 (provided by nbgrader)

here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "hepml"
c.CourseDirectory.root = here
# Never copy working data or caches of the source folders into releases.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    ".hepml-artefacts",
    "submission_predictions",
    "*.ckpt",
    "*.pt",
    "*.keras",
]

# Student stubs.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Autograding ML notebooks ---------------------------------------------------------------
# Training cells are slow: per-cell time-out (the grader also enforces a per-notebook limit).
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120
# nbgrader zeroes a test cell with *any* stderr output. Frameworks write to stderr without an
# error (TensorFlow's oneDNN/CPU-feature lines, torch UserWarnings, tqdm bars): drop stderr
# streams; a real failure is an "error" output, which still scores 0.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"
# A deleted test cell is put back and scores 0 (not a "needs manual grade" hole).
c.Autograde.sanitize_preprocessors = list(SANITIZE)
# Feedback shows neither hidden test source nor hidden thresholds.
c.GenerateFeedback.preprocessors = list(FEEDBACK)
# Keep feedback and autograded notebooks small even if a submission prints gigabytes.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# `nbgrader export` writes hepml's grades.csv (per-cell scores, auto and manual subtotals, bonus
# apart, late penalty, status), the same rows as `hepml export`.
c.ExportApp.plugin_class = "autograder.export.GradesExportPlugin"
