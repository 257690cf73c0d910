"""Datasets of the course: registry, fetchers with a digest-checked cache, loaders, synthetic twins.

Typical use in a notebook::

    from helpers import data

    files = data.fetch("higgs-ww-vs-ttbar")   # real files if available, else the twin
    print(files)                              # one line: which variant, seed, events, where
    signal, background = data.load_higgs_ww(files)

``fetch`` follows ``HEPML_DATA_SOURCE`` (auto | real | synthetic), caches in ``HEPML_DATA_DIR``
and downloads from ``HEPML_MIRROR`` when set (see ``helpers.data.download``; the cache and its
digest manifest are ``helpers.data.cache``'s). Importing this package is light: the loaders
(uproot, h5py, PyTables) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from helpers.data.cache import DataError, DatasetFiles, DigestMismatchError, data_dir
from helpers.data.download import DownloadError, fetch
from helpers.data.registry import names

_LAZY = {
    "load_higgs_ww": "helpers.data.loaders",
    "load_atlas_hww": "helpers.data.loaders",
    "load_tth": "helpers.data.loaders",
    "load_top_tagging": "helpers.data.loaders",
    "read_pandas_hdf": "helpers.data.loaders",
}

__all__ = [
    "DataError",
    "DatasetFiles",
    "DigestMismatchError",
    "DownloadError",
    "data_dir",
    "fetch",
    "load_atlas_hww",
    "load_higgs_ww",
    "load_top_tagging",
    "load_tth",
    "names",
    "read_pandas_hdf",
]


def __getattr__(name: str) -> Any:
    # Loaders on first use, so that ``import helpers.data`` does not import uproot or PyTables.
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'helpers.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
