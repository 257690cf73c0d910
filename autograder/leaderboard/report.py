"""The reports of ``hepml leaderboard``: the text table, the plot, the CSV and HTML files.

Calculation is in :mod:`autograder.leaderboard.ranking`; these functions only present ranked
entries. The plotting functions take ``ax=None`` and return the Axes; :func:`figure_png` draws
on a pyplot-free Figure.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from autograder.leaderboard.ranking import MAX_MODELS_PER_GROUP, SIGNAL_EFFICIENCY, Entry, Rejected

__all__ = [
    "LeaderboardResult",
    "figure_png",
    "format_table",
    "plot_auc_bars",
    "plot_rejection_curves",
    "render_html",
    "write_csv",
]


@dataclass
class LeaderboardResult:
    """What :func:`~autograder.leaderboard.board.leaderboard` produced: the ranking, the files not ranked, the files written."""

    assignment: str
    n_jets: int
    entries: list[Entry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The printed report: the table, the files not ranked, the files written."""
        lines = [
            f"Leaderboard of {self.assignment}: {len(self.entries)} entries ranked on "
            f"{self.n_jets} challenge jets",
            format_table(self.entries, self.rejected),
        ]
        lines += [f"wrote {path}" for path in self.outputs.values()]
        return "\n".join(lines)


_COLUMNS = ("rank", "group", "model", "AUC", "1/eps_B@0.3", "rank 1/eps_B", "file")


def _row(e: Entry) -> tuple[str, ...]:
    return (
        str(e.rank),
        e.group,
        e.model,
        f"{e.auc:.5f}",
        f"{e.rejection:.1f}",
        str(e.rejection_rank),
        e.file,
    )


def format_table(entries: Sequence[Entry], rejected: Sequence[Rejected] = ()) -> str:
    """The leaderboard as a plain-text table, then the files not ranked with their reasons."""
    rows = [_COLUMNS, *(_row(e) for e in entries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += [f"  note ({e.group}/{e.model}): {e.note}" for e in entries if e.note]
    if not entries:
        lines.append("(no entry could be ranked)")
    if rejected:
        lines.append(f"Not ranked ({len(rejected)}):")
        lines += [f"  {r.file}: {r.reason}" for r in rejected]
    return "\n".join(lines)


def write_csv(entries: Sequence[Entry], path: str | Path) -> Path:
    """Write the ranking as CSV: rank, group, model, auc, rejection_at_0.3, rejection_rank, file, note."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ("rank", "group", "model", "auc", "rejection_at_0.3", "rejection_rank", "file", "note")
        )
        for e in entries:
            writer.writerow(
                (
                    e.rank,
                    e.group,
                    e.model,
                    repr(e.auc),
                    repr(e.rejection),
                    e.rejection_rank,
                    e.file,
                    e.note,
                )
            )
    return path


def plot_auc_bars(entries: Sequence[Entry], *, ax=None):
    """Horizontal bars of the AUC of each entry, the best at the top; returns the Axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    labels = [f"{e.rank}. {e.group}/{e.model}" for e in entries]
    positions = np.arange(len(entries))[::-1]
    ax.barh(positions, [e.auc for e in entries], color="tab:blue")
    ax.set_yticks(positions, labels)
    for y, e in zip(positions, entries, strict=True):
        ax.text(min(e.auc, 1.0), y, f" {e.auc:.4f}", va="center", fontsize="small")
    ax.axvline(0.5, color="grey", linestyle=":", label="random (0.5)")
    ax.set_xlim(0.0, 1.15)
    ax.set_xlabel("AUC")
    ax.set_title("Challenge leaderboard (AUC)")
    return ax


def plot_rejection_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    working_point: float = SIGNAL_EFFICIENCY,
    ax=None,
):
    """Background rejection 1/ε_B against signal efficiency ε_S (HEP style, log scale).

    Parameters
    ----------
    curves : dict of label -> (efficiency, rejection)
        Arrays of equal shape; non-finite rejections (no background left) are not drawn.
    working_point : float
        The ε_S marked with a dashed line.
    ax : matplotlib Axes, optional
        Where to draw (default: the current Axes).
    """
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    for label, (eff, rejection) in curves.items():
        finite = np.isfinite(rejection)
        if not finite.any():
            label += " (1/ε_B = ∞: no background left)"
        ax.plot(eff[finite], rejection[finite], label=label)
    ax.axvline(working_point, color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    ax.set_title(f"Top {len(curves)} entries")
    if curves:
        ax.legend(fontsize="small")
    return ax


def figure_png(entries: Sequence[Entry], curves: dict) -> bytes:
    """The leaderboard figure as PNG bytes: AUC bars beside the rejection curves.

    Parameters
    ----------
    entries : sequence of Entry
        The ranked entries, in table order (drawn by :func:`plot_auc_bars`).
    curves : dict of label -> (efficiency, rejection)
        The curves drawn by :func:`plot_rejection_curves`.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    height = max(3.0, 0.35 * len(entries) + 1.5)
    fig = Figure(figsize=(12, height), layout="constrained")
    ax_bars, ax_curves = fig.subplots(1, 2, width_ratios=(1.2, 1))
    plot_auc_bars(entries, ax=ax_bars)
    plot_rejection_curves(curves, ax=ax_curves)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def render_html(result: LeaderboardResult, png: bytes | None = None) -> str:
    """A self-contained HTML page: the ranking, the files not ranked, the plot as base64 PNG."""
    esc = html.escape

    def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "\n".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Leaderboard {esc(result.assignment)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
        "th{background:#eee}img{max-width:100%}</style></head><body>",
        f"<h1>Challenge leaderboard: {esc(result.assignment)}</h1>",
        f"<p>{len(result.entries)} entries ranked on {result.n_jets} challenge jets by AUC; "
        "ties (equal AUC) share a rank and are listed by the background rejection "
        f"1/&epsilon;<sub>B</sub> at &epsilon;<sub>S</sub> = {SIGNAL_EFFICIENCY}, then by name. "
        f"At most {MAX_MODELS_PER_GROUP} models per group. Generated {esc(when)}.</p>",
        table((*_COLUMNS, "note"), ((*_row(e), e.note) for e in result.entries)),
    ]
    if result.rejected:
        parts += [
            f"<h2>Not ranked ({len(result.rejected)})</h2>",
            table(("file", "reason"), ((r.file, r.reason) for r in result.rejected)),
        ]
    if png:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<p><img alt="leaderboard plot" src="data:image/png;base64,{data}"></p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
