"""Run the course benchmarks and print one table plus a JSON file.

Each ``bench/bench_<topic>.py`` has a ``main() -> dict`` that prints its own small table and returns
its figures (nested dicts of numbers and strings). This runner calls them one after another in one
process run, so a change's effect can be compared side by side, and writes everything to
``bench/results/<timestamp>.json`` (and ``latest.json``).

Usage: ``python -m bench [TOPIC ...] [--out FILE]`` (topics are the ``<topic>`` parts of the file
names; default: all).
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
    args = parser.parse_args(argv)
    unknown = sorted(set(args.topics) - set(topics()))
    if unknown:
        parser.error(f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(topics())}")
    results = run(args.topics or None)
    rows: list[tuple[str, str]] = []
    for topic, value in results.items():
        if topic != "machine":
            _flatten(topic, value, rows)
    width = max((len(k) for k, _ in rows), default=10)
    print("\n=== summary ===")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    out = args.out or HERE / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    out.write_text(text)
    (out.parent / "latest.json").write_text(text)
    print(f"\nwrote {out}")
    return (
        0
        if all("error" not in v.get("figures", {}) for k, v in results.items() if k != "machine")
        else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
