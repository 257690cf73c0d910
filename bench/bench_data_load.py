"""Load time of each course dataset from the cache, with its file sizes.

The synthetic twins are used at their default size (written into the cache on the first run, so
the first run also reports the write time); the real ATLAS 10k slice in ``../shared/data/real``
is timed too when present. Also: the time of a cache hit of :func:`helpers.data.fetch` and the
SHA-256 throughput that bounds a full re-verification.

Run: ``python -m bench data_load`` or ``python bench/bench_data_load.py``.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPEAT = 3
REAL_SLICE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "real"
    / "atlas-opendata-hww"
    / "dataWW_d1_last10k.root"
)


def _best(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, Any]:
    """Median wall time (s) of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _rows(result: Any) -> int:
    if isinstance(result, tuple):
        return sum(len(r) for r in result)
    if isinstance(result, dict):
        return sum(len(r) for r in result.values())
    return len(result)


def _mb(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths) / 1e6


def _bench_twin(name: str, fetch_mod: Any, loaders: Any, registry: Any) -> dict[str, Any]:
    """Write (first run) and load the default-size twin of ``name``; its figures by label."""
    figures: dict[str, Any] = {}
    start = time.perf_counter()
    files = fetch_mod.fetch_synthetic(name, progress=False)
    first = time.perf_counter() - start
    hit, _ = _best(lambda: fetch_mod.fetch(name, source="synthetic", progress=False))
    loader = getattr(loaders, registry.get(name).loader)
    if name == "top-tagging":
        targets = {f: (lambda p=p: loader(p)) for f, p in files.items() if p.suffix == ".h5"}
    else:
        targets = {"": lambda: loader(files)}
    for fname, fn in targets.items():
        seconds, result = _best(fn)
        paths = [files[fname]] if fname else list(files.values())
        size = _mb(paths)
        figures[f"{name}/{fname}" if fname else name] = {
            "events": files.events,
            "rows": _rows(result),
            "size_mb": round(size, 2),
            "load_s": round(seconds, 4),
            "mb_per_s": round(size / seconds, 1) if seconds else None,
        }
    figures[name + " (fetch)"] = {"first_fetch_s": round(first, 3), "cache_hit_s": round(hit, 5)}
    return figures


def _bench_pandas_hdf(loaders: Any, rows: int = 20_000) -> dict[str, Any]:
    """PyTables reader against ``pd.read_hdf`` on a top-tagging-shaped blosc table."""
    import tempfile

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = list(loaders.TOP_TAGGING_COLUMNS[:-2])
    frame = pd.DataFrame(rng.normal(size=(rows, len(columns))).astype("float32"), columns=columns)
    frame["ttv"] = np.zeros(rows, dtype=np.int64)
    frame["is_signal_new"] = rng.integers(0, 2, rows)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("table", "fixed"):
            path = Path(tmp) / f"{fmt}.h5"
            frame.to_hdf(path, key="table", format=fmt, complib="blosc", complevel=5)
            ours, _ = _best(lambda path=path: loaders.read_pandas_hdf(path))
            theirs, _ = _best(lambda path=path: pd.read_hdf(path, "table"))
            figures[f"read_pandas_hdf {fmt} {rows:,}x806"] = {
                "rows": rows,
                "size_mb": round(_mb([path]), 2),
                "load_s": round(ours, 4),
                "mb_per_s": round(_mb([path]) / ours, 1),
                "pd_read_hdf_s": round(theirs, 4),
            }
    return figures


def main() -> dict:
    """Time every loader on the cached twins (and the real slice); print a table."""
    fetch_mod = importlib.import_module("helpers.data.download")  # fetch, fetch_synthetic
    from helpers.data import loaders, registry, synthetic

    figures: dict[str, Any] = {}
    for name in registry.names():
        try:
            synthetic.twin_module(name)
        except ImportError as exc:
            figures[name] = {"status": f"twin not available ({exc.name})"}
            continue
        try:
            figures.update(_bench_twin(name, fetch_mod, loaders, registry))
        except Exception as exc:  # a twin under construction must not hide the others
            figures[name] = {"status": f"error: {type(exc).__name__}: {exc}"}

    if REAL_SLICE.is_file():
        seconds, frame = _best(lambda: loaders.load_atlas_hww(REAL_SLICE))
        figures["atlas-hww real 10k slice"] = {
            "rows": len(frame),
            "size_mb": round(_mb([REAL_SLICE]), 2),
            "load_s": round(seconds, 4),
        }

    figures.update(_bench_pandas_hdf(loaders))

    blob = os.urandom(64 * 1024 * 1024)
    seconds, _ = _best(lambda: hashlib.sha256(blob).hexdigest())
    figures["sha256"] = {"mb_per_s": round(len(blob) / 1e6 / seconds, 1)}

    print(f"{'dataset / file':<36} {'rows':>9} {'MB':>8} {'load s':>8} {'MB/s':>7} {'pandas s':>8}")
    for label, rec in figures.items():
        if "load_s" in rec:
            rate = rec.get("mb_per_s")
            print(
                f"{label:<36} {rec['rows']:>9,} {rec['size_mb']:>8.2f} {rec['load_s']:>8.3f} "
                f"{'' if rate is None else rate:>7} {rec.get('pd_read_hdf_s', ''):>8}"
            )
        else:
            print(f"{label:<36} {rec}")
    return figures


if __name__ == "__main__":
    main()
