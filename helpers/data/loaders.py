"""Read the course datasets into pandas DataFrames with documented columns.

Each loader takes the files returned by :func:`helpers.data.fetch` (or a path) and works the
same on the real files and on the synthetic twins, which share the real schema. ROOT trees are
found by name whatever their key cycle (the real ATLAS 10k slice's key is ``tree_event;1;1``).
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.data.cache import DataError

__all__ = [
    "ATLAS_HWW_COLUMNS",
    "HIGGS_WW_COLUMNS",
    "TOP_TAGGING_COLUMNS",
    "TOP_TAGGING_IMAGE_COLUMNS",
    "TTH_COLUMNS",
    "find_tree",
    "load_atlas_hww",
    "load_higgs_ww",
    "load_top_tagging",
    "load_tth",
    "read_pandas_hdf",
]

PathLike = str | os.PathLike[str]
FilesLike = Mapping[str, PathLike] | PathLike

HIGGS_WW_FILE = "WW_vs_TT_dataset.h5"
ATLAS_HWW_FILE = "dataWW_d1.root"
TTH_FILES = {"ttH": "signal_blind20.root", "ttW": "background_1.root", "DY": "background_2.root"}
TTH_SIGNAL_OTHER_EDITION = "signal.root"

HIGGS_WW_COLUMNS: tuple[str, ...] = (
    *(f"{obj}_{c}" for obj in ("lepton0", "lepton1", "jet0", "jet1")
      for c in ("px", "py", "pz", "energy")),
    "Njets",
    "HT_all",
    "MissingEnergy",
    "lepton0_mass",
    "lepton1_mass",
    "jet0_mass",
    "jet1_mass",
    "combined_leptons_mass",
    "angle_between_jets",
    "angle_between_leptons",
)  # fmt: skip
"""The 26 fields of ``Signal`` and ``Background`` in ``WW_vs_TT_dataset.h5``, in file order."""

ATLAS_HWW_COLUMNS: tuple[str, ...] = (
    "index",
    "eventNumber",
    "label",
    "met_et",
    "met_phi",
    "lep_n",
    *(f"lep_{v}_{i}" for v in ("pt", "eta", "phi", "E", "charge", "type") for i in (0, 1)),
    "jet_n",
    *(f"jet_{v}_{i}" for v in ("pt", "eta", "phi", "E") for i in (0, 1)),
    "mcWeight",
    "runNumber",
    "channelNumber",
)
"""The 30 branches of ``tree_event`` in ``dataWW_d1.root``, in file order."""

TTH_COLUMNS: tuple[str, ...] = (
    *(f"Hreco_{obj}_{v}"
      for obj in ("Lep0", "Lep1", "Lep2", "HadTop", "All5_Jets", "More5_Jets", "Jets_plus_Lep")
      for v in ("pt", "eta", "phi", "mass")),
    "Hreco_TopScore",
    "Hreco_met",
    "Hreco_met_phi",
    "Hreco_HTXS_Higgs_pt",
    "Hreco_HTXS_Higgs_y",
    "Hreco_evt_tag",
)  # fmt: skip
"""The 34 ``Hreco_*`` branches of the ``Friends`` trees (the signal file also has ``index``)."""

TOP_TAGGING_COLUMNS: tuple[str, ...] = (
    *(f"{v}_{i}" for i in range(200) for v in ("E", "PX", "PY", "PZ")),
    "truthE",
    "truthPX",
    "truthPY",
    "truthPZ",
    "ttv",
    "is_signal_new",
)
"""Columns of ``train.h5``/``val.h5``/``test.h5`` (the challenge file lacks the truth)."""

TOP_TAGGING_IMAGE_COLUMNS: tuple[str, ...] = (
    *(f"img_{i}" for i in range(1600)),
    "is_signal_new",
)
"""Columns of the jet-image files ``*_img.h5`` (40×40 pixels, row-major)."""


# --------------------------------------------------------------------------- helpers


def _resolve(files: FilesLike | None, dataset: str, wanted: str) -> Path:
    """The path of ``wanted``: from a fetch() mapping, a folder, a file path, or fetch()."""
    if files is None:
        from helpers.data.download import fetch

        files = fetch(dataset)
    if isinstance(files, Mapping):
        if wanted not in files:
            raise DataError(f"{wanted} is not among the files given ({', '.join(files)})")
        return Path(files[wanted])
    path = Path(files)
    return path / wanted if path.is_dir() else path


def _check_columns(frame: pd.DataFrame, expected: tuple[str, ...], what: str) -> None:
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise DataError(f"{what} lacks the documented columns {shown}")


def find_tree(file: Any, name: str) -> str:
    """The key of the TTree called ``name`` in an open uproot file, whatever its cycle.

    Matches keys by their name before the first ``;`` (so ``tree_event;1;1`` matches
    ``tree_event``), takes the highest cycle, and falls back to the only TTree of the file.

    Parameters
    ----------
    file : uproot.ReadOnlyDirectory
        An open ROOT file.
    name : str
        The tree name (``tree_event``, ``Friends``).

    Raises
    ------
    DataError
        When no tree of that name exists and the file does not hold exactly one TTree.
    """
    classes = file.classnames()
    trees = [k for k, c in classes.items() if c == "TTree"]

    def base(key: str) -> str:
        return key.rsplit("/", 1)[-1].split(";", 1)[0]

    def cycle(key: str) -> int:
        last = key.rsplit(";", 1)[-1]
        return int(last) if ";" in key and last.isdigit() else 0

    matches = [k for k in trees if base(k) == name]
    if matches:
        return max(matches, key=cycle)
    if len(trees) == 1:
        return trees[0]
    found = ", ".join(trees) or "none"
    other = [f"{k} ({c})" for k, c in classes.items() if base(k) == name]
    hint = (
        f"; {', '.join(other)} is not a TTree (uproot writes an RNTuple for "
        f"`file[name] = arrays`; write TTrees with file.mktree)"
        if other
        else ""
    )
    raise DataError(f"no TTree named {name!r} in {file.file_path}; TTrees found: {found}{hint}")


def _read_tree(path: Path, tree: str) -> pd.DataFrame:
    import uproot

    if not path.is_file():
        raise DataError(f"{path} does not exist")
    with uproot.open(path) as f:
        return f[find_tree(f, tree)].arrays(library="pd")


# --------------------------------------------------------------------------- loaders


def load_higgs_ww(files: FilesLike | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``WW_vs_TT_dataset.h5``: H→WW→ℓνℓν signal and tt̄ dilepton background.

    Parameters
    ----------
    files : mapping, path or None
        ``fetch("higgs-ww-vs-ttbar")``'s result, the folder or the ``.h5`` file; ``None``
        fetches under the current source policy.

    Returns
    -------
    signal, background : pandas.DataFrame
        One row per event (shape ``(n_events, 26)``), the columns of :data:`HIGGS_WW_COLUMNS`:
        ``{lepton0,lepton1,jet0,jet1}_{px,py,pz,energy}`` four-momenta (GeV); ``Njets``
        (count); ``HT_all`` scalar sum of transverse momenta (GeV); ``MissingEnergy`` (GeV);
        ``{lepton0,lepton1,jet0,jet1}_mass`` and ``combined_leptons_mass`` (GeV);
        ``angle_between_jets`` and ``angle_between_leptons`` (rad).
    """
    import h5py

    path = _resolve(files, "higgs-ww-vs-ttbar", HIGGS_WW_FILE)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    with h5py.File(path, "r") as f:
        frames = []
        for key in ("Signal", "Background"):
            if key not in f:
                raise DataError(f"{path} has no dataset {key!r} (it holds {', '.join(f)})")
            frame = pd.DataFrame(f[key][:])
            _check_columns(frame, HIGGS_WW_COLUMNS, f"{path.name}[{key}]")
            frames.append(frame)
    return frames[0], frames[1]


def load_atlas_hww(path_or_files: FilesLike | None = None) -> pd.DataFrame:
    """Read ATLAS Open Data ``dataWW_d1.root`` (tree ``tree_event``, any key cycle).

    Parameters
    ----------
    path_or_files : mapping, path or None
        ``fetch("atlas-hww")``'s result, the folder, or a ROOT file with that tree (the real
        10k slice, whose key is ``tree_event;1;1``, works too); ``None`` fetches.

    Returns
    -------
    pandas.DataFrame
        One row per event, the 30 columns of :data:`ATLAS_HWW_COLUMNS`: ``index``,
        ``eventNumber``; ``label`` (1 = H→WW signal, 0 = background); ``met_et`` (GeV),
        ``met_phi`` (rad); ``lep_n``; ``lep_{pt,eta,phi,E,charge,type}_{0,1}`` (pT in GeV,
        E in MeV, type 11 = electron, 13 = muon); ``jet_n``; ``jet_{pt,eta,phi,E}_{0,1}`` (pT in
        GeV, E in MeV; every field -7 for a missing jet); ``mcWeight`` (event weight, can be
        negative); ``runNumber``; ``channelNumber`` (the simulated process).
    """
    path = _resolve(path_or_files, "atlas-hww", ATLAS_HWW_FILE)
    frame = _read_tree(path, "tree_event")
    _check_columns(frame, ATLAS_HWW_COLUMNS, path.name)
    return frame


def load_tth(files: FilesLike | None = None) -> dict[str, pd.DataFrame]:
    """Read the ttH multilepton files (tree ``Friends``): ttH signal, ttW and Drell-Yan.

    Parameters
    ----------
    files : mapping, folder or None
        ``fetch("tth-multilepton")``'s result or the folder holding ``signal_blind20.root``
        (or the other edition's ``signal.root``), ``background_1.root`` and
        ``background_2.root``; ``None`` fetches.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys ``"ttH"``, ``"ttW"``, ``"DY"``; one row per event with the 34 columns of
        :data:`TTH_COLUMNS` (the signal frame also has ``index``): ``Hreco_{Lep0,Lep1,Lep2,
        HadTop,All5_Jets,More5_Jets,Jets_plus_Lep}_{pt,eta,phi,mass}`` (pT and mass in GeV,
        angles in rad; ``Hreco_Lep2_*`` = -99 when there is no third lepton);
        ``Hreco_TopScore`` (hadronic-top tagger score); ``Hreco_met`` (GeV), ``Hreco_met_phi``
        (rad); ``Hreco_HTXS_Higgs_pt`` (true Higgs pT, GeV) and ``Hreco_HTXS_Higgs_y``
        (its rapidity); ``Hreco_evt_tag`` (event category tag).
    """
    if files is None:
        from helpers.data.download import fetch

        files = fetch("tth-multilepton")
    if isinstance(files, Mapping):
        available = {k: Path(v) for k, v in files.items()}
    else:
        folder = Path(files)
        if not folder.is_dir():
            raise DataError(f"load_tth needs the folder of the three files, got {folder}")
        available = {p.name: p for p in folder.iterdir()}
    out = {}
    for key, fname in TTH_FILES.items():
        path = available.get(fname)
        if path is None and key == "ttH":
            path = available.get(TTH_SIGNAL_OTHER_EDITION)
        if path is None:
            raise DataError(f"no {fname} among the ttH files ({', '.join(sorted(available))})")
        frame = _read_tree(path, "Friends")
        _check_columns(frame, TTH_COLUMNS, path.name)
        out[key] = frame
    return out


def load_top_tagging(
    path: PathLike, *, start: int | None = None, stop: int | None = None, key: str = "table"
) -> pd.DataFrame:
    """Read a top-tagging file (``train.h5``, ``val_img.h5``, ...) written by pandas.

    Reads the pandas HDF5 layouts directly with PyTables (blosc included), so the 2015 files
    load with any pandas; see :func:`read_pandas_hdf`.

    Parameters
    ----------
    path : path
        The ``.h5`` file.
    start, stop : int or None
        Row range to read (like ``pd.read_hdf(path, "table", start=, stop=)``).
    key : str
        The pandas key (``"table"``).

    Returns
    -------
    pandas.DataFrame
        One row per jet. Constituent files: :data:`TOP_TAGGING_COLUMNS`, ``E_i, PX_i, PY_i,
        PZ_i`` (GeV) of constituent i = 0..199 ordered by pT, zero-padded; ``truthE`` ...
        ``truthPZ`` the top-quark four-momentum (GeV, zero for QCD); ``ttv`` (0 train,
        1 test, 2 validation); ``is_signal_new`` (1 top, 0 QCD). Image files:
        :data:`TOP_TAGGING_IMAGE_COLUMNS`, ``img_0`` ... ``img_1599`` the 40×40 pixel
        intensities (row-major), and ``is_signal_new``.
    """
    return read_pandas_hdf(path, key, start=start, stop=stop)


# --------------------------------------------------------------------------- pandas HDF5


def read_pandas_hdf(
    path: PathLike, key: str = "table", *, start: int | None = None, stop: int | None = None
) -> pd.DataFrame:
    """Read a DataFrame that pandas wrote with ``to_hdf``, from the HDF5 nodes via PyTables.

    Handles the ``table`` layout (``/<key>/table`` with ``index`` and ``values_block_<i>``
    columns, the column names of each block in the attribute ``values_block_<i>_kind``, the
    order in ``non_index_axes``; pickled by Python 2 in old files) and the ``fixed`` layout
    (``axis0``, ``axis1``, ``block<i>_items``, ``block<i>_values``, transposed or not), with
    any PyTables filter (blosc, zlib, ...). Anything else is passed to :func:`pandas.read_hdf`.

    Parameters
    ----------
    path : path
        The HDF5 file.
    key : str
        The pandas key.
    start, stop : int or None
        Row range.

    Returns
    -------
    pandas.DataFrame
        The frame, index included.
    """
    import tables

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    with tables.open_file(str(path), "r") as h5:
        where = "/" + key.strip("/")
        if where not in h5:
            raise DataError(f"{path} has no key {key!r}")
        group = h5.get_node(where)
        pandas_type = _text(getattr(group._v_attrs, "pandas_type", None))
        try:
            if pandas_type == "frame_table" and "table" in group:
                return _read_table_layout(group, start, stop)
            if pandas_type == "frame":
                return _read_fixed_layout(group, start, stop)
        except _Unsupported:
            pass
    return pd.read_hdf(path, key, start=start, stop=stop)


def _text(value: Any) -> Any:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def _names(values: Any) -> list[str]:
    """Column names from an attribute or array: bytes or str, pickled by Python 2 or 3."""
    if isinstance(values, bytes | np.bytes_):
        values = pickle.loads(bytes(values), encoding="latin1")
    return [str(_text(v)) for v in np.asarray(values, dtype=object).ravel()]


def _read_table_layout(group: Any, start: int | None, stop: int | None) -> pd.DataFrame:
    table = group.table
    rows = table.read(start=start, stop=stop)
    fields = rows.dtype.names or ()
    index = pd.Index(rows["index"]) if "index" in fields else pd.RangeIndex(len(rows))
    blocks = []
    for field in fields:
        if field == "index":
            continue
        values = rows[field]
        if re.fullmatch(r"values_block_\d+", field):
            names = _names(getattr(table.attrs, f"{field}_kind"))
            values = values.reshape(len(rows), len(names))
        else:  # a data column
            names = [field]
            values = values.reshape(len(rows), 1)
        if values.dtype.kind == "S":
            values = np.char.decode(values, "utf-8").astype(object)
        blocks.append(pd.DataFrame(values, columns=names, index=index, copy=False))
    frame = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=index)
    order = getattr(group._v_attrs, "non_index_axes", None)
    if order:
        columns = _names(order[0][1])
        if set(columns) == set(frame.columns):
            frame = frame[columns]
    return frame


def _read_fixed_layout(group: Any, start: int | None, stop: int | None) -> pd.DataFrame:
    import tables

    columns = _names(group.axis0[:])
    index = pd.Index(group.axis1[start:stop])
    blocks = []
    for i in range(int(group._v_attrs.nblocks)):
        node = getattr(group, f"block{i}_values")
        if isinstance(node, tables.VLArray):  # object columns: pickled, leave to pandas
            raise _Unsupported
        items = _names(getattr(group, f"block{i}_items")[:])
        if getattr(node._v_attrs, "transposed", False):
            values = node[start:stop]
        else:
            values = node[:, start:stop].T
        blocks.append(pd.DataFrame(values, columns=items, index=index, copy=False))
    frame = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=index)
    return frame[columns]


class _Unsupported(Exception):
    """A layout detail this reader leaves to pandas."""
