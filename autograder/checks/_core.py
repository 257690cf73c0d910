"""The machinery every check shares: the failure type, the judge registry, recording, messages.

A public check is written in two halves (see :mod:`autograder.checks.records` for why):

* the public function runs in the student's kernel, reduces the student's objects to plain data
  (``derive``) and calls :func:`run_check`;
* a judge, registered under the check's name with :func:`register`, is a pure function of that
  plain data returning a :class:`~autograder.checks.records.Verdict`.

:func:`run_check` records the plain data when ``HEPML_ARTEFACT_DIR`` is set, judges, writes the
verdict into the record and raises :class:`CheckFailed` with the student message on failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autograder.checks import records as artefacts
from autograder.checks.records import Verdict

__all__ = [
    "CheckFailed",
    "InputError",
    "Verdict",
    "derive_safely",
    "fail",
    "fmt",
    "judge",
    "passed",
    "register",
    "registered_checks",
    "run_check",
]

Judge = Callable[..., Verdict]
_REGISTRY: dict[str, Judge] = {}


class CheckFailed(AssertionError):
    """A test cell's check failed; ``str()`` of it is the message for the student.

    A subclass of AssertionError, so nbgrader scores the cell 0 like a failed ``assert``.
    """

    __module__ = "autograder.checks"


class InputError(Exception):
    """Raised by a check's ``derive`` step when the student passed something it cannot read;
    the message is for the student and becomes the check's failure."""


def register(name: str) -> Callable[[Judge], Judge]:
    """Register ``judge_fn`` as the judge of the check ``name`` (a decorator)."""

    def deco(judge_fn: Judge) -> Judge:
        if name in _REGISTRY and _REGISTRY[name] is not judge_fn:
            raise ValueError(f"a judge named {name!r} is already registered")
        _REGISTRY[name] = judge_fn
        return judge_fn

    return deco


def registered_checks() -> tuple[str, ...]:
    """The names of every registered check, sorted."""
    return tuple(sorted(_REGISTRY))


def passed() -> Verdict:
    """A passing verdict."""
    return Verdict(True, "")


def fail(message: str) -> Verdict:
    """A failing verdict with the student ``message``."""
    return Verdict(False, message)


def judge(name: str, arguments: Mapping[str, Any]) -> Verdict:
    """Judge plain ``arguments`` with the judge registered as ``name``; never raises.

    An ``input_error`` argument (written when the derive step could not read the student's
    objects) fails with that message. An unknown name, or arguments the judge cannot take, fail
    with a message saying so.
    """
    if "input_error" in arguments:
        return fail(str(arguments["input_error"]))
    judge_fn = _REGISTRY.get(name)
    if judge_fn is None:
        return fail(f"Unknown check {name!r}: this record cannot be judged.")
    try:
        verdict = judge_fn(**arguments)
    except Exception as exc:
        return fail(
            f"This check could not judge the answer ({type(exc).__name__}: {_first_line(exc)}). "
            "Check that you passed the objects the question asks for."
        )
    if not isinstance(verdict, Verdict):
        return fail(f"The judge of {name!r} returned no verdict.")
    return verdict


def run_check(
    name: str,
    derive: Callable[[], Mapping[str, Any]],
    spec: Mapping[str, Any] | None = None,
) -> None:
    """Derive, record, judge; raise :class:`CheckFailed` with the message when the answer fails.

    Parameters
    ----------
    name : str
        The registered check name.
    derive : callable
        Returns the plain data derived from the student's objects; may raise :class:`InputError`.
    spec : mapping, optional
        The test cell's parameters (thresholds, expected values, tolerances), plain data.
    """
    __tracebackhide__ = True
    spec = dict(spec or {})
    derived = derive_safely(derive)
    arguments = {**derived, **spec}
    try:
        path = artefacts.record(name, arguments, spec_keys=tuple(spec))
    except Exception as exc:
        raise CheckFailed(
            f"The grader could not record this check ({type(exc).__name__}: {_first_line(exc)})."
        ) from None
    verdict = judge(name, arguments)
    if path is not None:
        artefacts.set_verdict(path, verdict)
    if not verdict.passed:
        raise CheckFailed(verdict.message) from None


def derive_safely(derive: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
    """Run a check's ``derive`` step; an error of the student's objects becomes ``input_error``.

    The same in the kernel, in the clean process and in the measurement process.
    """
    try:
        return dict(derive())
    except InputError as exc:
        return {"input_error": str(exc)}
    except Exception as exc:  # the student's objects raised while being read
        return {
            "input_error": f"Could not read your answer ({type(exc).__name__}: "
            f"{_first_line(exc)}): check that you passed what the question asks for."
        }


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def fmt(x: Any, digits: int = 4) -> str:
    """A number for a message: 4 significant digits, integers as integers, inf and nan by name."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.{digits}g}"


def pct(x: float) -> str:
    """A fraction as a percentage for a message (``0.2`` -> ``'20%'``, ``0.2531`` -> ``'25.31%'``)."""
    return f"{fmt(100.0 * float(x))}%"


def plural(n: int, noun: str, verbs: tuple[str, str] | None = None) -> str:
    """``"1 event"``/``"3 events"``; with ``verbs=("is", "are")``, ``"1 event is"``/``"3 events are"``."""
    text = f"{n} {noun}{'' if n == 1 else 's'}"
    if verbs:
        text += f" {verbs[0] if n == 1 else verbs[1]}"
    return text
