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


def test_manifest_install_spec_change_resyncs_setup_cell(course):
    manifest_path = course / "course" / "manifest.toml"
    manifest_path.write_text(
        manifest_path.read_text().replace("hepml-course.git@main", "hepml-course.git@v2")
    )
    assert "differs from the manifest's colab_install" in _messages(
        course_check.check(["00_setup"], root=course)
    )
    result = release.release(["00_setup"], root=course)
    assert result.synced_setup
    assert "git@v2" in _release_nb(course).read_text()
    assert course_check.check(["00_setup"], root=course) == []


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
