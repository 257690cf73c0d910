"""The clean re-check: official call list, record matching, re-judging with official specs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import checks
from autograder.checks import records as artefacts
from autograder.grading import replay as recheck

VISIBLE = "from autograder import checks\nchecks.values_close(x, 1.0, what='x')\n"


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "records"
    monkeypatch.setenv(artefacts.ARTEFACT_DIR_ENV, str(folder))
    return folder


def test_free_names_and_static_calls():
    source = (
        "from autograder import checks as c\nfrom autograder.checks import values_close as vc\n"
        "import autograder\ny = np.mean(x)\ndef f(a):\n    return a + z\n"
        "c.values_close(y, 1.0)\nvc(y, 2.0)\nautograder.checks.model_io(m, 3)\nprint(len(y))\n"
    )
    assert recheck.free_names(source) == ["m", "np", "x", "z"]
    assert sorted(recheck.static_check_calls(source)) == [
        "model_io",
        "values_close",
        "values_close",
    ]


def test_capture_runs_official_code_without_student_objects():
    capture = recheck.capture_calls(
        "rng = np.random.default_rng(1)\nchecks.values_close(x, rng.uniform(), rtol=1e-3)\n"
    )
    assert capture.complete and len(capture.calls) == 1
    name, spec = capture.calls[0]
    assert name == "values_close" and spec["rtol"] == 1e-3
    assert 0.0 < float(spec["expected"]) < 1.0
    stopped = recheck.capture_calls("checks.values_close(x, x_ref.mean())")
    assert not stopped.complete and stopped.calls == [] and "x_ref" in stopped.error


def test_honest_record_passes(records: Path):
    checks.values_close(1.0, 1.0, what="x")
    verdict = recheck.recheck_cell(VISIBLE, records)
    assert verdict.passed and verdict.spec_verified and verdict.n_records == 1


def test_no_record_fails_with_a_message_for_the_student(records: Path):
    verdict = recheck.recheck_cell(VISIBLE, records)
    assert not verdict.passed and verdict.message == recheck.NO_RECORDS


def test_forged_tolerance_and_expected_value_are_judged_with_the_official_ones(records: Path):
    spec_keys = ("expected", "rtol", "atol", "what", "hidden")
    base = {"what": "x", "hidden": False, "atol": 1e-8}
    artefacts.record(
        "values_close", {"found": 1.5, "expected": 1.0, "rtol": 1.0, **base}, spec_keys=spec_keys
    )
    lowered = recheck.recheck_cell(VISIBLE, records)
    assert not lowered.passed and "clean Python process" in lowered.message
    for p in records.iterdir():
        p.unlink()
    artefacts.record(
        "values_close", {"found": 2.0, "expected": 2.0, "rtol": 1e-5, **base}, spec_keys=spec_keys
    )
    swapped = recheck.recheck_cell(VISIBLE, records)
    assert not swapped.passed
    # Hiding a tolerance in the "derived" part does not help either: official keys replace it.
    for p in records.iterdir():
        p.unlink()
    artefacts.record(
        "values_close",
        {"found": 1.5, "expected": 1.0, "rtol": 1.0, **base},
        spec_keys=("expected", "what", "hidden", "atol"),
    )
    assert not recheck.recheck_cell(VISIBLE, records).passed


def test_missing_or_foreign_checks_do_not_match(records: Path):
    two = VISIBLE + "checks.values_close(x, 1.0, what='again')\n"
    checks.values_close(1.0, 1.0, what="x")
    short = recheck.recheck_cell(two, records)
    assert not short.passed and "did not run as written" in short.message
    checks.function_matches(abs, inputs=[-1.0], expected=[1.0])
    assert not recheck.recheck_cell(two, records).passed


def test_cells_without_checks_keep_the_kernel_verdict(records: Path):
    verdict = recheck.recheck_cell("assert x == 1\n", records)
    assert verdict.passed and not verdict.applicable


def test_incomplete_capture_replays_the_recorded_spec(records: Path):
    source = "checks.values_close(x, x_ref.mean(), what='x')\n"
    checks.values_close(1.0, 1.0, what="x")
    verdict = recheck.recheck_cell(source, records)
    assert verdict.passed and not verdict.spec_verified and verdict.n_expected is None


def test_main_in_an_isolated_interpreter(records: Path, tmp_path: Path):
    with pytest.raises(checks.CheckFailed):
        checks.values_close(2.0, 1.0, what="x")
    job = tmp_path / "job.json"
    out = tmp_path / "out.json"
    job.write_text(
        json.dumps({"cells": [{"grade_id": "t", "source": VISIBLE, "records": str(records)}]})
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-m", "autograder.grading.replay", str(job), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(out.read_text())["t"]
    assert verdict["passed"] is False and "X is 2" in verdict["message"]
