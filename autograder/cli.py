"""The ``hepml`` command line: a thin layer over functions of the course packages.

Each subcommand lives with the code it drives and adds itself through an ``add_parser(subparsers)``
function; handlers return an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# Modules that contribute subcommands (in the order of ``hepml --help``).
_SUBCOMMAND_MODULES = (
    "autograder.cli_course",
    "autograder.cli_grading",
    "autograder.cli_leaderboard",
    "autograder.cli_demo",
    "helpers.data.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hepml",
        description="Machine learning in particle physics: release, check and grade the course.",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="course root (default: the folder holding course/manifest.toml above the cwd)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of the course is not installed yet
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hepml`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("hepml: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
