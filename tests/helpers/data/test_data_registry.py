"""helpers.data.registry: the four course datasets, their origins and digests."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from helpers.data import loaders, registry, synthetic


def test_the_four_course_datasets_are_registered():
    assert registry.names() == ["higgs-ww-vs-ttbar", "atlas-hww", "tth-multilepton", "top-tagging"]


def test_every_dataset_has_a_twin_and_a_loader():
    for name in registry.names():
        dataset = registry.get(name)
        assert name in synthetic._MODULES
        assert callable(getattr(loaders, dataset.loader))


def test_resources_are_well_formed():
    for dataset in registry.DATASETS.values():
        assert dataset.resources, dataset.name
        filenames = [r.filename for r in dataset.resources]
        assert len(set(filenames)) == len(filenames)
        assert len(set(dataset.files)) == len(dataset.files)
        for res in dataset.resources:
            assert urlsplit(res.url).scheme == "https", res.url
            assert "/" not in res.filename
            assert res.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", res.sha256)
            if res.archive:
                assert res.archive in ("tar", "zip") and res.members
            else:
                assert res.members == () and res.files == (res.filename,)
            if not res.url_verified:
                assert "unverified" in res.note


def test_registered_files_are_those_the_tutorials_open():
    files = {name: registry.get(name).files for name in registry.names()}
    assert files["higgs-ww-vs-ttbar"] == ("WW_vs_TT_dataset.h5",)
    assert files["atlas-hww"] == ("dataWW_d1.root",)
    assert files["tth-multilepton"] == (
        "signal_blind20.root",
        "background_1.root",
        "background_2.root",
    )
    assert {"train.h5", "val.h5", "test.h5", "train_img.h5"} <= set(files["top-tagging"])
    tth = registry.get("tth-multilepton").resources[0]
    assert tth.url.endswith("lisbon_ml_school_tth.tar.gz") and tth.archive == "tar"
    top = registry.get("top-tagging").resources[0]
    assert top.archive == "zip" and top.filename == "top-tagging.zip"


def test_the_atlas_origin_is_marked_unverified():
    (res,) = registry.get("atlas-hww").resources
    assert res.url_verified is False and res.url.endswith("/dataWW_d1.root")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="known datasets: higgs-ww-vs-ttbar, atlas-hww"):
        registry.get("higgs")


def test_importing_helpers_data_stays_light():
    code = (
        "import sys, helpers.data as d; d.fetch; d.names();"
        "heavy = [m for m in ('uproot', 'tables', 'h5py', 'torch', 'tensorflow', 'pandas')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
