"""The report of ``hepml demo``: plots, ``summary.json`` and one self-contained ``index.html``.

The summary page holds, in this order: a banner (every grade deserved, or how many are not), a
table per assignment (each demo submission, what it does, the grade it deserves, the grade it
got, OK or MISMATCH, the grading time, its feedback page), the grade-distribution plot, the
challenge leaderboards (plot and the demo files' verdicts), the time each stage took, and notes.
Images are embedded as base64 PNG (and written beside the page under ``plots/``), so the page
can be mailed or opened from anywhere.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.htmlpage import document, img, png, table

if TYPE_CHECKING:  # pragma: no cover
    from autograder.demo.plan import DemoPlan
    from autograder.demo.verdicts import DemoResult, Verdict


def plot_grades(verdicts: Sequence[Verdict], *, axes=None):
    """Grade distribution (left) and awarded against deserved grades (right).

    Parameters
    ----------
    verdicts : sequence of Verdict
        Only graded submissions with autograded points are drawn.
    axes : pair of Axes, optional
        Where to draw (default: a new figure of two panels).

    Returns
    -------
    (Figure, (Axes, Axes))
    """
    import numpy as np
    from matplotlib.figure import Figure

    if axes is None:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        axes = fig.subplots(1, 2)
    else:
        fig = axes[0].figure
    ax_hist, ax_cmp = axes
    drawn = [v for v in verdicts if v.max_auto > 0]
    names = list(dict.fromkeys(v.assignment for v in drawn))
    awarded = {
        a: [
            100 * v.awarded_total / v.max_auto
            for v in drawn
            if v.assignment == a and v.awarded_total is not None
        ]
        for a in names
    }
    bins = np.linspace(0, 100, 11)
    if names:
        ax_hist.hist(
            [awarded[a] for a in names], bins=bins, stacked=True, label=names, edgecolor="white"
        )
        ax_hist.legend(fontsize="small", title="assignment")
    ax_hist.set_xlabel("awarded grade (% of the autograded points)")
    ax_hist.set_ylabel("submissions")
    ax_hist.set_title("Grade distribution of the demo class")
    ax_hist.set_xlim(0, 100)
    ax_cmp.plot([0, 100], [0, 100], color="0.7", lw=1, zorder=0)
    for ok, style in (
        (True, {"color": "tab:green", "marker": "o"}),
        (False, {"color": "tab:red", "marker": "X"}),
    ):
        pts = [
            (100 * (v.expected_total or 0) / v.max_auto, 100 * (v.awarded_total or 0) / v.max_auto)
            for v in drawn
            if v.ok == ok and v.expected_status == "graded"
        ]
        if pts:
            x, y = zip(*pts, strict=True)
            label = "grade deserved" if ok else "MISMATCH"
            ax_cmp.scatter(x, y, s=40, alpha=0.7, label=label, linewidths=0, **style)
    ax_cmp.set_xlabel("deserved grade (%)")
    ax_cmp.set_ylabel("awarded grade (%)")
    ax_cmp.set_xlim(-5, 105)
    ax_cmp.set_ylim(-5, 105)
    ax_cmp.set_title("Awarded against deserved")
    ax_cmp.legend(fontsize="small", loc="upper left")
    return fig, (ax_hist, ax_cmp)


def plot_timeline(timeline: Sequence[tuple[str, float, float]], *, ax=None):
    """When each stage ran: one bar per stage (and per assignment's grading), start to end.

    Parameters
    ----------
    timeline : sequence of (str, float, float)
        Name, start and duration in seconds from the start of the demo. Names that start with a
        space (each assignment's grading, inside the grade stage) are drawn lighter.
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    from matplotlib.figure import Figure

    rows = sorted(timeline, key=lambda r: (r[1], not r[0].startswith(" ")))
    if ax is None:
        fig = Figure(figsize=(9, 0.32 * len(rows) + 1.3), layout="constrained")
        ax = fig.subplots()
    for y, (name, start, seconds) in enumerate(rows):
        inner = name.startswith(" ")
        ax.barh(y, seconds, left=start, color="tab:cyan" if inner else "tab:blue", height=0.7)
        ax.text(start + seconds, y, f" {seconds:.0f} s", va="center", fontsize="small")
    ax.set_yticks(range(len(rows)), [name.strip() for name, _, _ in rows])
    ax.invert_yaxis()
    end = max((start + seconds for _, start, seconds in rows), default=1.0)
    ax.set_xlim(0, end * 1.12 + 1)
    ax.set_xlabel("wall-clock time since the start (s)")
    ax.set_title("When each stage ran (light: each assignment's grading, at the same time)")
    return ax


def _fmt(total: float | None, status: str, max_auto: float) -> str:
    if status != "graded":
        return status
    return f"{total:g} / {max_auto:g}" if total is not None else "?"


def _assignment_table(verdicts: Sequence[Verdict]) -> str:
    esc = html.escape
    rows, classes = [], []
    for v in verdicts:
        detail = "; ".join([*v.differences, *([v.reason] if v.reason else [])])
        link = f'<a href="{esc(v.feedback)}">feedback</a>' if v.feedback else ""
        rows.append(
            [
                f"<b>{esc(v.student)}</b>",
                esc(v.about) + (f'<div class="small">{esc(detail)}</div>' if detail else ""),
                esc(_fmt(v.expected_total, v.expected_status, v.max_auto)),
                esc(_fmt(v.awarded_total, v.awarded_status, v.max_auto)),
                "OK" if v.ok else "MISMATCH",
                f"{v.wall_s:.0f} s" if v.wall_s is not None else "",
                link,
            ]
        )
        verdict = "OK" if v.ok else "MISMATCH"
        classes.append(["", "", "num", "num", verdict, "num", ""])
    header = ("submission", "what it does", "deserves", "awarded", "verdict", "grading", "")
    return table(header, rows, classes)


def _overview(result: DemoResult, demo: DemoPlan, titles: dict[str, str]) -> str:
    """One row per assignment: submissions, how many got their grade, mean grade, time."""
    esc = html.escape
    rows, classes = [], []
    for a in demo.assignments:
        mine = [v for v in result.verdicts if v.assignment == a.assignment]
        graded = [
            100 * v.awarded_total / v.max_auto
            for v in mine
            if v.awarded_total is not None and v.max_auto
        ]
        n_ok = sum(v.ok for v in mine)
        verdict = "OK" if n_ok == len(mine) else "MISMATCH"
        rows.append(
            [
                f'<a href="#{esc(a.assignment)}">{esc(a.assignment)}</a>',
                esc(titles.get(a.assignment, "")),
                str(len(mine)),
                f"{n_ok} / {len(mine)}",
                f"{sum(graded) / len(graded):.0f} %" if graded else "",
                f"{result.grading_s[a.assignment]:.0f} s"
                if a.assignment in result.grading_s
                else "",
                verdict,
            ]
        )
        classes.append(["", "", "num", "num", "num", "num", verdict])
    header = ("assignment", "title", "submissions", "grade deserved", "mean grade", "grading", "")
    return table(header, rows, classes)


def render(result: DemoResult, demo: DemoPlan, images: dict[str, bytes]) -> str:
    """The summary page (a complete HTML document)."""
    from autograder.course import manifest

    esc = html.escape
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    n_ok = sum(v.ok for v in result.verdicts)
    n = len(result.verdicts)
    titles = {}
    try:
        course = manifest.load(result.out / "course")
        titles = {a.id: a.title for a in course.assignments}
    except (FileNotFoundError, ValueError):
        pass
    if result.ok:
        banner = (
            f'<p class="banner good">All {n} demo submissions got the grade they deserve'
            + (
                f"; all {len(result.challenge)} challenge files were handled as expected"
                if result.challenge
                else ""
            )
            + ".</p>"
        )
    else:
        parts = [f"{n - n_ok} of {n} submissions got another grade than they deserve"]
        bad_files = sum(not c.ok for c in result.challenge)
        if bad_files:
            parts.append(f"{bad_files} challenge file(s) were not handled as expected")
        if result.problems:
            parts.append(f"{len(result.problems)} problem(s)")
        banner = f'<p class="banner bad">MISMATCH: {esc("; ".join(parts))}.</p>'
    doc = [
        "<h1>hepml demo: a course cycle, graded</h1>",
        f'<p class="sub">{"Quick" if result.quick else "Full"} demo class of '
        f"{len(demo.assignments)} assignment(s), {n} submissions, graded in "
        f"{dict(result.stages).get('grade', 0.0):.0f} s; "
        f"whole run {result.wall_s:.0f} s. Generated {esc(when)}. "
        '<a href="grades.csv">grades.csv</a></p>',
        banner,
        _overview(result, demo, titles),
    ]
    for a in demo.assignments:
        mine = [v for v in result.verdicts if v.assignment == a.assignment]
        title = titles.get(a.assignment, "")
        doc.append(
            f'<h2 id="{esc(a.assignment)}">{esc(a.assignment)}'
            f"{': ' + esc(title) if title else ''}</h2>"
        )
        manual = (
            f" and {a.manual_points:g} points of written answers graded by hand"
            if a.manual_points
            else ""
        )
        doc.append(
            f'<p class="small">{sum(v.ok for v in mine)} of {len(mine)} OK. Grades are the '
            f"points of the {len(a.points)} autograded test cells ({sum(a.points.values()):g} "
            f"points){manual}.</p>"
        )
        doc.append(_assignment_table(mine))
    doc.append("<h2>Grade distribution</h2>")
    if "grades" in images:
        doc.append(img(images["grades"], "grade distribution of the demo class"))
    for a in demo.assignments:
        if a.challenge is None:
            continue
        doc.append(f"<h2>Challenge leaderboard: {esc(a.assignment)}</h2>")
        key = f"leaderboard-{a.assignment}"
        if key in images:
            doc.append(img(images[key], f"leaderboard of {a.assignment}"))
        files = result.leaderboards.get(a.assignment, {})
        if "html" in files:
            rel = Path(files["html"]).relative_to(result.out).as_posix()
            doc.append(f'<p><a href="{esc(rel)}">the full leaderboard</a></p>')
        mine = [c for c in result.challenge if c.assignment == a.assignment]
        doc.append(
            table(
                ("prediction file", "made as", "expected", "leaderboard", "verdict"),
                [
                    [
                        esc(c.file),
                        esc(c.make),
                        esc(c.expected),
                        esc(c.got),
                        "OK" if c.ok else "MISMATCH",
                    ]
                    for c in mine
                ],
                [["", "", "", "", "OK" if c.ok else "MISMATCH"] for c in mine],
            )
        )
    doc.append("<h2>Time per stage</h2>")
    if len(result.grading_s) > 1:
        doc.append(
            '<p class="small">Assignments are graded at the same time, each into its own '
            "gradebook: the grading times of the overview add up to more than the grade stage."
            "</p>"
        )
    doc.append(
        table(
            ("stage", "seconds"),
            [[esc(name), f"{s:.1f}"] for name, s in result.stages],
            [["", "num"] for _ in result.stages],
        )
    )
    if "stages" in images:
        doc.append(img(images["stages"], "time per stage"))
    if result.problems or result.notes:
        doc.append("<h2>Problems and notes</h2><ul>")
        doc += [f"<li><b>problem</b>: {esc(p)}</li>" for p in result.problems]
        doc += [f"<li>{esc(n)}</li>" for n in result.notes]
        doc.append("</ul>")
    return document("hepml demo: summary", doc)


def write(result: DemoResult, demo: DemoPlan) -> Path:
    """Write ``plots/*.png``, ``summary.json`` and ``index.html`` into ``result.out``.

    Returns
    -------
    Path
        The summary page.
    """
    out = Path(result.out)
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    fig, _ = plot_grades(result.verdicts)
    images["grades"] = png(fig)
    images["stages"] = png(plot_timeline(result.timeline).figure)
    for name, data in images.items():
        (plots / f"{name}.png").write_bytes(data)
    for a, files in result.leaderboards.items():
        if "png" in files and Path(files["png"]).is_file():
            images[f"leaderboard-{a}"] = Path(files["png"]).read_bytes()
    summary = {
        "ok": result.ok,
        "quick": result.quick,
        "verdicts": [asdict(v) | {"ok": v.ok} for v in result.verdicts],
        "challenge": [asdict(c) for c in result.challenge],
        "stages": [{"stage": name, "seconds": round(s, 2)} for name, s in result.stages],
        "problems": result.problems,
        "notes": result.notes,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    page = out / "index.html"
    page.write_text(render(result, demo, images), encoding="utf-8")
    return page
