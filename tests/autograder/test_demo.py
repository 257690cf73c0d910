"""``hepml demo``: the demo class as data, the comparison, the report, and one real run.

The real run is the machinery on a small class: ``--quick`` restricted to ``00_setup`` (its whole
class of course/demo.toml: correct, untouched, partial answers, a hidden-test-only mistake, a
hanging, a kernel-killing and an exiting notebook, edited and deleted tests, two monkeypatches, a
corrupt file) plus a challenge block on 00_setup for the leaderboard. The scratch course holds
only 00_setup so that the test does not depend on the other assignments. The full demo runs under
``make demo``. The summary page is then rendered by headless Chromium (skipped where none is
installed: ``apt-get install chromium``).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from course_fixtures import course_of, run_chromium

from autograder.course import manifest
from autograder.demo import plan as demo_class
from autograder.demo import run as demo
from autograder.demo import verdicts as demo_verdicts
from autograder.demo.plan import DemoConfigError, Edit

A = "00_setup"
CHALLENGE = """
[assignments.00_setup.challenge]
labels = "twin"
predictions = [
  { student = "correct", file = "quarks__cnn.npy", make = "noisy", noise = 0.6, rank = 1 },
  { student = "correct", file = "quarks__dense.npy", make = "column", noise = 1.3, rank = 2 },
  { student = "untouched", file = "gluons__coinflip.npy", make = "random", rank = 3 },
  { student = "untouched", file = "gluons__short.npy", make = "wrong_length", expect = "rejected" },
  { student = "untouched", file = "gluons__nan.npy", make = "nan", expect = "rejected" },
  { student = "untouched", file = "gluons_scores.csv", make = "text", expect = "rejected" },
]
"""
WINDOW = (1280, 1800)


# --- helpers -----------------------------------------------------------------------------------


def _notebook(*cells: tuple[str, str | None, str]) -> nbformat.NotebookNode:
    """A notebook of (kind, grade id, source) cells; a grade id makes a graded test cell."""
    nb = nbformat.v4.new_notebook()
    for kind, gid, source in cells:
        cell = (
            nbformat.v4.new_code_cell(source)
            if kind == "code"
            else nbformat.v4.new_markdown_cell(source)
        )
        if gid:
            cell.metadata["nbgrader"] = {"grade_id": gid, "grade": True, "points": 1}
        nb.cells.append(cell)
    return nb


# --- the demo class as data (fast) -------------------------------------------------------------


def test_demo_toml_fits_every_notebook_of_the_manifest(repo_root):
    """Every edit of course/demo.toml applies to today's notebooks; the grades add up."""
    course = manifest.load(repo_root)
    plan = demo_class.plan(course, demo_class.read_config(repo_root / demo_class.CONFIG_PATH))
    assert [a.assignment for a in plan.assignments] == course.ids
    for a in plan.assignments:
        subs = {s.student: s for s in a.submissions}
        assert subs["correct"].expected == a.points and subs["correct"].base == "solution"
        assert subs["untouched"].expected_total == 0 and subs["untouched"].base == "release"
        for sub in a.submissions:
            nb = demo_class.notebook_of(sub, repo_root)  # raises when an edit no longer fits
            assert nb.cells
            assert sub.status == "failed" or set(sub.expected) == set(a.points)
    setup = {s.student: s for s in plan.assignments[course.ids.index(A)].submissions}
    assert {"hanging", "killer", "edited_tests", "patched_check", "corrupt"} <= set(setup)


def test_quick_keeps_correct_untouched_and_the_flagged(repo_root):
    course = manifest.load(repo_root)
    config = {
        "assignments": {
            A: {
                "submissions": [
                    {"student": "slow", "lose": ["delta_phi_wrapped"]},
                    {"student": "fast", "lose": ["delta_phi_wrapped"], "quick": True},
                ]
            }
        }
    }
    quick = demo_class.plan(course, config, quick=True, assignments=[A])
    assert [s.student for s in quick.assignments[0].submissions] == ["correct", "untouched", "fast"]
    full = demo_class.plan(course, config, assignments=[A])
    assert len(full.assignments[0].submissions) == 4


def test_edits_do_what_they_say():
    nb = _notebook(
        ("code", None, "x = 1\nprint(x)"),
        ("code", "answer", "def f():\n    return 41"),
        ("code", "check", "assert f() == 42"),
    )
    Edit(cell="answer", regex=r"return 41", replace="return 42").apply(nb, "t")
    Edit(cell_containing="print(x)", prepend="y = 0\n", append="\nprint(y)").apply(nb, "t")
    Edit(cell="check", source="pass", metadata={"points": 100}).apply(nb, "t")
    assert nb.cells[0].source == "y = 0\nx = 1\nprint(x)\nprint(y)"
    assert nb.cells[1].source.endswith("return 42")
    assert nb.cells[2].source == "pass" and nb.cells[2].metadata["nbgrader"]["points"] == 100
    Edit(cell="check", delete=True).apply(nb, "t")
    assert [demo_class.grade_id(c) for c in nb.cells] == [None, "answer"]
    with pytest.raises(DemoConfigError, match="matches nothing"):
        Edit(cell="answer", regex="return 7", replace="").apply(nb, "where")
    with pytest.raises(DemoConfigError, match="no cells match cell 'gone'"):
        Edit(cell="gone", source="").apply(nb, "where")
    with pytest.raises(DemoConfigError, match="2 cells match"):
        Edit(cell_containing="42", source="").apply(
            _notebook(("code", None, "42"), ("code", None, "42")), "where"
        )


def test_expected_grades_from_lose_keep_and_scores(repo_root):
    course = manifest.load(repo_root)

    def expected(**entry):
        config = {"assignments": {A: {"submissions": [{"student": "s", **entry}]}}}
        plan = demo_class.plan(course, config, assignments=[A])
        return plan.assignments[0].submissions[-1].expected

    im1, im2, dp = "invariant_mass_known_values", "invariant_mass_arrays", "delta_phi_wrapped"
    assert expected(lose=[dp]) == {im1: 1, im2: 1, dp: 0}
    assert expected(base="release", keep=[im1]) == {im1: 1, im2: 0, dp: 0}
    assert expected(base="release") == {im1: 0, im2: 0, dp: 0}
    assert expected(lose=[dp], scores={im2: 0.5}) == {im1: 1, im2: 0.5, dp: 0}
    for bad, message in (
        ({"lose": ["nope"]}, "'nope' is not an autograded test cell"),
        ({"lose": [dp], "keep": [im1]}, "not both"),
        ({"scores": {im1: 3}}, r"must be in \[0, 1\]"),
        ({"colour": "red"}, "unknown key"),
        ({"edits": [{"cell": dp}]}, "changes nothing"),
        ({"edits": [{"cell": dp, "source": "x", "regex": "y"}]}, "at most one"),
        ({"base": "draft"}, "base must be"),
    ):
        with pytest.raises(DemoConfigError, match=message):
            expected(**bad)


def test_prediction_files_are_what_they_claim():
    labels = np.array([0, 1] * 500, dtype=np.int8)

    def load(make, **kw):
        item = demo_class.PredictionFile("s", f"g__{make}.npy", make, **kw)
        data = demo_class.predictions(item, labels)
        return data, (np.load(io.BytesIO(data)) if make != "text" else None)

    _, good = load("noisy", noise=0.3)
    assert good.shape == (1000,) and np.corrcoef(good, labels)[0, 1] > 0.8
    assert load("column")[1].shape == (1000, 1)
    assert load("wrong_length")[1].shape == (990,)
    assert np.isnan(load("nan")[1]).sum() == 1
    assert abs(np.corrcoef(load("random")[1], labels)[0, 1]) < 0.15
    assert not load("text")[0].startswith(b"\x93NUMPY")
    assert load("noisy", noise=0.3)[0] == load("noisy", noise=0.3)[0]  # seeded by name


def _plan_00(repo_root):
    course = manifest.load(repo_root)
    config = {
        "assignments": {
            A: {
                "submissions": [
                    {"student": "partial", "lose": ["delta_phi_wrapped"]},
                    {"student": "corrupt", "status": "failed", "corrupt": True},
                ]
            }
        }
    }
    return demo_class.plan(course, config, assignments=[A])


def _row(student, im1, im2, dp, status="graded"):
    cells = {"invariant_mass_known_values": im1, "invariant_mass_arrays": im2}
    cells["delta_phi_wrapped"] = dp
    total = "" if status != "graded" else f"{sum(float(v) for v in cells.values()):g}"
    return {
        "student": student,
        "assignment": A,
        **cells,
        "total": total,
        "max": "3",
        "status": status,
    }


def test_compare_accepts_deserved_grades_and_flags_every_other(repo_root):
    plan = _plan_00(repo_root)
    rows = {
        (A, "correct"): _row("correct", "1", "1", "1"),
        (A, "untouched"): _row("untouched", "0", "0", "0"),
        (A, "partial"): _row("partial", "1", "1", "0"),
        (A, "corrupt"): _row("corrupt", "", "", "", status="failed"),
    }
    verdicts = demo_verdicts.compare(plan, rows)
    assert [v.ok for v in verdicts] == [True] * 4
    result = demo_verdicts.DemoResult(out=Path("."), verdicts=verdicts)
    assert result.ok and demo_verdicts.exit_code(result) == 0

    rows[(A, "partial")] = _row("partial", "1", "0", "1")  # same total, other cells
    rows[(A, "corrupt")] = _row("corrupt", "1", "1", "1")  # graded, should have failed
    del rows[(A, "untouched")]  # lost
    verdicts = {v.student: v for v in demo_verdicts.compare(plan, rows)}
    assert verdicts["correct"].ok
    assert verdicts["partial"].differences == (
        "invariant_mass_arrays: awarded 0, deserves 1",
        "delta_phi_wrapped: awarded 1, deserves 0",
    )
    assert verdicts["corrupt"].differences == ("status graded, expected failed",)
    assert verdicts["untouched"].awarded_status == "missing" and not verdicts["untouched"].ok
    result = demo_verdicts.DemoResult(out=Path("."), verdicts=list(verdicts.values()))
    assert not result.ok and demo_verdicts.exit_code(result) == 1
    assert "MISMATCH 00_setup/partial" in result.summary()


def test_a_foreign_out_folder_is_never_emptied(tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not written by hepml demo"):
        demo.prepare_out(precious)
    assert (precious / "thesis.tex").is_file()
    out = demo.prepare_out(tmp_path / "report")
    (out / "old.html").write_text("from the last run")
    assert not (demo.prepare_out(out) / "old.html").exists()


def test_cli_reports_a_broken_demo_toml(repo_root, tmp_path, capsys):
    from autograder import cli

    bad = tmp_path / "demo.toml"
    bad.write_text('[[assignments.00_setup.submissions]]\nstudent = "x"\nlose = ["nope"]\n')
    code = cli.main(
        ["--root", str(repo_root), "demo", "--config", str(bad), "--out", str(tmp_path / "out")]
    )
    assert code == 2
    assert "'nope' is not an autograded test cell" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written before the class is known


# --- one real run ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran(repo_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    course = course_of(repo_root, base / "repo", A)
    config = base / "demo.toml"
    config.write_text((repo_root / "course" / "demo.toml").read_text() + CHALLENGE)
    lines = []
    result = demo.demo(
        course,
        out=base / "report",
        quick=True,
        workers=2,
        assignments=[A],
        config=config,
        progress=False,
        echo=lines.append,
    )
    return result, base, "\n".join(lines)


@pytest.mark.slow
@pytest.mark.notebook
def test_every_demo_submission_gets_the_grade_it_deserves(ran, repo_root):
    result, _, log = ran
    assert result.ok, result.summary() + "\n" + log[-3000:]
    declared = demo_class.plan(
        manifest.load(repo_root),
        demo_class.read_config(repo_root / demo_class.CONFIG_PATH),
        quick=True,
        assignments=[A],
    )
    assert {v.student for v in result.verdicts} == {
        s.student for s in declared.assignments[0].submissions
    }
    by = {v.student: v for v in result.verdicts}
    assert by["correct"].awarded_total == 3 and by["untouched"].awarded_total == 0
    assert by["hanging"].awarded_total == 2 and by["killer"].awarded_total == 2
    assert (
        by["corrupt"].awarded_status == "failed" and "not a valid notebook" in by["corrupt"].reason
    )
    assert [c.ok for c in result.challenge] == [True] * 6
    assert [name for name, _ in result.stages] == [
        "release + check",
        "build class",
        "grade",
        "feedback",
        "leaderboard",
        "export",
        "report",
    ]


@pytest.mark.slow
@pytest.mark.notebook
def test_report_folder_holds_what_a_grader_hands_out(ran):
    result, base, _ = ran
    out = result.out
    assert (out / "grades.csv").read_text().startswith("student,assignment,")
    graded = [v for v in result.verdicts if v.awarded_status == "graded"]
    assert graded and all(v.feedback and (out / v.feedback).is_file() for v in graded)
    for name in ("leaderboard.csv", "leaderboard.html", "leaderboard.png"):
        assert (out / "leaderboard" / A / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is True and len(summary["verdicts"]) == len(result.verdicts)
    page = (out / "index.html").read_text()
    # Self-contained: no file or network reference but the links to the other reports.
    assert not re.search(r'src="(?!data:image/png;base64,)', page)
    # One OK per submission, per challenge file and per assignment of the overview table.
    n_ok = len(result.verdicts) + len(result.challenge) + 1
    assert page.count('<td class="OK">OK</td>') == n_ok
    assert 'class="MISMATCH"' not in page and "banner good" in page
    # The repository's own course was not touched.
    assert (
        not (base / "repo" / "submitted").exists() and not (base / "repo" / "gradebook.db").exists()
    )


@pytest.mark.slow
@pytest.mark.notebook
def test_summary_page_renders_in_headless_chromium(ran, tmp_path):
    result, _, _ = ran
    page = result.index_html
    shot = tmp_path / "summary.png"
    width, height = WINDOW
    proc = run_chromium(page, f"--window-size={width},{height}", f"--screenshot={shot}")
    assert shot.is_file(), proc.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape == (height, width, 3)
    assert pixels.std() > 0.1  # not blank
    ink = (pixels.min(axis=2) < 0.6).mean()
    assert 0.01 < ink < 0.6  # text, tables and plots, on a white page

    def share(rgb: str) -> float:
        want = np.array([int(rgb[i : i + 2], 16) / 255 for i in (0, 2, 4)])
        return float((np.abs(pixels - want).max(axis=2) < 0.03).mean())

    assert share("e3f4e3") > 0.003  # the green "all deserved" banner, so the CSS applied
    assert share("1f77b4") > 0.002  # matplotlib blue: the embedded plots were decoded

    dom = run_chromium(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    assert "<table>" in text and "All " in text and "got the grade they deserve" in text
    for v in result.verdicts:
        assert f"<b>{v.student}</b>" in text
    assert text.count('class="OK"') == len(result.verdicts) + len(result.challenge) + 1
    assert text.count("<img") >= 3
