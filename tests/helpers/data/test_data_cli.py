"""``hepml data``: list, info, fetch (with --print-digest) and synth, as functions and argv."""

from __future__ import annotations

import argparse
import hashlib
import sys
import types

import pytest

from helpers.data import cli, registry, synthetic
from helpers.data.registry import Dataset, Resource

PAYLOAD = b"toy file for the command line\n" * 100


@pytest.fixture
def served(server, monkeypatch, tmp_path):
    """Serve PAYLOAD as <mirror>/toy/toy.bin on 127.0.0.1; register the unpinned dataset toy."""
    server.files["/toy/toy.bin"] = PAYLOAD
    monkeypatch.setenv("HEPML_MIRROR", server.base)
    monkeypatch.setenv("HEPML_DATA_DIR", str(tmp_path / "cache"))
    for var in ("NO_PROXY", "no_proxy"):  # the loopback server is never behind a proxy
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    toy = Dataset("toy", "toy", "toy", "tests", (Resource("toy.bin", "https://o.invalid/t"),))
    monkeypatch.setitem(registry.DATASETS, "toy", toy)
    return server


@pytest.fixture
def toy_twin(monkeypatch):
    mod = types.ModuleType("fake_cli_twin")
    mod.DEFAULT_EVENTS = 5

    def write(out, *, events, seed, progress):
        path = out / "toy.txt"
        path.write_text(f"{seed} {events} {progress}")
        return {"toy.txt": path}

    mod.write = write
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(synthetic._MODULES, "toy", mod.__name__)


def test_list_shows_every_dataset(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HEPML_DATA_DIR", str(tmp_path))
    assert cli.list_main() == 0
    out = capsys.readouterr().out
    for name in registry.names():
        assert name in out
    assert f"cache: {tmp_path}" in out


def test_info_shows_origin_digest_and_unverified_flag(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HEPML_DATA_DIR", str(tmp_path))
    assert cli.info_main("atlas-hww") == 0
    out = capsys.readouterr().out
    assert "dataWW_d1.root" in out and "(UNVERIFIED)" in out and "sha256: not pinned" in out
    assert "real files: not cached" in out
    assert cli.info_main("nope") == 1
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_fetch_print_digest_downloads_and_prints_sha256(served, capsys):
    assert cli.fetch_main("toy", print_digest=True, progress=False) == 0
    out = capsys.readouterr().out
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert out.splitlines()[0].startswith("toy: real data, 1 file, in ")
    assert f"sha256:{digest}  toy.bin  (not pinned)" in out


def test_fetch_under_real_reports_an_unreachable_mirror(served, capsys, monkeypatch, closed_port):
    monkeypatch.setenv("HEPML_MIRROR", f"http://127.0.0.1:{closed_port}")
    assert cli.fetch_main("toy", source="real", progress=False) == 1
    assert "cannot download toy.bin" in capsys.readouterr().err


def test_fetch_synthetic_and_synth_write_the_twin(toy_twin, served, capsys, tmp_path):
    assert cli.fetch_main("toy", source="synthetic", seed=2, events=9, progress=False) == 0
    assert "toy: synthetic twin, seed 2, 9 events" in capsys.readouterr().out
    out_dir = tmp_path / "twin"
    assert cli.synth_main("toy", events=4, seed=1, out=out_dir) == 0
    assert (out_dir / "toy.txt").read_text() == "1 4 True"
    assert f"in {out_dir}" in capsys.readouterr().out


def test_argv_layer_dispatches_to_the_functions(toy_twin, served, capsys, tmp_path):
    assert (
        cli.main(
            ["data", "synth", "toy", "--events", "3", "--seed", "7", "--out", str(tmp_path / "o")]
        )
        == 0
    )
    assert (tmp_path / "o" / "toy.txt").read_text() == "7 3 True"
    assert cli.main(["data", "fetch", "toy", "--source", "synthetic", "--events", "2"]) == 0
    assert "seed 0, 2 events" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["data", "fetch", "toy", "--source", "online"])


def test_add_parser_plugs_into_another_command_line():
    parser = argparse.ArgumentParser(prog="hepml")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("grade")
    cli.add_parser(sub)
    args = parser.parse_args(["data", "info", "top-tagging"])
    assert args.func.__name__ == "_run" and args.name == "top-tagging"
