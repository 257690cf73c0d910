"""Pieces of the self-contained HTML pages that hepml writes (the demo summary, the class report).

One style sheet, tables of escaped cells, and matplotlib figures embedded as base64 PNG, so that
a page can be mailed or opened from anywhere.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:1.5em 2em;color:#222;max-width:1200px}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em}
.sub{color:#666;margin-top:0}
.banner{padding:.7em 1em;border-radius:6px;font-size:1.15em;font-weight:bold}
.good{background:#e3f4e3;border:1px solid #7bc47b;color:#1d5e1d}
.bad{background:#fbe3e3;border:1px solid #d77;color:#8a1f1f}
.warn{background:#fff4d6;border:1px solid #e0b84d;color:#6b4e00}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.OK{color:#1d6e1d;font-weight:bold}td.MISMATCH{color:#b00;font-weight:bold;background:#fde8e8}
.small{color:#555;font-size:.85em}img{max-width:100%;border:1px solid #ddd}
"""


def png(fig) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def img(data: bytes, alt: str) -> str:
    """A paragraph holding the PNG ``data`` inline."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}"></p>'


def table(header: Sequence[str], rows: Sequence[Sequence[str]], classes=None) -> str:
    """An HTML table; rows are HTML already escaped; ``classes[i][j]`` is the class of a cell."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, value in enumerate(row):
            cls = classes[i][j] if classes else ""
            cells.append(f'<td class="{cls}">{value}</td>' if cls else f"<td>{value}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


def document(title: str, body: Sequence[str]) -> str:
    """A complete HTML page of these body parts."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>"]) + "\n"
