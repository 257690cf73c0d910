"""The ``hepml`` command line: a thin layer over functions of the autograder package."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("hepml: not implemented yet")
