"""``hepml release`` and ``hepml check``."""

from __future__ import annotations

import argparse
import sys

from autograder import course_check, nbgrader_run, release


def cmd_release(args: argparse.Namespace) -> int:
    nbgrader_run.ensure_on_path()
    result = release.release(args.assignments or None, root=args.root)
    print(result.summary())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    nbgrader_run.ensure_on_path()
    problems = course_check.check(args.assignments or None, root=args.root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"hepml check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("hepml check: release/ is up to date and leaks nothing")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="regenerate release/ from source/ through nbgrader")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.set_defaults(func=cmd_release)
    p = sub.add_parser(
        "check", help="fail on a stale release, leaked solutions/hidden tests, outputs in source"
    )
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.set_defaults(func=cmd_check)
