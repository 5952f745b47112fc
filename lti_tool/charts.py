"""Server-rendered, accessible charts: SVG bar charts of percentages and the data table beside each.

Pure functions returning ``Markup``. Every bar carries its label and its value as text, so nothing is
told by colour alone; the SVG is one image to assistive technology (``role="img"`` named by its
``<title>`` and described by its ``<desc>``), and the table beside it holds the same figures for
screen-reader users and for copying. No JavaScript, no external resources (the CSP allows none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Layout in SVG user units; the SVG scales to its container through viewBox.
WIDTH = 640
LABEL_WIDTH = 260
VALUE_WIDTH = 110
BAR_HEIGHT = 22
GAP = 10
TOP = 8


@dataclass(frozen=True)
class Bar:
    """One bar: what it is, its percentage (0 to 100, None when there is no data), and a note (e.g. "n = 12")."""

    label: str
    percent: float | None
    note: str = ""
    emphasis: bool = False


def percent(part: float, whole: float) -> float | None:
    """Return part/whole as a percentage rounded to one decimal, None when the whole is zero."""
    return round(100.0 * part / whole, 1) if whole else None


def format_percent(value: float | None) -> str:
    """Return a percentage as text ("72.5%"), or "no data"."""
    if value is None:
        return "no data"
    return f"{value:.0f}%" if value == int(value) else f"{value:.1f}%"


def _truncate(text: str, limit: int = 38) -> str:
    # The full label is in the table beside the chart and in the bar's own <title>.
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _bar(index: int, bar: Bar) -> str:
    y = TOP + index * (BAR_HEIGHT + GAP)
    track = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    length = 0.0 if bar.percent is None else track * max(0.0, min(bar.percent, 100.0)) / 100.0
    value = format_percent(bar.percent) + (f" ({bar.note})" if bar.note else "")
    label = escape(bar.label)
    mark = "★ " if bar.emphasis else ""
    css = "chart-bar chart-bar--emphasis" if bar.emphasis else "chart-bar"
    text_y = y + BAR_HEIGHT * 0.7
    return (
        f'<g><title>{label}: {escape(value)}</title>'
        f'<text x="{LABEL_WIDTH - 8}" y="{text_y:.1f}" text-anchor="end" class="chart-label">'
        f"{escape(mark)}{escape(_truncate(bar.label))}</text>"
        f'<rect x="{LABEL_WIDTH}" y="{y}" width="{track}" height="{BAR_HEIGHT}" class="chart-track"/>'
        f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" class="{css}"/>'
        f'<text x="{LABEL_WIDTH + track + 6}" y="{text_y:.1f}" class="chart-value">{escape(value)}</text></g>'
    )


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """Return a horizontal bar chart of percentages as an accessible inline SVG."""
    height = TOP * 2 + max(len(bars), 1) * (BAR_HEIGHT + GAP)
    ident = escape(chart_id)
    body = "".join(_bar(i, bar) for i, bar in enumerate(bars))
    if not bars:
        body = f'<text x="{WIDTH / 2}" y="{TOP + BAR_HEIGHT * 0.7}" text-anchor="middle">No data</text>'
    return Markup(  # noqa: S704  (every interpolated value above is escaped)
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" aria-labelledby="{ident}-title {ident}-desc" id="{ident}">'
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(description)}</desc>'
        f"{body}</svg>"
    )


def describe(bars: Sequence[Bar]) -> str:
    """Return a one-sentence text description of the bars (the SVG's <desc>)."""
    if not bars:
        return "No answers recorded yet."
    parts = [f"{bar.label}: {format_percent(bar.percent)}" for bar in bars]
    return "; ".join(parts) + "."


def data_table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[object]],
               css_class: str = "data") -> Markup:
    """Return a table with a caption, column headers (scope="col") and row headers (first cell, scope="row")."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        first, *rest = row
        cells = "".join(f"<td>{escape(_cell(c))}</td>" for c in rest)
        body.append(f'<tr><th scope="row">{escape(_cell(first))}</th>{cells}</tr>')
    if not rows:
        body.append(f'<tr><td colspan="{len(headers)}">No data</td></tr>')
    return Markup(  # noqa: S704  (every interpolated value above is escaped)
        f'<table class="{escape(css_class)}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _cell(value: object) -> str:
    return "—" if value is None else str(value)
