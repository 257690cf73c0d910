"""The registry of the course datasets: what each one is, where its files come from, their digests.

A dataset is a set of files (the names the tutorials open: ``WW_vs_TT_dataset.h5``,
``dataWW_d1.root``, ...). Each file comes from a :class:`Resource`: either a plain download, or
an archive (``.tar.gz``, ``.zip``) whose members are the dataset's files. A resource records its
origin URL and, where known, the SHA-256 digest of the downloaded object; an unknown digest is
``None`` until an instructor pins it (``hepml data fetch NAME --print-digest`` prints it).

The mirror (``HEPML_MIRROR``) replaces every origin: the URL of a resource on a mirror is
``<mirror>/<dataset name>/<resource filename>`` (see :func:`helpers.data.download.resource_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DATASETS", "Dataset", "Resource", "get", "names"]


@dataclass(frozen=True)
class Resource:
    """One downloadable object.

    Attributes
    ----------
    filename : str
        Its name in the cache and on a mirror (for an archive: the archive's name).
    url : str
        The origin URL (used when ``HEPML_MIRROR`` is not set).
    sha256 : str or None
        Hex SHA-256 digest of the downloaded object (of the archive for an archive); ``None``
        when not pinned yet.
    archive : {"zip", "tar"} or None
        The archive format, or ``None`` for a plain file.
    members : tuple of str
        For an archive: the base names of the dataset files taken out of it (found at any depth
        inside the archive).
    url_verified : bool
        ``False`` where the origin URL could not be checked when it was recorded (see ``note``).
    note : str
        Provenance remarks: mirrors, other editions, what is unverified.
    """

    filename: str
    url: str
    sha256: str | None = None
    archive: Literal["zip", "tar"] | None = None
    members: tuple[str, ...] = ()
    url_verified: bool = True
    note: str = ""

    @property
    def files(self) -> tuple[str, ...]:
        """The dataset file names this resource provides."""
        return self.members if self.archive else (self.filename,)


@dataclass(frozen=True)
class Dataset:
    """A course dataset: its real files and where they come from.

    Attributes
    ----------
    name : str
        Registry key, also the folder name in the cache and on a mirror.
    title : str
        One line for listings.
    description : str
        What it holds (physics, classes, units), a few sentences.
    reference : str
        Where it was published (paper, record, tutorial).
    resources : tuple of Resource
        The downloads that make up the dataset.
    events : int or None
        Number of events of the real dataset, where known.
    loader : str
        Name of the ``helpers.data`` function that reads it into DataFrames.
    """

    name: str
    title: str
    description: str
    reference: str
    resources: tuple[Resource, ...]
    events: int | None = None
    loader: str = ""

    @property
    def files(self) -> tuple[str, ...]:
        """All dataset file names, in registry order."""
        return tuple(f for r in self.resources for f in r.files)


_HIGGS_WW = Dataset(
    name="higgs-ww-vs-ttbar",
    title="H→WW→ℓνℓν against tt̄ dilepton, 26 reconstructed features (HDF5)",
    description=(
        "HDF5 file with two compound datasets, 'Signal' (H→WW→ℓνℓν) and 'Background' "
        "(tt̄→bℓν bℓν), 26 fields each: four-momenta of two leptons and two jets (GeV), Njets, "
        "HT_all, MissingEnergy, masses and opening angles."
    ),
    reference="CERN deep-learning tutorial material, shared on CERNBox",
    resources=(
        Resource(
            filename="WW_vs_TT_dataset.h5",
            url=(
                "https://cernbox.cern.ch/remote.php/dav/public-files/icjK5HWChdTcdb2/"
                "WW_vs_TT_dataset.h5"
            ),
            note="public CERNBox share used by the original tutorial",
        ),
    ),
    loader="load_higgs_ww",
)

_ATLAS_HWW = Dataset(
    name="atlas-hww",
    title="ATLAS Open Data H→WW, 600,000 events, TTree tree_event (ROOT)",
    description=(
        "ATLAS Open Data 13 TeV simulation, H→WW (label 1, 400k) against backgrounds "
        "(label 0, 200k): MET, two leptons and two jets (pT and MET in GeV, energies in MeV, "
        "missing jets filled with -7), mcWeight (with negative entries)."
    ),
    reference=(
        "ATLAS Open Data (opendata.atlas.cern), as prepared for the HEP ML tutorials "
        "(D. Rousseau, Y. Coadou et al.; HSF-India ML tutorials 2023-24)"
    ),
    resources=(
        Resource(
            filename="dataWW_d1.root",
            # UNVERIFIED: the HSF-India 2023-12 ML tutorial repository commits dataWW_d1.root at
            # its top level (its README says so); the URL could not be fetched from here.
            # ``raw/HEAD`` follows the repository's default branch.
            url=(
                "https://github.com/gordonwatts/hsf-india-ml-tutorial-2023-12/raw/HEAD/"
                "dataWW_d1.root"
            ),
            url_verified=False,
            note=(
                "origin unverified: the file is committed in the public repository "
                "github.com/gordonwatts/hsf-india-ml-tutorial-2023-12 (README), URL not fetched "
                "when recorded; courses should host it on their own mirror (HEPML_MIRROR)"
            ),
        ),
    ),
    events=600_000,
    loader="load_atlas_hww",
)

_TTH = Dataset(
    name="tth-multilepton",
    title="CMS-like ttH multilepton: ttH, ttW and Drell-Yan, TTree Friends (ROOT)",
    description=(
        "Three ROOT files with the TTree 'Friends': signal_blind20.root (ttH, 299,287 rows), "
        "background_1.root (ttW) and background_2.root (Drell-Yan); Hreco_* reconstructed "
        "objects (GeV), a missing third lepton has Hreco_Lep2_* = -99, and the true Higgs pT "
        "Hreco_HTXS_Higgs_pt."
    ),
    reference="P. Vischia, Lisbon ML school / CMSDAS ttH multilepton exercise",
    resources=(
        Resource(
            filename="lisbon_ml_school_tth.tar.gz",
            url="https://www.hep.uniovi.es/vischia/lisbon_ml_school/lisbon_ml_school_tth.tar.gz",
            archive="tar",
            members=("signal_blind20.root", "background_1.root", "background_2.root"),
            note=(
                "another edition, https://www.hep.uniovi.es/vischia/cmsdas2024/"
                "ft_tth_multilep_igfae2024.tar.gz, names its signal file signal.root "
                "(load_tth reads both)"
            ),
        ),
    ),
    events=299_287,
    loader="load_tth",
)

_TOP_TAGGING = Dataset(
    name="top-tagging",
    title="Top-tagging reference dataset: constituents and 40×40 jet images (pandas HDF5)",
    description=(
        "Jets with pT 550-650 GeV, R = 0.8: top jets (is_signal_new = 1) against QCD jets. "
        "train/val/test.h5 hold E_i, PX_i, PY_i, PZ_i (GeV) of up to 200 pT-ordered "
        "constituents (zero-padded), truth four-momentum, ttv and is_signal_new; *_img.h5 hold "
        "img_0..img_1599 (40×40 images); test_without_truth_*_100k.h5 are the challenge files. "
        "Pandas HDF5 tables under key 'table' written by a 2015 pandas with blosc."
    ),
    reference=(
        "Kasieczka et al., 'The Machine Learning Landscape of Top Taggers', arXiv:1902.09914; "
        "Zenodo record 2603256 (train/val/test.h5)"
    ),
    resources=(
        Resource(
            filename="top-tagging.zip",
            url="https://syncandshare.desy.de/index.php/s/rKrtHqbQwb5TAfg/download",
            archive="zip",
            members=(
                "train.h5",
                "val.h5",
                "test.h5",
                "train_img.h5",
                "val_img.h5",
                "test_img.h5",
                "test_without_truth_100k.h5",
                "test_without_truth_img_100k.h5",
            ),
            note=(
                "course mirror at DESY (a zip holding top-tagging/); the constituent files "
                "alone are also on Zenodo, https://zenodo.org/records/2603256"
            ),
        ),
    ),
    events=2_000_000,
    loader="load_top_tagging",
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (_HIGGS_WW, _ATLAS_HWW, _TTH, _TOP_TAGGING)}
"""All datasets, by name."""


def names() -> list[str]:
    """The names of the registered datasets, in course order."""
    return list(DATASETS)


def get(name: str) -> Dataset:
    """The registry entry of ``name``.

    Raises
    ------
    KeyError
        With the list of known names, when ``name`` is not registered.
    """
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise KeyError(f"unknown dataset {name!r}; known datasets: {known}") from None
