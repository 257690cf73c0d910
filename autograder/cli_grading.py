"""``hepml grade``, ``hepml feedback`` and ``hepml export``: thin layers over the functions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder import grade

    result = grade.grade(
        args.assignment,
        args.submissions,
        root=args.root,
        workers=args.workers,
        force=args.force,
        scheduler=args.scheduler,
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.timeout,
        memory_limit_mb=args.memory_mb,
        progress=not args.no_progress,
        db_url=args.db,
        students=args.student or None,
    )
    print(result.summary())
    return grade.exit_code(result)


def cmd_feedback(args: argparse.Namespace) -> int:
    from autograder import feedback

    result = feedback.feedback(
        args.assignment, root=args.root, db_url=args.db, student=args.student
    )
    print(f"{len(result.files)} feedback file(s) written under feedback/")
    for leak in result.leaks:
        print(f"withheld (secret found): {leak}", file=sys.stderr)
    return 1 if result.leaks else 0


def cmd_export(args: argparse.Namespace) -> int:
    from autograder import export

    path = export.export(
        args.assignments or None, root=args.root, db_url=args.db, output=args.output
    )
    print(f"wrote {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``grade``, ``feedback`` and ``export`` to the ``hepml`` command line."""
    db_help = "gradebook URL, any database nbgrader supports (default: sqlite:///ROOT/gradebook.db)"
    p = sub.add_parser(
        "grade",
        help="autograde a class: parallel, with limits, resumable, tamper-resistant",
        description="Grade every submission of ASSIGNMENT (imported from SUBMISSIONS, a folder "
        "or .zip of notebooks named by student, or found in submitted/).",
    )
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("submissions", nargs="?", type=Path, default=None, metavar="SUBMISSIONS")
    p.add_argument("--workers", type=int, default=None, help="submissions at once (default: cores)")
    p.add_argument("--force", action="store_true", help="regrade unchanged graded submissions")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler address, or 'local' for a LocalCluster of worker processes",
    )
    p.add_argument("--db", default=None, metavar="URL", help=db_help)
    p.add_argument("--cell-timeout", type=float, default=None, metavar="S", help="seconds per cell")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds per notebook (default: 3 x the manifest's time budget + 60)",
    )
    p.add_argument(
        "--memory-mb", type=float, default=None, metavar="M", help="MiB per kernel (0: no limit)"
    )
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeat)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("feedback", help="feedback HTML without hidden tests or hidden values")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--db", default=None, metavar="URL", help=db_help)
    p.add_argument("--student", default=None, metavar="ID", help="only this student")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("export", help="write grades.csv from the gradebook")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--db", default=None, metavar="URL", help=db_help)
    p.add_argument("--output", type=Path, default=None, help="the CSV file to write")
    p.set_defaults(func=cmd_export)
