"""autograder.checks.values_close and function_matches (e.g. an invariant-mass exercise)."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import CheckFailed


def _mass(e, px, py, pz):
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))


def _mass_wrong_sign(e, px, py, pz):
    return np.sqrt(np.abs(e**2 + px**2 - py**2 - pz**2))


CASES = [
    (91.1876, 0.0, 0.0, 0.0),
    (100.0, 30.0, 40.0, 0.0),
    {"e": 5.0, "px": 3.0, "py": 0, "pz": 0},
]
EXPECTED = [91.1876, np.sqrt(100.0**2 - 50.0**2), 4.0]


def test_values_close_scalars_and_arrays():
    checks.values_close(91.19, 91.1876, rtol=1e-4)
    checks.values_close(np.float32(0.1), 0.1)
    checks.values_close([1.0, 2.0, np.nan], [1.0, 2.0 + 1e-9, np.nan])
    with pytest.raises(CheckFailed) as err:
        checks.values_close(91.0, 91.1876, rtol=1e-3, what="the Z mass in GeV")
    assert str(err.value) == "The Z mass in GeV is 91, expected 91.19 ± 0.091."
    with pytest.raises(CheckFailed) as err:
        checks.values_close(np.arange(10.0), np.r_[np.arange(9.0), 10.0], what="your efficiencies")
    assert str(err.value) == (
        "Your efficiencies: 1 of 10 entries differ from the expected values (e.g. entry 9: "
        "found 9, expected 10)."
    )
    with pytest.raises(CheckFailed, match=r"has shape \(3,\), expected \(2,\)"):
        checks.values_close([1.0, 2.0, 3.0], [1.0, 2.0])


def test_values_close_hidden_keeps_expected_secret():
    with pytest.raises(CheckFailed) as err:
        checks.values_close(1.5, 1.2345, hidden=True)
    assert "1.234" not in str(err.value) and "1.2345" not in str(err.value)
    assert str(err.value) == "Your value (1.5) is not the expected value."


@pytest.mark.torch
def test_values_close_torch_scalar():
    torch = pytest.importorskip("torch")
    checks.values_close(torch.tensor(2.0), 2.0)


def test_function_matches_right_function():
    checks.function_matches(_mass, CASES, EXPECTED)
    arrays = (np.array([91.1876, 100.0]), np.zeros(2), np.array([0.0, 50.0]), np.zeros(2))
    checks.function_matches(_mass, [arrays], [np.array([91.1876, np.sqrt(7500.0)])])


def test_function_matches_wrong_function():
    with pytest.raises(CheckFailed) as err:
        checks.function_matches(_mass_wrong_sign, CASES, EXPECTED)
    assert str(err.value) == (
        "_mass_wrong_sign() for (100, 30, 40, 0) returned 96.44, expected 86.6 (2 of 3 test "
        "inputs wrong)."
    )
    with pytest.raises(CheckFailed) as err:
        checks.function_matches(_mass_wrong_sign, CASES, EXPECTED, hidden=True, what="m()")
    assert str(err.value) == "M() returns wrong values for 2 of 3 hidden inputs."


def test_function_that_raises_or_returns_wrong_shape():
    def broken(e, px, py, pz):
        raise ZeroDivisionError("division by zero")

    with pytest.raises(CheckFailed) as err:
        checks.function_matches(broken, CASES, EXPECTED)
    assert str(err.value) == (
        "Broken() for (91.19, 0, 0, 0) raised ZeroDivisionError: division by zero."
    )
    with pytest.raises(CheckFailed, match=r"The output of f\(\) for \(2\) has shape \(2,\)"):
        checks.function_matches(lambda x: np.array([x, x]), [2.0], [2.0], what="f()")


def test_holds_passes_true_and_fails_with_the_message():
    checks.holds(True, "never shown")
    checks.holds(np.bool_(True), "never shown")
    with pytest.raises(CheckFailed, match=r"^The model has no Dropout layer"):
        checks.holds(np.array(False), "The model has no Dropout layer: add nn.Dropout.")
    with pytest.raises(CheckFailed, match="yes/no answer"):
        checks.holds("yes", "never shown")


def test_same_items_ignores_order_and_names_what_differs():
    checks.same_items(("b", "a"), ["a", "b"], what="the features")
    with pytest.raises(
        CheckFailed, match=r"^The features: 1 missing \('b'\); 1 not expected \('c'\)"
    ):
        checks.same_items(["a", "c"], ["a", "b"], what="the features")
    with pytest.raises(CheckFailed, match=r"'a' more than once"):
        checks.same_items(["a", "a", "b"], ["a", "b"], what="the features")
    with pytest.raises(CheckFailed) as hidden:
        checks.same_items(["a"], ["a", "secret"], what="the features", hidden=True)
    assert "secret" not in str(hidden.value)
    with pytest.raises(CheckFailed, match="should be a list"):
        checks.same_items("ab", ["a", "b"])
