"""Collecting a class: folders and zips of notebooks named by student, and what cannot match."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from autograder.grading import collect, patterns

A = "00_setup"
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def _write(path: Path, data: bytes = NB) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    course.mkdir()
    return course


def test_folder_of_every_naming_scheme(root: Path, tmp_path: Path):
    src = tmp_path / "class"
    _write(src / "alice.ipynb")
    _write(src / f"bob_{A}.ipynb")
    _write(src / "carol" / f"{A}.ipynb")
    _write(src / "carol" / "helpers.py", b"x = 1\n")
    _write(src / "carol" / "01_higgs.ipynb")  # another assignment's notebook stays out
    _write(src / "dave" / A / f"{A}.ipynb")
    _write(src / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    found = collect.collect(A, src, root=root, other_assignments=[A, "01_higgs"])
    assert found.students == ["alice", "bob", "carol", "dave"]
    assert sorted(found.imported) == ["alice", "bob", "carol", "dave"]
    assert found.unmatched == []
    carol = root / "submitted" / "carol" / A
    assert sorted(p.name for p in carol.iterdir()) == [f"{A}.ipynb", "helpers.py", "timestamp.txt"]
    assert (root / "submitted" / "bob" / A / f"{A}.ipynb").read_bytes() == NB
    # Originals stay where they were.
    assert (src / "alice.ipynb").is_file() and (src / f"bob_{A}.ipynb").is_file()


def test_unmatched_files_are_reported_with_reasons(root: Path, tmp_path: Path):
    src = tmp_path / "class"
    _write(src / "notes.txt", b"hello")
    _write(src / f"{A}.ipynb")
    _write(src / "erin_01_higgs.ipynb")
    _write(src / "frank" / "Untitled.ipynb")
    _write(src / "-bad name.ipynb")
    _write(src / "gina.ipynb")
    _write(src / "gina" / f"{A}.ipynb")
    found = collect.collect(A, src, root=root, other_assignments=[A, "01_higgs"])
    reasons = {u.path: u.reason for u in found.unmatched}
    assert reasons["notes.txt"] == "not a notebook"
    assert reasons[f"{A}.ipynb"] == "the file name names no student"
    assert reasons["erin_01_higgs.ipynb"] == "a notebook of assignment 01_higgs"
    assert reasons["frank"] == f"holds no {A}.ipynb (found Untitled.ipynb)"
    assert "not a usable student id" in reasons["-bad name.ipynb"]
    assert "several submissions for gina" in reasons["gina.ipynb"]
    assert "several submissions for gina" in reasons[f"gina/{A}.ipynb"]
    assert found.students == []


def test_zip_with_a_wrapping_folder_and_unsafe_entries(root: Path, tmp_path: Path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("class/alice.ipynb", NB)
        zf.writestr(f"class/bob/{A}.ipynb", NB)
        zf.writestr("../evil.ipynb", NB)
        zf.writestr("__MACOSX/class/._alice.ipynb", b"junk")
    found = collect.collect(A, archive, root=root)
    assert found.students == ["alice", "bob"]
    assert [u.reason for u in found.unmatched] == ["unsafe zip entry"]
    assert not (tmp_path / "evil.ipynb").exists()


def test_reimport_of_unchanged_files_changes_nothing(root: Path, tmp_path: Path):
    src = tmp_path / "class"
    _write(src / "alice.ipynb")
    first = collect.collect(A, src, root=root)
    stamp = (root / "submitted" / "alice" / A / "timestamp.txt").read_bytes()
    second = collect.collect(A, src, root=root)
    assert first.imported == ["alice"] and second.imported == []
    assert (root / "submitted" / "alice" / A / "timestamp.txt").read_bytes() == stamp
    _write(src / "alice.ipynb", NB.replace(b"[]", b"[ ]", 1))
    assert collect.collect(A, src, root=root).imported == ["alice"]


def test_nbgrader_layout_without_a_notebook_is_reported(root: Path):
    _write(root / "submitted" / "hal" / A / f"{A}.ipynb")
    (root / "submitted" / "ivy" / A).mkdir(parents=True)
    found = collect.collect(A, root=root)
    assert found.students == ["hal"]
    assert [(u.path, u.reason) for u in found.unmatched] == [
        (f"submitted/ivy/{A}", f"holds no {A}.ipynb")
    ]


def test_missing_source_is_an_error(root: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        collect.collect(A, tmp_path / "nowhere", root=root)
    bogus = _write(tmp_path / "class.txt", b"not a zip")
    with pytest.raises(ValueError, match="not a folder and not a zip"):
        collect.collect(A, bogus, root=root)


def test_lms_names_by_the_documented_pattern(root: Path, tmp_path: Path):
    """Canvas-style downloads, ``<name>_[late_]<user id>_<submission id>_<file>``."""
    src = tmp_path / "lms"
    _write(src / f"name_123_456_{A}.ipynb")
    _write(src / "name_123_456_helpers.py", b"x = 1\n")
    _write(src / f"smithjo_late_124_457_{A}-1.ipynb")  # a late resubmission
    _write(src / "lee_125_458_01_higgs.ipynb")  # another assignment's notebook
    _write(src / "notes.txt", b"hello")
    # Without the pattern the id is the whole stem, as before.
    dry = collect.collect(A, src, root=root, other_assignments=[A, "01_higgs"], dry_run=True)
    assert {m.path: m.student for m in dry.matched}[f"name_123_456_{A}.ipynb"] == "name_123_456"
    found = collect.collect(A, src, root=root, other_assignments=[A, "01_higgs"], pattern="lms")
    assert found.students == ["name", "smithjo"]
    assert sorted(p.name for p in (root / "submitted" / "name" / A).iterdir()) == [
        f"{A}.ipynb",
        "helpers.py",
        "timestamp.txt",
    ]
    reasons = {u.path: u.reason for u in found.unmatched}
    assert reasons["lee_125_458_01_higgs.ipynb"] == "a notebook of assignment 01_higgs"
    assert reasons["notes.txt"].startswith("does not match the pattern")


def test_dry_run_prints_the_matching_and_copies_nothing(root: Path, tmp_path: Path):
    src = tmp_path / "lms"
    _write(src / f"name_123_456_{A}.ipynb")
    _write(src / "x.txt", b"x")
    found = collect.collect(A, src, root=root, pattern="lms", dry_run=True)
    assert [str(m) for m in found.matched] == [f"name_123_456_{A}.ipynb -> name, {A} ({A}.ipynb)"]
    assert found.dry_run_lines()[1].startswith("unmatched  x.txt: does not match the pattern")
    assert not (root / "submitted").exists() and found.submissions == []


def test_pattern_with_timestamps_keeps_the_latest_and_writes_it(root: Path, tmp_path: Path):
    """nbgrader's zip_collect example pattern, timestamp group included."""
    src = tmp_path / "bb"
    pattern = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>\w+)"
    _write(src / f"ps_bitdiddle_attempt_2026-01-30-15-00-00_{A}.ipynb", b"{}")
    _write(src / f"ps_bitdiddle_attempt_2026-01-31-09-30-00_{A}.ipynb")
    _write(src / f"ps_hacker_attempt_2026-01-30-15-00-00_{A}.ipynb")
    _write(src / f"ps_hacker_attempt_2026-01-30-15-00-00_{A}.ipynb.bak", b"{}")
    found = collect.collect(A, src, root=root, pattern=pattern)
    assert found.students == ["bitdiddle", "hacker"]
    folder = root / "submitted" / "bitdiddle" / A
    assert (folder / f"{A}.ipynb").read_bytes() == NB  # the later attempt
    assert (folder / "timestamp.txt").read_text() == "2026-01-31 09:30:00.000000 UTC"


def test_patterns_are_checked(root: Path, tmp_path: Path):
    with pytest.raises(patterns.PatternError, match=r"lacks the named group\(s\) \(\?P<file_id>"):
        collect.collect(A, tmp_path, root=root, pattern=r"(?P<student_id>\w+)")
    with pytest.raises(patterns.PatternError, match="not a regular expression"):
        collect.collect(A, tmp_path, root=root, pattern="(")
