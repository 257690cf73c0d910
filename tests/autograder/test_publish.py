"""hepml publish: the student copy is an allow-list, scanned for leaks, written only when clean."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_fixtures import scratch_course

from autograder.course import manifest
from autograder.release import generate, publish

pytestmark = pytest.mark.slow

PACKAGE_PARTS = (
    "helpers",
    "autograder",
    "pyproject.toml",
    "constraints.txt",
    "environment.yml",
    "binder",
)
NEVER = ("source", "course", "tests", "bench", "release", "Makefile", "nbgrader_config.py")
# A line of 00_setup's hidden test.
HIDDEN_LINE = "m = rng.uniform(0.0, 500.0, size=200)"


@pytest.fixture
def instructor_repo(repo_root, tmp_path) -> Path:
    """A scratch instructor repository: the course and the package beside it.

    (The whole course: with fewer assignments, numbers of hidden tests that other notebooks show
    openly, such as 200, would count as secret.)"""
    course = scratch_course(repo_root, tmp_path / "course")
    for part in PACKAGE_PARTS:
        src = repo_root / part
        if src.is_dir():
            shutil.copytree(src, course / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, course / part)
    return course


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_publish_writes_the_allow_list_and_nothing_secret(repo_root, tmp_path):
    out = tmp_path / "student-copy"
    result = publish.publish(out, root=repo_root)
    course = manifest.load(repo_root)
    files = _files(out)
    assert {p.as_posix() for p in result.files} == files
    top = {name.split("/")[0] for name in files}
    licences = {n for n in publish.LICENSES if (repo_root / n).is_file()}
    assert top == {
        "README.md",
        "autograder",
        "binder",
        "constraints.txt",
        "environment.yml",
        "helpers",
        "notebooks",
        "pyproject.toml",
        publish.MARKER,
        *licences,
    }
    assert not top & set(NEVER)
    assert not any(name.startswith("autograder/demo/") for name in files)
    assert not any("__pycache__" in name for name in files)
    for a in course.assignments:
        nb = nbformat.read(out / "notebooks" / a.id / f"{a.id}.ipynb", as_version=4)
        setup = next(c for c in nb.cells if generate.SETUP_TAG in c.metadata.get("tags", []))
        assert json.dumps(course.colab_install) in setup.source
    for name in files:
        text = (out / name).read_text(encoding="utf-8", errors="replace")
        for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", HIDDEN_LINE):
            assert marker not in text or name.startswith("autograder/"), (name, marker)
    # the package's own files are the instructor repository's, byte for byte
    assert (out / "helpers" / "metrics.py").read_bytes() == (
        repo_root / "helpers" / "metrics.py"
    ).read_bytes()
    assert course.colab_install in (out / "README.md").read_text()
    assert not list(tmp_path.glob(".student-copy.*")), "the staging folder is left behind"
    # publishing again into a clone of the student copy keeps .git and drops what is gone
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "notebooks" / "old_assignment.ipynb").write_text("{}")
    publish.publish(out, root=repo_root)
    assert (out / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert _files(out) == files | {".git/HEAD"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student-copy"]


def test_planted_hidden_test_line_is_refused_and_nothing_written(instructor_repo, tmp_path):
    with (instructor_repo / "helpers" / "metrics.py").open("a") as f:
        f.write(f"\n# example\n{HIDDEN_LINE}\n")
    out = tmp_path / "student-copy"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "hepml"),
            "--root",
            str(instructor_repo),
            "publish",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"hepml publish: refusing to write {out}: helpers/metrics.py: ")
    assert "hidden test leaked (from 00_setup.ipynb cell" in proc.stderr
    assert repr(HIDDEN_LINE) in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [instructor_repo], "a staging folder is left behind"


def test_a_folder_that_is_no_student_copy_is_left_alone(instructor_repo, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("\\chapter{Intro}\n")
    with pytest.raises(
        publish.PublishError, match="is not a student copy written by hepml publish"
    ):
        publish.publish(out, root=instructor_repo)
    assert _files(out) == {"chapter1.tex"}
    with pytest.raises(publish.PublishError, match="outside the course repository"):
        publish.publish(instructor_repo / "student", root=instructor_repo)


def test_an_unpinned_student_copy_is_never_published(instructor_repo, tmp_path):
    path = instructor_repo / "course" / "manifest.toml"
    text = path.read_text().replace(
        'student_copy_ref = "v0.1.0"', 'student_copy_ref = "main"\nallow_unpinned_ref = true'
    )
    path.write_text(text)
    with pytest.raises(publish.PublishError, match="student_copy_ref 'main' is not pinned"):
        publish.publish(tmp_path / "copy", root=instructor_repo)


def test_hidden_tests_cannot_be_accepted(instructor_repo, tmp_path):
    (instructor_repo / "course" / "publish-accepted.toml").write_text(
        f'[files."helpers/metrics.py"]\nreason = "x"\nhidden = [{HIDDEN_LINE!r}]\n'
    )
    with pytest.raises(publish.PublishError, match="hidden-test text is never accepted"):
        publish.publish(tmp_path / "copy", root=instructor_repo)


def test_a_stale_release_is_not_published(instructor_repo, tmp_path):
    nb = instructor_repo / "release" / "00_setup" / "00_setup.ipynb"
    nb.write_text(nb.read_text().replace("Day one", "Day zero", 1))
    with pytest.raises(publish.PublishError, match=r"hepml check finds .* stale against source/"):
        publish.publish(tmp_path / "copy", root=instructor_repo)
