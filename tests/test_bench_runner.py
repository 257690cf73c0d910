"""The benchmark runner saves every figure, whatever the keys its benchmarks use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bench.__main__ as runner


def test_tuple_keys_are_saved_and_compared(tmp_path: Path, monkeypatch, capsys):
    figures = {"shift": {("vbf", "met_et"): 0.12, ("ggf", "jet_n"): 0}, "pair": (0.66, 0.67)}

    def fake_run(selected):
        return {"machine": {"python": "3"}, selected[0]: {"figures": figures, "wall_s": 1.0}}

    monkeypatch.setattr(runner, "run", fake_run)
    out = tmp_path / "r.json"
    assert runner.main(["training_utils", "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["training_utils"]["figures"] == {
        "shift": {"vbf/met_et": 0.12, "ggf/jet_n": 0},
        "pair": [0.66, 0.67],
    }
    assert re.search(
        r"^training_utils\.figures\.shift\.vbf/met_et +0\.12$", capsys.readouterr().out, re.M
    )
    again = tmp_path / "again.json"
    assert runner.main(["training_utils", "--out", str(again), "--compare", str(out)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^training_utils\.figures\.shift\.vbf/met_et +0\.12 +0\.12 +1$", table, re.M)
