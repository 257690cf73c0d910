"""Run the course benchmarks and print one table plus a JSON file.

Each ``bench/bench_<topic>.py`` has a ``main() -> dict`` that prints its own small table and returns
its figures (nested dicts of numbers and strings). This runner calls them one after another in one
process run, so a change's effect can be compared side by side, and writes everything to
``bench/results/<timestamp>.json`` (and ``latest.json``).

Usage: ``python -m bench [TOPIC ...] [--skip TOPIC] [--out FILE] [--compare OLD.json]`` (topics
are the ``<topic>`` parts of the file names; default: all). ``--compare`` puts the figures of an
earlier run (a JSON file this runner wrote) beside the new ones, with their ratio, so the effect
of a change on speed reads off one table. ``--list`` prints the topics.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def topics() -> list[str]:
    """The benchmark topics found in ``bench/``."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def _flatten(prefix: str, value, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, rows)
    elif isinstance(value, float):
        rows.append((prefix, f"{value:.4g}"))
    else:
        rows.append((prefix, str(value)))


def _figures(results: dict) -> dict[str, object]:
    """Every figure of a results dict by its dotted name (``topic.figures.name``)."""
    out: dict[str, object] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        else:
            out[prefix] = value

    for topic, value in results.items():
        if topic != "machine":
            walk(topic, value)
    return out


def jsonable(value):
    """``value`` with every dict key a string (a tuple key becomes ``"a/b"``), for ``json``."""
    if isinstance(value, dict):
        return {
            ("/".join(map(str, k)) if isinstance(k, tuple) else str(k)): jsonable(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def compare_rows(new: dict, old: dict) -> list[tuple[str, str, str, str]]:
    """``(figure, new, old, new/old)`` for every figure of ``new`` (numbers get a ratio)."""

    def fmt(value) -> str:
        if value is None:
            return "-"
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    before = _figures(old)
    rows = []
    for key, value in _figures(new).items():
        prev = before.get(key)
        ratio = ""
        numbers = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, prev)
        )
        if numbers and prev:
            ratio = f"{value / prev:.3g}"
        rows.append((key, fmt(value), fmt(prev), ratio))
    return rows


def run(selected: list[str] | None = None) -> dict:
    """Run the selected benchmarks (default all); return {topic: figures or error}."""
    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        }
    }
    for topic in selected or topics():
        print(f"\n=== bench_{topic} ===", flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.bench_{topic}")
            figures = module.main()
        except Exception as exc:
            traceback.print_exc()
            figures = {"error": f"{type(exc).__name__}: {exc}"}
        results[topic] = {"figures": figures, "wall_s": round(time.perf_counter() - start, 2)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="*", help=f"any of: {', '.join(topics())}")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--skip", action="append", default=[], metavar="TOPIC", help="leave out")
    parser.add_argument(
        "--compare", type=Path, default=None, metavar="OLD", help="an earlier results JSON"
    )
    parser.add_argument("--list", action="store_true", help="print the topics and stop")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(topics()))
        return 0
    unknown = sorted(set(args.topics + args.skip) - set(topics()))
    if unknown:
        parser.error(f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(topics())}")
    if args.compare is not None and not args.compare.is_file():
        parser.error(f"--compare: no file {args.compare}")
    selected = [t for t in (args.topics or topics()) if t not in args.skip]
    results = jsonable(run(selected))  # one set of names for the JSON, the table and --compare
    # The figures are saved before anything else can go wrong with them.
    out = args.out or HERE / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    out.write_text(text)
    (out.parent / "latest.json").write_text(text)
    print("\n=== summary ===")
    if args.compare is not None:
        table = compare_rows(results, json.loads(args.compare.read_text()))
        header = ("figure", "now", f"before ({args.compare.name})", "now/before")
        widths = [max(len(r[i]) for r in [header, *table]) for i in range(4)]
        for row in [header, *table]:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    else:
        rows: list[tuple[str, str]] = []
        for topic, value in results.items():
            if topic != "machine":
                _flatten(topic, value, rows)
        width = max((len(k) for k, _ in rows), default=10)
        for key, value in rows:
            print(f"{key:<{width}}  {value}")
    print(f"\nwrote {out}")
    return (
        0
        if all("error" not in v.get("figures", {}) for k, v in results.items() if k != "machine")
        else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
