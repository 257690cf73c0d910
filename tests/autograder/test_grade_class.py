"""``hepml grade`` on a whole class of 00_setup, in ONE grading run with 2 workers.

The class, built from the release notebook as students would submit it (every submission drops the
ungraded environment cell, which imports torch and TensorFlow: that keeps the class fast and
under the test's 600 MiB memory limit):

============  =========================================================================  =====
student       what the notebook does                                                     score
============  =========================================================================  =====
correct       the solution                                                                3
empty         the untouched student notebook (NotImplementedError in both answers)       0
partial       right invariant_mass, delta_phi without the wrapping                        2
unclipped     invariant_mass gives nan for m^2 < 0: passes the visible tests, fails a     2
              hidden one
hanging       right invariant_mass, ``while True: pass`` in delta_phi (cell timeout)     2
stuck         right invariant_mass, ignores SIGINT and sleeps (interrupt does nothing)   2
killer        right invariant_mass, ``os.kill(os.getpid(), 9)`` in delta_phi              2
exiter        right invariant_mass, ``sys.exit()`` before delta_phi is defined            2
corrupt       truncated JSON                                                   failed (listed)
edited        wrong invariant_mass; its two tests replaced by ``pass``, one flagged       1
              ``grade: false``, the other worth 100 points; right delta_phi
deleted       the solution with the delta_phi test cell deleted                           2
patched       wrong invariant_mass; patches ``checks.function_matches`` to skip it        1
numpy         wrong invariant_mass; patches ``numpy.abs`` so every comparison passes      1
eater         right invariant_mass; allocates gigabytes in delta_phi (memory limit)       2
snooper       the solution, plus: reads the course's source notebook, connects to a       3
              server on the grader's localhost, prints 20 MB
============  =========================================================================  =====
"""

from __future__ import annotations

import csv
import json
import socket
import threading
from pathlib import Path

import nbformat
import pytest
from course_fixtures import scratch_course, student_solution

from autograder import feedback
from autograder.grading import grade
from autograder.grading import replay as recheck
from autograder.grading import sandbox as kernel_sandbox
from autograder.release import check as course_check

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

A = "00_setup"
IM_TESTS = ("invariant_mass_known_values", "invariant_mass_arrays")
DP_TEST = "delta_phi_wrapped"
RIGHT_IM = (
    "import numpy as np\n\n\ndef invariant_mass(E, px, py, pz):\n"
    "    E, px, py, pz = (np.asarray(v, dtype=float) for v in (E, px, py, pz))\n"
    "    return np.sqrt(np.clip(E**2 - (px**2 + py**2 + pz**2), 0.0, None))\n"
)
UNCLIPPED_IM = RIGHT_IM.replace(
    "np.clip(E**2 - (px**2 + py**2 + pz**2), 0.0, None)", "E**2 - (px**2 + py**2 + pz**2)"
)
WRONG_IM = "import numpy as np\n\n\ndef invariant_mass(E, px, py, pz):\n    return np.asarray(E, dtype=float)\n"
RIGHT_DP = (
    "def delta_phi(phi1, phi2):\n"
    "    d = np.asarray(phi1, dtype=float) - np.asarray(phi2, dtype=float)\n"
    "    return (d + np.pi) % (2 * np.pi) - np.pi\n"
)
UNWRAPPED_DP = (
    "def delta_phi(phi1, phi2):\n    return np.asarray(phi1, dtype=float) - np.asarray(phi2)\n"
)
EXPECTED = {
    "correct": 3,
    "empty": 0,
    "partial": 2,
    "unclipped": 2,
    "hanging": 2,
    "stuck": 2,
    "killer": 2,
    "exiter": 2,
    "edited": 1,
    "deleted": 2,
    "patched": 1,
    "numpy": 1,
    "eater": 2,
    "snooper": 3,
}


def _gid(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if _gid(c) == grade_id)


def _release(course: Path):
    nb = nbformat.read(course / "release" / A / f"{A}.ipynb", as_version=4)
    nb.cells = [c for c in nb.cells if "check_environment" not in c.source]
    return nb


def _answers(course: Path, im: str, dp: str):
    nb = _release(course)
    _cell(nb, "invariant_mass").source = im
    _cell(nb, "delta_phi").source = dp
    return nb


SNOOP = """
import os, socket
secret = {source!r}
try:
    with open(secret) as fh:
        text = fh.read()
    print("SOURCE:", "visible" if "BEGIN HIDDEN TESTS" in text else "empty")
except OSError as exc:
    print("SOURCE: hidden", type(exc).__name__)
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    print("NET: reached")
except OSError as exc:
    print("NET: blocked", exc)
print("TMP:", len([n for n in os.listdir("/tmp") if n.startswith("hg-")]), "grading folder(s)")
import autograder.checks
try:
    open(autograder.checks.__file__, "a").close()  # writes nothing either way
    print("CODE: writable")
except OSError as exc:
    print("CODE: read-only", exc.errno)
for _ in range(200):
    print("x" * 100_000)
"""


def build_class(course: Path, folder: Path, port: int) -> None:
    """Write the class into ``folder`` as ``<student>.ipynb`` files (one import path) and
    ``<student>/00_setup.ipynb`` folders (the other)."""
    folder.mkdir()
    subs = {}
    correct = student_solution(
        course / "source" / A / f"{A}.ipynb", course / "release" / A / f"{A}.ipynb"
    )
    correct.cells = [c for c in correct.cells if "check_environment" not in c.source]
    subs["correct"] = correct
    subs["empty"] = _release(course)
    subs["partial"] = _answers(course, RIGHT_IM, UNWRAPPED_DP)
    subs["unclipped"] = _answers(course, UNCLIPPED_IM, RIGHT_DP)
    subs["hanging"] = _answers(course, RIGHT_IM, "while True:\n    pass\n" + RIGHT_DP)
    subs["stuck"] = _answers(
        course,
        RIGHT_IM,
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(1e6)\n",
    )
    subs["killer"] = _answers(course, RIGHT_IM, "import os\nos.kill(os.getpid(), 9)\n" + RIGHT_DP)
    subs["exiter"] = _answers(course, RIGHT_IM, "import sys\nsys.exit()\n" + RIGHT_DP)
    edited = _answers(course, WRONG_IM, RIGHT_DP)
    first, second = (_cell(edited, g) for g in IM_TESTS)
    first.source, second.source = "pass", "pass"
    first.metadata["nbgrader"]["grade"] = False
    second.metadata["nbgrader"]["points"] = 100
    subs["edited"] = edited
    deleted = _answers(course, RIGHT_IM, RIGHT_DP)
    deleted.cells = [c for c in deleted.cells if _gid(c) != DP_TEST]
    subs["deleted"] = deleted
    subs["patched"] = _answers(
        course,
        WRONG_IM + "\nfrom autograder import checks\n_real = checks.function_matches\n\n\n"
        "def _skip(fn, *args, **kwargs):\n"
        "    if getattr(fn, '__name__', '') == 'invariant_mass':\n"
        "        return None\n"
        "    return _real(fn, *args, **kwargs)\n\n\n"
        "checks.function_matches = _skip\n",
        RIGHT_DP,
    )
    subs["numpy"] = _answers(course, WRONG_IM + "\nnp.abs = lambda x: np.zeros_like(x)\n", RIGHT_DP)
    subs["eater"] = _answers(
        course,
        RIGHT_IM,
        "import time\nhog = []\nfor _ in range(80):  # 4 GB, unless stopped\n"
        "    hog.append(bytearray(b'x' * 50_000_000))\n    time.sleep(0.02)\n" + RIGHT_DP,
    )
    source_path = course / "source" / A / f"{A}.ipynb"
    subs["snooper"] = _answers(
        course, RIGHT_IM + SNOOP.format(source=str(source_path), port=port), RIGHT_DP
    )
    for i, (student, nb) in enumerate(sorted(subs.items())):
        if i % 2:
            nbformat.write(nb, folder / f"{student}.ipynb")
        else:
            (folder / student).mkdir()
            nbformat.write(nb, folder / student / f"{A}.ipynb")
    (folder / "corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the grader's loopback that records whether anything connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    hits = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory, listener):
    base = tmp_path_factory.mktemp("grade-class")
    course = scratch_course(repo_root, base / "course")
    build_class(course, base / "class", listener[0])
    originals = {p: p.read_bytes() for p in (base / "class").rglob("*") if p.is_file()}
    result = grade.grade(
        A,
        base / "class",
        root=course,
        workers=2,
        cell_timeout=8,
        notebook_timeout=60,
        memory_limit_mb=600,
        progress=False,
    )
    return course, result, originals, base / "class"


def _csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _autograded(course: Path, student: str):
    return nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)


def _errors(cell) -> str:
    return "\n".join(f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error")


def test_every_student_gets_the_grade_they_deserve(graded):
    _, result, _, _ = graded
    rows = _csv(result.grades_csv)
    assert set(rows) == set(EXPECTED) | {"corrupt"}, "a submission was lost"
    got = {s: float(rows[s]["total"]) for s in EXPECTED}
    assert got == {s: float(v) for s, v in EXPECTED.items()}
    assert all(rows[s]["status"] == "graded" and rows[s]["max"] == "3" for s in EXPECTED)
    assert rows["corrupt"]["status"] == "failed" and rows["corrupt"]["total"] == ""
    assert result.graded.keys() == EXPECTED.keys()
    assert list(result.failed) == ["corrupt"]
    assert rows["partial"][DP_TEST] == "0" and rows["partial"][IM_TESTS[0]] == "1"
    assert rows["unclipped"][IM_TESTS[0]] == "1" and rows["unclipped"][IM_TESTS[1]] == "0"


def test_failures_report_names_the_corrupt_notebook(graded):
    _, result, _, _ = graded
    with open(result.failures_csv, newline="") as fh:
        failures = list(csv.DictReader(fh))
    assert [f["student"] for f in failures] == ["corrupt"]
    assert "not a valid notebook" in failures[0]["reason"]
    assert "failed  corrupt" in result.summary()


def test_originals_untouched_and_imported(graded):
    course, _, originals, _ = graded
    for path, data in originals.items():
        assert path.read_bytes() == data
    assert (course / "submitted" / "killer" / A / f"{A}.ipynb").is_file()
    assert (course / "submitted" / "correct" / A / "timestamp.txt").is_file()


def test_limits_end_execution_and_explain_why(graded):
    course, _, _, _ = graded
    hanging = _cell(_autograded(course, "hanging"), "delta_phi")
    assert "time limit of 8 s" in _errors(hanging)
    stuck = _autograded(course, "stuck")
    assert "did not stop when interrupted" in _errors(_cell(stuck, "delta_phi"))
    assert "CellNotRun" in _errors(_cell(stuck, DP_TEST))
    killer = _autograded(course, "killer")
    assert "KernelDied" in _errors(_cell(killer, "delta_phi"))
    eater = _autograded(course, "eater")
    assert "more than the limit of 600 MiB" in _errors(_cell(eater, "delta_phi"))
    exiter = _autograded(course, "exiter")
    assert "SystemExit" in _errors(_cell(exiter, "delta_phi"))


def test_test_cells_come_back_as_official(graded):
    course, _, _, _ = graded
    official = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    edited = _autograded(course, "edited")
    for grade_id in IM_TESTS:
        cell = _cell(edited, grade_id)
        assert cell.source == _cell(official, grade_id).source
        assert cell.metadata["nbgrader"]["grade"] is True
        assert float(cell.metadata["nbgrader"]["points"]) == 1.0
    deleted = _autograded(course, "deleted")
    assert "deleted" in _errors(_cell(deleted, DP_TEST))


def test_monkeypatching_is_caught_by_the_clean_recheck(graded):
    """The patched checks and the patched numpy fool the kernel; the grader measures the student's
    functions itself (in the measurement process) and judges them with clean numpy."""
    course, result, _, _ = graded
    by_student = {o.student: o for o in result.outcomes}
    for student in ("patched", "numpy"):
        nb = _autograded(course, student)
        for grade_id in IM_TESTS:
            errors = _errors(_cell(nb, grade_id))
            assert errors.startswith("CleanRecheckFailed") and "clean Python process" in errors
            assert "returned" in errors  # the measured output of the wrong function
            assert by_student[student].rechecks[grade_id]["measured"]
    assert by_student["patched"].rechecks[DP_TEST]["passed"]
    # The honest class passes, every cell measured from the student's objects.
    correct = by_student["correct"].rechecks
    assert set(correct) == {*IM_TESTS, DP_TEST}
    assert all(v["passed"] and v["measured"] for v in correct.values())


def test_output_is_capped_and_the_sandbox_holds(graded, listener):
    course, result, _, _ = graded
    path = course / "autograded" / "snooper" / A / f"{A}.ipynb"
    assert path.stat().st_size < 3_000_000
    text = "".join(
        o.get("text", "") for o in _cell(nbformat.read(path, 4), "invariant_mass").outputs
    )
    assert "output truncated by the grader" in text
    assert "SOURCE: visible" not in text
    sandboxed = {o.student: o.sandboxed for o in result.outcomes}
    if not kernel_sandbox.isolation_mode():
        pytest.skip("user namespaces unavailable here: the kernel ran without the sandbox")
    assert all(sandboxed.get(s) for s in EXPECTED)
    assert "SOURCE: hidden" in text or "SOURCE: empty" in text
    assert "NET: blocked" in text and listener[1] == []
    assert "TMP: 1 grading folder(s)" in text  # its own; the other students' are out of sight
    assert "CODE: read-only" in text


def test_second_run_resumes_and_force_regrades(graded):
    course, _, _, folder = graded
    again = grade.grade(A, folder, root=course, workers=2, progress=False)
    assert again.graded == {} and sorted(again.skipped) == sorted(EXPECTED)
    assert list(again.failed) == ["corrupt"]  # a failed submission is tried again
    forced = grade.grade(
        A, root=course, workers=1, force=True, students=["partial"], progress=False
    )
    assert forced.graded == {"partial": 2.0}
    state = json.loads((course / ".hepml" / "grading" / A / "state.json").read_text())
    assert state["partial"]["status"] == "graded" and state["corrupt"]["status"] == "failed"


def test_feedback_hides_hidden_tests_and_numbers(graded):
    course, _, _, _ = graded
    made = feedback.feedback(A, root=course)
    assert made.leaks == []
    students = {p.parts[-3] for p in made.files}
    assert students == set(EXPECTED)
    secrets = course_check.collect_secrets([course / "source" / A / f"{A}.ipynb"])
    assert secrets.hidden_lines and secrets.hidden_numbers
    for page in made.files:
        text = feedback.visible_text(page.read_text())
        for line in secrets.hidden_lines:
            assert line not in text, (page, line)
        # A number the student wrote in their own code (range(200)) is not a leak.
        own = feedback.submission_text(course / "submitted" / page.parts[-3] / A)
        numbers = set(feedback._NUMBER.findall(text)) - set(feedback._NUMBER.findall(own))
        assert not numbers & set(secrets.hidden_numbers), page
        assert "### BEGIN HIDDEN TESTS" not in text
    page = course / "feedback" / "{}" / A / f"{A}.html"
    assert "clean Python process" in feedback.visible_text(
        Path(str(page).format("patched")).read_text()
    )
    # A failed hidden test says so without its inputs or expected values.
    unclipped = feedback.visible_text(Path(str(page).format("unclipped")).read_text())
    assert "hidden inputs" in unclipped


def test_cli_export_writes_the_same_grades(graded, tmp_path):
    from autograder import cli

    course, result, _, _ = graded
    out = tmp_path / "export.csv"
    assert cli.main(["--root", str(course), "export", A, "--output", str(out)]) == 0
    assert _csv(out) == _csv(result.grades_csv)


def test_static_check_calls_of_the_official_source(graded):
    course, _, _, _ = graded
    official = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    calls = recheck.static_check_calls(_cell(official, IM_TESTS[1]).source)
    assert calls == ["function_matches", "function_matches"]
