"""autograder.checks.tensor_spec and one_hot."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import CheckFailed
from autograder.checks.tensors import device_name, dtype_name


def test_dtype_names_of_every_framework():
    assert dtype_name(np.float32) == "float32"
    assert dtype_name(np.dtype("float64")) == "float64"
    assert dtype_name("float32") == "float32"
    assert dtype_name(None) == ""


def test_device_names():
    assert device_name("cpu") == "cpu"
    assert device_name("cuda:0") == "cuda:0"
    assert device_name("/job:localhost/replica:0/task:0/device:GPU:0") == "gpu:0"
    assert device_name("/job:localhost/replica:0/task:0/device:CPU:0") == "cpu"


def test_numpy_array_spec():
    a = np.zeros((100, 12), dtype=np.float32)
    checks.tensor_spec(a, dtype=np.float32, shape=(None, 12), kind="numpy", device="cpu")
    with pytest.raises(CheckFailed) as err:
        checks.tensor_spec(a.astype(np.float64), dtype="float32", name="X_train")
    assert str(err.value) == (
        "X_train has dtype float64, expected float32: convert it with .astype(np.float32)."
    )
    with pytest.raises(CheckFailed, match=r"has shape \(100, 12\), expected \(any, 13\)"):
        checks.tensor_spec(a, shape=(None, 13))
    with pytest.raises(CheckFailed, match="is a numpy array, expected a torch tensor"):
        checks.tensor_spec(a, kind="torch")


def test_missing_axis_hint():
    with pytest.raises(CheckFailed, match=r"add or remove an axis of length 1"):
        checks.tensor_spec(np.zeros(50), shape=(50, 1), name="y_train")


@pytest.mark.torch
def test_torch_tensor_spec():
    torch = pytest.importorskip("torch")
    t = torch.zeros((64, 8), dtype=torch.float32)
    checks.tensor_spec(t, dtype=torch.float32, shape=(64, 8), device="cpu", kind="torch")
    checks.tensor_spec(t, dtype="float32", device=torch.device("cpu"))
    with pytest.raises(CheckFailed) as err:
        checks.tensor_spec(t.double(), dtype=torch.float32, name="X_t")
    assert str(err.value) == (
        "X_t has dtype float64, expected float32: convert it with .to(torch.float32) or "
        "torch.tensor(..., dtype=torch.float32)."
    )
    with pytest.raises(CheckFailed, match=r"X_t is on cpu, expected cuda: move it with \.to"):
        checks.tensor_spec(t, device="cuda", name="X_t")


def test_one_hot_right_and_wrong():
    labels = np.array([0, 2, 1, 2])
    right = np.eye(3)[labels]
    checks.one_hot(right, labels, n_classes=3)
    checks.one_hot(right.astype(np.float32), labels.tolist())
    with pytest.raises(CheckFailed, match="has 2 columns, expected 3"):
        checks.one_hot(right[:, :2], labels, n_classes=3)
    with pytest.raises(CheckFailed, match=r"2 rows have their 1 in the wrong column: row 1"):
        checks.one_hot(np.eye(3)[[0, 1, 1, 0]], labels)
    with pytest.raises(CheckFailed, match="values other than 0 and 1"):
        checks.one_hot(right * 0.5, labels)
    with pytest.raises(CheckFailed, match="Row 0 of your encoding holds 0 ones"):
        checks.one_hot(np.vstack([np.zeros(3), right[1:]]), labels)
    with pytest.raises(CheckFailed, match="has 1 axis, expected 2"):
        checks.one_hot(labels, labels)
