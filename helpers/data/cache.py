"""The dataset cache: its folder, the digest manifest, atomic staging, and the synthetic twins.

``HEPML_DATA_DIR`` is the cache folder (default: the user cache, ``pooch.os_cache("hepml")``).
Real files go to ``<dir>/real/<name>/``, twins to ``<dir>/synthetic/<name>/seed<S>-n<N>-<generator version>/``.

Nothing half-written is ever left under a cached name: downloads and archive members are staged
in a private folder of the cache (:func:`staging`) and moved into place with :func:`os.replace`
only once complete and verified (:func:`install`); a twin is written into a temporary folder
renamed into place. A manifest (``.hepml-manifest.json``) records each file's SHA-256 digest,
size and modification time; a cached file is reused only if it matches the recorded digest
(re-hashed whenever its size or modification time changed) and, where the registry pins one,
the pinned digest. Nothing here touches the network: downloads are
:mod:`helpers.data.download`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from helpers.data import registry
from helpers.data.registry import Dataset, Resource

__all__ = [
    "MANIFEST",
    "TWIN_MANIFEST",
    "DataError",
    "DatasetFiles",
    "DigestMismatchError",
    "cached_real",
    "data_dir",
    "fetch_synthetic",
    "file_sha256",
    "real_digests",
]

ENV_DATA_DIR = "HEPML_DATA_DIR"

MANIFEST = ".hepml-manifest.json"
"""Name of the manifest of a real dataset's folder (digest, size, mtime of each file)."""
TWIN_MANIFEST = ".hepml-twin.json"
"""Name of the manifest of a twin's folder (path and size of each file)."""
_STAGING_PREFIX = ".download-"
_TWIN_TMP_PREFIX = ".tmp-"
_STALE_AFTER_S = 24 * 3600.0


class DataError(RuntimeError):
    """A dataset could not be provided."""


class DigestMismatchError(DataError):
    """A download's SHA-256 digest differs from the pinned one (the file was deleted).

    Attributes
    ----------
    filename : str
        The downloaded object (the archive for an archive).
    expected, actual : str
        The pinned and the measured hex SHA-256 digests.
    """

    def __init__(self, message: str, *, filename: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.filename = filename
        self.expected = expected
        self.actual = actual


class DatasetFiles(dict[str, Path]):
    """The local files of a dataset: file name -> path (``files["WW_vs_TT_dataset.h5"]``).

    Attributes
    ----------
    name : str
        The dataset name.
    variant : {"real", "synthetic"}
        Which files these are.
    seed : int or None
        The twin's seed (``None`` for real files).
    events : int or None
        The twin's number of events, or the real dataset's where the registry knows it.
    directory : pathlib.Path
        The folder holding the files.
    reason : str
        Why this variant was chosen (set by the ``auto`` policy), else empty.
    """

    def __init__(
        self,
        files: Mapping[str, str | os.PathLike[str]],
        *,
        name: str,
        variant: str,
        directory: str | os.PathLike[str],
        seed: int | None = None,
        events: int | None = None,
        reason: str = "",
    ) -> None:
        super().__init__({str(k): Path(v) for k, v in files.items()})
        self.name = name
        self.variant = variant
        self.seed = seed
        self.events = events
        self.directory = Path(directory)
        self.reason = reason

    def __str__(self) -> str:
        if self.variant == "synthetic":
            events = "?" if self.events is None else f"{self.events:,}"
            what = f"synthetic twin, seed {self.seed}, {events} events"
        else:
            count = f"{len(self)} file" + ("" if len(self) == 1 else "s")
            events = "" if self.events is None else f", {self.events:,} events"
            what = f"real data, {count}{events}"
        return f"{self.name}: {what}, in {self.directory}"

    def __repr__(self) -> str:
        return (
            f"DatasetFiles(name={self.name!r}, variant={self.variant!r}, seed={self.seed!r}, "
            f"events={self.events!r}, files={dict.__repr__(self)})"
        )


# --------------------------------------------------------------------------- folder and digests


def data_dir() -> Path:
    """The cache folder: ``$HEPML_DATA_DIR``, else the user cache ``pooch.os_cache("hepml")``."""
    value = os.environ.get(ENV_DATA_DIR, "").strip()
    if value:
        return Path(value).expanduser()
    import pooch

    return Path(pooch.os_cache("hepml"))


def file_sha256(path: str | os.PathLike[str], *, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file, read in chunks of ``chunk_bytes``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def real_dir(name: str) -> Path:
    """The folder of the real files of dataset ``name``: ``<data_dir>/real/<name>``."""
    return data_dir() / "real" / name


# --------------------------------------------------------------------------- real files


def cached_real(name: str) -> DatasetFiles | None:
    """The real files of ``name`` if all are cached and verify, else ``None`` (no network)."""
    dataset = registry.get(name)
    directory = real_dir(name)
    if not directory.is_dir():
        return None
    manifest = read_manifest(directory)
    files: dict[str, Path] = {}
    for resource in dataset.resources:
        got = verified(directory, resource, manifest)
        if got is None:
            return None
        files.update(got)
    return real_files(dataset, directory, files)


def real_digests(name: str) -> list[dict[str, Any]]:
    """Digests of the cached real downloads of ``name`` (to pin them in the registry).

    Returns
    -------
    list of dict
        One per resource present in the cache: ``filename``, ``sha256`` (of the downloaded
        object: the archive for an archive), ``pinned`` (the registry's value or ``None``),
        ``url`` and ``files`` (member name -> sha256).
    """
    dataset = registry.get(name)
    manifest = read_manifest(real_dir(name))
    out = []
    for resource in dataset.resources:
        entry = manifest["resources"].get(resource.filename)
        if entry is None:
            continue
        out.append(
            {
                "filename": resource.filename,
                "sha256": entry["sha256"],
                "pinned": resource.sha256,
                "url": entry.get("url", ""),
                "files": {f: rec["sha256"] for f, rec in entry["files"].items()},
            }
        )
    return out


def real_files(dataset: Dataset, directory: Path, files: dict[str, Path]) -> DatasetFiles:
    """``files`` as the real :class:`DatasetFiles` of ``dataset``, in the registry's order."""
    ordered = {f: files[f] for f in dataset.files if f in files}
    return DatasetFiles(
        ordered, name=dataset.name, variant="real", directory=directory, events=dataset.events
    )


def empty_manifest() -> dict[str, Any]:
    """A manifest without any resource."""
    return {"version": 1, "resources": {}}


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of ``directory``, or an empty one when it is missing or unreadable."""
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return empty_manifest()
    if not isinstance(data, dict) or not isinstance(data.get("resources"), dict):
        return empty_manifest()
    return data


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (temporary file in the same folder, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=True)
        os.replace(tmp, directory / MANIFEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _stamp(path: Path, sha256: str) -> dict[str, Any]:
    st = path.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def verified(
    directory: Path, resource: Resource, manifest: dict[str, Any]
) -> dict[str, Path] | None:
    """The cached files of ``resource`` if they verify, else ``None``; refreshes stale stamps."""
    pinned = resource.sha256.lower() if resource.sha256 else None
    entry = manifest["resources"].get(resource.filename)
    if entry is None:
        return _adopt(directory, resource, manifest, pinned)
    if pinned is not None and str(entry.get("sha256", "")).lower() != pinned:
        return None
    records = entry.get("files", {})
    changed = False
    out: dict[str, Path] = {}
    for fname in resource.files:
        rec = records.get(fname)
        path = directory / fname
        if rec is None or not path.is_file():
            return None
        st = path.stat()
        if st.st_size != rec.get("size"):
            return None
        if st.st_mtime_ns != rec.get("mtime_ns"):
            if file_sha256(path) != rec.get("sha256"):
                return None
            records[fname] = _stamp(path, rec["sha256"])
            changed = True
        out[fname] = path
    if changed:
        _write_manifest(directory, manifest)
    return out


def _adopt(
    directory: Path, resource: Resource, manifest: dict[str, Any], pinned: str | None
) -> dict[str, Path] | None:
    """Adopt a plain file placed in the cache by hand, if it matches its pinned digest."""
    path = directory / resource.filename
    if resource.archive or pinned is None or not path.is_file():
        return None
    if file_sha256(path) != pinned:
        return None
    manifest["resources"][resource.filename] = {
        "sha256": pinned,
        "url": "",
        "files": {resource.filename: _stamp(path, pinned)},
    }
    _write_manifest(directory, manifest)
    return {resource.filename: path}


# --------------------------------------------------------------------------- staging


@contextlib.contextmanager
def staging(directory: Path) -> Iterator[Path]:
    """A private staging folder inside ``directory``, removed on exit whatever happens.

    Staging folders older than a day (left by a killed process) are removed first.
    """
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale(directory, _STAGING_PREFIX)
    folder = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=directory))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def install(
    directory: Path,
    manifest: dict[str, Any],
    resource: Resource,
    staged: Mapping[str, Path],
    digests: Mapping[str, str],
    *,
    sha256: str,
    url: str,
) -> dict[str, Any]:
    """Move verified staged files into ``directory`` and record them; return the manifest entry.

    Parameters
    ----------
    directory : pathlib.Path
        The dataset's cache folder (the staging folder must be inside it).
    manifest : dict
        The folder's manifest, updated in place and written.
    resource : Resource
        The resource the files come from.
    staged : mapping of str to pathlib.Path
        Final file name -> staged path.
    digests : mapping of str to str
        Final file name -> its hex SHA-256 digest.
    sha256 : str
        Digest of the downloaded object (the archive for an archive).
    url : str
        Where it was downloaded from.
    """
    # Forget the old entry first: files being replaced are never taken for verified ones.
    if manifest["resources"].pop(resource.filename, None) is not None:
        _write_manifest(directory, manifest)
    records = {}
    for fname, src in staged.items():
        dst = directory / fname
        os.replace(src, dst)
        records[fname] = _stamp(dst, digests[fname])
    entry = {"sha256": sha256, "url": url, "files": records}
    manifest["resources"][resource.filename] = entry
    _write_manifest(directory, manifest)
    return entry


def _remove_stale(directory: Path, prefix: str) -> None:
    """Remove staging folders older than a day (left by a killed process)."""
    now = time.time()
    for path in directory.glob(prefix + "*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_AFTER_S:
                shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- synthetic twins


def fetch_synthetic(
    name: str, *, seed: int = 0, events: int | None = None, progress: bool = True
) -> DatasetFiles:
    """The synthetic twin of ``name``: written once, atomically, then reused. No network.

    The twin lives in ``$HEPML_DATA_DIR/synthetic/<name>/seed<S>-n<N>-<generator version>/``: it is written into a
    temporary folder beside it and renamed into place once complete.

    Parameters
    ----------
    name : str
        A dataset with a twin (``helpers.data.synthetic.names()``).
    seed : int
        Seed of the generator.
    events : int or None
        Number of events (default: the twin's default size).
    progress : bool
        Passed to the twin writer.
    """
    from helpers.data import synthetic

    seed = int(seed)
    n = synthetic.default_events(name) if events is None else int(events)
    if n <= 0:
        raise ValueError(f"events must be positive, got {n}")
    base = data_dir() / "synthetic" / name
    final = base / f"seed{seed}-n{n}-{synthetic.generator_version()}"
    files = _read_twin(final)
    if files is None:
        base.mkdir(parents=True, exist_ok=True)
        _remove_stale(base, _TWIN_TMP_PREFIX)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TWIN_TMP_PREFIX}{final.name}-", dir=base))
        try:
            written = synthetic.write_twin(name, tmp, events=n, seed=seed, progress=progress)
            root = tmp.resolve()
            records = {}
            for fname, written_path in written.items():
                path = Path(written_path).resolve()
                records[str(fname)] = {
                    "path": path.relative_to(root).as_posix(),
                    "size": path.stat().st_size,
                }
            meta = {"name": name, "seed": seed, "events": n, "files": records}
            (tmp / TWIN_MANIFEST).write_text(json.dumps(meta, indent=1, sort_keys=True))
            if final.exists() and _read_twin(final) is None:
                shutil.rmtree(final)  # incomplete or damaged: replace it
            try:
                os.rename(tmp, final)
            except OSError:
                if _read_twin(final) is None:  # not another process's complete twin
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        files = _read_twin(final)
        if files is None:
            raise DataError(f"the twin of {name!r} in {final} does not verify after writing")
    return DatasetFiles(files, name=name, variant="synthetic", directory=final, seed=seed, events=n)


def _read_twin(folder: Path) -> dict[str, Path] | None:
    """The files of a complete twin folder (all present with their recorded sizes), else None."""
    try:
        meta = json.loads((folder / TWIN_MANIFEST).read_text())
        records = meta["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    out = {}
    for fname, rec in records.items():
        path = folder / rec["path"]
        try:
            if path.stat().st_size != rec["size"]:
                return None
        except OSError:
            return None
        out[fname] = path
    return out
