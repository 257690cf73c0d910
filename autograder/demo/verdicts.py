"""The verdicts of ``hepml demo``: each demo submission's awarded grade beside the one it deserves.

:func:`compare` reads the exported ``grades.csv`` against the :class:`~autograder.demo.plan.DemoPlan`
cell by cell; :func:`compare_challenge` checks what the leaderboard did with each demo prediction
file; :class:`DemoResult` gathers them with the stages' times and any problem, and decides whether
the demo is OK.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from autograder.demo import plan as demo_class
from autograder.demo.plan import DemoPlan


@dataclass(frozen=True)
class Verdict:
    """A demo submission's awarded grade beside the one it deserves.

    Attributes
    ----------
    assignment, student, about : str
    expected_status, awarded_status : str
        ``graded`` or ``failed``; awarded may also be ``missing`` (not in ``grades.csv``).
    expected_total, awarded_total : float or None
        Points of the autograded cells (None for a failed submission).
    max_auto : float
        Points of all autograded cells of the assignment.
    differences : tuple of str
        What differs, one phrase per cell (empty when the grade is the deserved one).
    wall_s : float or None
        Seconds the grader spent on the submission.
    reason : str
        Why the grader failed the submission, where it did.
    feedback : str or None
        The feedback page, relative to the report folder.
    """

    assignment: str
    student: str
    about: str
    expected_status: str
    expected_total: float | None
    awarded_status: str
    awarded_total: float | None
    max_auto: float
    differences: tuple[str, ...] = ()
    wall_s: float | None = None
    reason: str = ""
    feedback: str | None = None

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class ChallengeVerdict:
    """A demo prediction file: what the leaderboard had to do with it and what it did."""

    assignment: str
    file: str
    make: str
    expected: str
    got: str
    ok: bool


@dataclass
class DemoResult:
    """What :func:`demo` did.

    Attributes
    ----------
    out : Path
        The report folder.
    verdicts : list of Verdict
    challenge : list of ChallengeVerdict
    stages : list of (str, float)
        Each stage and the seconds it took, in order.
    problems : list of str
        Stages that failed, release problems, feedback that leaked a secret.
    notes : list of str
        What the reader should know (assignments of demo.toml not in the manifest, ...).
    leaderboards : dict of str to dict of str to Path
        The files each challenge leaderboard wrote.
    index_html : Path or None
    quick : bool
    grading_s : dict of str to float
        Seconds each assignment's grading took (assignments are graded at the same time).
    timeline : list of (str, float, float)
        Stages and each assignment's grading: name, start and duration in seconds from the start.
    """

    out: Path
    verdicts: list[Verdict] = field(default_factory=list)
    challenge: list[ChallengeVerdict] = field(default_factory=list)
    stages: list[tuple[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    leaderboards: dict[str, dict[str, Path]] = field(default_factory=dict)
    index_html: Path | None = None
    quick: bool = False
    grading_s: dict[str, float] = field(default_factory=dict)
    timeline: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    @property
    def ok(self) -> bool:
        """Every grade deserved, every challenge file handled as expected, no stage failed."""
        return (
            bool(self.verdicts)
            and not self.mismatches
            and all(c.ok for c in self.challenge)
            and not self.problems
        )

    @property
    def wall_s(self) -> float:
        return sum(s for _, s in self.stages)

    def summary(self) -> str:
        """A few lines for the terminal."""
        n_ok = sum(v.ok for v in self.verdicts)
        lines = [
            f"hepml demo{' --quick' if self.quick else ''}: {n_ok} of {len(self.verdicts)} "
            f"submissions got the grade they deserve"
            + (
                f"; {sum(c.ok for c in self.challenge)} of {len(self.challenge)} challenge "
                "files handled as expected"
                if self.challenge
                else ""
            )
            + f" ({self.wall_s:.0f} s)",
        ]
        for a in dict.fromkeys(v.assignment for v in self.verdicts):
            mine = [v for v in self.verdicts if v.assignment == a]
            lines.append(f"  {a}: {sum(v.ok for v in mine)}/{len(mine)} OK")
        for v in self.mismatches:
            lines.append(f"  MISMATCH {v.assignment}/{v.student}: {'; '.join(v.differences)}")
        for c in self.challenge:
            if not c.ok:
                lines.append(f"  MISMATCH {c.assignment} {c.file}: expected {c.expected}, {c.got}")
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        lines.append("  stages: " + ", ".join(f"{name} {s:.0f} s" for name, s in self.stages))
        if self.index_html:
            lines.append(f"report: {self.index_html}")
        return "\n".join(lines)


def exit_code(result: DemoResult) -> int:
    """0 when the demo is OK (see :attr:`DemoResult.ok`), 1 otherwise."""
    return 0 if result.ok else 1


def _number(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def read_grades(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The rows of a ``grades.csv`` by ``(assignment, student)``."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {(r["assignment"], r["student"]): r for r in csv.DictReader(fh)}


def compare(
    demo: DemoPlan,
    rows: dict[tuple[str, str], dict[str, str]],
    *,
    wall_s: dict[tuple[str, str], float] | None = None,
    reasons: dict[tuple[str, str], str] | None = None,
    feedback: dict[tuple[str, str], str] | None = None,
) -> list[Verdict]:
    """Compare the grades in ``rows`` (from ``grades.csv``) with those the demo class deserves.

    Parameters
    ----------
    demo : DemoPlan
    rows : dict
        :func:`read_grades` of the exported ``grades.csv``.
    wall_s, reasons, feedback : dict, optional
        Grading seconds, failure reasons and feedback links by ``(assignment, student)``.

    Returns
    -------
    list of Verdict
        One per submission of the plan, in plan order.
    """
    verdicts = []
    for a in demo.assignments:
        max_auto = float(sum(a.points.values()))
        for sub in a.submissions:
            key = (a.assignment, sub.student)
            row = rows.get(key)
            status = row["status"] if row else "missing"
            if status == "needs-manual":  # the demo judges the autograded points only
                status = "graded"
            diffs: list[str] = []
            total = _number(row.get("total")) if row else None
            if status != sub.status:
                diffs.append(f"status {status}, expected {sub.status}")
            elif status == "graded":
                for cell, want in sub.expected.items():
                    got = _number(row.get(cell))
                    if got is None or abs(got - want) > 1e-9:
                        shown = "no score" if got is None else f"{got:g}"
                        diffs.append(f"{cell}: awarded {shown}, deserves {want:g}")
                if total is None or abs(total - (sub.expected_total or 0.0)) > 1e-9:
                    diffs.append(f"total {total}, deserves {sub.expected_total:g}")
            verdicts.append(
                Verdict(
                    assignment=a.assignment,
                    student=sub.student,
                    about=sub.about or _default_about(sub.student),
                    expected_status=sub.status,
                    expected_total=sub.expected_total,
                    awarded_status=status,
                    awarded_total=total if status == "graded" else None,
                    max_auto=max_auto,
                    differences=tuple(diffs),
                    wall_s=(wall_s or {}).get(key),
                    reason=(reasons or {}).get(key, ""),
                    feedback=(feedback or {}).get(key),
                )
            )
    return verdicts


def _default_about(student: str) -> str:
    return {
        "correct": "the solution, every answer cell filled in from source/",
        "untouched": "the student notebook as handed out, nothing answered",
    }.get(student, "")


def compare_challenge(plan: demo_class.AssignmentPlan, result) -> list[ChallengeVerdict]:
    """Check what the leaderboard did with each demo prediction file of one assignment.

    Parameters
    ----------
    plan : AssignmentPlan
        With a challenge.
    result : autograder.leaderboard.board.LeaderboardResult

    Returns
    -------
    list of ChallengeVerdict
    """
    ranked = {e.file: e for e in result.entries}
    refused = {r.file: r for r in result.rejected}
    out = []
    for item in plan.challenge.files if plan.challenge else ():
        expected = "rejected" if item.expect == "rejected" else "ranked"
        if item.expect == "ranked" and item.rank is not None:
            expected += f" #{item.rank}"
        if item.path in ranked:
            e = ranked[item.path]
            got = f"ranked #{e.rank} (AUC {e.auc:.4f}, 1/eps_B {e.rejection:.1f})"
            ok = item.expect == "ranked" and item.rank in (None, e.rank)
        elif item.path in refused:
            got = f"rejected: {refused[item.path].reason}"
            ok = item.expect == "rejected"
        else:
            got, ok = "not seen by the leaderboard", False
        out.append(ChallengeVerdict(plan.assignment, item.file, item.make, expected, got, ok))
    return out
