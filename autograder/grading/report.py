"""The class report of ``hepml grade``: one self-contained ``report.html`` beside ``grades.csv``.

It tells the instructor how the class did and which task it found hard: the counts (graded,
awaiting manual grading, failed, unmatched) and whether the sandbox was on, the grade
distribution, every graded cell with its pass rate, mean score and the most common failure
message (read from the autograded notebooks: what the students see in their feedback), the
failed submissions and unmatched files with their reasons (``failures.csv``), and the grading
time of every notebook.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import export
from autograder.htmlpage import document, img, png, table


@dataclass
class CellStats:
    """How the class did on one graded cell."""

    cell: export.Cell
    scored: int = 0
    full: int = 0
    total: float = 0.0
    messages: Counter = field(default_factory=Counter)

    @property
    def pass_rate(self) -> float | None:
        return self.full / self.scored if self.scored else None

    @property
    def common_failure(self) -> tuple[str, int] | None:
        return self.messages.most_common(1)[0] if self.messages else None


def _first_error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = str(out.get("evalue", "")).strip().splitlines()
            return f"{out.get('ename', 'Error')}: {value[0] if value else ''}".strip()
    return None


def failure_messages(notebook: Path) -> dict[str, str]:
    """The first error of every graded cell of an autograded notebook, by grade id."""
    nb = nbformat.read(notebook, as_version=4)
    out = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        message = _first_error(cell) if cell.cell_type == "code" else None
        if grade_id and message:
            out[grade_id] = message
    return out


def cell_stats(
    cells: Sequence[export.Cell], rows: Sequence[dict[str, str]], messages: dict[str, dict]
) -> list[CellStats]:
    """Pass rate, mean score and failure messages per cell over the rows that have scores."""
    stats = [CellStats(c) for c in cells]
    for row in rows:
        if row.get("status") not in {"graded", "needs-manual"}:
            continue
        for s in stats:
            value = row.get(s.cell.name, "")
            if value == "":
                continue
            s.scored += 1
            s.total += float(value)
            if float(value) >= s.cell.max_score - 1e-9:
                s.full += 1
            elif s.cell.name in messages.get(row["student"], {}):
                s.messages[messages[row["student"]][s.cell.name]] += 1
    return stats


def plot_distribution(rows: Sequence[dict[str, str]], *, ax=None):
    """Histogram of the totals in % of ``max`` (graded and awaiting manual grading, stacked).

    Returns
    -------
    Axes
    """
    import numpy as np
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(8, 3.4), layout="constrained")
        ax = fig.subplots()
    groups = {"graded": [], "needs-manual": []}
    for row in rows:
        if row.get("status") in groups and row.get("total") and float(row.get("max") or 0) > 0:
            groups[row["status"]].append(100 * float(row["total"]) / float(row["max"]))
    bins = np.linspace(0, 100, 11)
    top = max([100.0, *groups["graded"], *groups["needs-manual"]])
    if top > 100:  # bonus points above max
        bins = np.append(bins, np.ceil(top / 10) * 10)
    labels = ["graded", "awaiting manual grading"]
    ax.hist(list(groups.values()), bins=bins, stacked=True, label=labels, edgecolor="white")
    ax.set_xlabel("total (% of max; bonus points can take it above 100)")
    ax.set_ylabel("submissions")
    ax.set_title("Grade distribution")
    ax.legend(fontsize="small")
    return ax


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f} %"


def render(
    assignment: str,
    *,
    cells: Sequence[export.Cell],
    rows: Sequence[dict[str, str]],
    failures: Sequence[dict[str, str]],
    state: dict[str, dict],
    messages: dict[str, dict[str, str]],
    sandbox: bool,
    wall_s: float | None = None,
) -> str:
    """The report page (a complete HTML document)."""
    esc = html.escape
    count = Counter(r.get("status", "") for r in rows)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    maximum = rows[0].get("max", "") if rows else ""
    run = f"; this run took {wall_s:.0f} s" if wall_s is not None else ""
    doc = [
        f"<h1>{esc(assignment)}: class report</h1>",
        f'<p class="sub">Generated {esc(when)}{esc(run)}. '
        '<a href="grades.csv">grades.csv</a> · <a href="failures.csv">failures.csv</a></p>',
    ]
    if sandbox:
        doc.append('<p class="banner good">sandbox: on (kernels isolated from the grader)</p>')
    else:
        doc.append(
            '<p class="banner bad">sandbox: off (--no-sandbox): student code ran with the '
            "grader's rights</p>"
        )
    summary = [
        ["graded", str(count["graded"])],
        ["awaiting manual grading (formgrader)", str(count["needs-manual"])],
        ["failed", str(count["failed"])],
        ["not submitted", str(count["not submitted"])],
        ["unmatched files", str(sum(1 for f in failures if not f.get("student")))],
        ["max (bonus apart)", esc(maximum)],
    ]
    doc.append(table(("submissions", "count"), summary, [["", "num"]] * len(summary)))
    doc.append("<h2>Grade distribution</h2>")
    doc.append(img(png(plot_distribution(rows).figure), f"grade distribution of {assignment}"))
    doc.append("<h2>Graded cells</h2>")
    doc.append(
        '<p class="small">Pass rate: the share of scored submissions with full points. The '
        "most common failure is the first error the cell showed, as in the feedback.</p>"
    )
    body, classes = [], []
    for s in cell_stats(cells, rows, messages):
        kind = "bonus" if s.cell.bonus else ("manual" if s.cell.manual else "auto")
        common = s.common_failure
        body.append(
            [
                f"<b>{esc(s.cell.name)}</b>",
                kind,
                f"{s.cell.max_score:g}",
                f"{s.scored}",
                _pct(s.pass_rate),
                f"{s.total / s.scored:.2f}" if s.scored else "",
                f"{esc(common[0])} <span class='small'>({common[1]}×)</span>" if common else "",
            ]
        )
        classes.append(["", "", "num", "num", "num", "num", ""])
    header = ("cell", "graded", "points", "scored", "pass rate", "mean", "most common failure")
    doc.append(table(header, body, classes))
    doc.append("<h2>Failures</h2>")
    if failures:
        doc.append(
            table(
                ("student", "path", "reason"),
                [[esc(f["student"]), esc(f["path"]), esc(f["reason"])] for f in failures],
            )
        )
    else:
        doc.append("<p>None: every submission was graded and every file matched.</p>")
    doc.append("<h2>Time per notebook</h2>")
    timed = sorted(
        ((s, e) for s, e in state.items() if e.get("wall_s") is not None),
        key=lambda item: -float(item[1]["wall_s"]),
    )
    doc.append(
        table(
            ("student", "status", "seconds", "sandboxed", "when"),
            [
                [
                    esc(s),
                    esc(e.get("status", "")),
                    f"{float(e['wall_s']):.1f}",
                    "yes" if e.get("sandboxed") else "no",
                    esc(e.get("when", "")),
                ]
                for s, e in timed
            ],
            [["", "", "num", "", ""]] * len(timed),
        )
    )
    return document(f"{assignment}: class report", doc)


def write(
    assignment: str,
    *,
    root: Path,
    db_url: str,
    folder: Path,
    sandbox: bool,
    wall_s: float | None = None,
) -> Path:
    """Write ``folder/report.html`` from the gradebook, the state and ``failures.csv``."""
    from nbgrader.api import Gradebook

    from autograder.grading import state as grade_state

    with Gradebook(db_url) as gb:
        cells, rows = export.assignment_rows(gb, assignment, root=root)
    failures_csv = folder / "failures.csv"
    failures = []
    if failures_csv.is_file():
        with open(failures_csv, newline="", encoding="utf-8") as fh:
            failures = list(csv.DictReader(fh))
    messages = {}
    for row in rows:
        nb = root / "autograded" / row["student"] / assignment / f"{assignment}.ipynb"
        if row.get("status") in {"graded", "needs-manual"} and nb.is_file():
            messages[row["student"]] = failure_messages(nb)
    page = folder / "report.html"
    page.write_text(
        render(
            assignment,
            cells=cells,
            rows=rows,
            failures=failures,
            state=grade_state.load(root, assignment),
            messages=messages,
            sandbox=sandbox,
            wall_s=wall_s,
        ),
        encoding="utf-8",
    )
    return page
