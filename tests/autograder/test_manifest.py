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
    assert course.colab_install.startswith("hepml-course @ ")


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
