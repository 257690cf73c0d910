"""Judge every test cell the kernel passed again in a clean process; fail those it does not pass.

The clean process is ``python -I -m autograder.grading.replay`` (see there). A test cell the clean
process fails gets an error output, put *first* among the cell's outputs (nbgrader's reading of a
code cell returns at the first error or ``execute_result``, so an error after a displayed value
would never be read). Every test cell also gets its clean score in its metadata
(``cell.metadata.hepml.clean_score``, written here for every cell, whatever the submission carried),
and :class:`~autograder.preprocessors.apply_clean_scores.ApplyCleanScores` writes
``min(nbgrader's reading, clean score)`` into the gradebook: outputs can only lower a score.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, List, Unicode

from autograder.grading.limits import THREAD_VARS, tail
from autograder.preprocessors.guarded_execute import _error
from helpers.data.synthetic import SECRET_ENV

#: Key of the cell metadata where the grader writes its clean score of a test cell.
CLEAN_KEY = "hepml"


class Recheck(NbGraderPreprocessor):
    """Re-judge the test cells the kernel passed in a clean process; fail those it does not pass."""

    records_dir = Unicode("", help="Folder of the per-cell record folders.").tag(config=True)
    work_dir = Unicode("", help="Private folder for the job and the verdicts.").tag(config=True)
    python = Unicode(sys.executable, help="Interpreter of the clean process.").tag(config=True)
    timeout = Float(1800.0, help="Seconds the clean process may take.").tag(config=True)
    measure_dir = Unicode(
        "", help="Folder for the measurement jobs, visible to the sandboxed measurement process."
    ).tag(config=True)
    measure_argv = List(
        Unicode(), help="Command of the sandboxed measurement process, with {job}."
    ).tag(config=True)
    measure_cwd = Unicode("", help="The kernel's working folder.").tag(config=True)
    strip_hidden = Bool(
        False, help="The kernel ran test cells without their hidden region (GuardedExecute)."
    ).tag(config=True)
    secret_file = Unicode(
        "", help="File holding the grader's secret (for hidden events), given to the clean process."
    ).tag(config=True)

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
                score = kernel_score(cell, self.log)
                set_clean_score(cell, 0.0)  # until the clean process says otherwise
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
        job: dict[str, Any] = {"cells": cells}
        if self.measure_dir:
            job["measure_dir"] = self.measure_dir
        if self.measure_argv:
            job["measure_argv"] = list(self.measure_argv)
        if self.measure_cwd:
            job["measure_cwd"] = self.measure_cwd
        job["strip_hidden"] = bool(self.strip_hidden)
        job_path.write_text(json.dumps(job))
        if cells:
            log_path = work / f"{stem}.recheck.log"
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", ""),
                "MPLBACKEND": "Agg",
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONHASHSEED": "0",
            }
            for key in (
                "HEPML_DATA_DIR",
                "HEPML_DATA_SOURCE",
                "LANG",
                "LC_ALL",
                "TMPDIR",
                *THREAD_VARS,
            ):
                if key in os.environ:
                    env[key] = os.environ[key]
            if self.secret_file and Path(self.secret_file).is_file():
                env[SECRET_ENV] = Path(self.secret_file).read_text().strip()
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
                    # The kernel's folder: official code reads the files the notebook wrote there.
                    cwd=self.measure_cwd or work,
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
            cell = nb.cells[entry["index"]]
            if verdict["passed"]:
                set_clean_score(cell, float(cell.metadata["nbgrader"]["points"]))
            else:
                cell.outputs.insert(0, _error("CleanRecheckFailed", verdict["message"]))
        return nb, resources


def kernel_score(cell: NotebookNode, log: Any = None) -> float:
    """nbgrader's reading of a test cell's outputs; a reading nbgrader cannot make scores 0.

    (``utils.determine_grade`` raises on an ``execute_result`` above the cell's points, which a
    display hook of the student can produce.)
    """
    try:
        score, _ = utils.determine_grade(cell, log)
    except (ValueError, KeyError, TypeError):
        return 0.0
    return float(score or 0.0)


def set_clean_score(cell: NotebookNode, score: float) -> None:
    """Write the grader's clean score of a test cell into its metadata."""
    meta = dict(cell.metadata.get(CLEAN_KEY) or {})
    meta["clean_score"] = float(score)
    cell.metadata[CLEAN_KEY] = meta
