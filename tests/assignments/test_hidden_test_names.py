"""Hidden tests use only names that the student can know (docs/writing-tests.md, rule 6).

A hidden test that reads a name the task never asks for (say ``loss_weighted`` where the task only
says "a loss weighted by pos_weight") scores 0 for every correct answer written with another name.
For every source notebook, every name a hidden region reads must be

* defined in the hidden region itself (``_fresh = ...``, a loop variable, an import), or
* defined by code the student sees: the release notebook, whose code cells hold the given code,
  the skeletons of the solution cells and the visible part of every test cell, or
* named in the task text, as code in a markdown cell (`` `model_weighted` ``), or
* a builtin.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "source").glob("*/*.ipynb"))
_BEGIN, _END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_CODE_SPAN = re.compile(r"`([^`]+)`")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _parse(source: str) -> ast.Module:
    """Parse a code cell, with IPython magics and shell escapes blanked out."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def defined_names(tree: ast.AST) -> set[str]:
    """Every name a piece of code binds: assignments, loop and ``with`` targets, arguments,
    functions, classes and imports (over-inclusive on purpose: any binding counts)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def read_names(tree: ast.AST) -> set[str]:
    """Every name a piece of code reads."""
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def hidden_regions(nb) -> dict[str, str]:
    """The code of every hidden region of a notebook, by the grade id of its cell."""
    regions = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or _BEGIN not in cell.source:
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        parts = [p.split(_END, 1)[0] for p in cell.source.split(_BEGIN)[1:]]
        regions[grade_id] = "\n".join(parts)
    return regions


def known_names(release) -> set[str]:
    """What a student can know: the release's code, the task text's code spans, the builtins."""
    names = set(dir(builtins))
    for cell in release.cells:
        if cell.cell_type == "code":
            names |= defined_names(_parse(cell.source))
        elif cell.cell_type == "markdown":
            for span in _CODE_SPAN.findall(cell.source):
                names |= set(_IDENTIFIER.findall(span))
    return names


def unknown_hidden_names(source_nb, release_nb) -> dict[str, list[str]]:
    """By grade id, the names a hidden region reads that the student cannot know."""
    known = known_names(release_nb)
    found = {}
    for grade_id, code in hidden_regions(source_nb).items():
        tree = _parse(code)
        unknown = sorted(read_names(tree) - defined_names(tree) - known)
        if unknown:
            found[grade_id] = unknown
    return found


@pytest.mark.parametrize("source", SOURCES, ids=[p.parent.name for p in SOURCES])
def test_hidden_tests_read_only_names_the_student_can_know(source):
    release = REPO / "release" / source.parent.name / source.name
    assert release.is_file(), f"no release notebook for {source.parent.name}: run hepml release"
    found = unknown_hidden_names(
        nbformat.read(source, as_version=4), nbformat.read(release, as_version=4)
    )
    assert not found, (
        "hidden tests read names that neither the task text nor the student's visible code "
        f"define (name them in the task, or test through a defined name): {found}"
    )


def test_an_unnamed_loss_is_found():
    """The check itself: a hidden test reading a name the task never mentions is reported."""
    source = nbformat.v4.new_notebook()
    source.cells = [
        nbformat.v4.new_markdown_cell("Train `model_weighted` with a weighted loss."),
        nbformat.v4.new_code_cell("model_weighted = fit()\nloss_weighted = make_loss()"),
        nbformat.v4.new_code_cell(
            f"checks.model_io(model_weighted, 3)\n{_BEGIN}\n_x = 1\n"
            f"checks.function_matches(loss_weighted, inputs=[_x], expected=[0])\n{_END}"
        ),
    ]
    release = nbformat.v4.new_notebook()
    release.cells = [
        source.cells[0],
        nbformat.v4.new_code_cell("# YOUR CODE HERE\nraise NotImplementedError()"),
        nbformat.v4.new_code_cell(
            "from autograder import checks\ncheck.model_io(model_weighted, 3)"
        ),
    ]
    assert unknown_hidden_names(source, release) == {"?": ["loss_weighted"]}
