"""``python -m autograder.course.nbgrader_main``: nbgrader itself, minus an import it never uses."""

from __future__ import annotations

import subprocess
import sys

from autograder.course import nbgrader_cli as nbgrader_run


def test_runs_nbgrader_without_the_iri_grammar_and_still_validates_notebooks():
    probe = (
        "import sys\n"
        "from autograder.course.nbgrader_main import block_unused_imports\n"
        "block_unused_imports()\n"
        "import nbformat, nbgrader.apps.nbgraderapp\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "nbformat.validate(nb)\n"
        "bad = nbformat.v4.new_notebook(); bad.cells = [{'cell_type': 'code'}]\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "except nbformat.ValidationError:\n"
        "    print('invalid caught')\n"
        "print(sys.modules.get('rfc3987_syntax'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split("\n")
    assert out[:2] == ["invalid caught", "None"]


def test_command_line_is_nbgraders():
    out = subprocess.run(
        [*nbgrader_run.NBGRADER, "--version"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    assert "nbgrader version 0.9.6" in out.stdout
