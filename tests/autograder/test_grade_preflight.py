"""What ``hepml grade`` checks before any notebook runs: sandbox, data paths, hidden paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from autograder.grading import preflight
from autograder.grading import sandbox as kernel_sandbox

needs_namespaces = pytest.mark.skipif(
    not kernel_sandbox.namespaces_available(), reason="no unprivileged user namespaces here"
)


def test_sandbox_decision_refuses_without_namespaces_unless_told(monkeypatch):
    monkeypatch.setattr(kernel_sandbox, "namespaces_available", lambda: False)
    monkeypatch.setenv(kernel_sandbox.SANDBOX_ENV, "auto")
    with pytest.raises(kernel_sandbox.SandboxUnavailable, match="pass --no-sandbox"):
        preflight.sandbox_decision()
    assert preflight.sandbox_decision(sandbox=False) is False
    monkeypatch.setenv(kernel_sandbox.SANDBOX_ENV, "off")  # as explicit as --no-sandbox
    assert preflight.sandbox_decision() is False
    monkeypatch.setattr(kernel_sandbox, "namespaces_available", lambda: True)
    monkeypatch.setenv(kernel_sandbox.SANDBOX_ENV, "auto")
    assert preflight.sandbox_decision() is True


def test_exchange_root_is_hidden(tmp_path: Path):
    root = tmp_path / "course"
    root.mkdir()
    assert preflight.DEFAULT_EXCHANGE in preflight.hidden_paths(root, "sqlite:///x.db")
    exchange = tmp_path / "exchange"
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n"
    )
    hidden = preflight.hidden_paths(root, f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert str(exchange) in hidden and str(tmp_path / "elsewhere.db") in hidden
    assert str(root / "source") in hidden and str(root / "gradebook.db") in hidden


@needs_namespaces
def test_the_kernel_cannot_read_the_exchange(tmp_path: Path):
    root = tmp_path / "course"
    root.mkdir()
    exchange = tmp_path / "srv" / "exchange"
    (exchange / "hepml" / "inbound").mkdir(parents=True)
    inbound = exchange / "hepml" / "inbound" / "alice+00_setup+2026"
    inbound.write_text("another student's submission")
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n"
    )
    hidden = preflight.hidden_paths(root, f"sqlite:///{root / 'gradebook.db'}")
    assert kernel_sandbox.unreadable([inbound], hide=[Path(h) for h in hidden]) == {
        str(inbound): "No such file or directory"
    }
    assert kernel_sandbox.unreadable([inbound]) == {}  # without hiding it, it is readable


@needs_namespaces
def test_a_symlinked_data_folder_is_given_by_its_real_path(tmp_path: Path, monkeypatch):
    """The data cache linked from elsewhere, pointing into the kernel's private /tmp: bound
    back (and given to the kernel) by its real path, so the kernel reads it."""
    real = tmp_path / "real-data"
    real.mkdir()
    (real / "events.h5").write_text("events")
    link = tmp_path / "data"
    link.symlink_to(real)
    monkeypatch.setenv(preflight.DATA_DIR_ENV, str(link))
    monkeypatch.delenv(preflight.READABLE_ENV, raising=False)
    assert preflight.data_dir_for_kernels() == str(real)
    assert preflight.check_data_paths(isolate=True) == [str(real)]
    # What a kernel sees, with the data folder kept as worker.py names it (the link).
    argv = kernel_sandbox.kernel_argv(sys.executable, isolate=True, private=[tmp_path], keep=[link])
    cut = argv.index("ipykernel_launcher") - 2
    probe = f"print(open({str(real / 'events.h5')!r}).read())"
    import subprocess

    out = subprocess.run(
        [*argv[:cut], sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "events", out.stderr[-2000:]


@needs_namespaces
def test_a_data_folder_the_kernel_cannot_read_fails_up_front(tmp_path: Path, monkeypatch):
    root = tmp_path / "course"
    data = root / "source" / "02_atlas_keras" / "data"  # inside a folder hidden from kernels
    data.mkdir(parents=True)
    (data / "events.root").write_text("events")
    monkeypatch.delenv(preflight.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(preflight.READABLE_ENV, str(data))
    hide = preflight.hidden_paths(root, f"sqlite:///{root / 'gradebook.db'}")
    assert preflight.check_data_paths(isolate=False, hide=hide) == [str(data)]
    with pytest.raises(preflight.DataPathError, match="the grading kernel cannot read"):
        preflight.check_data_paths(isolate=True, hide=hide)
    # A link whose target is gone, and a link that only the grader can follow.
    monkeypatch.setenv(preflight.READABLE_ENV, str(tmp_path / "dangling"))
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(preflight.DataPathError, match=r"\(a link to .*gone\) does not exist"):
        preflight.check_data_paths(isolate=True, hide=hide)
    outside = tmp_path / "real"
    outside.mkdir()
    (tmp_path / "private").mkdir()
    link = tmp_path / "private" / "data"
    link.symlink_to(outside)
    monkeypatch.setenv(preflight.READABLE_ENV, str(link))
    monkeypatch.setattr(preflight.tempfile, "gettempdir", lambda: str(tmp_path / "private"))
    with pytest.raises(preflight.DataPathError, match="name the real path instead"):
        preflight.check_data_paths(isolate=True, hide=hide)
    monkeypatch.setenv(preflight.READABLE_ENV, str(outside))
    assert preflight.check_data_paths(isolate=True, hide=hide) == [str(outside)]


def test_environment_is_restored():
    before = os.environ.get("HEPML_TEST_VAR")
    with preflight.environment(HEPML_TEST_VAR="x"):
        assert os.environ["HEPML_TEST_VAR"] == "x"
    assert os.environ.get("HEPML_TEST_VAR") == before
