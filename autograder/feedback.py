"""``hepml feedback``: feedback HTML for the students, without hidden tests or hidden values.

nbgrader's ``generate_feedback`` runs with the course's chain (``nbgrader_config.py``:
:class:`autograder.preprocessors.redact_hidden_tests.RedactHiddenTests` removes hidden-test regions and shortens
test-cell tracebacks to their last line; here applied to test cells only, see
:class:`RedactHiddenTestsInTestCells`) plus :class:`HideHiddenTestOutputs` first, which drops
the printed and displayed outputs of test cells that hold hidden tests (a student's function that
prints its arguments would otherwise show the hidden inputs); error messages stay.

Every file is then searched for the secrets of the source notebook (hidden-test lines and hidden
numbers, :func:`autograder.release.check.collect_secrets`) in its visible text, leaving out what the
student's own submission already holds. A file that holds one is moved to ``.hepml/grading/<assignment>/feedback-quarantine/`` and reported, never handed
out.
"""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import manifest
from autograder.course import nbgrader_cli as nbgrader_run
from autograder.grading import gradebook as gradebook_io
from autograder.grading import state as grade_state
from autograder.preprocessors import FEEDBACK
from autograder.release import check as course_check

_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d{3,})(?![\w.])")
_BLOCKS = re.compile(r"<(style|script)\b.*?</\1\s*>", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class FeedbackResult:
    """What :func:`feedback` made.

    Attributes
    ----------
    files : list of Path
        The feedback HTML files handed out (under ``feedback/<student>/<assignment>/``).
    leaks : list of str
        ``"file: what"`` for each secret found; those files were quarantined.
    """

    files: list[Path] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)


def visible_text(page: str) -> str:
    """The text a reader sees in an HTML page (no styles, scripts or tags; entities decoded)."""
    return html.unescape(_TAGS.sub(" ", _BLOCKS.sub(" ", page)))


def find_secrets(text: str, secrets: course_check.Secrets, known: str = "") -> list[str]:
    """The hidden-test lines and hidden numbers of ``secrets`` that occur in ``text``.

    Parameters
    ----------
    text : str
        What the student would read.
    secrets : Secrets
        From :func:`autograder.release.check.collect_secrets`.
    known : str
        What the student wrote themselves (their submission): a number or line that is there
        already is no leak (``range(200)`` in their code is not the hidden test's ``size=200``).
    """
    known_numbers = set(_NUMBER.findall(known))
    found = [
        f"hidden test line {line!r}"
        for line in secrets.hidden_lines
        if line in text and line not in known
    ]
    numbers = set(_NUMBER.findall(text)) - known_numbers
    found += [f"hidden number {n}" for n in secrets.hidden_numbers if n in numbers]
    return found


def submission_text(folder: Path) -> str:
    """The text of the notebooks in a submission folder (sources and outputs)."""
    parts = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:
            continue
        for cell in nb.cells:
            parts.append(cell.source)
            for out in cell.get("outputs", []):
                parts.append(str(out.get("text", "")))
                parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


def feedback(
    assignment: str,
    *,
    root: Path | None = None,
    db_url: str | None = None,
    student: str | None = None,
) -> FeedbackResult:
    """Generate the feedback HTML of an assignment's autograded submissions.

    Parameters
    ----------
    assignment : str
    root : Path, optional
        The course root (default: found from the working folder).
    db_url : str, optional
        The gradebook (default ``<root>/gradebook.db``).
    student : str, optional
        Only this student.

    Returns
    -------
    FeedbackResult
    """
    course = manifest.load(root)
    a = course.assignment(assignment)
    db = db_url or gradebook_io.default_db_url(course.root)
    work = grade_state.folder(course.root, assignment)
    chain = list(FEEDBACK)
    # Command-line values win over the course's nbgrader_config.py (read last by nbgrader).
    args = [
        "generate_feedback",
        assignment,
        "--force",
        f"--CourseDirectory.db_url={db}",
        f"--GenerateFeedback.preprocessors={chain!r}",
        "--log-level=WARN",
    ]
    if student:
        args.append(f"--student={student}")
    nbgrader_run.run(args, root=course.root)
    secrets = course_check.collect_secrets([a.source_notebook(course.root)])
    result = FeedbackResult()
    pattern = f"{student or '*'}/{assignment}/*.html"
    quarantine = work / "feedback-quarantine"
    for page in sorted((course.root / "feedback").glob(pattern)):
        who = page.relative_to(course.root / "feedback").parts[0]
        known = submission_text(course.root / "submitted" / who / assignment)
        found = find_secrets(visible_text(page.read_text(encoding="utf-8")), secrets, known)
        if found:
            rel = page.relative_to(course.root / "feedback")
            result.leaks += [f"{rel}: {what}" for what in found]
            target = quarantine / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(page), str(target))
        else:
            result.files.append(page)
    return result
