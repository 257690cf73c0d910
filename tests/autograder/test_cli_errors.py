"""Expected mistakes end in one line on stderr, ``hepml <command>: error: <message>``, and exit 2.

Each case runs the installed ``hepml`` console script in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from course_fixtures import course_of

A = "00_setup"
HEPML = str(Path(sys.executable).with_name("hepml"))


@pytest.fixture(scope="module")
def course(repo_root, tmp_path_factory) -> Path:
    return course_of(repo_root, tmp_path_factory.mktemp("cli-errors") / "course", A)


def _fails(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run hepml; assert exit status 2 and exactly one stderr line; return that line."""
    proc = subprocess.run(
        [HEPML, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (args, proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, (args, proc.stderr[-2000:])
    command = args[2] if args[0] == "--root" else args[0]
    assert lines[0].startswith(f"hepml {command}: error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["grade", A],
        ["feedback", A],
        ["export"],
        ["release"],
        ["check"],
        ["leaderboard", A, "--labels", "twin"],
        ["demo", "--quick"],
    ],
)
def test_no_course_manifest(args, tmp_path):
    line = _fails(args, cwd=tmp_path)
    assert "no course/manifest.toml at or above" in line and "--root" in line


def test_no_course_manifest_at_the_root_given(tmp_path):
    line = _fails(["--root", str(tmp_path), "export"], cwd=tmp_path)
    assert "no course manifest" in line and "--root" in line


@pytest.mark.parametrize(
    "args",
    [
        ["grade", "nope"],
        ["feedback", "nope"],
        ["export", "nope"],
        ["release", "nope"],
        ["check", "nope"],
        ["leaderboard", "nope", "--labels", "twin"],
        ["demo", "--assignment", "nope"],
    ],
)
def test_unknown_assignment(args, course, tmp_path):
    line = _fails(["--root", str(course), *args], cwd=tmp_path)
    assert "'nope'" in line and A in line  # names the known assignments


def test_missing_submissions_folder(course, tmp_path):
    missing = tmp_path / "class"
    line = _fails(["--root", str(course), "grade", A, str(missing)], cwd=tmp_path)
    assert f"{missing}: no such folder or zip file" in line


def test_unreadable_data_path(course, tmp_path):
    link = tmp_path / "data"
    link.symlink_to(tmp_path / "gone")
    env = {"HEPML_GRADING_READABLE": str(link)}
    line = _fails(["--root", str(course), "grade", A], cwd=tmp_path, env=env)
    assert f"{link} (a link to {tmp_path / 'gone'}) does not exist" in line


def test_unusable_collection_pattern(course, tmp_path):
    (tmp_path / "class").mkdir()
    args = ["--root", str(course), "grade", A, str(tmp_path / "class"), "--dry-run"]
    line = _fails([*args, "--pattern", "(?P<student_id>.+)"], cwd=tmp_path)
    assert "lacks the named group(s) (?P<file_id>...)" in line
    line = _fails([*args, "--pattern", "(unclosed"], cwd=tmp_path)
    assert "is not a regular expression" in line


@pytest.mark.parametrize("command", [["grade", A], ["demo", "--quick"]])
def test_no_sandbox_no_start(command, course, tmp_path, monkeypatch, capsys):
    """Without user namespaces (simulated: the probe says no) grading refuses to start."""
    from autograder import cli
    from autograder.grading import sandbox as kernel_sandbox

    monkeypatch.setenv(kernel_sandbox.SANDBOX_ENV, "auto")
    monkeypatch.setattr(kernel_sandbox, "namespaces_available", lambda: False)
    out = tmp_path / "demo-out"
    extra = ["--out", str(out)] if command[0] == "demo" else []
    assert cli.main(["--root", str(course), *command, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hepml {command[0]}: error: the grading sandbox")
    assert not out.exists()  # nothing done before the refusal
