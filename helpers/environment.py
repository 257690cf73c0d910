"""Day-one environment check: what is installed, what is missing, and how to fix it where you are."""

from __future__ import annotations

import importlib
import platform
import sys
from dataclasses import dataclass, field

# (import name, distribution shown to the student, needed for): every package a notebook imports
# (tests/helpers/test_environment.py keeps it so) and the data libraries the helpers load with.
PACKAGES = (
    ("numpy", "numpy", "everything"),
    ("pandas", "pandas", "tables of events"),
    ("scipy", "scipy", "fits and statistics in the helpers"),
    ("h5py", "h5py", "HDF5 files"),
    ("tables", "tables", "pandas HDF5 files (PyTables)"),
    ("uproot", "uproot", "ROOT files"),
    ("awkward", "awkward", "ROOT files with variable-length branches"),
    ("pooch", "pooch", "downloading the real datasets"),
    ("sklearn", "scikit-learn", "splits, scalers, ROC curves"),
    ("matplotlib", "matplotlib", "plots"),
    ("torch", "torch", "the PyTorch assignments"),
    ("torchinfo", "torchinfo", "model summaries in the PyTorch assignments"),
    ("tensorflow", "tensorflow", "the Keras assignments"),
    ("keras", "keras", "the Keras assignments"),
    ("helpers", "hepml-course", "the course helpers"),
    ("autograder", "hepml-course", "the checks in test cells"),
)
#: Packages checked only when their framework is: importing TensorFlow takes several seconds.
FRAMEWORK_OF = {
    "torch": "torch",
    "torchinfo": "torch",
    "tensorflow": "tensorflow",
    "keras": "tensorflow",
}

MIN_PYTHON = (3, 11)


def where_am_i() -> str:
    """'colab', 'jupyterhub' or 'local': where this kernel runs."""
    import os

    if "google.colab" in sys.modules:
        return "colab"
    if os.environ.get("JUPYTERHUB_USER") or os.environ.get("JUPYTERHUB_API_URL"):
        return "jupyterhub"
    return "local"


FIXES = {
    "colab": "Run the first cell of the notebook again (it installs the course), then "
    "Runtime > Restart session.",
    "jupyterhub": "Choose the 'Python 3 (ipykernel)' kernel, python3 (Kernel > Change kernel). If "
    "a package is still missing, open a terminal in the course folder and run: conda env update -f "
    "environment.yml && python -m pip install --no-deps . then restart the kernel.",
    "local": "In the course folder run `make test` once (it builds .venv), then start Jupyter "
    "from .venv/bin/jupyter lab, or `pip install -c constraints.txt '.[all]'` into your "
    "environment.",
}


@dataclass
class Item:
    """One line of the report."""

    name: str
    version: str | None
    purpose: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.version is not None and self.error is None


@dataclass
class EnvironmentReport:
    """The result of :func:`check_environment`; prints as a table, ``ok`` tells all is well."""

    python: str
    platform: str
    where: str
    items: list[Item] = field(default_factory=list)
    python_ok: bool = True

    @property
    def missing(self) -> list[Item]:
        return [i for i in self.items if not i.ok]

    @property
    def ok(self) -> bool:
        return self.python_ok and not self.missing

    def __str__(self) -> str:
        lines = [f"Python {self.python} on {self.platform} ({self.where})"]
        if not self.python_ok:
            lines.append(f"  Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed.")
        width = max(len(i.name) for i in self.items)
        for item in self.items:
            status = f"ok  {item.version}" if item.ok else f"MISSING ({item.error})"
            lines.append(f"  {item.name:<{width}}  {status:<28} for {item.purpose}")
        if self.ok:
            lines.append("Everything is in place.")
        else:
            names = ", ".join(i.name for i in self.missing)
            lines.append(f"Missing or broken: {names}.")
            lines.append(f"How to fix it here: {FIXES[self.where]}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(str(self))


def _probe(module: str) -> tuple[str | None, str | None]:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    return str(getattr(mod, "__version__", "installed")), None


def check_environment(frameworks: tuple[str, ...] = ("torch", "tensorflow")) -> EnvironmentReport:
    """Import each package the course needs and report versions and problems.

    Parameters
    ----------
    frameworks
        The deep-learning frameworks to import (importing TensorFlow takes several seconds).

    Returns
    -------
    EnvironmentReport
        ``str(report)`` is a table for the student; ``report.ok`` is True when nothing is missing.
    """
    report = EnvironmentReport(
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        where=where_am_i(),
        python_ok=sys.version_info[:2] >= MIN_PYTHON,
    )
    for module, shown, purpose in PACKAGES:
        if module in FRAMEWORK_OF and FRAMEWORK_OF[module] not in frameworks:
            continue
        version, error = _probe(module)
        report.items.append(
            Item(shown if shown != "hepml-course" else module, version, purpose, error)
        )
    return report
