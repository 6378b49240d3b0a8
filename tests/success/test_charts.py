"""Server-rendered SVG charts (success.charts): well-formed, accessible, gaps for days
without data, and every text escaped."""

import datetime
import xml.etree.ElementTree as ET

import pytest

from success.charts import health_trend_svg, segments, usage_trend_svg

SVG = "{http://www.w3.org/2000/svg}"
END = datetime.date(2026, 3, 31)
START = END - datetime.timedelta(days=89)


def _day(n: int) -> datetime.date:
    return START + datetime.timedelta(days=n)


def _health(points, **kwargs) -> str:
    kwargs = {"start": START, "end": END, "green_at": 70, "yellow_at": 40, **kwargs}
    return health_trend_svg(points, **kwargs)


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def _lines(root: ET.Element, css_class: str = "cx-chart-line") -> list[ET.Element]:
    return [el for el in root.iter() if el.get("class") == css_class]


def test_health_chart_is_an_accessible_image():
    root = _parse(_health([(_day(0), 60.0), (_day(1), 62.0)], title="Health of Acme"))

    assert root.get("role") == "img"
    assert root.get("aria-label").startswith("Health of Acme. Latest 62 on 2 Jan;")
    assert root.find(f"{SVG}title").text == "Health of Acme"
    assert "2 of 90 days scored" in root.find(f"{SVG}desc").text


def test_empty_health_series_says_so_and_draws_no_line():
    root = _parse(_health([]))

    assert _lines(root) == []
    assert "No scores in this period" in ET.tostring(root, encoding="unicode")
    assert root.find(f"{SVG}desc").text == "No scores from 1 Jan to 31 Mar."


def test_days_without_a_score_are_ignored_like_missing_days():
    root = _parse(_health([(_day(0), None), (_day(1), None)]))

    assert _lines(root) == []


def test_a_single_point_is_a_dot():
    root = _parse(_health([(_day(10), 55.0)]))

    (mark,) = _lines(root)
    assert mark.tag == f"{SVG}circle"


def test_gaps_split_the_line():
    points = [(_day(0), 80), (_day(1), 75), (_day(2), None), (_day(3), 70), (_day(4), 65)]
    points += [(_day(7), 60)]  # days 5 and 6 have no snapshot at all

    marks = _lines(_parse(_health(points)))

    assert [mark.tag for mark in marks] == [f"{SVG}path", f"{SVG}path", f"{SVG}circle"]
    assert marks[0].get("d").count("L") == 1  # two points: one move, one line


def test_bands_are_shaded_at_the_models_cut_offs():
    root = _parse(_health([(_day(0), 50.0)], green_at=80, yellow_at=50))
    rects = {el.get("class"): el for el in root.iter(f"{SVG}rect")}

    green, yellow, red = (
        float(rects[f"cx-chart-band-{band}"].get("height")) for band in ("green", "yellow", "red")
    )
    assert set(rects) == {"cx-chart-band-green", "cx-chart-band-yellow", "cx-chart-band-red"}
    assert yellow / green == pytest.approx(1.5)  # 30 points against 20
    assert red / green == pytest.approx(2.5)  # 50 points against 20


def test_points_outside_the_period_are_left_out():
    root = _parse(_health([(START - datetime.timedelta(days=1), 10.0), (_day(3), 90.0)]))

    assert "1 of 90 days scored" in root.find(f"{SVG}desc").text


def test_labels_are_escaped():
    markup = _health([(_day(0), 50.0)], title='<script>alert("x")</script> & co')

    assert "<script>" not in markup
    root = _parse(markup)  # still well-formed
    assert root.find(f"{SVG}title").text == '<script>alert("x")</script> & co'
    assert root.get("aria-label").startswith('<script>alert("x")</script> & co.')


def test_usage_chart_draws_active_users_and_dashed_seats():
    users = [(_day(n), 40 + n) for n in range(5)]
    seats = [(_day(n), 60) for n in range(5)]

    root = _parse(usage_trend_svg(users, seats, start=START, end=END, title="Usage"))

    (line,) = _lines(root)
    (seat_line,) = _lines(root, "cx-chart-seats")
    assert line.get("stroke-dasharray") is None
    assert seat_line.get("stroke-dasharray")
    desc = root.find(f"{SVG}desc").text
    assert (
        desc == "Latest 44 active users on 5 Jan, 60 seats; 5 days with data from 1 Jan to 31 Mar."
    )
    # The y axis tops out at a round number above the largest value.
    assert [text.text for text in root.iter(f"{SVG}text")][:2] == ["0", "100"]


def test_empty_usage_chart_says_so():
    markup = usage_trend_svg([], [], start=START, end=END)

    assert "No active-user data in this period" in markup
    assert _lines(_parse(markup)) == []


def test_usage_labels_are_escaped():
    markup = usage_trend_svg([(_day(0), 3)], [], start=START, end=END, title="A&B <Corp>")

    assert "A&amp;B &lt;Corp&gt;" in markup
    _parse(markup)


def test_segments_are_runs_of_consecutive_days():
    points = [(_day(0), 1.0), (_day(1), 2.0), (_day(3), 3.0)]

    assert segments(points) == [[(_day(0), 1.0), (_day(1), 2.0)], [(_day(3), 3.0)]]
    assert segments([]) == []
