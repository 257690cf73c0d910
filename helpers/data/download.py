"""Fetch a course dataset: real files downloaded with pooch into the cache, or its synthetic twin.

Environment
-----------
``HEPML_DATA_DIR``
    The cache folder (see :mod:`helpers.data.cache`).
``HEPML_MIRROR``
    A base URL replacing every origin: a file is fetched from
    ``<mirror>/<dataset name>/<file or archive name>``.
``HEPML_DATA_SOURCE``
    ``auto`` (default), ``real`` or ``synthetic``. ``auto`` uses the cached real files when they
    verify, else tries the download with a short connect timeout, else the twin, and prints one
    line saying which it used and why. ``real`` fails with a clear error when the files cannot be
    had; ``synthetic`` never touches the network.

A download first probes the server with a TCP connection (so that an offline machine learns it
within seconds), then streams into a staging folder of the cache (pooch itself writes a temporary
file), is checked against its pinned SHA-256 digest, unpacked when it is an archive, and only
then moved into place by :func:`helpers.data.cache.install`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from helpers.data import registry
from helpers.data.cache import (
    DataError,
    DatasetFiles,
    DigestMismatchError,
    cached_real,
    empty_manifest,
    fetch_synthetic,
    file_sha256,
    install,
    read_manifest,
    real_dir,
    real_files,
    staging,
    verified,
)
from helpers.data.registry import Dataset, Resource

__all__ = [
    "AUTO_CONNECT_TIMEOUT",
    "REAL_CONNECT_TIMEOUT",
    "SOURCES",
    "ArchiveError",
    "DownloadError",
    "fetch",
    "fetch_real",
    "mirror",
    "resource_url",
    "source_policy",
]

ENV_MIRROR = "HEPML_MIRROR"
ENV_SOURCE = "HEPML_DATA_SOURCE"
SOURCES = ("auto", "real", "synthetic")
_SOURCE_HINT = (
    f"{ENV_SOURCE}=real to require the real files, or {ENV_SOURCE}=synthetic to skip this check"
)

AUTO_CONNECT_TIMEOUT = 3.0
"""Seconds ``auto`` waits for a connection before falling back to the twin."""
REAL_CONNECT_TIMEOUT = 15.0
"""Seconds ``real`` waits for a connection before failing."""
READ_TIMEOUT = 60.0
"""Seconds without any byte received after which a download is abandoned."""


class DownloadError(DataError):
    """The real files could not be downloaded (network, server or HTTP error).

    Attributes
    ----------
    url : str
        What was requested.
    reason : str
        Short cause, for one-line messages.
    """

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason


class ArchiveError(DataError):
    """A downloaded archive cannot give the dataset's files (unreadable, unsafe, or a member is
    missing or ambiguous); nothing of it is kept. Under ``auto`` the twin is used instead.

    Attributes
    ----------
    reason : str
        Short cause, for one-line messages.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --------------------------------------------------------------------------- configuration


def mirror() -> str | None:
    """The mirror base URL from ``$HEPML_MIRROR`` without a trailing slash, or ``None``."""
    value = os.environ.get(ENV_MIRROR, "").strip()
    return value.rstrip("/") or None


def source_policy(source: str | None = None) -> str:
    """The source policy: ``source`` if given, else ``$HEPML_DATA_SOURCE``, else ``"auto"``.

    Raises
    ------
    ValueError
        For anything but ``auto``, ``real`` or ``synthetic``.
    """
    value = source if source is not None else os.environ.get(ENV_SOURCE, "").strip() or "auto"
    value = value.strip().lower()
    if value not in SOURCES:
        origin = "source" if source is not None else ENV_SOURCE
        raise ValueError(f"{origin}={value!r} is not one of {', '.join(SOURCES)}")
    return value


def resource_url(name: str, resource: Resource) -> str:
    """Where ``resource`` of dataset ``name`` is downloaded from.

    ``<HEPML_MIRROR>/<name>/<resource.filename>`` when a mirror is set, else the origin URL.
    """
    base = mirror()
    if base is None:
        return resource.url
    return f"{base}/{name}/{resource.filename}"


# --------------------------------------------------------------------------- policy


def fetch(
    name: str,
    *,
    source: str | None = None,
    seed: int = 0,
    events: int | None = None,
    progress: bool = True,
) -> DatasetFiles:
    """The local files of dataset ``name``, real or synthetic according to the source policy.

    Parameters
    ----------
    name : str
        A registered dataset (``helpers.data.registry.names()``).
    source : {"auto", "real", "synthetic"} or None
        Overrides ``$HEPML_DATA_SOURCE`` (default ``auto``).
    seed : int
        Seed of the synthetic twin (ignored for real files).
    events : int or None
        Number of events of the twin (default: the twin's default size; ignored for real files).
    progress : bool
        Show a progress bar while downloading or writing.

    Returns
    -------
    DatasetFiles
        File name -> local path, with ``variant``, ``seed``, ``events`` and a one-line ``str``.

    Raises
    ------
    DownloadError
        Under ``real``, when the files cannot be downloaded.
    ArchiveError
        Under ``real``, when a downloaded archive lacks a member or cannot be unpacked (``auto``
        then uses the twin).
    DigestMismatchError
        Under ``real`` or ``auto``, when a download differs from its pinned digest.
    """
    registry.get(name)
    policy = source_policy(source)
    if policy == "synthetic":
        return fetch_synthetic(name, seed=seed, events=events, progress=progress)
    if policy == "real":
        return fetch_real(name, progress=progress)

    cached = cached_real(name)
    if cached is not None:
        cached.reason = "cached real files verified"
        _say(f"{name}: using the real files, cached and verified, in {cached.directory}")
        return cached
    try:
        files = fetch_real(name, progress=progress, connect_timeout=AUTO_CONNECT_TIMEOUT)
    except (DownloadError, ArchiveError) as exc:
        try:
            twin = fetch_synthetic(name, seed=seed, events=events, progress=progress)
        except (KeyError, ImportError) as twin_exc:
            raise DataError(
                f"{name}: real data unavailable ({exc.reason}) and no synthetic twin "
                f"({twin_exc}). Fix: check the network or {ENV_MIRROR}."
            ) from exc
        twin.reason = f"real data unavailable: {exc.reason}"
        _say(
            f"{name}: real data unavailable ({exc.reason}); using the synthetic twin "
            f"(seed {twin.seed}, {twin.events:,} events). Set {_SOURCE_HINT}."
        )
        return twin
    files.reason = "downloaded"
    _say(f"{name}: using the real files, downloaded and verified, in {files.directory}")
    return files


def _say(message: str) -> None:
    """The one visible line of the ``auto`` policy."""
    print(message, flush=True)


# --------------------------------------------------------------------------- real files


def fetch_real(
    name: str, *, progress: bool = True, connect_timeout: float = REAL_CONNECT_TIMEOUT
) -> DatasetFiles:
    """The real files of ``name``: verified from the cache, else downloaded (pooch) and verified.

    Parameters
    ----------
    name : str
        A registered dataset.
    progress : bool
        Show a tqdm progress bar while downloading.
    connect_timeout : float
        Seconds to wait for the server to accept a connection (s).

    Raises
    ------
    DownloadError
        When the server cannot be reached or the transfer fails (no file is left behind).
    DigestMismatchError
        When a download differs from its pinned digest (it is deleted).
    """
    dataset = registry.get(name)
    directory = real_dir(name)
    manifest = read_manifest(directory) if directory.is_dir() else empty_manifest()
    files: dict[str, Path] = {}
    for resource in dataset.resources:
        got = verified(directory, resource, manifest)
        if got is None:
            entry = _download(dataset, resource, directory, manifest, progress, connect_timeout)
            got = {f: directory / f for f in entry["files"]}
        files.update(got)
    return real_files(dataset, directory, files)


def _download(
    dataset: Dataset,
    resource: Resource,
    directory: Path,
    manifest: dict[str, Any],
    progress: bool,
    connect_timeout: float,
) -> dict[str, Any]:
    """Download ``resource`` into ``directory``, verify it, unpack it; return its manifest entry."""
    url = resource_url(dataset.name, resource)
    reason = _probe(url, connect_timeout)
    if reason is not None:
        raise _download_error(dataset, resource, url, reason)
    with staging(directory) as folder:
        downloaded = _pooch_retrieve(dataset, resource, url, folder, progress, connect_timeout)
        actual = file_sha256(downloaded)
        expected = resource.sha256.lower() if resource.sha256 else None
        if expected is not None and actual != expected:
            downloaded.unlink()
            raise DigestMismatchError(
                f"{resource.filename} (dataset {dataset.name!r}, from {url}) has SHA-256 "
                f"{actual} but {expected} is expected; the download was deleted. Fix: fetch "
                f"again (the transfer may have been corrupted); if the file changed upstream on "
                f"purpose, pin the new digest in helpers/data/registry.py (see `hepml data "
                f"fetch {dataset.name} --print-digest`), or set {ENV_MIRROR} to a mirror that "
                f"holds the expected file.",
                filename=resource.filename,
                expected=expected,
                actual=actual,
            )
        if resource.archive:
            staged = _unpack(dataset, resource, downloaded)
            digests = {f: file_sha256(p) for f, p in staged.items()}
        else:
            staged = {resource.filename: downloaded}
            digests = {resource.filename: actual}
        return install(directory, manifest, resource, staged, digests, sha256=actual, url=url)


def _download_error(dataset: Dataset, resource: Resource, url: str, reason: str) -> DownloadError:
    return DownloadError(
        f"cannot download {resource.filename} of dataset {dataset.name!r} from {url}: {reason}. "
        f"Fix: check the network connection, or set {ENV_MIRROR} to a reachable mirror; "
        f"offline, {ENV_SOURCE}=synthetic (or auto) uses the synthetic twin instead.",
        url=url,
        reason=reason,
    )


def _downloader(progress: bool, connect_timeout: float):
    """The pooch HTTP downloader: tqdm bar, connect and read timeouts in seconds."""
    import pooch

    return pooch.HTTPDownloader(progressbar=progress, timeout=(connect_timeout, READ_TIMEOUT))


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's INFO lines (its advice is about pooch.retrieve, not this package)."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _pooch_retrieve(
    dataset: Dataset,
    resource: Resource,
    url: str,
    folder: Path,
    progress: bool,
    connect_timeout: float,
) -> Path:
    """Download ``url`` into ``folder/<resource.filename>`` with pooch (temp file, then move)."""
    import pooch
    import requests

    try:
        with _quiet_pooch():
            path = pooch.retrieve(
                url,
                known_hash=None,
                fname=resource.filename,
                path=folder,
                downloader=_downloader(progress, connect_timeout),
                progressbar=progress,
            )
    except requests.exceptions.RequestException as exc:
        raise _download_error(dataset, resource, url, _short_reason(exc)) from exc
    except ValueError as exc:  # pooch: unsupported URL protocol
        raise DataError(f"cannot download {url}: {exc} (check {ENV_MIRROR})") from exc
    return Path(path)


def _short_reason(exc: BaseException) -> str:
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no data for {READ_TIMEOUT:g} s"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection closed before the end of the file"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _probe(url: str, timeout: float) -> str | None:
    """``None`` if a TCP connection to the URL's host (or its proxy) opens within ``timeout``
    seconds, else the reason. Runs in a thread so that a hanging DNS lookup cannot block."""
    from urllib.parse import urlsplit

    import requests.utils

    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    target = urlsplit(proxy or url)
    host = target.hostname
    if not host:
        return f"no host in {url!r}"
    port = target.port or (443 if target.scheme == "https" else 80)
    result: dict[str, BaseException | bool] = {}

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=attempt, name="hepml-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if result.get("ok"):
        return None
    error = result.get("error")
    if isinstance(error, socket.gaierror):
        return f"cannot resolve {host}"
    if isinstance(error, OSError):
        detail = error.strerror or type(error).__name__
        return f"cannot connect to {host}:{port} ({detail})"
    return f"no answer from {host}:{port} within {timeout:g} s"


# --------------------------------------------------------------------------- archives


def _unpack(dataset: Dataset, resource: Resource, archive: Path) -> dict[str, Path]:
    """Unpack ``archive`` beside itself with pooch's Untar/Unzip; return member name -> path."""
    import pooch

    if resource.archive == "tar":
        _check_tar(archive)
        processor = pooch.Untar(extract_dir="unpacked")
    else:
        processor = pooch.Unzip(extract_dir="unpacked")
    try:
        with _quiet_pooch():
            extracted = [Path(p) for p in processor(str(archive), "download", None)]
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(
            f"cannot unpack {resource.filename} of {dataset.name!r}: {exc}",
            reason=f"cannot unpack {resource.filename}",
        ) from exc
    by_name: dict[str, list[Path]] = {}
    for path in extracted:
        by_name.setdefault(path.name, []).append(path)
    missing = [m for m in resource.members if m not in by_name]
    if missing:
        held = ", ".join(sorted(by_name)[:20]) or "nothing"
        raise ArchiveError(
            f"{resource.filename} of dataset {dataset.name!r} lacks {', '.join(missing)}; "
            f"it holds: {held}",
            reason=f"{resource.filename} lacks {', '.join(missing)}",
        )
    ambiguous = [m for m in resource.members if len(by_name[m]) > 1]
    if ambiguous:
        raise ArchiveError(
            f"{resource.filename} of dataset {dataset.name!r} holds several files named "
            f"{', '.join(ambiguous)}",
            reason=f"{resource.filename} holds several {', '.join(ambiguous)}",
        )
    archive.unlink()
    return {m: by_name[m][0] for m in resource.members}


def _check_tar(archive: Path) -> None:
    """Refuse tar members that would land outside the extraction folder."""
    with tarfile.open(archive, "r") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            unsafe = member.name.startswith("/") or ".." in parts
            if member.issym() or member.islnk():
                unsafe = unsafe or member.linkname.startswith("/") or ".." in member.linkname
            if unsafe:
                raise ArchiveError(
                    f"{archive.name}: refusing unsafe archive member {member.name!r}",
                    reason=f"{archive.name} holds an unsafe member",
                )
