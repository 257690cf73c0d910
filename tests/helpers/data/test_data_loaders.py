"""helpers.data.loaders: documented columns, robust tree lookup, the 2015 pandas HDF5 layout."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import tables
import uproot

from helpers.data import DataError, DatasetFiles, fetch, loaders, synthetic
from helpers.data.loaders import (
    ATLAS_HWW_COLUMNS,
    HIGGS_WW_COLUMNS,
    TOP_TAGGING_COLUMNS,
    TOP_TAGGING_IMAGE_COLUMNS,
    TTH_COLUMNS,
)


def test_documented_column_lists():
    assert len(HIGGS_WW_COLUMNS) == 26 and HIGGS_WW_COLUMNS[:4] == (
        "lepton0_px",
        "lepton0_py",
        "lepton0_pz",
        "lepton0_energy",
    )
    assert HIGGS_WW_COLUMNS[-1] == "angle_between_leptons"
    assert len(ATLAS_HWW_COLUMNS) == 30 and len(set(ATLAS_HWW_COLUMNS)) == 30
    assert len(TTH_COLUMNS) == 34 and "Hreco_Lep2_pt" in TTH_COLUMNS
    assert len(TOP_TAGGING_COLUMNS) == 806 and TOP_TAGGING_COLUMNS[:5] == (
        "E_0",
        "PX_0",
        "PY_0",
        "PZ_0",
        "E_1",
    )
    assert len(TOP_TAGGING_IMAGE_COLUMNS) == 1601


# --------------------------------------------------------------------------- top tagging


def toy_jets(n: int = 30, constituents: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = [f"{v}_{i}" for i in range(constituents) for v in ("E", "PX", "PY", "PZ")]
    frame = pd.DataFrame(rng.normal(size=(n, len(cols))).astype("float32"), columns=cols)
    frame["truthE"] = rng.normal(size=n)
    frame["ttv"] = np.zeros(n, dtype=np.int64)
    frame["is_signal_new"] = rng.integers(0, 2, n)
    return frame


@pytest.mark.parametrize("fmt", ["table", "fixed"])
def test_top_tagging_reader_matches_pandas_on_blosc_files(tmp_path, fmt):
    frame = toy_jets()
    path = tmp_path / f"{fmt}.h5"
    frame.to_hdf(path, key="table", format=fmt, complib="blosc", complevel=5)
    with tables.open_file(path) as h5:
        leaf = h5.root.table.table if fmt == "table" else h5.root.table.block0_values
        assert leaf.filters.complib == "blosc"
    got = loaders.load_top_tagging(path)
    pd.testing.assert_frame_equal(got, frame)
    pd.testing.assert_frame_equal(got, pd.read_hdf(path, "table"))
    part = loaders.load_top_tagging(path, start=5, stop=12)
    pd.testing.assert_frame_equal(part, frame.iloc[5:12])
    pd.testing.assert_frame_equal(part, pd.read_hdf(path, "table", start=5, stop=12))


def py2_pickle(obj) -> np.bytes_:
    """A protocol-0 pickle as Python 2 wrote it (byte strings ``S'...'``, not ``V...``)."""
    text = pickle.dumps(obj, protocol=0).decode("ascii")
    text = re.sub(r"V([^\n]*)\n", lambda m: "S'" + m.group(1) + "'\n", text)
    return np.bytes_(text.encode("ascii"))


def write_2015_table(path: Path, floats: pd.DataFrame, ints: pd.DataFrame, order: list[str]):
    """Write the ``table`` layout of a 2015 pandas (0.15) by hand: byte-string attributes,
    Python-2 pickles of the column names, two value blocks, blosc compression."""
    n = len(floats)
    with tables.open_file(str(path), "w") as h5:
        group = h5.create_group("/", "table")
        attrs = group._v_attrs
        attrs.pandas_version = np.bytes_(b"0.15.2")
        attrs.pandas_type = np.bytes_(b"frame_table")
        attrs.table_type = np.bytes_(b"appendable_frame")
        attrs.index_cols = py2_pickle([(0, "index")])
        attrs.values_cols = py2_pickle(["values_block_0", "values_block_1"])
        attrs.non_index_axes = py2_pickle([(1, order)])
        attrs.data_columns = py2_pickle([])
        attrs.nan_rep = np.bytes_(b"nan")
        attrs.levels = 1
        description = {
            "index": tables.Int64Col(pos=0),
            "values_block_0": tables.Float32Col(shape=(floats.shape[1],), pos=1),
            "values_block_1": tables.Int64Col(shape=(ints.shape[1],), pos=2),
        }
        table = h5.create_table(
            group, "table", description, filters=tables.Filters(9, "blosc"), expectedrows=n
        )
        rows = np.zeros(n, dtype=table.dtype)
        rows["index"] = np.arange(n)
        rows["values_block_0"] = floats.to_numpy()
        rows["values_block_1"] = ints.to_numpy()
        table.append(rows)
        table.attrs.index_kind = np.bytes_(b"integer")
        table.attrs.values_block_0_kind = py2_pickle(list(floats.columns))
        table.attrs.values_block_0_dtype = np.bytes_(b"float32")
        table.attrs.values_block_1_kind = py2_pickle(list(ints.columns))
        table.attrs.values_block_1_dtype = np.bytes_(b"int64")


def test_top_tagging_reader_reads_the_2015_layout(tmp_path):
    frame = toy_jets(n=25, seed=1)
    frame["truthE"] = frame["truthE"].astype("float32")
    floats = frame.drop(columns=["ttv", "is_signal_new"])
    ints = frame[["ttv", "is_signal_new"]]
    order = list(frame.columns)
    path = tmp_path / "train.h5"
    write_2015_table(path, floats, ints, order)
    got = loaders.load_top_tagging(path)
    pd.testing.assert_frame_equal(got, frame)
    pd.testing.assert_frame_equal(
        loaders.load_top_tagging(path, start=20, stop=None), frame.iloc[20:]
    )


def test_layout_left_to_pandas_is_read_by_pandas(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "name": ["a", "b", "c"]})
    path = tmp_path / "mixed.h5"
    frame.to_hdf(path, key="table", format="fixed")  # object column: a VLArray block
    pd.testing.assert_frame_equal(loaders.read_pandas_hdf(path), pd.read_hdf(path, "table"))


def test_missing_key_and_file_are_clear_errors(tmp_path):
    path = tmp_path / "t.h5"
    toy_jets().to_hdf(path, key="table", format="table")
    with pytest.raises(DataError, match="no key 'other'"):
        loaders.read_pandas_hdf(path, "other")
    with pytest.raises(DataError, match="does not exist"):
        loaders.load_top_tagging(tmp_path / "absent.h5")


# --------------------------------------------------------------------------- higgs ww


def write_higgs_file(path: Path, n_sig: int = 4, n_bkg: int = 6) -> dict[str, np.ndarray]:
    dtype = np.dtype([(c, "<f8") for c in HIGGS_WW_COLUMNS])
    rng = np.random.default_rng(2)
    data = {}
    with h5py.File(path, "w") as f:
        for key, n in (("Signal", n_sig), ("Background", n_bkg)):
            arr = np.zeros(n, dtype=dtype)
            for c in HIGGS_WW_COLUMNS:
                arr[c] = rng.normal(size=n)
            f.create_dataset(key, data=arr)
            data[key] = arr
    return data


def test_load_higgs_ww_from_mapping_folder_and_file(tmp_path):
    path = tmp_path / "WW_vs_TT_dataset.h5"
    data = write_higgs_file(path)
    for given in ({"WW_vs_TT_dataset.h5": path}, tmp_path, path):
        sig, bkg = loaders.load_higgs_ww(given)
        assert list(sig.columns) == list(HIGGS_WW_COLUMNS) and (len(sig), len(bkg)) == (4, 6)
        np.testing.assert_array_equal(bkg["HT_all"], data["Background"]["HT_all"])


def test_load_higgs_ww_rejects_wrong_schema(tmp_path):
    path = tmp_path / "WW_vs_TT_dataset.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("Signal", data=np.zeros(3, dtype=[("lepton0_px", "<f8")]))
        f.create_dataset("Background", data=np.zeros(3, dtype=[("lepton0_px", "<f8")]))
    with pytest.raises(DataError, match=r"lacks the documented columns lepton0_py"):
        loaders.load_higgs_ww(path)


# --------------------------------------------------------------------------- ROOT


def write_trees(path: Path, trees: dict[str, dict[str, np.ndarray]]) -> None:
    """Write TTrees (uproot's ``f[name] = dict`` would write an RNTuple)."""
    with uproot.recreate(path) as f:
        for name, branches in trees.items():
            tree = f.mktree(name, {k: v.dtype for k, v in branches.items()})
            tree.extend(branches)


def atlas_branches(n: int = 5) -> dict[str, np.ndarray]:
    out = {c: np.arange(n, dtype=np.float64) for c in ATLAS_HWW_COLUMNS}
    out["label"] = np.array([1, 0, 1, 0, 1][:n], dtype=np.int32)
    return out


def test_load_atlas_hww_finds_the_tree_among_others(tmp_path):
    path = tmp_path / "dataWW_d1.root"
    write_trees(path, {"other": {"x": np.arange(3)}, "tree_event": atlas_branches()})
    frame = loaders.load_atlas_hww(tmp_path)
    assert list(frame.columns) == list(ATLAS_HWW_COLUMNS) and len(frame) == 5
    assert frame["label"].tolist() == [1, 0, 1, 0, 1]


def test_find_tree_falls_back_to_the_only_tree_and_lists_ambiguous_ones(tmp_path):
    only = tmp_path / "only.root"
    write_trees(only, {"renamed": {"x": np.arange(3)}})
    with uproot.open(only) as f:
        assert loaders.find_tree(f, "tree_event") == "renamed;1"
    two = tmp_path / "two.root"
    write_trees(two, {"a": {"x": np.arange(3)}, "b": {"x": np.arange(3)}})
    with uproot.open(two) as f, pytest.raises(DataError, match=r"TTrees found: a;1, b;1"):
        loaders.find_tree(f, "tree_event")


def test_find_tree_explains_an_rntuple_of_that_name(tmp_path):
    path = tmp_path / "rntuple.root"
    with uproot.recreate(path) as f:
        f["tree_event"] = {"x": np.arange(3)}  # uproot 5.7 writes an RNTuple here
        f.mktree("a", {"x": np.int64}).extend({"x": np.arange(3)})
        f.mktree("b", {"x": np.int64}).extend({"x": np.arange(3)})
    with uproot.open(path) as f, pytest.raises(DataError, match="is not a TTree"):
        loaders.find_tree(f, "tree_event")


@pytest.mark.real_data
def test_real_atlas_slice_loads_with_documented_columns(real_data_dir):
    path = real_data_dir / "atlas-opendata-hww" / "dataWW_d1_last10k.root"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    frame = loaders.load_atlas_hww(path)  # its key is tree_event;1;1
    assert list(frame.columns) == list(ATLAS_HWW_COLUMNS)
    assert len(frame) == 10_000
    assert frame["index"].min() == 590_000 and frame["index"].max() == 599_999
    assert (frame["label"] == 1).sum() == 6_632 and (frame["label"] == 0).sum() == 3_368
    assert ((frame["lep_n"] == 2) & (frame["mcWeight"] > 0)).sum() == 9_608
    assert (frame["mcWeight"] < 0).any()
    no_jet = frame["jet_n"] == 0
    assert (frame.loc[no_jet, "jet_pt_0"] == -7).all()


def write_tth(folder: Path, signal_name: str) -> dict[str, int]:
    sizes = {signal_name: 4, "background_1.root": 3, "background_2.root": 2}
    for fname, n in sizes.items():
        branches = {c: np.full(n, float(n)) for c in TTH_COLUMNS}
        if fname == signal_name:
            branches["index"] = np.arange(n)
        write_trees(folder / fname, {"Friends": branches})
    return sizes


@pytest.mark.parametrize("signal_name", ["signal_blind20.root", "signal.root"])
def test_load_tth_reads_three_processes(tmp_path, signal_name):
    write_tth(tmp_path, signal_name)
    frames = loaders.load_tth(tmp_path)
    assert list(frames) == ["ttH", "ttW", "DY"]
    assert [len(f) for f in frames.values()] == [4, 3, 2]
    assert "index" in frames["ttH"].columns and "index" not in frames["DY"].columns
    for frame in frames.values():
        assert set(TTH_COLUMNS) <= set(frame.columns)


def test_load_tth_names_the_missing_file(tmp_path):
    write_tth(tmp_path, "signal_blind20.root")
    (tmp_path / "background_2.root").unlink()
    with pytest.raises(DataError, match=r"no background_2\.root"):
        loaders.load_tth(tmp_path)


# --------------------------------------------------------------------------- the real twins


def twin_files(name: str, tmp_path, monkeypatch, events: int) -> DatasetFiles:
    module = synthetic._MODULES[name]
    pytest.importorskip(module, reason=f"the twin module {module} does not import yet")
    monkeypatch.setenv("HEPML_DATA_DIR", str(tmp_path))
    files = fetch(name, source="synthetic", seed=1, events=events, progress=False)
    assert files.variant == "synthetic" and files.events == events
    return files


def test_higgs_ww_twin_loads(tmp_path, monkeypatch):
    files = twin_files("higgs-ww-vs-ttbar", tmp_path, monkeypatch, 400)
    sig, bkg = loaders.load_higgs_ww(files)
    assert list(sig.columns) == list(HIGGS_WW_COLUMNS) == list(bkg.columns)
    assert len(sig) + len(bkg) > 0


def test_atlas_hww_twin_loads(tmp_path, monkeypatch):
    files = twin_files("atlas-hww", tmp_path, monkeypatch, 400)
    frame = loaders.load_atlas_hww(files)
    assert list(frame.columns) == list(ATLAS_HWW_COLUMNS) and len(frame) > 0


def test_tth_twin_loads(tmp_path, monkeypatch):
    files = twin_files("tth-multilepton", tmp_path, monkeypatch, 400)
    frames = loaders.load_tth(files)
    assert list(frames) == ["ttH", "ttW", "DY"]
    for frame in frames.values():
        assert set(TTH_COLUMNS) <= set(frame.columns) and len(frame) > 0


def test_top_tagging_twin_loads(tmp_path, monkeypatch):
    files = twin_files("top-tagging", tmp_path, monkeypatch, 200)
    for fname in ("train.h5", "val.h5", "test.h5"):
        frame = loaders.load_top_tagging(files[fname])
        assert list(frame.columns) == list(TOP_TAGGING_COLUMNS) and len(frame) > 0
        part = loaders.load_top_tagging(files[fname], start=2, stop=7)
        pd.testing.assert_frame_equal(part, pd.read_hdf(files[fname], "table", start=2, stop=7))
    for fname in ("train_img.h5", "val_img.h5", "test_img.h5"):
        if fname in files:
            frame = loaders.load_top_tagging(files[fname], stop=5)
            assert list(frame.columns) == list(TOP_TAGGING_IMAGE_COLUMNS)


def test_top_tagging_slice_past_the_end_is_empty_like_pandas(tmp_path):
    path = tmp_path / "t.h5"
    frame = pd.DataFrame(
        {"E_0": np.arange(5.0), "PX_0": np.arange(5.0), "is_signal_new": np.arange(5)}
    )
    frame.to_hdf(path, key="table", format="table", complib="blosc", complevel=5)
    got = loaders.load_top_tagging(path, start=10, stop=20)
    want = pd.read_hdf(path, "table", start=10, stop=20)
    assert got.shape == want.shape == (0, 3)
    assert list(got.columns) == list(want.columns)
