"""hepml release is deterministic; hepml check catches stale releases, leaks and outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_fixtures import scratch_course

from autograder.release import check as course_check
from autograder.release import generate as release

pytestmark = pytest.mark.slow


@pytest.fixture
def course(repo_root, tmp_path):
    return scratch_course(repo_root, tmp_path / "course")


def _release_nb(course: Path) -> Path:
    return course / "release" / "00_setup" / "00_setup.ipynb"


def _messages(problems) -> str:
    return "\n".join(map(str, problems))


def test_committed_release_is_current_and_clean(repo_root):
    problems = course_check.check(root=repo_root)
    assert problems == [], _messages(problems)


def test_release_twice_changes_nothing(course):
    before = _release_nb(course).read_bytes()
    first = release.release(["00_setup"], root=course)
    second = release.release(["00_setup"], root=course)
    assert first.changed == [] and second.changed == []
    assert _release_nb(course).read_bytes() == before


def test_release_rebuilds_a_deleted_release(course):
    _release_nb(course).unlink()
    result = release.release(["00_setup"], root=course)
    assert _release_nb(course).is_file()
    assert result.changed
    assert course_check.check(["00_setup"], root=course) == []


def test_planted_solution_line_is_found(course):
    nb = nbformat.read(_release_nb(course), as_version=4)
    idx = next(
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "delta_phi"
    )
    nb.cells[idx].source += "\n    return (d + np.pi) % (2 * np.pi) - np.pi"
    nbformat.write(nb, _release_nb(course))
    text = _messages(course_check.check(["00_setup"], root=course))
    assert "solution text leaked" in text
    assert f"release/00_setup/00_setup.ipynb cell {idx} (delta_phi)" in text
    assert "stale against source/" in text


def test_planted_hidden_test_is_found_in_any_file(course):
    (course / "release" / "00_setup" / "notes.txt").write_text(
        "a, b = rng.uniform(-np.pi, np.pi, size=(2, 500))\n"
    )
    text = _messages(course_check.check(["00_setup"], root=course))
    assert "release/00_setup/notes.txt: hidden test leaked" in text


def test_planted_hidden_threshold_is_found(course):
    (course / "release" / "00_setup" / "thresholds.json").write_text(json.dumps({"seed": 8413}))
    text = _messages(course_check.check(["00_setup"], root=course))
    assert "release/00_setup/thresholds.json: hidden value 8413 leaked" in text


def test_output_in_source_is_found(course):
    src = course / "source" / "00_setup" / "00_setup.ipynb"
    nb = nbformat.read(src, as_version=4)
    idx = next(
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "check_environment" in c.source
    )
    nb.cells[idx].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    nb.cells[idx].execution_count = 3
    nbformat.write(nb, src)
    text = _messages(course_check.check(["00_setup"], root=course))
    assert f"source/00_setup/00_setup.ipynb cell {idx}: carries outputs" in text
    assert f"source/00_setup/00_setup.ipynb cell {idx}: carries an execution count" in text


def test_duplicate_grade_id_and_points_mismatch(course):
    src = course / "source" / "00_setup" / "00_setup.ipynb"
    nb = nbformat.read(src, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    i, j = ids.index("invariant_mass_arrays"), ids.index("delta_phi_wrapped")
    nb.cells[j].metadata["nbgrader"]["grade_id"] = "invariant_mass_arrays"
    nb.cells[i].metadata["nbgrader"]["points"] = 5
    nbformat.write(nb, src)
    text = _messages(course_check.check(["00_setup"], root=course))
    assert (
        f"cell {j} (invariant_mass_arrays): grade id 'invariant_mass_arrays' also used by cell {i}"
        in text
    )
    assert "graded cells carry 7 points, course/manifest.toml says 3" in text


def _set_ref(course: Path, ref: str, *extra: str) -> None:
    path = course / "course" / "manifest.toml"
    text = path.read_text()
    old = next(line for line in text.splitlines() if line.startswith("student_copy_ref"))
    path.write_text(text.replace(old, "\n".join([f"student_copy_ref = {ref!r}", *extra])))


def test_student_copy_ref_change_rewrites_the_release_setup_cell(course):
    source = course / "source" / "00_setup" / "00_setup.ipynb"
    before = source.read_bytes()
    _set_ref(course, "v2.0")
    assert "stale against source/" in _messages(course_check.check(["00_setup"], root=course))
    result = release.release(["00_setup"], root=course)
    assert result.changed
    nb = nbformat.read(_release_nb(course), as_version=4)
    setup = [c for c in nb.cells if release.SETUP_TAG in c.metadata.get("tags", [])]
    assert len(setup) == 1
    assert "hepml-course[colab] @ git+https://" in setup[0].source
    assert setup[0].source.count("@v2.0") == 1
    assert source.read_bytes() == before, "release must not edit source/"
    assert course_check.check(["00_setup"], root=course) == []


@pytest.mark.parametrize("ref", ["main", "feature/new-data", "deadbeef"])
def test_unpinned_student_copy_is_refused(course, ref):
    _set_ref(course, ref)
    with pytest.raises(release.ReleaseError, match=f"student_copy_ref {ref!r} is not pinned"):
        release.release(["00_setup"], root=course)
    text = _messages(course_check.check(["00_setup"], root=course))
    assert f"course/manifest.toml: student_copy_ref {ref!r} is not pinned" in text


def test_unpinned_student_copy_passes_when_the_manifest_allows_it(course):
    _set_ref(course, "main", "allow_unpinned_ref = true")
    release.release(["00_setup"], root=course)
    assert "@main" in _release_nb(course).read_text()
    assert course_check.check(["00_setup"], root=course) == []


def test_hepml_release_cli_refuses_a_branch_in_one_line(course):
    _set_ref(course, "main")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "hepml"), "--root", str(course), "release", "00_setup"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("hepml release: course/manifest.toml: student_copy_ref 'main'")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_setup_cell_failure_prints_one_sentence(tmp_path):
    """On a (pretend) Colab whose pip cannot install, the cell prints a sentence, no traceback."""
    cell = release.setup_cell_source("hepml-course[colab] @ file:///nonexistent/hepml-course")
    script = tmp_path / "colab.py"
    script.write_text(
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('g')\n" + cell
    )
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    assert lines[0].startswith("The course package did not install (ERROR")
    assert lines[0].endswith("or ask your instructor.")


def test_setup_cell_does_nothing_off_colab(tmp_path):
    cell = release.setup_cell_source("hepml-course[colab] @ file:///nonexistent/hepml-course")
    proc = subprocess.run([sys.executable, "-c", cell], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_hepml_check_cli_fails_with_the_place(course):
    (course / "release" / "00_setup" / "extra.py").write_text(
        "m = rng.uniform(0.0, 500.0, size=200)  # from the hidden test\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = "/usr/bin:/bin"  # not activated: hepml must still find nbgrader's tools
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "hepml"), "--root", str(course), "check", "00_setup"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "release/00_setup/extra.py" in proc.stderr
