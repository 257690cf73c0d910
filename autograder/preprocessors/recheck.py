"""Judge every test cell the kernel passed again in a clean process; fail those it does not pass.

The clean process is ``python -I -m autograder.grading.replay`` (see there); a test cell the clean
process fails gets an error output with a message for the student, so the final score of a cell is
the minimum of the two verdicts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Unicode

from autograder.grading.limits import tail
from autograder.preprocessors.guarded_execute import _error


class Recheck(NbGraderPreprocessor):
    """Re-judge the test cells the kernel passed in a clean process; fail those it does not pass."""

    records_dir = Unicode("", help="Folder of the per-cell record folders.").tag(config=True)
    work_dir = Unicode("", help="Private folder for the job and the verdicts.").tag(config=True)
    python = Unicode(sys.executable, help="Interpreter of the clean process.").tag(config=True)
    timeout = Float(300.0, help="Seconds the clean process may take.").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        work = Path(self.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        cells = []
        with Gradebook(info["db_url"]) as gb:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                    continue
                score, _ = utils.determine_grade(cell, self.log)
                if not score:
                    continue  # the kernel failed it already: the minimum is 0
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                official = gb.find_source_cell(grade_id, info["notebook"], info["assignment"])
                cells.append(
                    {
                        "index": index,
                        "grade_id": grade_id,
                        "source": official.source,
                        "records": str(Path(self.records_dir) / grade_id),
                    }
                )
        stem = info["notebook"]
        job_path, out_path = work / f"{stem}.recheck.json", work / f"{stem}.verdicts.json"
        job_path.write_text(json.dumps({"cells": cells}))
        if cells:
            log_path = work / f"{stem}.recheck.log"
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", ""),
                "MPLBACKEND": "Agg",
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONHASHSEED": "0",
            }
            for key in ("HEPML_DATA_DIR", "HEPML_DATA_SOURCE", "LANG", "LC_ALL", "TMPDIR"):
                if key in os.environ:
                    env[key] = os.environ[key]
            with open(log_path, "wb") as log:
                proc = subprocess.run(
                    [
                        self.python,
                        "-I",
                        "-m",
                        "autograder.grading.replay",
                        str(job_path),
                        str(out_path),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=work,
                    timeout=self.timeout,
                    check=False,
                )
            if proc.returncode != 0 or not out_path.is_file():
                raise RuntimeError(
                    f"the clean re-check failed (exit {proc.returncode}):\n{tail(log_path, 2000)}"
                )
            verdicts = json.loads(out_path.read_text())
        else:
            verdicts = {}
            out_path.write_text("{}")
        for entry in cells:
            verdict = verdicts.get(entry["grade_id"])
            if verdict is None:
                raise RuntimeError(f"the clean re-check gave no verdict for {entry['grade_id']}")
            if not verdict["passed"]:
                nb.cells[entry["index"]].outputs.append(
                    _error("CleanRecheckFailed", verdict["message"])
                )
        return nb, resources
