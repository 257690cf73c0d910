"""helpers.environment: the day-one check reports every package the notebooks import."""

from __future__ import annotations

import ast
import sys

import nbformat
import pytest

from helpers import environment


def notebook_imports(notebook) -> set[str]:
    """Top-level names of the modules a notebook's code cells import (shell lines skipped)."""
    names = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("!", "%"))
        )
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def third_party_imports(repo_root) -> dict[str, str]:
    """Each non-stdlib module the release notebooks import -> the first notebook importing it."""
    found: dict[str, str] = {}
    for notebook in sorted((repo_root / "release").glob("*/*.ipynb")):
        for name in notebook_imports(notebook) - set(sys.stdlib_module_names):
            found.setdefault(name, notebook.name)
    return found


def test_check_covers_every_notebook_import(repo_root):
    checked = {module for module, _, _ in environment.PACKAGES}
    imported = third_party_imports(repo_root)
    assert imported, "no imports found in release/"
    missing = {name: nb for name, nb in imported.items() if name not in checked}
    assert missing == {}, "imported by a notebook but not in helpers.environment.PACKAGES"
    # imported inside helpers, on first use by a notebook (summary(model) in 01 and 03)
    assert "torchinfo" in checked


def test_report_without_frameworks_lists_the_data_stack():
    report = environment.check_environment(frameworks=())
    names = [item.name for item in report.items]
    for name in ("numpy", "tables", "uproot", "awkward", "pooch", "helpers", "autograder"):
        assert name in names
    assert not {"torch", "torchinfo", "tensorflow", "keras"} & set(names)
    assert report.ok, str(report)


@pytest.mark.torch
def test_report_with_torch_lists_torchinfo():
    report = environment.check_environment(frameworks=("torch",))
    item = next(i for i in report.items if i.name == "torchinfo")
    assert item.ok, str(report)


def test_missing_package_says_how_to_fix_it_on_jupyterhub(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "student")
    monkeypatch.setitem(sys.modules, "uproot", None)  # import uproot now raises ImportError
    text = str(environment.check_environment(frameworks=()))
    assert "uproot" in text and "MISSING" in text
    assert "'Python 3 (ipykernel)' kernel, python3" in text
    assert "hepml" not in text.split("How to fix it here:")[1].replace("hepml-course", "")
