"""The ``hepml`` command line: argparse only, a thin layer over ``main``-style functions.

Every handler imports the code it drives when it runs, so ``hepml --help`` imports no numpy,
pandas, torch or TensorFlow. Handlers return an exit code. ``hepml data`` comes from
:mod:`helpers.data.cli`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DB_HELP = "gradebook URL, any database nbgrader supports (default: sqlite:///ROOT/gradebook.db)"


class CommandError(Exception):
    """An expected mistake (a wrong argument, a missing file): one line on stderr, exit 2."""


def _message(exc: BaseException) -> str:
    """The message of an exception on one line (a KeyError's without its quotes)."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return " | ".join(lines) or type(exc).__name__


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the user made a mistake the message explains, not a bug."""
    import zipfile

    from autograder.course.manifest import ManifestError
    from autograder.grading.patterns import PatternError
    from autograder.grading.preflight import DataPathError
    from autograder.grading.sandbox import SandboxUnavailable

    return (
        CommandError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        KeyError,
        ManifestError,
        PatternError,
        DataPathError,
        SandboxUnavailable,
        zipfile.BadZipFile,
    )


# -- release and check ----------------------------------------------------------------------


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.course import nbgrader_cli
    from autograder.release import generate

    nbgrader_cli.ensure_on_path()
    try:
        result = generate.release(args.assignments or None, root=args.root)
    except generate.ReleaseError as exc:
        print(f"hepml release: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.course import nbgrader_cli
    from autograder.release import check

    nbgrader_cli.ensure_on_path()
    problems = check.check(args.assignments or None, root=args.root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"hepml check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("hepml check: release/ is up to date and leaks nothing")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from autograder.course import manifest, nbgrader_cli
    from autograder.release import publish

    nbgrader_cli.ensure_on_path()
    try:
        result = publish.publish(args.out, root=args.root)
    except (publish.PublishError, manifest.ManifestError) as exc:
        print(f"hepml publish: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def _add_course_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="regenerate release/ from source/ through nbgrader")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.set_defaults(func=cmd_release)
    p = sub.add_parser(
        "check", help="fail on a stale release, leaked solutions/hidden tests, outputs in source"
    )
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser(
        "publish",
        help="write the student copy (release notebooks + package), refused if anything leaks",
        description="Write the student copy of the course into OUT: the release notebooks, the "
        "helpers and autograder packages, a student README, environment.yml, binder/, "
        "pyproject.toml and constraints.txt; never source/, course/, tests/ or bench/. Every "
        "file is scanned for solution text, hidden tests and hidden numbers first; a leaking "
        "copy is not written (exit 2).",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="the student copy's folder")
    p.set_defaults(func=cmd_publish)


# -- grade, feedback, export ----------------------------------------------------------------


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grading import grade

    if args.dry_run:
        return _dry_run(args)
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
        sandbox=not args.no_sandbox,
        pattern=args.pattern,
    )
    print(result.summary())
    return grade.exit_code(result)


def _dry_run(args: argparse.Namespace) -> int:
    """``hepml grade --dry-run``: print how the files would be matched; copy and grade nothing."""
    from autograder.course import manifest
    from autograder.grading import collect

    if args.submissions is None:
        raise CommandError("--dry-run shows how the files of SUBMISSIONS are matched: name them")
    course = manifest.load(args.root)
    course.assignment(args.assignment)
    found = collect.collect(
        args.assignment,
        args.submissions,
        root=course.root,
        other_assignments=course.ids,
        pattern=args.pattern,
        dry_run=True,
    )
    for line in found.dry_run_lines():
        print(line)
    students = {m.student for m in found.matched}
    print(
        f"dry run: {len(found.matched)} file(s) of {len(students)} student(s) matched, "
        f"{len(found.unmatched)} unmatched; nothing copied"
    )
    return 0


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


def _add_grading_commands(sub: argparse._SubParsersAction) -> None:
    db_help = DB_HELP
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
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without the kernel sandbox where user namespaces are unavailable (without "
        "this flag grading refuses to start there); the summary and the report say so",
    )
    p.add_argument(
        "--pattern",
        default=None,
        metavar="REGEX",
        help="match SUBMISSIONS' files by a regular expression with named groups student_id and "
        "file_id (optional: timestamp), as nbgrader's zip_collect; or a preset: 'lms' for "
        "name_<user id>_<submission id>_<file> downloads (default: the layouts of the docs)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print which file goes to which student and assignment; copy and grade nothing",
    )
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


# -- leaderboard ----------------------------------------------------------------------------


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Rank the challenge files, print the table; 2 when the inputs are missing or unreadable."""
    from autograder.leaderboard import board

    try:
        result = board.leaderboard(
            args.assignment,
            root=args.root,
            predictions_dir=args.predictions,
            labels=args.labels,
            out_dir=args.out,
        )
    except (LookupError, ValueError) as exc:  # unreadable or invalid labels and predictions
        raise CommandError(_message(exc)) from exc
    print(result.summary())
    return 0


def _add_leaderboard_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="rank challenge prediction files on the hidden labels (AUC, 1/eps_B at 30%%)",
        description=(
            "Rank <group>__<model>.npy prediction files on the hidden challenge labels by AUC "
            "and background rejection at 30%% signal efficiency; write leaderboard.csv, "
            ".html and .png. Invalid files are reported with the reason and not ranked."
        ),
    )
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument(
        "--predictions",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of .npy files (default: submitted/*/ASSIGNMENT/submission_predictions/)",
    )
    p.add_argument(
        "--labels",
        default=None,
        metavar="FILE",
        help="hidden labels: .npy, .npz, .csv or pandas .h5 of is_signal_new in challenge-file "
        "order, 'twin:class' for the class's challenge files (hepml challenge), or "
        "'twin[:SEED]' to regenerate a synthetic twin's (required)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: leaderboard/ASSIGNMENT/ under the course root)",
    )
    p.set_defaults(func=cmd_leaderboard)
    c = sub.add_parser(
        "challenge",
        help="write the class's challenge files (twin jets only the grader can label)",
        description=(
            "Write test_without_truth_100k.h5 and its image file for the class's challenge: "
            "synthetic top-tagging jets drawn from the grader's secret, so that no student can "
            "regenerate their labels. Hand the files to the class; rank with "
            "`hepml leaderboard ASSIGNMENT --labels twin:class`."
        ),
    )
    c.add_argument("out", type=Path, metavar="DIR", help="folder for the two files")
    c.set_defaults(func=cmd_challenge)


def cmd_challenge(args: argparse.Namespace) -> int:
    """Write the class's challenge files."""
    from autograder.course import manifest
    from autograder.leaderboard import challenge

    root = Path(args.root).resolve() if args.root else manifest.find_root()
    paths = challenge.write(root, args.out)
    for path in paths.values():
        print(f"wrote {path}")
    print("rank the class with: hepml leaderboard ASSIGNMENT --labels twin:class")
    return 0


# -- demo -----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from autograder.demo import run as demo
        from autograder.demo import verdicts as demo_verdicts
        from autograder.demo.plan import DemoConfigError
    except ModuleNotFoundError as exc:  # the student copy (hepml publish) leaves the demo out
        if exc.name not in ("autograder.demo", "autograder.demo.run"):
            raise
        print(
            "hepml demo: runs in the instructor repository only (it needs source/ and "
            "course/demo.toml)",
            file=sys.stderr,
        )
        return 2

    try:
        result = demo.demo(
            args.root,
            out=args.out,
            quick=args.quick,
            workers=args.workers,
            assignments=args.assignment or None,
            config=args.config,
            progress=not args.no_progress,
            sandbox=not args.no_sandbox,
        )
    except (DemoConfigError, FileExistsError) as exc:
        raise CommandError(_message(exc)) from exc
    print(result.summary())
    return demo_verdicts.exit_code(result)


def _add_demo_command(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without the kernel sandbox where user namespaces are unavailable",
    )
    p.set_defaults(func=cmd_demo)


# -- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``hepml`` argument parser (subcommands in the order of ``hepml --help``)."""
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
    _add_course_commands(sub)
    _add_grading_commands(sub)
    _add_leaderboard_command(sub)
    _add_demo_command(sub)
    from helpers.data import cli as data_cli

    data_cli.add_parser(sub)
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
    except _expected_errors() as exc:
        print(f"hepml {args.command}: error: {_message(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
