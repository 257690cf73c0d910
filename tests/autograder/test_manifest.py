"""course/manifest.toml: read, validated, and consistent with source/."""

from __future__ import annotations

import pytest

from autograder.course import manifest


def test_manifest_lists_existing_assignments(repo_root):
    course = manifest.load(repo_root)
    assert course.ids[0] == "00_setup"
    for a in course.assignments:
        assert a.source_notebook(repo_root).is_file(), a.id
        assert a.framework in manifest.FRAMEWORKS
        assert a.points > 0 and a.time_budget_s > 0
    copy = course.student_copy
    assert course.colab_install == f"hepml-course[colab] @ git+{copy.url}@{copy.ref}"
    assert course.student_copy_problem() is None, "the committed manifest must pin a tag"
    assert course.student_copy_problem(strict=True) is None


@pytest.mark.parametrize(
    "ref", ["v0.1.0", "2026.1", "v1.2rc1", "0123456789abcdef0123456789abcdef01234567"]
)
def test_tags_and_commits_pin_the_student_copy(ref):
    assert manifest.ref_problem(ref) is None


@pytest.mark.parametrize("ref", ["main", "master", "HEAD", "spring-term", "deadbeef"])
def test_branches_do_not_pin_the_student_copy(ref):
    assert "is not pinned" in manifest.ref_problem(ref)


def _course_table(tmp_path, lines: str) -> None:
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "manifest.toml").write_text(
        f"[course]\n{lines}\n[[assignments]]\nid = 'a'\ntitle = 't'\nframework = 'none'\n"
        "dataset = 'd'\npoints = 1\ntime_budget_s = 1\n"
    )


def test_allow_unpinned_ref_is_for_release_not_for_publish(tmp_path):
    _course_table(
        tmp_path,
        "student_copy_url = 'https://x.org/c.git'\nstudent_copy_ref = 'main'\n"
        "allow_unpinned_ref = true",
    )
    course = manifest.load(tmp_path)
    assert course.student_copy_problem() is None
    assert "'main' is not pinned" in course.student_copy_problem(strict=True)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("colab_install = 'hepml-course @ git+https://x.org/c.git@main'", "is replaced by"),
        ("student_copy_url = 'github.com/x/c'\nstudent_copy_ref = 'v1'", "must be a git URL"),
        ("student_copy_url = 'https://x.org/c.git'", "student_copy_ref missing"),
    ],
)
def test_malformed_student_copy_is_named(tmp_path, lines, message):
    _course_table(tmp_path, lines)
    with pytest.raises(manifest.ManifestError, match=message):
        manifest.load(tmp_path)


def test_unknown_assignment_names_the_known_ones(repo_root):
    with pytest.raises(KeyError, match="00_setup"):
        manifest.load(repo_root).assignment("99_nope")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'id = "a"\ntitle = "t"\nframework = "jax"\ndataset = "d"\npoints = 1\ntime_budget_s = 1',
            "framework",
        ),
        ('id = "a"\ntitle = "t"\nframework = "torch"\ndataset = "d"\ntime_budget_s = 1', "points"),
        ('title = "t"\nframework = "torch"\ndataset = "d"\npoints = 1\ntime_budget_s = 1', "'id'"),
    ],
)
def test_malformed_entries_are_named(tmp_path, entry, message):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "manifest.toml").write_text(
        f"[course]\nid='x'\n[[assignments]]\n{entry}\n"
    )
    with pytest.raises(manifest.ManifestError, match=message):
        manifest.load(tmp_path)


def test_not_toml_is_reported(tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "manifest.toml").write_text("[[assignments]\n")
    with pytest.raises(manifest.ManifestError, match="not valid TOML"):
        manifest.load(tmp_path)


def test_find_root_from_a_subfolder(repo_root):
    assert manifest.find_root(repo_root / "source" / "00_setup") == repo_root
