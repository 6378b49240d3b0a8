"""Small server-rendered SVG charts for the success pages: pure functions (no Django, no
database, no JavaScript) that return SVG markup as a string.

Every chart is an ``<svg role="img">`` with an ``aria-label``, a ``<title>`` and a ``<desc>``
summing it up in words, so it reads without the picture. Every piece of text is escaped
here, so a caller may mark the result safe. A day without a value is a gap in the line,
never a drop to 0.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from html import escape

WIDTH = 600
HEIGHT = 160
_LEFT = 34  # room for the y labels
_RIGHT = 8
_TOP = 10
_BOTTOM = 22  # room for the x labels
_PLOT_WIDTH = WIDTH - _LEFT - _RIGHT
_PLOT_HEIGHT = HEIGHT - _TOP - _BOTTOM

# The badge colours of static/css/app.css (cx-badge-green/amber/red) and Bootstrap's blue.
BAND_FILLS = {"green": "#d1e7dd", "yellow": "#fff3cd", "red": "#f8d7da"}
LINE = "#0d6efd"
AREA = "#cfe2ff"
SECONDARY = "#6c757d"
TEXT = "#495057"

Point = tuple[datetime.date, float | int | None]


def _num(value: float) -> str:
    """A coordinate: one decimal, no trailing ".0"."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _value(value: float) -> str:
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def _day(day: datetime.date) -> str:
    return f"{day.day} {day:%b}"


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _x(day: datetime.date, start: datetime.date, end: datetime.date) -> float:
    span = max(1, (end - start).days)
    return _LEFT + _PLOT_WIDTH * (day - start).days / span


def _y(value: float, top: float) -> float:
    value = max(0.0, min(top, value))
    return _TOP + _PLOT_HEIGHT * (1 - value / top)


def _clean(points: Iterable[Point], start: datetime.date, end: datetime.date) -> list[Point]:
    """Points within [start, end] with a finite value, one per day (the last given wins),
    in day order."""
    by_day: dict[datetime.date, float] = {}
    for day, value in points:
        if start <= day <= end and value is not None and math.isfinite(float(value)):
            by_day[day] = float(value)
    return sorted(by_day.items())


def segments(points: Sequence[Point]) -> list[list[Point]]:
    """Runs of consecutive days: a day without a value starts a new run (a gap)."""
    runs: list[list[Point]] = []
    for point in points:
        if runs and (point[0] - runs[-1][-1][0]).days == 1:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _line(
    run: list[Point],
    start: datetime.date,
    end: datetime.date,
    top: float,
    *,
    stroke: str,
    dashed: bool = False,
    css_class: str = "",
) -> str:
    coordinates = [(_x(day, start, end), _y(float(value), top)) for day, value in run]
    if len(coordinates) == 1:  # a lone day: a dot, or it would not show at all
        x, y = coordinates[0]
        return (
            f'<circle class="{css_class}" cx="{_num(x)}" cy="{_num(y)}" r="2.5" fill="{stroke}"/>'
        )
    path = " ".join(
        f"{'M' if index == 0 else 'L'}{_num(x)},{_num(y)}"
        for index, (x, y) in enumerate(coordinates)
    )
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    return (
        f'<path class="{css_class}" d="{path}" fill="none" stroke="{stroke}" stroke-width="2"'
        f' stroke-linejoin="round" stroke-linecap="round"{dash}/>'
    )


def _area(run: list[Point], start: datetime.date, end: datetime.date, top: float) -> str:
    if len(run) < 2:
        return ""
    bottom = _TOP + _PLOT_HEIGHT
    coordinates = [(_x(day, start, end), _y(float(value), top)) for day, value in run]
    path = " ".join(f"L{_num(x)},{_num(y)}" for x, y in coordinates)
    first_x, last_x = coordinates[0][0], coordinates[-1][0]
    return (
        f'<path d="M{_num(first_x)},{_num(bottom)} {path} L{_num(last_x)},{_num(bottom)} Z"'
        f' fill="{AREA}" stroke="none"/>'
    )


def _open(title: str, description: str, css_class: str) -> str:
    label = f"{title}. {description}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cx-chart {css_class}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_attr(label)}">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
    )


def _y_label(value: float, top: float, text: str) -> str:
    y = _y(value, top)
    return (
        f'<text x="{_LEFT - 4}" y="{_num(y + 3.5)}" text-anchor="end" font-size="10"'
        f' fill="{TEXT}">{escape(text)}</text>'
    )


def _x_labels(start: datetime.date, end: datetime.date) -> str:
    y = HEIGHT - 6
    return (
        f'<text x="{_LEFT}" y="{y}" font-size="10" fill="{TEXT}">{escape(_day(start))}</text>'
        f'<text x="{WIDTH - _RIGHT}" y="{y}" text-anchor="end" font-size="10"'
        f' fill="{TEXT}">{escape(_day(end))}</text>'
    )


def _frame() -> str:
    bottom = _TOP + _PLOT_HEIGHT
    return (
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{WIDTH - _RIGHT}" y2="{bottom}"'
        f' stroke="{SECONDARY}" stroke-width="1"/>'
    )


def _no_data(message: str) -> str:
    return (
        f'<text x="{WIDTH / 2:g}" y="{HEIGHT / 2:g}" text-anchor="middle" font-size="13"'
        f' fill="{TEXT}">{escape(message)}</text>'
    )


def health_trend_svg(
    points: Iterable[Point],
    *,
    start: datetime.date,
    end: datetime.date,
    green_at: float,
    yellow_at: float,
    title: str = "Health score",
) -> str:
    """A line of daily health scores (0-100) from ``start`` to ``end`` over the green,
    yellow and red bands (green at or above ``green_at``, yellow from ``yellow_at``)."""
    kept = _clean(points, start, end)
    days = (end - start).days + 1
    if kept:
        latest_day, latest = kept[-1]
        description = (
            f"Latest {_value(latest)} on {_day(latest_day)}; {len(kept)} of {days} days "
            f"scored from {_day(start)} to {_day(end)}. Green at {_value(green_at)}, "
            f"yellow at {_value(yellow_at)}, red below."
        )
    else:
        description = f"No scores from {_day(start)} to {_day(end)}."
    top = 100.0
    parts = [_open(title, description, "cx-chart-health")]
    bands = (("green", 100.0, green_at), ("yellow", green_at, yellow_at), ("red", yellow_at, 0.0))
    for band, high, low in bands:
        y_high, y_low = _y(high, top), _y(low, top)
        if y_low > y_high:
            parts.append(
                f'<rect class="cx-chart-band-{band}" x="{_LEFT}" y="{_num(y_high)}"'
                f' width="{_PLOT_WIDTH}" height="{_num(y_low - y_high)}"'
                f' fill="{BAND_FILLS[band]}"/>'
            )
    parts.append(_frame())
    for value in sorted({0.0, yellow_at, green_at, 100.0}):
        parts.append(_y_label(value, top, _value(value)))
    parts.append(_x_labels(start, end))
    if kept:
        for run in segments(kept):
            parts.append(_line(run, start, end, top, stroke=LINE, css_class="cx-chart-line"))
        day, value = kept[-1]
        parts.append(
            f'<circle cx="{_num(_x(day, start, end))}" cy="{_num(_y(value, top))}" r="3.5"'
            f' fill="{LINE}" stroke="#fff" stroke-width="1.5"/>'
        )
    else:
        parts.append(_no_data("No scores in this period"))
    parts.append("</svg>")
    return "".join(parts)


def _nice_top(value: float) -> float:
    """A round axis maximum at or above ``value``: 1, 2, 2.5, 5 or 10 x a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def usage_trend_svg(
    active_users: Iterable[Point],
    seats: Iterable[Point],
    *,
    start: datetime.date,
    end: datetime.date,
    title: str = "Active users and seats",
) -> str:
    """Daily active users (a shaded line) against seats (a dashed line), ``start`` to
    ``end``; the y axis starts at 0."""
    users = _clean(active_users, start, end)
    licensed = _clean(seats, start, end)
    if users:
        latest_day, latest = users[-1]
        description = f"Latest {_value(latest)} active users on {_day(latest_day)}"
        if licensed:
            description += f", {_value(licensed[-1][1])} seats"
        description += f"; {len(users)} days with data from {_day(start)} to {_day(end)}."
    else:
        description = f"No active-user data from {_day(start)} to {_day(end)}."
    top = _nice_top(max([value for _, value in users + licensed] or [0.0]))
    parts = [_open(title, description, "cx-chart-usage"), _frame()]
    parts.append(_y_label(0.0, top, "0"))
    parts.append(_y_label(top, top, _value(top)))
    parts.append(_x_labels(start, end))
    if users:
        for run in segments(users):
            parts.append(_area(run, start, end, top))
        for run in segments(users):
            parts.append(_line(run, start, end, top, stroke=LINE, css_class="cx-chart-line"))
    for run in segments(licensed):
        parts.append(
            _line(run, start, end, top, stroke=SECONDARY, dashed=True, css_class="cx-chart-seats")
        )
    if not users:
        parts.append(_no_data("No active-user data in this period"))
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["Point", "health_trend_svg", "segments", "usage_trend_svg"]
