"""autograder.checks core: the failure type, short tracebacks, messages, a light import."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder import checks
from autograder.checks import CheckFailed
from autograder.checks._core import fmt, pct, plural

REPO = Path(__file__).resolve().parents[2]


def test_check_failed_is_an_assertion_with_the_message_only():
    with pytest.raises(AssertionError) as err:
        checks.values_close(1.0, 2.0, what="the mass")
    exc = err.value
    assert isinstance(exc, CheckFailed)
    assert str(exc) == "The mass is 1, expected 2 ± 2e-05."
    assert exc.__suppress_context__ and exc.__cause__ is None
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    package = str(Path(checks.__file__).parent)
    ours = [f for f in frames if f.f_code.co_filename.startswith(package)]
    assert ours and all(f.f_locals.get("__tracebackhide__") for f in ours)


def test_ipython_shows_a_short_traceback():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        shell.run_cell("from autograder import checks\nchecks.loss_decreased([0.5, 0.6])")
    text = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())
    assert "skipping hidden 1 frame" in text
    assert text.strip().endswith("CheckFailed: " + _loss_message())
    assert text.count("File ") <= 1, "one frame of ours, the raise"


def _loss_message() -> str:
    try:
        checks.loss_decreased([0.5, 0.6])
    except CheckFailed as exc:
        return str(exc)
    raise AssertionError("expected a failure")


def test_unreadable_input_is_a_sentence_not_a_traceback():
    with pytest.raises(CheckFailed) as err:
        checks.split_fractions(
            {"train": object(), "test": np.zeros(3)}, {"train": 0.5, "test": 0.5}
        )
    assert (
        str(err.value)
        == "Could not count the events in the train set (found a 'object', which has no length)."
    )


def test_import_pulls_in_no_framework():
    code = (
        "import sys, autograder.checks\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'keras', 'sklearn', 'pandas') "
        "if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"


def test_registered_checks_are_the_public_ones():
    public = {name for name in checks.__all__ if name not in {"CheckFailed", "registered_checks"}}
    assert set(checks.registered_checks()) == public


def test_message_formatting():
    assert fmt(0.123456) == "0.1235"
    assert fmt(3.0) == "3"
    assert fmt(np.int64(7)) == "7"
    assert fmt(float("nan")) == "nan" and fmt(float("-inf")) == "-inf"
    assert pct(0.2) == "20%" and pct(0.25316) == "25.32%"
    assert plural(1, "event", ("is", "are")) == "1 event is"
    assert plural(3, "event") == "3 events"


def test_objects_that_raise_while_read_give_a_sentence():
    class Weird:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("lazy tensor on a closed session")

    with pytest.raises(CheckFailed) as err:
        checks.split_disjoint_and_complete({"train": Weird(), "test": np.zeros((2, 2))})
    assert str(err.value) == (
        "Could not read the train set as an array of numbers (RuntimeError: lazy tensor on a "
        "closed session)."
    )

    class Broken:
        @property
        def shape(self):
            raise RuntimeError("device lost")

    with pytest.raises(CheckFailed) as err:
        checks.split_fractions(
            {"train": Broken(), "test": np.zeros(2)}, {"train": 0.5, "test": 0.5}
        )
    assert str(err.value) == (
        "Could not read your answer (RuntimeError: device lost): check that you passed what the "
        "question asks for."
    )
    with pytest.raises(CheckFailed) as err:
        checks.loss_decreased(Weird())
    assert "Could not read your loss history as numbers" in str(err.value)
