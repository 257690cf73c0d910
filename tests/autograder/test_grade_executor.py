"""GuardedExecute on its own (a plain kernel, no nbgrader run): deadline, output cap, kernel death,
and the filing of check records by test cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.preprocessors.guarded_execute import GuardedExecute

pytestmark = [pytest.mark.notebook]


def _test_cell(source: str, grade_id: str):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "grade_id": grade_id,
        "points": 1,
        "schema_version": 3,
    }
    return cell


def _errors(cell) -> list[tuple[str, str]]:
    return [(o.ename, o.evalue) for o in cell.outputs if o.output_type == "error"]


def _run(nb, tmp_path: Path, **traits):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    ex = GuardedExecute(run_path=str(work), kernel_name="python3", **traits)
    out, _ = ex.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return out


def test_cap_death_and_record_filing(tmp_path: Path):
    live, records = tmp_path / "live", tmp_path / "records"
    live.mkdir()
    marker = tmp_path / "killed.txt"
    marker.write_text("The kernel used 999 MiB of memory, more than the limit of 1 MiB.")
    nb = new_notebook(
        cells=[
            new_code_cell(f"import os\nopen({str(live / 'junk.json')!r}, 'w').write('{{}}')"),
            _test_cell(
                f"open({str(live / '000001-x.json')!r}, 'w').write('{{}}')\n"
                "print('start'); print('y' * 50_000)",
                "first_test",
            ),
            new_code_cell("print(os.getcwd())"),
            new_code_cell("os.kill(os.getpid(), 9)"),
            _test_cell("print('never')", "second_test"),
        ]
    )
    out = _run(
        nb,
        tmp_path,
        max_cell_output_bytes=10_000,
        artefact_dir=str(live),
        records_dir=str(records),
        kill_marker=str(marker),
        timeout=60,
    )
    cells = out.cells
    text = "".join(o.get("text", "") for o in cells[1].outputs)
    assert text.startswith("start") and "output truncated by the grader" in text
    assert len(text) < 11_000
    assert cells[2].outputs[0]["text"].strip() == str(tmp_path / "work")
    assert _errors(cells[3]) == [("KernelDied", marker.read_text())]
    ((ename, evalue),) = _errors(cells[4])
    assert ename == "CellNotRun" and "kernel had stopped" in evalue
    # The test cell's records, and the exhibits of the names it reads (exported before it ran).
    assert sorted(p.name for p in (records / "first_test").iterdir()) == [
        "000001-x.json",
        "exhibits",
    ]
    assert (records / "first_test" / "exhibits" / "exhibits.json").is_file()
    assert [p.name for p in (records / "_outside_test_cells").iterdir()] == ["junk.json"]
    assert list(live.iterdir()) == []


@pytest.mark.slow
def test_notebook_deadline_interrupts_and_skips_the_rest(tmp_path: Path):
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1"),
            new_code_cell("import time\ntime.sleep(60)"),
            _test_cell("assert x == 1", "after_deadline"),
        ]
    )
    out = _run(nb, tmp_path, notebook_timeout=4.0, timeout=60)
    assert _errors(out.cells[0]) == []
    names = [e[0] for e in _errors(out.cells[1])]
    assert "CellTimeoutError" in names
    assert any("time limit of 4 s" in e[1] for e in _errors(out.cells[1]))
    ((ename, evalue),) = _errors(out.cells[2])
    assert ename == "CellNotRun" and "time limit of 4 s" in evalue
    assert nbformat.validate(out) is None
