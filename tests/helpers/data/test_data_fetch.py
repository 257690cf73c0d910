"""helpers.data.download and helpers.data.cache against a loopback HTTP server (conftest.py)
serving files the tests make."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
import tarfile
import time
import types
import zipfile
from pathlib import Path

import pytest

from helpers.data import cache as C
from helpers.data import download as D
from helpers.data import registry, synthetic
from helpers.data.registry import Dataset, Resource

PLAIN = b"plain toy payload\n" * 4000  # 72 kB: large enough to be cut halfway
MEMBERS = {"toy/a.txt": b"member a\n" * 100, "toy/sub/b.txt": b"member b\n" * 50}
EXTRA = {"toy/README": b"not a dataset file\n"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("HEPML_DATA_DIR", str(root))
    monkeypatch.delenv("HEPML_MIRROR", raising=False)
    for var in ("NO_PROXY", "no_proxy"):  # the loopback server is never behind a proxy
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    return root


def register(monkeypatch, *resources: Resource, name: str = "toy") -> Dataset:
    dataset = Dataset(
        name=name,
        title="toy",
        description="toy dataset of the tests",
        reference="tests",
        resources=resources,
        events=123,
    )
    monkeypatch.setitem(registry.DATASETS, name, dataset)
    return dataset


def fake_twin(monkeypatch, name: str = "toy", fail: bool = False) -> list[tuple[int, int]]:
    """Register a tiny twin module for ``name``; returns the list of (seed, events) written."""
    calls: list[tuple[int, int]] = []
    mod = types.ModuleType(f"fake_twin_{name.replace('-', '_')}")
    mod.DEFAULT_EVENTS = 7
    mod.FILES = ("toy.txt",)

    def write(out, *, events, seed, progress):
        calls.append((seed, events))
        (out / "sub").mkdir()
        path = out / "sub" / "toy.txt"
        path.write_text(f"seed={seed} events={events}\n")
        if fail:
            raise RuntimeError("twin writer failed halfway")
        return {"toy.txt": path}

    mod.write = write
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(synthetic._MODULES, name, mod.__name__)
    return calls


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def tar_gz(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --------------------------------------------------------------------------- configuration


def test_fetch_is_the_function_and_no_submodule_shadows_it():
    import helpers.data

    assert importlib.util.find_spec("helpers.data.fetch") is None
    assert helpers.data.fetch is D.fetch and callable(helpers.data.fetch)
    assert helpers.data.DownloadError is D.DownloadError
    assert (helpers.data.DataError, helpers.data.DatasetFiles) == (C.DataError, C.DatasetFiles)
    assert helpers.data.DigestMismatchError is C.DigestMismatchError
    assert helpers.data.data_dir is C.data_dir


def test_source_policy_reads_env_and_rejects_unknown(monkeypatch):
    monkeypatch.setenv("HEPML_DATA_SOURCE", "REAL")
    assert D.source_policy() == "real"
    assert D.source_policy("synthetic") == "synthetic"
    monkeypatch.delenv("HEPML_DATA_SOURCE")
    assert D.source_policy() == "auto"
    monkeypatch.setenv("HEPML_DATA_SOURCE", "online")
    with pytest.raises(ValueError, match="HEPML_DATA_SOURCE='online'"):
        D.source_policy()


def test_data_dir_defaults_to_user_cache(monkeypatch, tmp_path):
    import pooch

    monkeypatch.delenv("HEPML_DATA_DIR", raising=False)
    assert C.data_dir() == Path(pooch.os_cache("hepml"))
    monkeypatch.setenv("HEPML_DATA_DIR", str(tmp_path))
    assert C.data_dir() == tmp_path


def test_mirror_replaces_origin(monkeypatch):
    res = Resource(filename="x.tar.gz", url="https://origin.example/x.tar.gz", archive="tar")
    monkeypatch.delenv("HEPML_MIRROR", raising=False)
    assert D.resource_url("toy", res) == "https://origin.example/x.tar.gz"
    monkeypatch.setenv("HEPML_MIRROR", "https://course.example/data/")
    assert D.resource_url("toy", res) == "https://course.example/data/toy/x.tar.gz"


def test_dataset_files_str_is_one_line(tmp_path):
    twin = C.DatasetFiles(
        {"a.h5": tmp_path / "a.h5"},
        name="higgs-ww-vs-ttbar",
        variant="synthetic",
        directory=tmp_path,
        seed=0,
        events=40000,
    )
    assert str(twin) == f"higgs-ww-vs-ttbar: synthetic twin, seed 0, 40,000 events, in {tmp_path}"
    real = C.DatasetFiles(
        {"d.root": tmp_path / "d.root"}, name="atlas-hww", variant="real", directory=tmp_path
    )
    assert str(real) == f"atlas-hww: real data, 1 file, in {tmp_path}"
    assert isinstance(real, dict) and real["d.root"] == tmp_path / "d.root"


# --------------------------------------------------------------------------- real downloads


def test_fetch_through_mirror_then_reuse_cache(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin", sha(PLAIN)))
    server.files["/m/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base + "/m")

    files = D.fetch("toy", source="real", progress=False)
    assert files.variant == "real" and files.events == 123
    assert files["toy.bin"] == cache / "real" / "toy" / "toy.bin"
    assert files["toy.bin"].read_bytes() == PLAIN
    assert server.requests["/m/toy/toy.bin"] == 1

    again = D.fetch("toy", source="real", progress=False)
    assert again == files
    assert server.total() == 1  # reused, no second request
    assert files_under(cache) == ["real/toy/.hepml-manifest.json", "real/toy/toy.bin"]


def test_unpinned_download_records_digest_for_pinning(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    D.fetch("toy", source="real", progress=False)
    (rec,) = C.real_digests("toy")
    assert rec["sha256"] == sha(PLAIN) and rec["pinned"] is None
    D.fetch("toy", source="real", progress=False)
    assert server.total() == 1


def test_digest_mismatch_is_rejected_and_nothing_is_left(server, cache, monkeypatch):
    wrong = "0" * 64
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin", wrong))
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    with pytest.raises(C.DigestMismatchError) as err:
        D.fetch("toy", source="real", progress=False)
    message = str(err.value)
    assert "toy.bin" in message and wrong in message and sha(PLAIN) in message
    assert "Fix:" in message and "--print-digest" in message
    assert (err.value.expected, err.value.actual) == (wrong, sha(PLAIN))
    assert files_under(cache) == []


def test_digest_mismatch_under_auto_is_an_error_not_a_fallback(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin", "1" * 64))
    fake_twin(monkeypatch)
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    with pytest.raises(C.DigestMismatchError):
        D.fetch("toy", source="auto", progress=False)
    assert files_under(cache) == []


def test_tampered_cached_file_is_downloaded_again(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin", sha(PLAIN)))
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    files = D.fetch("toy", source="real", progress=False)
    files["toy.bin"].write_bytes(PLAIN[:-1] + b"X")  # same size, other content
    assert C.cached_real("toy") is None
    files = D.fetch("toy", source="real", progress=False)
    assert files["toy.bin"].read_bytes() == PLAIN
    assert server.total() == 2


def test_file_placed_by_hand_is_adopted_when_it_matches_the_pin(cache, monkeypatch, closed_port):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin", sha(PLAIN)))
    monkeypatch.setenv("HEPML_MIRROR", f"http://127.0.0.1:{closed_port}")
    folder = cache / "real" / "toy"
    folder.mkdir(parents=True)
    (folder / "toy.bin").write_bytes(PLAIN)
    files = D.fetch("toy", source="real", progress=False)
    assert files["toy.bin"].read_bytes() == PLAIN


def test_download_cut_halfway_leaves_no_file(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    server.files["/toy/toy.bin"] = PLAIN
    server.drop.add("/toy/toy.bin")
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    start = time.monotonic()
    with pytest.raises(D.DownloadError) as err:
        D.fetch("toy", source="real", progress=False)
    assert time.monotonic() - start < 10
    assert "closed before the end" in err.value.reason
    assert server.requests["/toy/toy.bin"] == 1
    assert files_under(cache) == []
    assert [p.name for p in (cache / "real" / "toy").iterdir()] == []  # no staging folder


def test_keyboard_interrupt_during_download_leaves_no_file(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    server.files["/toy/toy.bin"] = PLAIN  # only probed: the downloader below is a stand-in
    monkeypatch.setenv("HEPML_MIRROR", server.base)

    def interrupted(progress, connect_timeout):
        def download(url, output_file, pooch):
            with open(output_file, "wb") as fh:
                fh.write(PLAIN[:1000])
            raise KeyboardInterrupt

        return download

    monkeypatch.setattr(D, "_downloader", interrupted)
    with pytest.raises(KeyboardInterrupt):
        D.fetch("toy", source="real", progress=False)
    assert files_under(cache) == []


def test_unreachable_server_under_real_fails_fast_and_clearly(cache, monkeypatch, closed_port):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    monkeypatch.setenv("HEPML_MIRROR", f"http://127.0.0.1:{closed_port}")
    start = time.monotonic()
    with pytest.raises(D.DownloadError) as err:
        D.fetch("toy", source="real", progress=False)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert f"127.0.0.1:{closed_port}" in message and "HEPML_DATA_SOURCE=synthetic" in message
    assert files_under(cache) == []


def test_no_twin_and_no_network_under_auto_is_one_clear_error(cache, monkeypatch, closed_port):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    monkeypatch.setenv("HEPML_MIRROR", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(C.DataError, match=r"real data unavailable .* and no synthetic twin"):
        D.fetch("toy", source="auto", progress=False)


def test_unreachable_server_under_auto_uses_the_twin(cache, monkeypatch, closed_port, capsys):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    calls = fake_twin(monkeypatch)
    monkeypatch.setenv("HEPML_MIRROR", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("HEPML_DATA_SOURCE", "auto")
    start = time.monotonic()
    files = D.fetch("toy", seed=3, progress=False)
    assert time.monotonic() - start < 5
    assert files.variant == "synthetic" and (files.seed, files.events) == (3, 7)
    assert calls == [(3, 7)]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert "real data unavailable" in lines[0] and "synthetic twin" in lines[0]
    assert "cannot connect" in files.reason


def test_missing_file_on_mirror_under_auto_uses_the_twin(server, cache, monkeypatch, capsys):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    fake_twin(monkeypatch)
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    files = D.fetch("toy", source="auto", progress=False)
    assert files.variant == "synthetic"
    assert "HTTP 404" in capsys.readouterr().out


def test_auto_prefers_verified_cache_without_network(server, cache, monkeypatch, capsys):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin", sha(PLAIN)))
    fake_twin(monkeypatch)
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    downloaded = D.fetch("toy", source="auto", progress=False)
    assert downloaded.variant == "real"
    assert "downloaded and verified" in capsys.readouterr().out
    files = D.fetch("toy", source="auto", progress=False)
    assert files.variant == "real" and server.total() == 1
    assert "cached and verified" in capsys.readouterr().out


def test_auto_downloads_when_reachable(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    fake_twin(monkeypatch)
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    files = D.fetch("toy", source="auto", progress=False)
    assert files.variant == "real" and files["toy.bin"].read_bytes() == PLAIN


def test_progress_bar_is_shown_on_download(server, cache, monkeypatch, capsys):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    D.fetch("toy", source="real", progress=True)
    assert "100%" in capsys.readouterr().err


# --------------------------------------------------------------------------- archives


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_archive_members_are_unpacked_into_the_cache(server, cache, monkeypatch, fmt):
    payload = (tar_gz if fmt == "tar" else zip_bytes)({**MEMBERS, **EXTRA})
    archive = "toy.tar.gz" if fmt == "tar" else "toy.zip"
    register(
        monkeypatch,
        Resource(archive, "https://origin.invalid/a", sha(payload), fmt, ("a.txt", "b.txt")),
    )
    server.files[f"/toy/{archive}"] = payload
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    files = D.fetch("toy", source="real", progress=False)
    assert list(files) == ["a.txt", "b.txt"]
    assert files["a.txt"].read_bytes() == MEMBERS["toy/a.txt"]
    assert files["b.txt"].read_bytes() == MEMBERS["toy/sub/b.txt"]
    # only the members stay: no archive, no extra file, no staging folder
    assert files_under(cache) == [
        "real/toy/.hepml-manifest.json",
        "real/toy/a.txt",
        "real/toy/b.txt",
    ]
    (rec,) = C.real_digests("toy")
    assert rec["sha256"] == sha(payload)
    assert rec["files"] == {
        "a.txt": sha(MEMBERS["toy/a.txt"]),
        "b.txt": sha(MEMBERS["toy/sub/b.txt"]),
    }
    D.fetch("toy", source="real", progress=False)
    assert server.total() == 1
    files["b.txt"].unlink()  # a member lost: the archive is fetched again
    assert D.fetch("toy", source="real", progress=False)["b.txt"].is_file()
    assert server.total() == 2


def test_archive_without_a_member_is_an_error_and_leaves_nothing(server, cache, monkeypatch):
    payload = tar_gz(MEMBERS)
    register(
        monkeypatch,
        Resource("toy.tar.gz", "https://o.invalid/a", None, "tar", ("a.txt", "c.root")),
    )
    server.files["/toy/toy.tar.gz"] = payload
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    with pytest.raises(C.DataError, match=r"lacks c\.root; it holds: a\.txt, b\.txt"):
        D.fetch("toy", source="real", progress=False)
    assert files_under(cache) == []


def test_archive_without_a_member_under_auto_uses_the_twin(server, cache, monkeypatch, capsys):
    """The top-tagging zip that lacks one of its eight files: auto falls back, real raises."""
    payload = zip_bytes(MEMBERS)
    register(
        monkeypatch,
        Resource("toy.zip", "https://o.invalid/a", None, "zip", ("a.txt", "b.txt", "c.h5")),
    )
    calls = fake_twin(monkeypatch)
    server.files["/toy/toy.zip"] = payload
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    files = D.fetch("toy", source="auto", seed=2, progress=False)
    assert files.variant == "synthetic" and calls == [(2, 7)]
    assert "toy.zip lacks c.h5" in files.reason
    out = capsys.readouterr().out
    assert "real data unavailable (toy.zip lacks c.h5)" in out and "synthetic twin" in out
    assert not (cache / "real").exists() or files_under(cache / "real") == []
    with pytest.raises(D.ArchiveError, match=r"lacks c\.h5"):
        D.fetch("toy", source="real", progress=False)


def test_tar_with_path_escaping_member_is_refused(server, cache, monkeypatch):
    payload = tar_gz({"../evil.txt": b"x", "a.txt": b"a"})
    register(monkeypatch, Resource("toy.tar.gz", "https://o.invalid/a", None, "tar", ("a.txt",)))
    server.files["/toy/toy.tar.gz"] = payload
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    with pytest.raises(C.DataError, match="unsafe archive member"):
        D.fetch("toy", source="real", progress=False)
    assert files_under(cache.parent) == []


# --------------------------------------------------------------------------- synthetic twins


def test_changed_generator_is_not_served_from_the_cache(cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    fake_twin(monkeypatch)
    monkeypatch.setenv("HEPML_DATA_SOURCE", "synthetic")
    old = D.fetch("toy", seed=1, events=3, progress=False)
    monkeypatch.setattr(synthetic, "generator_version", lambda: "0123456789")
    new = D.fetch("toy", seed=1, events=3, progress=False)
    assert new.directory != old.directory and new.directory.name.endswith("-0123456789")


def test_synthetic_never_touches_the_network(server, cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    calls = fake_twin(monkeypatch)
    server.files["/toy/toy.bin"] = PLAIN
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    monkeypatch.setenv("HEPML_DATA_SOURCE", "synthetic")
    files = D.fetch("toy", seed=5, events=11, progress=False)
    assert server.total() == 0
    folder = cache / "synthetic" / "toy" / f"seed5-n11-{synthetic.generator_version()}"
    assert files.directory == folder and files["toy.txt"] == folder / "sub" / "toy.txt"
    assert files["toy.txt"].read_text() == "seed=5 events=11\n"
    assert str(files) == f"toy: synthetic twin, seed 5, 11 events, in {folder}"
    again = D.fetch("toy", seed=5, events=11, progress=False)
    assert again == files and calls == [(5, 11)]  # written once, then reused
    D.fetch("toy", seed=6, progress=False)  # default size of the fake twin: 7
    assert calls == [(5, 11), (6, 7)]
    version = synthetic.generator_version()
    assert sorted(p.name for p in (cache / "synthetic" / "toy").iterdir()) == [
        f"seed5-n11-{version}",
        f"seed6-n7-{version}",
    ]


def test_failed_twin_write_leaves_nothing(cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    fake_twin(monkeypatch, fail=True)
    with pytest.raises(RuntimeError, match="halfway"):
        D.fetch("toy", source="synthetic", progress=False)
    assert files_under(cache) == []
    assert list((cache / "synthetic" / "toy").iterdir()) == []


def test_damaged_twin_folder_is_rewritten(cache, monkeypatch):
    register(monkeypatch, Resource("toy.bin", "https://origin.invalid/toy.bin"))
    calls = fake_twin(monkeypatch)
    files = D.fetch("toy", source="synthetic", progress=False)
    files["toy.txt"].write_text("truncated")
    files = D.fetch("toy", source="synthetic", progress=False)
    assert files["toy.txt"].read_text() == "seed=0 events=7\n" and len(calls) == 2
    manifest = json.loads((files.directory / C.TWIN_MANIFEST).read_text())
    assert manifest["files"]["toy.txt"]["path"] == "sub/toy.txt"
