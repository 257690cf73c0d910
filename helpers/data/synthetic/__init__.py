"""Synthetic twins of the course datasets.

Each twin is written in the real file format, with the real file names, tree/dataset/key names,
columns, units and fill values, so that the tutorials' own loading code runs on it unchanged.
Twins are seeded and class-conditional, and for the tabular datasets the generator knows the
class-conditional densities, so :func:`likelihood_ratio` returns the true (Neyman-Pearson optimal)
likelihood ratio of any twin event.

One module per dataset implements the same small interface:

``DEFAULT_EVENTS``
    the default size (chosen so every notebook runs within its time budget);
``FILES``
    the file names the twin writes;
``generate(events, seed) -> dict[str, pandas.DataFrame]``
    the events in memory, one frame per file (hidden tests draw fresh events this way);
``write(out_dir, *, events, seed, progress) -> dict[str, pathlib.Path]``
    the files on disk, file name -> path;
``likelihood_ratio(frame, **options) -> numpy.ndarray``
    the true signal/background likelihood ratio of each row of a twin frame.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

_MODULES = {
    "higgs-ww-vs-ttbar": "helpers.data.synthetic.higgs_ww",
    "atlas-hww": "helpers.data.synthetic.atlas_hww",
    "tth-multilepton": "helpers.data.synthetic.tth",
    "top-tagging": "helpers.data.synthetic.top_tagging",
}

__all__ = [
    "default_events",
    "generate",
    "generator_version",
    "likelihood_ratio",
    "names",
    "twin_module",
    "unseen",
    "unseen_seed",
    "write_twin",
]

#: The environment variable that holds the grader's secret. The grader sets it in the clean
#: process that runs hidden tests, never in a student's kernel; :func:`unseen` derives its seeds
#: from it, so no seed of hidden events is written in any notebook.
SECRET_ENV = "HEPML_GRADER_SECRET"
_DEVELOPMENT_SECRET = "hepml-development-only"


def names() -> list[str]:
    """The datasets that have a synthetic twin."""
    return list(_MODULES)


def twin_module(name: str) -> ModuleType:
    """The module implementing the twin of dataset ``name``."""
    try:
        return importlib.import_module(_MODULES[name])
    except KeyError:
        known = ", ".join(_MODULES)
        raise KeyError(f"no synthetic twin for dataset {name!r}; known datasets: {known}") from None


def generator_version() -> str:
    """A short digest of the generators' source code (every module of this package).

    Cached twins are keyed by it, so a changed generator never serves files written by an older
    one (hidden tests generate fresh events in memory with the current code).
    """
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def default_events(name: str) -> int:
    """Default number of events of the twin of ``name``."""
    return int(twin_module(name).DEFAULT_EVENTS)


def generate(name: str, *, events: int | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Generate the twin of ``name`` in memory: one DataFrame per file name."""
    mod = twin_module(name)
    return mod.generate(mod.DEFAULT_EVENTS if events is None else int(events), int(seed))


def unseen_seed(name: str, *, events: int, salt: str = "", secret: str | None = None) -> int:
    """The seed of the hidden events :func:`unseen` draws (64 bits from the grader's secret).

    Without ``HEPML_GRADER_SECRET`` (a student's machine, a development run) the seed comes from a
    fixed development secret: reproducible, and not the events a grader draws. ``secret``
    overrides the variable.
    """
    secret = secret or os.environ.get(SECRET_ENV) or _DEVELOPMENT_SECRET
    text = f"{secret}\0{name}\0{int(events)}\0{salt}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little")


def unseen(name: str, *, events: int | None = None, salt: str = "") -> dict[str, pd.DataFrame]:
    """Fresh twin events for a hidden test, seeded by the grader's secret (see :data:`SECRET_ENV`).

    Same layout as :func:`generate` (one DataFrame per file name, as the notebook reads the
    files). Hidden tests call it without a seed; ``salt`` gives two tests of one notebook two
    different samples.

    Parameters
    ----------
    name : str
        A dataset with a twin (:func:`names`).
    events : int, optional
        How many events (default: the twin's default size).
    salt : str
        Any text; another salt gives other events.
    """
    n = default_events(name) if events is None else int(events)
    return generate(name, events=n, seed=unseen_seed(name, events=n, salt=salt))


def write_twin(
    name: str,
    out_dir: str | Path,
    *,
    events: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Path]:
    """Write the twin of ``name`` into ``out_dir`` in the real formats; return file name -> path."""
    mod = twin_module(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = mod.DEFAULT_EVENTS if events is None else int(events)
    return mod.write(out, events=n, seed=int(seed), progress=progress)


def likelihood_ratio(name: str, frame: pd.DataFrame, **options) -> np.ndarray:
    """True likelihood ratio p(x|signal)/p(x|background) of each row of a twin frame of ``name``."""
    return twin_module(name).likelihood_ratio(frame, **options)
