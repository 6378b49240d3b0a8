"""Generic server-rendered SVG charts for the reports: a `Chart` holds the numbers (one
value and one n per series per bucket, already rounded as the page shows them), and the SVG
and the CSV download are both drawn from it, so they cannot disagree.

Pure Python (no Django, no database): the style, colours and accessibility of
success/charts.py (``role="img"``, a ``<title>`` and a ``<desc>`` in words, every text
escaped, a bucket without a value is a gap in the line, never a 0), with an x axis of
buckets (days, weeks, months, or categories such as health bands) instead of days.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from success.charts import AREA, LINE, SECONDARY, TEXT, _nice_top

WIDTH = 640
HEIGHT = 180
_LEFT = 44
_RIGHT = 10
_TOP = 12
_BOTTOM = 24
_PLOT_WIDTH = WIDTH - _LEFT - _RIGHT
_PLOT_HEIGHT = HEIGHT - _TOP - _BOTTOM

# Series colours in order (Bootstrap's blue, grey, teal, orange, purple): the first two
# match success/charts.py. Colour is never the only signal: the legend names each series
# and every point's tooltip says which series it is.
PALETTE = ("#0d6efd", "#6c757d", "#20c997", "#fd7e14", "#6f42c1")
# Health bands keep the meaning colours of UI.md (stronger than the badge fills, so bars
# stand out on white), "not enough data" grey.
BAND_COLOURS = {
    "green": "#198754",
    "yellow": "#ffc107",
    "red": "#dc3545",
    "unscored": "#adb5bd",
}

Number = float | int | None
DOTS_UP_TO = 120  # points per series that get a dot with a hover tooltip


@dataclass(frozen=True)
class Series:
    """One line (or one bar colour) of a chart: a value and an n per bucket."""

    label: str
    values: Sequence[Number]
    sizes: Sequence[int] = ()
    colour: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    """What one chart of a report shows. `values` are rounded as displayed, so the SVG, the
    table under it and the CSV agree to the digit."""

    name: str  # the ?chart= of its CSV download
    title: str
    definition: str
    unit: str  # "%", "hours", "tickets", ...
    buckets: Sequence[str]  # x labels, in order
    series: Sequence[Series]
    kind: str = "line"  # line | bar (grouped) | stacked
    bucket_starts: Sequence[str] = ()  # ISO dates for the CSV (empty: categories)
    bucket_ends: Sequence[str] = ()
    y_max: float | None = None  # a fixed top (percentages: 100)
    y_min: float | None = None  # a fixed bottom (NPS: -100); else 0 or below the data
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def has_data(self) -> bool:
        return any(value is not None for series in self.series for value in series.values)

    @property
    def csv_header(self) -> list[str]:
        head = ["from", "to"] if self.bucket_starts else ["group"]
        for series in self.series:
            head += [f"{series.label} ({self.unit})", f"{series.label} n"]
        return head

    def csv_rows(self) -> list[list[str]]:
        rows = []
        for index, label in enumerate(self.buckets):
            if self.bucket_starts:
                row = [self.bucket_starts[index], self.bucket_ends[index]]
            else:
                row = [label]
            for series in self.series:
                row += [_cell(series.values[index]), _cell(_size(series, index))]
            rows.append(row)
        return rows

    def table_rows(self) -> list[tuple[str, list[tuple[Number, int | None]]]]:
        """(bucket label, [(value, n) per series]) for the table under the chart."""
        return [
            (label, [(series.values[index], _size(series, index)) for series in self.series])
            for index, label in enumerate(self.buckets)
        ]

    def table_html(self) -> str:
        """The numbers under the chart as an HTML table (value and n per series), built
        here rather than in a template: a year of days is thousands of cells."""
        head = "From" if self.bucket_starts else "Group"
        out = [
            f'<table class="table table-sm mb-0 cx-report-numbers"'
            f' data-chart="{escape(self.name, quote=True)}"><thead><tr>'
            f'<th scope="col">{head}</th>'
        ]
        for series in self.series:
            out.append(
                f'<th scope="col" class="text-end">{escape(series.label)}</th>'
                '<th scope="col" class="text-end text-body-secondary">n</th>'
            )
        out.append("</tr></thead><tbody>")
        for label, cells in self.table_rows():
            out.append(f'<tr><th scope="row" class="fw-normal">{escape(label)}</th>')
            for value, size in cells:
                shown = (
                    '<span class="text-body-secondary">no data</span>'
                    if value is None
                    else escape(_cell(value))
                )
                out.append(
                    f'<td class="text-end">{shown}</td>'
                    f'<td class="text-end text-body-secondary">{"" if size is None else size}</td>'
                )
            out.append("</tr>")
        out.append("</tbody></table>")
        return "".join(out)

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.csv_header)
        writer.writerows(self.csv_rows())
        return out.getvalue()

    def svg(self) -> str:
        return chart_svg(self)

    def colours(self) -> list[str]:
        return [
            series.colour or PALETTE[index % len(PALETTE)]
            for index, series in enumerate(self.series)
        ]

    def legend(self) -> list[tuple[str, str]]:
        """(label, a small SVG swatch: a line or a box in the series' colour) per series;
        SVG attributes, not style attributes, so the Content-Security-Policy allows them."""
        items = []
        for series, colour in zip(self.series, self.colours(), strict=True):
            if self.kind == "line":
                dash = ' stroke-dasharray="4 3"' if series.dashed else ""
                mark = (
                    f'<line x1="0" y1="5" x2="18" y2="5" stroke="{colour}" stroke-width="2.5"'
                    f"{dash}/>"
                )
            else:
                mark = f'<rect x="3" y="0" width="12" height="10" fill="{colour}"/>'
            items.append(
                (
                    series.label,
                    f'<svg width="18" height="10" viewBox="0 0 18 10" aria-hidden="true"'
                    f' focusable="false">{mark}</svg>',
                )
            )
        return items


def _size(series: Series, index: int) -> int | None:
    return series.sizes[index] if index < len(series.sizes) else None


def _cell(value: Number) -> str:
    """How a number is written in the CSV: as the page shows it, empty for no data."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _label(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:g}"


def _finite(values: Sequence[Number]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _scale(chart: Chart) -> tuple[float, float]:
    values = [v for series in chart.series for v in _finite(series.values)]
    if chart.kind == "stacked":
        values = [
            sum(_finite([series.values[i] for series in chart.series]))
            for i in range(len(chart.buckets))
        ]
    low = chart.y_min if chart.y_min is not None else min([0.0, *values])
    if low < 0 and chart.y_min is None:
        low = -_nice_top(-low)
    top = chart.y_max if chart.y_max is not None else _nice_top(max([0.0, *values]))
    if top <= low:
        top = low + 1
    return low, top


def chart_svg(chart: Chart) -> str:
    count = len(chart.buckets)
    low, top = _scale(chart)
    slot = _PLOT_WIDTH / max(1, count)

    def x_center(index: int) -> float:
        return _LEFT + slot * (index + 0.5)

    def y(value: float) -> float:
        value = max(low, min(top, value))
        return _TOP + _PLOT_HEIGHT * (1 - (value - low) / (top - low))

    description = _describe(chart)
    label = f"{chart.title}. {description}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cx-chart cx-report-chart"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label, quote=True)}"'
        f' data-chart="{escape(chart.name, quote=True)}">'
        f"<title>{escape(chart.title)}</title><desc>{escape(description)}</desc>"
    ]
    # Axis: the bottom (or zero) line and three y labels.
    zero = y(0.0) if low < 0 < top else _TOP + _PLOT_HEIGHT
    parts.append(
        f'<line x1="{_LEFT}" y1="{_num(zero)}" x2="{WIDTH - _RIGHT}" y2="{_num(zero)}"'
        f' stroke="{SECONDARY}" stroke-width="1"/>'
    )
    for value in sorted({low, (low + top) / 2, top}):
        parts.append(
            f'<line x1="{_LEFT}" y1="{_num(y(value))}" x2="{WIDTH - _RIGHT}"'
            f' y2="{_num(y(value))}" stroke="#dee2e6" stroke-width="0.5"/>'
            f'<text x="{_LEFT - 4}" y="{_num(y(value) + 3.5)}" text-anchor="end"'
            f' font-size="10" fill="{TEXT}">{escape(_label(value))}</text>'
        )
    # X labels: at most ~8, evenly spread, always the first and the last.
    step = max(1, math.ceil(count / 8))
    shown = set(range(0, count, step)) | ({count - 1} if count else set())
    if not chart.bucket_starts:  # categories: every label, under its bars
        shown = set(range(count))
    for index in sorted(shown):
        if not chart.bucket_starts:
            parts.append(
                f'<text x="{_num(x_center(index))}" y="{HEIGHT - 7}" text-anchor="middle"'
                f' font-size="10" fill="{TEXT}">{escape(chart.buckets[index])}</text>'
            )
            continue
        if index != count - 1 and count - 1 - index < step / 2:
            continue  # too close to the last label
        anchor = "start" if count > 1 and index == 0 else "end" if index == count - 1 else "middle"
        if count == 1:
            anchor = "middle"
        x = (
            x_center(index)
            if anchor == "middle"
            else (_LEFT if anchor == "start" else WIDTH - _RIGHT)
        )
        parts.append(
            f'<text x="{_num(x)}" y="{HEIGHT - 7}" text-anchor="{anchor}" font-size="10"'
            f' fill="{TEXT}">{escape(chart.buckets[index])}</text>'
        )
    colours = chart.colours()
    if chart.kind in ("bar", "stacked"):
        parts += _bars(chart, colours, slot, x_center, y, low)
    else:
        parts += _lines(chart, colours, x_center, y)
    if not chart.has_data:
        parts.append(
            f'<text x="{WIDTH / 2:g}" y="{HEIGHT / 2:g}" text-anchor="middle" font-size="13"'
            f' fill="{TEXT}">No data in this period</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _tip(chart: Chart, series: Series, index: int, value: float) -> str:
    size = _size(series, index)
    n = f" (n = {size:,})" if size is not None else ""
    unit = "" if chart.unit in ("", "accounts", "tickets") else f" {chart.unit}"
    text = f"{series.label}, {chart.buckets[index]}: {_cell(value)}{unit}{n}"
    return f"<title>{escape(text)}</title>"


def _lines(chart: Chart, colours: list[str], x_center, y) -> list[str]:
    parts = []
    for series, colour in zip(chart.series, colours, strict=True):
        run: list[tuple[float, float]] = []
        runs = [run]
        for index, value in enumerate(series.values):
            if value is None:
                run = []
                runs.append(run)
            else:
                run.append((x_center(index), y(float(value))))
        dash = ' stroke-dasharray="5 4"' if series.dashed else ""
        for points in runs:
            if len(points) >= 2:
                path = " ".join(
                    f"{'M' if i == 0 else 'L'}{_num(px)},{_num(py)}"
                    for i, (px, py) in enumerate(points)
                )
                parts.append(
                    f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                    f' stroke-linejoin="round" stroke-linecap="round"{dash}/>'
                )
        for index, value in enumerate(series.values):
            lone = (index == 0 or series.values[index - 1] is None) and (
                index == len(series.values) - 1 or series.values[index + 1] is None
            )
            if value is not None and (len(series.values) <= DOTS_UP_TO or lone):
                # A dot per point, with its number and n on hover (and a lone point shows);
                # past DOTS_UP_TO points only lines (the table and the CSV have them all).
                parts.append(
                    f'<circle cx="{_num(x_center(index))}" cy="{_num(y(float(value)))}" r="3"'
                    f' fill="{colour}">{_tip(chart, series, index, float(value))}</circle>'
                )
    return parts


def _bars(chart: Chart, colours: list[str], slot: float, x_center, y, low: float) -> list[str]:
    parts = []
    groups = len(chart.series)
    width = slot * 0.7
    base = y(max(low, 0.0))
    for index in range(len(chart.buckets)):
        stacked_at = 0.0
        for number, (series, colour) in enumerate(zip(chart.series, colours, strict=True)):
            value = series.values[index]
            if value is None:
                continue
            value = float(value)
            if chart.kind == "stacked":
                y_top, y_bottom = y(stacked_at + value), y(stacked_at)
                left, bar_width = x_center(index) - width / 2, width
                stacked_at += value
            else:
                bar_width = width / groups
                left = x_center(index) - width / 2 + number * bar_width
                y_top, y_bottom = sorted((y(value), base))
            parts.append(
                f'<rect x="{_num(left)}" y="{_num(y_top)}" width="{_num(max(bar_width - 1, 1))}"'
                f' height="{_num(max(y_bottom - y_top, 0.5))}" fill="{colour}">'
                f"{_tip(chart, series, index, value)}</rect>"
            )
    return parts


def _describe(chart: Chart) -> str:
    if not chart.has_data:
        return (
            f"No data from {chart.buckets[0]} to {chart.buckets[-1]}."
            if chart.buckets
            else ("No data.")
        )
    said = []
    for series in chart.series:
        known = [(i, v) for i, v in enumerate(series.values) if v is not None]
        if known:
            index, value = known[-1]
            said.append(f"{series.label} {_cell(value)} at {chart.buckets[index]}")
    return f"{len(chart.buckets)} points; latest: " + "; ".join(said) + "."


__all__ = ["AREA", "BAND_COLOURS", "LINE", "PALETTE", "Chart", "Series", "chart_svg"]
