"""A Colab-like environment installs the published student copy as the setup cell does, then
imports everything the release notebooks import.

A fresh virtual environment (no system site packages) gets only what Colab preinstalls: torch,
tensorflow and keras, numpy, pandas, scikit-learn, scipy, matplotlib, h5py, tqdm, requests and
the Jupyter kernel, at the pins of constraints.txt; no torchinfo, uproot or nbgrader. The
student copy comes from ``hepml publish``; the setup cell of the release notebooks runs in that
environment with ``google.colab`` present and the URL replaced by the copy's folder. The
notebooks themselves are not run here (too slow for this suite): every import they make is, and
``helpers.torch_utils.summary`` (torchinfo, the import that broke 01 and 03 on Colab) is called.

It takes about 7 minutes on 2 shared cores (411 s measured), most of it installing the two
frameworks into the fresh environment from the package index or its local mirror.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import venv
from pathlib import Path

import nbformat
import pytest

from autograder.release import generate, publish

pytestmark = [pytest.mark.slow, pytest.mark.torch, pytest.mark.keras]

#: What Colab preinstalls, of what the course uses (import names differ for scikit-learn).
COLAB_PREINSTALLED = (
    "torch",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "matplotlib",
    "h5py",
    "tqdm",
    "requests",
    "ipykernel",
)
COLAB_LACKS = ("torchinfo", "uproot", "nbgrader")

CHECK = """
import importlib, importlib.util, json, sys

wanted = json.loads(sys.argv[1])
for module, names in wanted:
    mod = importlib.import_module(module)
    for name in names:
        if not hasattr(mod, name):
            importlib.import_module(f"{module}.{name}")
import torch
from helpers.torch_utils import summary

print("summary", summary(torch.nn.Linear(3, 1), input_size=(1, 3)).total_params)
from helpers.environment import check_environment

report = check_environment()
print(report)
print("nbgrader", importlib.util.find_spec("nbgrader") is not None)
sys.exit(0 if report.ok else 1)
"""


def release_imports(repo_root: Path) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for every import statement of the release notebooks."""
    found: dict[str, set[str]] = {}
    for notebook in sorted((repo_root / "release").glob("*/*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(
                line
                for line in cell.source.splitlines()
                if not line.lstrip().startswith(("!", "%"))
            )
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        found.setdefault(alias.name, set())
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.setdefault(node.module, set()).update(a.name for a in node.names)
    return sorted((module, sorted(names)) for module, names in found.items())


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    assert proc.returncode == 0, (
        f"{' '.join(cmd[:6])} ...\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def _versions(python: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n"
        "        out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    return json.loads(_run([str(python), "-c", code, *names]).stdout)


def test_published_copy_installs_and_imports_on_a_colab_like_python(repo_root, tmp_path):
    copy = tmp_path / "student-copy"
    publish.publish(copy, root=repo_root)

    env_dir = tmp_path / "colab"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(repo_root / "constraints.txt"),
            *COLAB_PREINSTALLED,
        ],
        env=env,
    )
    before = _versions(python, ("torch", "tensorflow-cpu", "keras", "numpy", *COLAB_LACKS))
    assert [before[n] for n in COLAB_LACKS] == [None] * len(COLAB_LACKS), before

    # The setup cell, exactly as released, on "Colab", installing from the copy's folder.
    cell = generate.setup_cell_source(f"hepml-course[colab] @ {copy.as_uri()}")
    script = tmp_path / "setup_cell.py"
    script.write_text(
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('g')\n" + cell
    )
    setup = _run([str(python), str(script)], env=env, cwd=tmp_path)
    assert setup.stdout == "", setup.stdout  # the cell prints only when the install fails

    after = _versions(python, ("torch", "tensorflow-cpu", "keras", "numpy", *COLAB_LACKS))
    for name in ("torch", "tensorflow-cpu", "keras", "numpy"):
        assert after[name] == before[name], f"the setup cell replaced Colab's {name}"
    assert after["torchinfo"] and after["uproot"], after
    assert after["nbgrader"] is None, "the colab extra must not pull the grading stack"

    wanted = release_imports(repo_root)
    assert {
        "torch",
        "keras",
        "uproot",
        "h5py",
        "helpers.torch_utils",
        "autograder.checks.models",
    } <= {module for module, _ in wanted}
    check = _run([str(python), "-c", CHECK, json.dumps(wanted)], env=env, cwd=tmp_path)
    assert "summary 4" in check.stdout
    assert "Everything is in place." in check.stdout
    assert "nbgrader False" in check.stdout
    imported = _run(
        [str(python), "-c", "import helpers, autograder; print(helpers.__file__)"],
        env=env,
        cwd=tmp_path,
    )
    assert str(env_dir) in imported.stdout, "the course must come from the install, not the repo"
