"""Checks of values and small functions (an invariant mass, a cut efficiency, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autograder.checks._convert import to_numpy
from autograder.checks._core import InputError, Verdict, fail, fmt, passed, register, run_check
from autograder.checks.models import error_text

__all__ = ["function_matches", "holds", "same_items", "values_close"]


def _as_float_array(value: Any, what: str) -> np.ndarray:
    arr = to_numpy(value, what)
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"Could not read {what} as numbers (found dtype {arr.dtype}).") from None


def _show(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.ndim == 0 or a.size == 1:
        return fmt(a.reshape(()).item())
    return np.array2string(a, precision=4, threshold=6, separator=", ")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _compare(
    found: np.ndarray, expected: np.ndarray, rtol: float, atol: float
) -> tuple[str | None, np.ndarray]:
    """(shape problem or None, boolean array of entries that differ)."""
    f, e = np.asarray(found, np.float64), np.asarray(expected, np.float64)
    if f.shape != e.shape:
        if f.size == e.size == 1:
            f, e = f.reshape(()), e.reshape(())
        else:
            return f"has shape {f.shape}, expected {e.shape}", np.zeros(0, bool)
    with np.errstate(invalid="ignore"):
        close = np.abs(f - e) <= atol + rtol * np.abs(e)
    close |= (f == e) | (np.isnan(f) & np.isnan(e))
    return None, ~np.atleast_1d(close)


def values_close(
    found: Any,
    expected: Any,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    what: str = "your value",
    hidden: bool = False,
) -> None:
    """Check that a number or array equals the expected one within ``atol + rtol * |expected|``.

    Parameters
    ----------
    found : number or array-like
        The student's value (any framework).
    expected : number or array-like
        The right value, same shape.
    rtol, atol : float
        Relative and absolute tolerance, as in ``numpy.isclose``.
    what : str
        Names the value in the message, e.g. ``"the Z mass in GeV"``.
    hidden : bool
        Do not show the expected value.

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True
    spec = {
        "expected": _as_float_array(expected, "the expected value"),
        "rtol": float(rtol),
        "atol": float(atol),
        "what": str(what),
        "hidden": bool(hidden),
    }
    run_check("values_close", lambda: {"found": _as_float_array(found, what)}, spec)


@register("values_close")
def _judge_values_close(
    found: np.ndarray, expected: np.ndarray, rtol: float, atol: float, what: str, hidden: bool
) -> Verdict:
    shape_problem, wrong = _compare(found, expected, rtol, atol)
    if shape_problem:
        return fail(f"{_capital(what)} {shape_problem}.")
    if not wrong.any():
        return passed()
    f = np.atleast_1d(np.asarray(found, np.float64)).ravel()
    e = np.atleast_1d(np.asarray(expected, np.float64)).ravel()
    if f.size == 1:
        if hidden:
            return fail(f"{_capital(what)} ({_show(f)}) is not the expected value.")
        tolerance = atol + rtol * abs(float(e[0]))
        return fail(f"{_capital(what)} is {_show(f)}, expected {_show(e)} ± {fmt(tolerance, 2)}.")
    idx = np.flatnonzero(wrong.ravel())
    i = int(idx[0])
    head = f"{_capital(what)}: {len(idx)} of {f.size} entries differ from the expected values"
    if hidden:
        return fail(f"{head}.")
    return fail(f"{head} (e.g. entry {i}: found {fmt(f[i])}, expected {fmt(e[i])}).")


# --------------------------------------------------------------------------------------------


def _call(fn: Any, case: Any) -> Any:
    if isinstance(case, Mapping):
        return fn(**case)
    if isinstance(case, tuple):
        return fn(*case)
    return fn(case)


def _describe(case: Any) -> str:
    def one(v: Any) -> str:
        if getattr(type(v), "opaque_student_object", False):  # the grader's stand-in for code
            return repr(v)
        if isinstance(v, (int, float, np.number)):
            return fmt(v)
        if isinstance(v, str):
            return repr(v)
        try:
            return _show(np.asarray(v, dtype=np.float64))
        except (TypeError, ValueError):
            return type(v).__name__

    if isinstance(case, Mapping):
        return ", ".join(f"{k}={one(v)}" for k, v in case.items())
    if isinstance(case, tuple):
        return ", ".join(one(v) for v in case)
    return one(case)


def function_matches(
    fn: Any,
    inputs: Sequence[Any],
    expected: Sequence[Any],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    what: str | None = None,
    hidden: bool = False,
) -> None:
    """Check that ``fn`` returns the expected output for each input.

    Parameters
    ----------
    fn : callable
        The student's function.
    inputs : sequence
        One entry per call: a tuple of positional arguments, a dict of keyword arguments, or a
        single argument.
    expected : sequence
        The right output of each call (numbers or arrays).
    rtol, atol : float
        Tolerances as in ``numpy.isclose``.
    what : str, optional
        Names the function in the message (default: its ``__name__``).
    hidden : bool
        Do not show the inputs or the expected outputs.

    Raises
    ------
    CheckFailed
        When a call raises or returns a wrong value.
    """
    __tracebackhide__ = True
    cases = list(inputs)
    if len(cases) != len(expected):
        raise ValueError("inputs and expected must have the same length")
    name = what or f"{getattr(fn, '__name__', 'your function')}()"

    def derive() -> dict[str, Any]:
        outputs: list[Any] = []
        errors: list[Any] = []
        for case in cases:
            try:
                outputs.append(_as_float_array(_call(fn, case), f"the output of {name}"))
                errors.append(None)
            except InputError as exc:
                outputs.append(None)
                errors.append(str(exc))
            except Exception as exc:
                outputs.append(None)
                errors.append(error_text(exc))
        return {"outputs": outputs, "errors": errors}

    spec = {
        "expected": [_as_float_array(e, "the expected output") for e in expected],
        "cases": [_describe(c) for c in cases],
        "rtol": float(rtol),
        "atol": float(atol),
        "name": name,
        "hidden": bool(hidden),
    }
    run_check("function_matches", derive, spec)


@register("function_matches")
def _judge_function_matches(
    outputs: Sequence[np.ndarray | None],
    errors: Sequence[str | None],
    expected: Sequence[np.ndarray],
    cases: Sequence[str],
    rtol: float,
    atol: float,
    name: str,
    hidden: bool,
) -> Verdict:
    n = len(expected)
    if len(outputs) != n or len(errors) != n:
        return fail(f"{name} was not called on every test input.")
    wrong = 0
    first: str | None = None
    for i in range(n):
        call = f"{name} on a hidden input" if hidden else f"{name} for ({cases[i]})"
        if errors[i] is not None:
            return fail(f"{_capital(call)} raised {errors[i]}.")
        shape_problem, bad = _compare(outputs[i], expected[i], rtol, atol)
        if shape_problem:
            return fail(f"The output of {call} {shape_problem}.")
        if bad.any():
            wrong += 1
            if first is None:
                first = (
                    f"{_capital(call)} returned {_show(outputs[i])}, expected {_show(expected[i])}"
                )
    if not wrong:
        return passed()
    if hidden:
        return fail(f"{_capital(name)} returns wrong values for {wrong} of {n} hidden inputs.")
    return fail(f"{first} ({wrong} of {n} test inputs wrong).")


# --------------------------------------------------------------------------------------------


def holds(condition: Any, message: str) -> None:
    """Check that ``condition`` is true; otherwise fail with ``message``, a sentence for the student.

    For yes/no questions about the answer ("the model has a Dropout layer", "no feature is chosen
    twice"): the message says what is wrong and where to look, e.g.
    ``checks.holds(len(set(features)) == len(features), "A feature is chosen twice: ...")``.

    Parameters
    ----------
    condition : bool-like
        Computed by the test cell from the student's objects.
    message : str
        What the student reads when the condition is false.

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True

    def derive() -> dict[str, Any]:
        value = condition
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:
            value = value.item()
        if not isinstance(value, (bool, int, float, np.bool_)):
            raise InputError(f"The test could not read a yes/no answer ({type(value).__name__}).")
        return {"condition": bool(value)}

    run_check("holds", derive, {"message": str(message)})


@register("holds")
def _judge_holds(condition: bool, message: str) -> Verdict:
    return passed() if condition else fail(message)


def _items(value: Any, what: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InputError(f"{_capital(what)} should be a list, found a {type(value).__name__}.")
    out = []
    for item in value:
        if hasattr(item, "item") and getattr(item, "size", 1) == 1:
            item = item.item()
        if not isinstance(item, (str, int, float, bool)):
            raise InputError(
                f"{_capital(what)} should hold names or numbers, found a {type(item).__name__}."
            )
        out.append(item)
    return out


def same_items(found: Any, expected: Any, *, what: str = "your list", hidden: bool = False) -> None:
    """Check that ``found`` holds the same items as ``expected``, in any order, none twice.

    Parameters
    ----------
    found : iterable of str or numbers
        The student's answer (a list, a tuple, a set, an Index...).
    expected : iterable of str or numbers
        The right items.
    what : str
        Names the answer in the message, e.g. ``"the columns you dropped"``.
    hidden : bool
        Do not name the expected items in the message.

    Raises
    ------
    CheckFailed
    """
    __tracebackhide__ = True
    spec = {"expected": _items(expected, "the expected items"), "what": what, "hidden": hidden}
    run_check("same_items", lambda: {"found": _items(found, what)}, spec)


@register("same_items")
def _judge_same_items(found: list, expected: list, what: str, hidden: bool) -> Verdict:
    twice = sorted({repr(x) for x in found if found.count(x) > 1})
    missing = [x for x in expected if x not in found]
    extra = [x for x in found if x not in expected]
    if twice:
        return fail(f"{_capital(what)}: {', '.join(twice)} more than once.")
    if not missing and not extra:
        return passed()
    parts = []
    if missing:
        parts.append(
            f"{len(missing)} missing" + ("" if hidden else f" ({', '.join(map(repr, missing))})")
        )
    if extra:
        parts.append(f"{len(extra)} not expected ({', '.join(map(repr, extra))})")
    return fail(f"{_capital(what)}: {'; '.join(parts)}.")
