"""``hepml leaderboard ASSIGNMENT``: a thin layer over :func:`autograder.leaderboard.leaderboard`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import leaderboard as lb


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Rank the challenge files, print the table; 2 when the inputs are missing or unreadable."""
    try:
        result = lb.leaderboard(
            args.assignment,
            root=args.root,
            predictions_dir=args.predictions,
            labels=args.labels,
            out_dir=args.out,
        )
    except (FileNotFoundError, KeyError, LookupError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"hepml leaderboard: {message}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
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
        "order, or 'twin[:SEED]' to regenerate the synthetic twin's (required)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: leaderboard/ASSIGNMENT/ under the course root)",
    )
    p.set_defaults(func=cmd_leaderboard)
