"""``hepml demo``: a thin layer over :func:`autograder.demo.demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder import demo, demo_verdicts
    from autograder.demo_class import DemoConfigError

    try:
        result = demo.demo(
            args.root,
            out=args.out,
            quick=args.quick,
            workers=args.workers,
            assignments=args.assignment or None,
            config=args.config,
            progress=not args.no_progress,
        )
    except (DemoConfigError, FileExistsError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"hepml demo: {message}", file=sys.stderr)
        return 2
    print(result.summary())
    return demo_verdicts.exit_code(result)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``hepml`` command line."""
    p = sub.add_parser(
        "demo",
        help="a whole course cycle offline: release, a demo class, grading, feedback, report",
        description="Release and check the course, build a demo class of submissions (correct, "
        "untouched, partial, typical mistakes, hanging, kernel-killing, tampering; "
        "course/demo.toml), grade it in parallel, make feedback and the challenge leaderboard, "
        "and write a report folder with one summary page. Exits 1 when any submission got "
        "another grade than it deserves.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smaller class: the whole 00_setup class, correct and untouched of the others",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="report folder (default: ROOT/demo-report; emptied first)",
    )
    p.add_argument("--workers", type=int, default=None, help="submissions at once (default: cores)")
    p.add_argument(
        "--assignment", action="append", metavar="ID", help="only this assignment (repeat)"
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="the demo class (default: ROOT/course/demo.toml)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)
