"""Feedback redaction and leak search, the CSV writer and the command line (no nbgrader runs)."""

from __future__ import annotations

import csv

from nbformat.v4 import new_code_cell, new_output

from autograder import cli, export, feedback
from autograder.preprocessors.hide_hidden_test_outputs import (
    HIDDEN_OUTPUT_NOTE,
    HideHiddenTestOutputs,
)
from autograder.preprocessors.redact_hidden_tests import RedactHiddenTests
from autograder.release import check as course_check


def _grade_cell(source: str, outputs: list) -> object:
    cell = new_code_cell(source, outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    return cell


HIDDEN = "check(x)\n### BEGIN HIDDEN TESTS\ncheck(secret_input)\n### END HIDDEN TESTS\n"


def test_hidden_test_cells_lose_printed_outputs_but_keep_errors():
    printed = new_output("stream", name="stdout", text="called with [574.58, 270.47]\n")
    error = new_output("error", ename="CheckFailed", evalue="wrong for 1 of 1 hidden inputs")
    cell = _grade_cell(HIDDEN, [printed, error])
    out, _ = HideHiddenTestOutputs().preprocess_cell(cell, {}, 0)
    texts = [o.get("text", "") for o in out.outputs]
    assert texts[0] == HIDDEN_OUTPUT_NOTE and "574" not in "".join(texts)
    assert out.outputs[1].ename == "CheckFailed"
    visible = _grade_cell("check(x)\n", [printed])
    assert HideHiddenTestOutputs().preprocess_cell(visible, {}, 0)[0].outputs == [printed]


def test_redaction_ignores_the_delimiter_in_a_students_cell():
    student = new_code_cell('print("### BEGIN HIDDEN TESTS" in text)')
    student.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "answer"}
    redact = RedactHiddenTests()
    assert redact.preprocess_cell(student, {}, 0)[0].source == student.source
    cell, _ = redact.preprocess_cell(_grade_cell(HIDDEN, []), {}, 1)
    assert "secret_input" not in cell.source and "check(x)" in cell.source


def test_leak_search_reads_visible_text_and_skips_what_the_student_wrote():
    secrets = course_check.Secrets(
        solution_lines={},
        hidden_lines={"check(secret_input, rtol=1e-7)": "nb"},
        hidden_numbers={"8413": "nb", "200": "nb"},
    )
    page = (
        "<style>.x { font-weight: 8413 }</style><p>seed &#56;413</p>"
        "<pre>check(secret_input, rtol=1e-7)</pre><p>range(200)</p>"
    )
    text = feedback.visible_text(page)
    assert "font-weight" not in text and "seed 8413" in text
    found = feedback.find_secrets(text, secrets)
    assert sorted(found) == sorted(
        [
            "hidden test line 'check(secret_input, rtol=1e-7)'",
            "hidden number 8413",
            "hidden number 200",
        ]
    )
    mine = feedback.find_secrets(text, secrets, known="for _ in range(200): pass")
    assert sorted(mine) == sorted(
        ["hidden test line 'check(secret_input, rtol=1e-7)'", "hidden number 8413"]
    )


def test_write_csv_fills_missing_values(tmp_path):
    path = export.write_csv(
        tmp_path / "g.csv", ["student", "a", "total"], [{"student": "x", "a": "1"}]
    )
    with open(path, newline="") as fh:
        assert list(csv.DictReader(fh)) == [{"student": "x", "a": "1", "total": ""}]


def test_command_line_options():
    parser = cli.build_parser()
    args = parser.parse_args(
        [
            "grade",
            "00_setup",
            "class.zip",
            "--workers",
            "3",
            "--force",
            "--scheduler",
            "tcp://10.0.0.1:8786",
            "--db",
            "postgresql://grader@db/hepml",
            "--cell-timeout",
            "30",
            "--timeout",
            "600",
            "--memory-mb",
            "2048",
            "--student",
            "ada",
        ]
    )
    assert (args.assignment, str(args.submissions), args.workers, args.force) == (
        "00_setup",
        "class.zip",
        3,
        True,
    )
    assert (args.scheduler, args.db, args.cell_timeout, args.timeout, args.memory_mb) == (
        "tcp://10.0.0.1:8786",
        "postgresql://grader@db/hepml",
        30.0,
        600.0,
        2048.0,
    )
    assert args.student == ["ada"]
    assert parser.parse_args(["feedback", "00_setup"]).func.__name__ == "cmd_feedback"
    assert parser.parse_args(["export", "--output", "g.csv"]).assignments == []
