"""``hepml data``: list, describe, fetch and synthesise the course datasets.

Each command is a function first (``list_main``, ``info_main``, ``fetch_main``, ``synth_main``)
that prints its result and returns an exit code; :func:`add_parser` adds the thin argparse layer
to the ``hepml`` command line, which calls ``args.func(args)`` after parsing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from helpers.data import registry
from helpers.data.cache import DataError, cached_real, data_dir, real_digests
from helpers.data.download import SOURCES, fetch, mirror, resource_url, source_policy

__all__ = ["add_parser", "fetch_main", "info_main", "list_main", "main", "synth_main"]


def _twin_available(name: str) -> bool:
    from helpers.data import synthetic

    try:
        synthetic.twin_module(name)
    except (KeyError, ImportError):
        return False
    return True


def _error(message: str) -> int:
    print(f"hepml data: error: {message}", file=sys.stderr)
    return 1


def list_main() -> int:
    """Print one line per dataset: name, whether the real files are cached, the twin, title."""
    rows = []
    for name in registry.names():
        real = "cached" if cached_real(name) is not None else "-"
        twin = "yes" if _twin_available(name) else "no"
        rows.append((name, real, twin, registry.get(name).title))
    width = max(len(r[0]) for r in rows)
    print(f"{'dataset':<{width}}  real    twin  description")
    for name, real, twin, title in rows:
        print(f"{name:<{width}}  {real:<6}  {twin:<4}  {title}")
    print(f"cache: {data_dir()}  source: {source_policy()}  mirror: {mirror() or '-'}")
    return 0


def info_main(name: str) -> int:
    """Print what ``name`` is, where its files come from, their digests and the cache state."""
    try:
        dataset = registry.get(name)
    except KeyError as exc:
        return _error(exc.args[0])
    print(f"{dataset.name}: {dataset.title}")
    print(f"  {dataset.description}")
    print(f"  reference: {dataset.reference}")
    if dataset.events:
        print(f"  events (real): {dataset.events:,}")
    print(f"  files: {', '.join(dataset.files)}")
    print(f"  loader: helpers.data.{dataset.loader}")
    for res in dataset.resources:
        kind = f"{res.archive} archive" if res.archive else "file"
        print(f"  {kind} {res.filename}")
        print(f"    origin: {res.url}" + ("" if res.url_verified else "  (UNVERIFIED)"))
        if mirror():
            print(f"    mirror: {resource_url(name, res)}")
        print(f"    sha256: {res.sha256 or 'not pinned'}")
        if res.note:
            print(f"    note: {res.note}")
    cached = cached_real(name)
    print(f"  real files: {'cached in ' + str(cached.directory) if cached else 'not cached'}")
    if _twin_available(name):
        from helpers.data import synthetic

        default = synthetic.default_events(name)
        twins = sorted(p.name for p in (data_dir() / "synthetic" / name).glob("seed*-n*"))
        print(f"  synthetic twin: default {default:,} events; cached: {', '.join(twins) or '-'}")
    else:
        print("  synthetic twin: not available yet")
    return 0


def fetch_main(
    name: str,
    *,
    source: str | None = None,
    seed: int = 0,
    events: int | None = None,
    print_digest: bool = False,
    progress: bool = True,
) -> int:
    """Fetch ``name`` and print where its files are; with ``print_digest``, their SHA-256.

    ``print_digest`` pins downloads, so it implies ``source="real"`` unless a source is given.
    """
    try:
        registry.get(name)
        if print_digest and source is None:
            source = "real"
        files = fetch(name, source=source, seed=seed, events=events, progress=progress)
    except (KeyError, ValueError, ImportError) as exc:
        return _error(str(exc.args[0]) if exc.args else str(exc))
    except DataError as exc:
        return _error(str(exc))
    print(files)
    for fname, path in files.items():
        print(f"  {fname}: {path}")
    if print_digest:
        if files.variant != "real":
            print("  (synthetic twin: nothing downloaded, no digest to pin)")
        for rec in real_digests(name):
            state = "pinned" if rec["pinned"] else "not pinned"
            if rec["pinned"] and rec["pinned"].lower() != rec["sha256"]:
                state = f"DIFFERS from pinned {rec['pinned']}"
            print(f"sha256:{rec['sha256']}  {rec['filename']}  ({state})")
            if len(rec["files"]) > 1 or rec["filename"] not in rec["files"]:
                for member, digest in rec["files"].items():
                    print(f"    member sha256:{digest}  {member}")
    return 0


def synth_main(name: str, *, events: int, seed: int, out: str | Path, progress: bool = True) -> int:
    """Write the synthetic twin of ``name`` into ``out`` (``synthetic.write_twin``)."""
    from helpers.data import synthetic

    try:
        written = synthetic.write_twin(name, out, events=events, seed=seed, progress=progress)
    except (KeyError, ImportError) as exc:
        return _error(str(exc.args[0]) if exc.args else str(exc))
    print(f"{name}: synthetic twin, seed {seed}, {events:,} events, in {Path(out)}")
    for fname, path in written.items():
        print(f"  {fname}: {path}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        return list_main()
    if args.data_command == "info":
        return info_main(args.name)
    if args.data_command == "fetch":
        return fetch_main(
            args.name,
            source=args.source,
            seed=args.seed,
            events=args.events,
            print_digest=args.print_digest,
        )
    return synth_main(args.name, events=args.events, seed=args.seed, out=args.out)


def add_parser(subparsers: Any) -> None:
    """Add the ``data`` command to an argparse subparsers object.

    After ``args = parser.parse_args()``, run it with ``args.func(args)`` (an exit code).
    """
    parser = subparsers.add_parser(
        "data", help="list, describe, fetch or synthesise the course datasets"
    )
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    sub.add_parser("list", help="the datasets, their cache state and twins")
    p_info = sub.add_parser("info", help="origin, files, digests and cache state of a dataset")
    p_info.add_argument("name")
    p_fetch = sub.add_parser("fetch", help="download (or synthesise) a dataset into the cache")
    p_fetch.add_argument("name")
    p_fetch.add_argument("--source", choices=SOURCES, default=None, help="default: auto")
    p_fetch.add_argument("--seed", type=int, default=0, help="seed of the twin")
    p_fetch.add_argument("--events", type=int, default=None, help="events of the twin")
    p_fetch.add_argument(
        "--print-digest",
        action="store_true",
        help="print the SHA-256 of what was downloaded, to pin it (implies --source real)",
    )
    p_synth = sub.add_parser("synth", help="write a synthetic twin into a folder")
    p_synth.add_argument("name")
    p_synth.add_argument("--events", type=int, required=True)
    p_synth.add_argument("--seed", type=int, required=True)
    p_synth.add_argument("--out", type=Path, required=True)
    parser.set_defaults(func=_run)


def main(argv: list[str] | None = None) -> int:
    """Run ``hepml data ...`` on its own: ``main(["data", "list"])``."""
    parser = argparse.ArgumentParser(prog="hepml")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
