"""Exhibits (the student's objects carried to the grader) and the measured clean verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from autograder.grading import exhibits, measure
from autograder.grading.replay import Measurer, measured_cell


def _roundtrip(tmp_path: Path, namespace: dict) -> dict:
    exhibits.export(list(namespace), namespace, tmp_path / "ex")
    return exhibits.load(tmp_path / "ex")


def test_plain_data_comes_back_equal_and_no_pickle_is_written(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(50) * 2)
    frame["label"] = ["s", "b"] * 25
    scaler = StandardScaler().fit(X)
    ns = {
        "X": X,
        "frame": frame,
        "series": frame["a"],
        "scaler": scaler,
        "mixed": {"k": [1, 2.5, None, "x"], 3: (True, np.float32(1.5))},
        "features": ("a", "b"),
        "np": np,
    }
    back = _roundtrip(tmp_path, ns)
    np.testing.assert_array_equal(back["X"], X)
    pd.testing.assert_frame_equal(back["frame"], frame)
    pd.testing.assert_series_equal(back["series"], frame["a"])
    np.testing.assert_allclose(back["scaler"].transform(X), scaler.transform(X))
    assert back["mixed"] == {"k": [1, 2.5, None, "x"], 3: (True, np.float32(1.5))}
    assert back["features"] == ("a", "b") and back["np"] is np
    assert not list((tmp_path / "ex").glob("*.pkl"))
    assert len(list((tmp_path / "ex").glob("*.npy"))) >= 2


def test_torch_tensors_keep_dtype_and_shape(tmp_path):
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    back = _roundtrip(tmp_path, {"t": t, "dev": torch.device("cpu"), "dt": torch.float32})
    assert back["t"].dtype == torch.float32 and torch.equal(back["t"], t)
    assert back["dev"] == torch.device("cpu") and back["dt"] is torch.float32


def test_code_is_opaque_in_the_clean_process_and_missing_names_say_so(tmp_path):
    def f(x):
        return x + 1

    back = _roundtrip(tmp_path, {"f": f, "absent": 1})
    assert isinstance(back["f"], exhibits.Code)
    with pytest.raises(exhibits.NeedsMeasurement):
        back["f"](1)
    ns = {"x": 1}
    exhibits.export(["x", "nope"], ns, tmp_path / "ex2")
    with pytest.raises(NameError, match="'nope' is not defined in your notebook"):
        len(exhibits.load(tmp_path / "ex2")["nope"])


def test_a_forged_file_name_in_the_index_is_refused(tmp_path):
    exhibits.export(["X"], {"X": np.zeros(3)}, tmp_path / "ex")
    index = json.loads((tmp_path / "ex" / exhibits.INDEX).read_text())
    index["X"]["file"] = "../../etc/passwd"
    (tmp_path / "ex" / exhibits.INDEX).write_text(json.dumps(index))
    with pytest.raises(ValueError, match="not there"):
        exhibits.load(tmp_path / "ex")


CELL = """
from autograder import checks
rng = np.random.default_rng(5)
_E = rng.uniform(50, 100, 20)
_p = rng.uniform(-20, 20, (3, 20))
_m = np.sqrt(_E**2 - (_p**2).sum(axis=0))
checks.function_matches(invariant_mass, inputs=[(_E, *_p)], expected=[_m], hidden=True)
"""


def _student_function(tmp_path: Path, body: str) -> Path:
    ns: dict = {}
    exec(body, ns)
    folder = tmp_path / "cell" / "exhibits"
    exhibits.export(["invariant_mass", "np"], {**ns, "np": np}, folder)
    return folder


RIGHT = (
    "import numpy as np\n"
    "def invariant_mass(E, px, py, pz):\n"
    "    return np.sqrt(np.clip(E**2 - px**2 - py**2 - pz**2, 0, None))\n"
)


def test_the_students_function_is_measured_in_another_process(tmp_path):
    measurer = Measurer(tmp_path / "measure")
    ok = measured_cell(CELL, _student_function(tmp_path / "a", RIGHT), measurer)
    assert ok is not None and ok.passed and ok.measured and measurer.jobs == 1
    wrong = RIGHT.replace("np.sqrt(", "(")
    bad = measured_cell(CELL, _student_function(tmp_path / "b", wrong), measurer)
    assert bad is not None and not bad.passed and "clean Python process" in bad.message


def test_the_measurement_process_never_sees_the_expected_values(tmp_path):
    """The job holds the student's function and the inputs; the expected masses stay here."""
    spy = (
        "import numpy as np, pathlib, os\n"
        "def invariant_mass(E, px, py, pz):\n"
        "    pathlib.Path(os.environ['SPY']).write_bytes(\n"
        "        b''.join(p.read_bytes() for p in pathlib.Path('.').rglob('*') if p.is_file()))\n"
        "    return np.zeros(len(E))\n"
    )
    folder = _student_function(tmp_path, spy)
    import os

    spy_file = tmp_path / "spied.bin"
    measurer = Measurer(
        tmp_path / "measure", cwd=tmp_path / "measure", env={**os.environ, "SPY": str(spy_file)}
    )
    (tmp_path / "measure").mkdir()
    verdict = measured_cell(CELL, folder, measurer)
    assert verdict is not None and not verdict.passed
    rng = np.random.default_rng(5)
    E = rng.uniform(50, 100, 20)
    p = rng.uniform(-20, 20, (3, 20))
    expected = np.sqrt(E**2 - (p**2).sum(axis=0))
    seen = spy_file.read_bytes()
    assert E.tobytes() in seen  # the inputs are there (the function needs them) ...
    assert expected.tobytes() not in seen  # ... the expected values are not


def test_a_crashing_or_hanging_measurement_fails_the_check_with_a_sentence(tmp_path):
    exiting = "import os\ndef invariant_mass(E, px, py, pz):\n    os._exit(3)\n"
    measurer = Measurer(tmp_path / "measure")
    verdict = measured_cell(CELL, _student_function(tmp_path / "a", exiting), measurer)
    assert verdict is not None and not verdict.passed
    assert "exit status 3" in verdict.message
    hanging = "import time\ndef invariant_mass(E, px, py, pz):\n    time.sleep(60)\n"
    measurer = Measurer(tmp_path / "measure2", timeout=3)
    verdict = measured_cell(CELL, _student_function(tmp_path / "b", hanging), measurer)
    assert verdict is not None and not verdict.passed and "longer than 3 s" in verdict.message


def test_official_code_that_calls_student_code_directly_falls_back(tmp_path):
    source = "from autograder import checks\nchecks.values_close(invariant_mass(1, 0, 0, 0), 1.0)\n"
    folder = _student_function(tmp_path, RIGHT)
    assert measured_cell(source, folder, Measurer(tmp_path / "m")) is None


def test_plain_asserts_on_student_data_are_decided_here(tmp_path):
    folder = tmp_path / "cell" / "exhibits"
    exhibits.export(["answer"], {"answer": 41}, folder)
    verdict = measured_cell(
        "assert answer == 42, 'wrong answer'\n", folder, Measurer(tmp_path / "m")
    )
    assert verdict is not None and not verdict.passed and "wrong answer" in verdict.message


def test_measure_main_rejects_unknown_references(tmp_path):
    assert measure.main([]) == 2


def test_a_crash_costs_only_the_check_it_happened_in(tmp_path):
    """One measurement process per notebook: a student function that kills it in one cell does
    not take the other cells' measurements with it."""
    from autograder.grading.replay import judge_cells

    body = RIGHT + "import os\ndef delta_phi(a, b):\n    os._exit(9)\n"
    ns: dict = {}
    exec(body, ns)
    cells = []
    for gid, source in (
        (
            "dp",
            "from autograder import checks\nchecks.function_matches(delta_phi, [(1.0, 0.5)], [0.5])\n",
        ),
        ("im", CELL),
    ):
        folder = tmp_path / gid
        exhibits.export(
            ["invariant_mass", "delta_phi", "np"], {**ns, "np": np}, folder / "exhibits"
        )
        cells.append({"grade_id": gid, "source": source, "records": str(folder)})
    verdicts = judge_cells(cells, Measurer(tmp_path / "measure"))
    assert not verdicts["dp"].passed and "exit status 9" in verdicts["dp"].message
    assert verdicts["im"].passed and verdicts["im"].measured


def test_a_lambda_of_the_official_code_runs_on_the_students_object(tmp_path):
    """Official code reads an attribute of a student object through a lambda given to a check."""

    class Optimizer:
        def __init__(self) -> None:
            self.param_groups = [{"lr": 0.1}]

    folder = tmp_path / "cell" / "exhibits"
    exhibits.export(["optimizer"], {"optimizer": Optimizer()}, folder)
    source = (
        "from autograder import checks\n"
        "checks.function_matches(lambda o: o.param_groups[0]['lr'], inputs=[optimizer], "
        "expected=[0.25], what='the learning rate')\n"
    )
    verdict = measured_cell(source, folder, Measurer(tmp_path / "m"))
    assert verdict is not None and verdict.measured and not verdict.passed
    assert "0.1" in verdict.message
