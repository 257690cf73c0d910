"""Limits around a grading subprocess, and the kernel sandbox (namespaces, when available)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.grading import limits
from autograder.grading import sandbox as kernel_sandbox


def test_resolve_defaults_from_the_time_budget():
    lim = limits.resolve(60)
    assert lim.notebook_timeout_s == 3 * 60 + limits.STARTUP_S
    assert lim.cell_timeout_s is None and lim.memory_mb == limits.DEFAULT_MEMORY_MB
    assert lim.hard_timeout_s == lim.notebook_timeout_s + lim.startup_s
    explicit = limits.resolve(60, cell_timeout=5, notebook_timeout=20, memory_limit_mb=0)
    assert (explicit.cell_timeout_s, explicit.notebook_timeout_s, explicit.memory_mb) == (
        5,
        20,
        None,
    )
    with pytest.raises(ValueError):
        limits.resolve(60, notebook_timeout=0)
    with pytest.raises(ValueError):
        limits.resolve(60, cell_timeout=-1)


def _run(tmp_path: Path, code: str, lim: limits.Limits) -> tuple[limits.RunReport, Path]:
    marker = tmp_path / "killed.txt"
    report = limits.run_limited(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "log.txt",
        marker_path=marker,
        limits=lim,
    )
    return report, marker


def test_memory_of_the_child_tree_is_watched_and_killed(tmp_path: Path):
    # The watched process starts a child (like nbgrader starts a kernel) that eats memory.
    eater = (
        "import time\nx = []\nfor _ in range(100):\n"
        "    x.append(bytearray(b'x' * 20_000_000))\n    time.sleep(0.01)\n"
    )
    code = (
        "import subprocess, sys\n"
        f"rc = subprocess.run([sys.executable, '-c', {eater!r}]).returncode\n"
        "print('child exit', rc)\n"
    )
    report, marker = _run(tmp_path, code, limits.Limits(notebook_timeout_s=60, memory_mb=200))
    assert report.reason is None and report.returncode == 0
    assert "more than the limit of 200 MiB" in marker.read_text()
    assert "child exit -9" in (tmp_path / "log.txt").read_text()
    assert 200 < report.peak_kernel_rss_mb < 2000


def test_hard_wall_time_kills_the_whole_tree(tmp_path: Path):
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    lim = limits.Limits(notebook_timeout_s=1.0, startup_s=0.5, memory_mb=None)
    report, _ = _run(tmp_path, code, lim)
    assert report.returncode < 0 and "hard limit of 2 s" in report.reason
    assert report.wall_s < 20


def _path_starter(cmd, cwd, env, log_path):
    """Opens the log by its path in the child, as the warm start's forked nbgrader does."""
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.mark.parametrize("starter", [None, _path_starter], ids=["popen", "by-path"])
def test_log_flood_is_stopped_at_the_cap(tmp_path: Path, starter):
    code = "import os\nwhile True:\n    os.write(1, b'y' * 100_000)\n"
    lim = limits.Limits(notebook_timeout_s=60, max_log_bytes=2_000_000, memory_mb=None)
    report = limits.run_limited(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "log.txt",
        marker_path=tmp_path / "killed.txt",
        limits=lim,
        starter=starter,
    )
    assert "MB of log output" in report.reason and report.returncode < 0
    log = (tmp_path / "log.txt").read_bytes()
    assert len(log) == 2_000_000 and set(log) == {ord("y")}  # the first 2 MB, nothing past them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt"]  # the FIFO is removed


def test_log_keeps_everything_under_the_cap(tmp_path: Path):
    code = "import sys\nprint('to stdout', flush=True)\nprint('to stderr', file=sys.stderr)\n"
    report, _ = _run(tmp_path, code, limits.Limits(notebook_timeout_s=60, memory_mb=None))
    assert report.reason is None and report.returncode == 0
    assert (tmp_path / "log.txt").read_text().splitlines() == ["to stdout", "to stderr"]


def test_tail_reads_the_end_of_a_file(tmp_path: Path):
    path = tmp_path / "f.txt"
    path.write_text("a" * 10 + "end")
    assert limits.tail(path, 3) == "end"
    assert limits.tail(tmp_path / "missing.txt") == ""


def test_plain_kernel_argv_without_isolation():
    argv = kernel_sandbox.kernel_argv("/py", hide=[Path("/nonexistent")], isolate=False)
    assert argv == ["/py", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert kernel_sandbox.main(["bogus"]) == 2


@pytest.mark.skipif(
    not kernel_sandbox.namespaces_available(), reason="no unprivileged user namespaces here"
)
def test_sandbox_hides_paths_cuts_the_network_and_is_not_pid_1(tmp_path: Path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "hidden_test.py").write_text("answer = 42")
    secret_file = tmp_path / "gradebook.db"
    secret_file.write_text("hidden tests")
    code = tmp_path / "code"
    code.mkdir()
    base = tmp_path / "scratch"  # other students' grading folders live beside this one's
    (base / "other").mkdir(parents=True)
    (base / "other" / "their.ipynb").write_text("{}")
    (base / "mine" / "work").mkdir(parents=True)
    (base / "mine" / "work" / "my.ipynb").write_text("{}")
    probe = f"""
import os, socket, subprocess
print(sorted(os.listdir({str(secret)!r})), open({str(secret_file)!r}).read() == "")
print(os.getpid() != 1, os.getppid() == 1)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
except OSError as exc:
    print("net", exc.errno)
subprocess.run(["umount", {str(secret)!r}], capture_output=True)
print("still hidden", os.listdir({str(secret)!r}) == [])
try:
    open({str(code / "patch.py")!r}, "w")
except OSError as exc:
    print("code", exc.errno)
print(sorted(os.listdir({str(base)!r})), os.listdir({str(base / "mine" / "work")!r}))
"""
    argv = kernel_sandbox.kernel_argv(
        sys.executable,
        hide=[secret, secret_file],
        isolate=True,
        readonly=[code],
        private=[base],
        keep=[base / "mine" / "work"],
    )
    cut = argv.index("ipykernel_launcher") - 2
    argv = [*argv[:cut], sys.executable, "-c", probe]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0] == "[] True"
    assert lines[1] == "True True"
    assert lines[2].startswith("net ")
    assert lines[3] == "still hidden True"
    assert lines[4] == "code 30"  # EROFS
    assert lines[5] == "['mine'] ['my.ipynb']"


@pytest.mark.skipif(
    not kernel_sandbox.namespaces_available(), reason="no unprivileged user namespaces here"
)
def test_code_and_data_under_the_private_tmp_stay_readable_and_read_only(tmp_path: Path):
    """A clone in /tmp: its packages and the data named for the kernels are bound back, read-only,
    inside the private folder; its ``source/`` stays hidden and the rest stays out of sight."""
    base = tmp_path / "tmp"
    code = base / "clone" / "autograder"
    code.mkdir(parents=True)
    (code / "checks.py").write_text("ok = True")
    source = base / "clone" / "source"
    source.mkdir()
    (source / "solution.ipynb").write_text("{}")
    data = base / "shared" / "real"
    data.mkdir(parents=True)
    (data / "events.root").write_text("events")
    (base / "other").mkdir()
    probe = f"""
import os
print(open({str(code / "checks.py")!r}).read(), open({str(data / "events.root")!r}).read())
for path in ({str(code / "new.py")!r}, {str(data / "new.root")!r}):
    try:
        open(path, "w")
    except OSError as exc:
        print("ro", exc.errno)
print(os.path.exists({str(source / "solution.ipynb")!r}), sorted(os.listdir({str(base)!r})))
print(os.listdir({str(base / "clone")!r}))
"""
    argv = kernel_sandbox.kernel_argv(
        sys.executable,
        hide=[source],
        isolate=True,
        readonly=[code, data],
        private=[base],
    )
    cut = argv.index("ipykernel_launcher") - 2
    argv = [*argv[:cut], sys.executable, "-c", probe]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip().splitlines() == [
        "ok = True events",
        "ro 30",
        "ro 30",
        "False ['clone', 'shared']",
        "['autograder']",
    ]


def test_kernel_threads_are_the_workers_share_of_the_cores_or_fewer(monkeypatch):
    from autograder.grading import worker as sandbox_exec

    for var in sandbox_exec.THREAD_VARS:  # whatever the shell (or an earlier import) has set
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the grader's shell: never more than the share
    assert sandbox_exec._environment(1)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # fewer asked for: kept
    assert sandbox_exec._environment(4)["OMP_NUM_THREADS"] == "1"
    monkeypatch.delenv("OMP_NUM_THREADS")
    env = sandbox_exec._environment(3)
    assert [env[v] for v in sandbox_exec.THREAD_VARS] == ["3"] * len(sandbox_exec.THREAD_VARS)
