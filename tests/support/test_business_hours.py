"""Business-hours arithmetic: hand-worked cases plus hypothesis properties.

Pure functions only: nothing here touches the database, so the file runs in a few seconds.
Expected instants are written in local time and compared in UTC (the functions return UTC;
comparing aware datetimes across zones is unreliable for ambiguous local times, PEP 495).
"""

from __future__ import annotations

import dataclasses
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from support.business_hours import (
    Calendar,
    Interval,
    add_business_time,
    business_seconds_between,
    business_time_between,
    is_business_time,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
H = 3600  # seconds per hour, for readable expectations


def at(tz: ZoneInfo, *fields: int, fold: int = 0) -> datetime:
    """A local wall-clock instant: at(BERLIN, 2025, 6, 13, 16) is Fri 13 June 2025 16:00."""
    return datetime(*fields, tzinfo=tz, fold=fold)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def weekly(zone: str, *intervals: tuple[int, time, time], holidays=()) -> Calendar:
    return Calendar(zone, tuple(Interval(*iv) for iv in intervals), frozenset(holidays))


def office(zone: str = "Europe/Berlin", holidays=()) -> Calendar:
    return weekly(zone, *((day, time(9), time(17)) for day in range(MON, SAT)), holidays=holidays)


OFFICE = office()  # Mon-Fri 09:00-17:00 Europe/Berlin
# Ascension Day (Thu 29 May 2025) and Whit Monday (Mon 9 June 2025).
OFFICE_HOLIDAYS = office(holidays={date(2025, 5, 29), date(2025, 6, 9)})
SPLIT = weekly(
    "Europe/Berlin",
    *((day, time(9), time(12)) for day in range(MON, SAT)),
    *((day, time(13), time(17)) for day in range(MON, SAT)),
)
NIGHT = weekly("Europe/Berlin", (FRI, time(22), time(2)))  # Fri 22:00 -> Sat 02:00
NIGHT_SAT_HOLIDAY = weekly("Europe/Berlin", (FRI, time(22), time(2)), holidays={date(2025, 6, 14)})
NIGHT_FRI_HOLIDAY = weekly("Europe/Berlin", (FRI, time(22), time(2)), holidays={date(2025, 6, 13)})
WHOLE_SUNDAY_BERLIN = weekly("Europe/Berlin", (SUN, time(0), time(0)))  # 00:00-24:00
WHOLE_SUNDAY_NY = weekly("America/New_York", (SUN, time(0), time(0)))
WHOLE_SUNDAY_LORD_HOWE = weekly("Australia/Lord_Howe", (SUN, time(0), time(0)))
SHIFT_BERLIN = weekly("Europe/Berlin", (SUN, time(0), time(6)))  # Sunday night shift
SHIFT_NY = weekly("America/New_York", (SUN, time(0), time(6)))
GAP_EDGES_BERLIN = weekly("Europe/Berlin", (SUN, time(2, 30), time(4)))  # boundary in gap/fold
# "24/7 in local time": every day 00:00-24:00. A holiday in 1999 keeps it off the plain-
# arithmetic shortcut, so the day-by-day path (23- and 25-hour days) is what is tested.
EVERY_DAY_BERLIN = weekly(
    "Europe/Berlin", *((d, time(0), time(0)) for d in range(7)), holidays={date(1999, 1, 1)}
)
EVERY_DAY_NY = weekly(
    "America/New_York", *((d, time(0), time(0)) for d in range(7)), holidays={date(1999, 1, 1)}
)
ALWAYS = Calendar.always()

# (calendar, start, duration, expected result): each comment shows the arithmetic.
ADD_CASES = [
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 13, 16),
        timedelta(hours=2),
        at(BERLIN, 2025, 6, 16, 10),
        id="worked-example-fri-16h-plus-2h",  # Fri 16-17 = 1h, weekend off, Mon 09-10 = 1h
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 16, 7),
        timedelta(hours=1),
        at(BERLIN, 2025, 6, 16, 10),
        id="before-opening",  # counting starts at 09:00: 09:00 + 1h
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 16, 18),
        timedelta(hours=1),
        at(BERLIN, 2025, 6, 17, 10),
        id="after-closing",  # Mon is over; Tue 09:00 + 1h
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 14, 12),
        timedelta(hours=8),
        at(BERLIN, 2025, 6, 16, 17),
        id="weekend-start-ends-at-closing",  # Mon 09-17 = 8h: earliest instant is Mon 17:00
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 16, 9),
        timedelta(hours=9),
        at(BERLIN, 2025, 6, 17, 10),
        id="more-than-one-day",  # Mon 09-17 = 8h, Tue 09-10 = 1h
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 17, 10, 15),
        timedelta(minutes=90),
        at(BERLIN, 2025, 6, 17, 11, 45),
        id="within-a-day",  # 10:15 + 1h30
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 16, 9),
        timedelta(hours=41),
        at(BERLIN, 2025, 6, 23, 10),
        id="more-than-a-week",  # Mon-Fri 5 x 8h = 40h, then next Mon 09-10 = 1h
    ),
    pytest.param(
        OFFICE_HOLIDAYS,
        at(BERLIN, 2025, 6, 9, 10),
        timedelta(hours=1),
        at(BERLIN, 2025, 6, 10, 10),
        id="start-on-holiday",  # Whit Monday counts nothing; Tue 09:00 + 1h
    ),
    pytest.param(
        OFFICE_HOLIDAYS,
        at(BERLIN, 2025, 5, 28, 16),
        timedelta(hours=2),
        at(BERLIN, 2025, 5, 30, 10),
        id="day-before-holiday",  # Wed 16-17 = 1h, Thu Ascension off, Fri 09-10 = 1h
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 3, 28, 16),
        timedelta(hours=2),
        at(BERLIN, 2025, 3, 31, 10),
        id="office-over-spring-forward-weekend",  # local hours: Fri 16-17, Mon 09-10
    ),
    pytest.param(
        SPLIT,
        at(BERLIN, 2025, 6, 16, 12, 30),
        timedelta(hours=1),
        at(BERLIN, 2025, 6, 16, 14),
        id="split-day-start-in-lunch-gap",  # counting starts 13:00: 13:00 + 1h
    ),
    pytest.param(
        SPLIT,
        at(BERLIN, 2025, 6, 16, 11),
        timedelta(hours=2),
        at(BERLIN, 2025, 6, 16, 14),
        id="split-day-across-lunch",  # 11-12 = 1h, 13-14 = 1h
    ),
    pytest.param(
        SPLIT,
        at(BERLIN, 2025, 6, 16, 9),
        timedelta(hours=3),
        at(BERLIN, 2025, 6, 16, 12),
        id="split-day-ends-at-lunch",  # 09-12 = 3h: 12:00, not 13:00
    ),
    pytest.param(
        SPLIT,
        at(BERLIN, 2025, 6, 16, 9),
        timedelta(hours=7, minutes=30),
        at(BERLIN, 2025, 6, 17, 9, 30),
        id="split-day-full-day",  # 3h + 4h = 7h on Mon, Tue 09:00-09:30
    ),
    pytest.param(
        NIGHT,
        at(BERLIN, 2025, 6, 13, 21),
        timedelta(hours=3),
        at(BERLIN, 2025, 6, 14, 1),
        id="overnight-into-saturday",  # Fri 22-24 = 2h, Sat 00-01 = 1h
    ),
    pytest.param(
        NIGHT,
        at(BERLIN, 2025, 6, 14, 1, 30),
        timedelta(hours=1),
        at(BERLIN, 2025, 6, 20, 22, 30),
        id="overnight-start-after-midnight",  # Sat 01:30-02:00 = 30m, next Fri 22:00 + 30m
    ),
    pytest.param(
        NIGHT_SAT_HOLIDAY,
        at(BERLIN, 2025, 6, 13, 22),
        timedelta(hours=3),
        at(BERLIN, 2025, 6, 20, 23),
        id="overnight-saturday-holiday",  # Fri 22-24 = 2h, Sat 00-02 is a holiday, Fri 22-23
    ),
    pytest.param(
        NIGHT_FRI_HOLIDAY,
        at(BERLIN, 2025, 6, 13, 20),
        timedelta(hours=1),
        at(BERLIN, 2025, 6, 14, 1),
        id="overnight-friday-holiday",  # Fri 22-24 is a holiday, Sat 00-01 still counts
    ),
    pytest.param(
        SHIFT_BERLIN,
        at(BERLIN, 2025, 3, 30, 0),
        timedelta(hours=2),
        at(BERLIN, 2025, 3, 30, 3),
        id="berlin-spring-shift",  # 00:00 CET = 23:00Z; +2h = 01:00Z = 03:00 CEST
    ),
    pytest.param(
        SHIFT_BERLIN,
        at(BERLIN, 2025, 3, 30, 0),
        timedelta(hours=5),
        at(BERLIN, 2025, 3, 30, 6),
        id="berlin-spring-shift-is-5h",  # 23:00Z + 5h = 04:00Z = 06:00 CEST, the shift's end
    ),
    pytest.param(
        SHIFT_BERLIN,
        at(BERLIN, 2025, 10, 26, 0),
        timedelta(hours=4),
        at(BERLIN, 2025, 10, 26, 3),
        id="berlin-fall-shift",  # 00:00 CEST = 22:00Z; +4h = 02:00Z = 03:00 CET
    ),
    pytest.param(
        SHIFT_BERLIN,
        at(BERLIN, 2025, 10, 26, 0),
        timedelta(hours=7),
        at(BERLIN, 2025, 10, 26, 6),
        id="berlin-fall-shift-is-7h",  # 22:00Z + 7h = 05:00Z = 06:00 CET, the shift's end
    ),
    pytest.param(
        SHIFT_NY,
        at(NEW_YORK, 2025, 3, 9, 0),
        timedelta(hours=3),
        at(NEW_YORK, 2025, 3, 9, 4),
        id="new-york-spring-shift",  # 00:00 EST = 05:00Z; +3h = 08:00Z = 04:00 EDT
    ),
    pytest.param(
        SHIFT_NY,
        at(NEW_YORK, 2025, 11, 2, 0),
        timedelta(hours=2),
        at(NEW_YORK, 2025, 11, 2, 1, fold=1),
        id="new-york-fall-shift-second-1am",  # 00:00 EDT = 04:00Z; +2h = 06:00Z = 01:00 EST
    ),
    pytest.param(
        EVERY_DAY_BERLIN,
        at(BERLIN, 2025, 3, 29, 12),
        timedelta(hours=24),
        at(BERLIN, 2025, 3, 30, 13),
        id="berlin-every-day-spring",  # 11:00Z + 24h = Sun 11:00Z = 13:00 CEST (23h day)
    ),
    pytest.param(
        EVERY_DAY_NY,
        at(NEW_YORK, 2025, 11, 1, 12),
        timedelta(hours=24),
        at(NEW_YORK, 2025, 11, 2, 11),
        id="new-york-every-day-fall",  # 16:00Z + 24h = Sun 16:00Z = 11:00 EST (25h day)
    ),
    pytest.param(
        GAP_EDGES_BERLIN,
        at(BERLIN, 2025, 3, 30, 0),
        timedelta(minutes=30),
        at(BERLIN, 2025, 3, 30, 3, 30),
        id="boundary-in-gap-moves-to-03h",  # 02:30 does not exist -> starts 03:00 CEST
    ),
    pytest.param(
        GAP_EDGES_BERLIN,
        at(BERLIN, 2025, 10, 26, 0),
        timedelta(hours=1),
        at(BERLIN, 2025, 10, 26, 2, 30, fold=1),
        id="boundary-in-fold-uses-first",  # from 02:30 CEST = 00:30Z; +1h = 01:30Z = 02:30 CET
    ),
    pytest.param(
        ALWAYS,
        at(BERLIN, 2025, 10, 25, 12),
        timedelta(hours=100),
        datetime(2025, 10, 29, 14, tzinfo=UTC),
        id="always-is-plain-arithmetic",  # Sat 12:00 CEST = 10:00Z; + 100h = Wed 14:00Z
    ),
    pytest.param(
        ALWAYS,
        at(NEW_YORK, 2025, 11, 2, 1, 30, fold=1),
        timedelta(seconds=1),
        at(NEW_YORK, 2025, 11, 2, 1, 30, 1, fold=1),
        id="always-from-second-occurrence",  # 06:30:00Z + 1s, fold respected
    ),
]


@pytest.mark.parametrize(("calendar", "start", "duration", "expected"), ADD_CASES)
def test_add_business_time(calendar, start, duration, expected):
    result = add_business_time(calendar, start, duration)
    assert result == utc(expected)
    assert result.tzinfo is UTC
    # ...and the elapsed working time between the two is exactly the duration.
    assert business_time_between(calendar, start, result) == duration


# (calendar, start, end, expected business seconds): each comment shows the arithmetic.
ELAPSED_CASES = [
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 13, 16),
        at(BERLIN, 2025, 6, 16, 10),
        2 * H,
        id="worked-example-66h-calendar-2h-business",  # Fri 16-17 + Mon 09-10
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 16),
        at(BERLIN, 2025, 6, 23),
        40 * H,
        id="office-week",  # 5 x 8h
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 3, 24),
        at(BERLIN, 2025, 3, 31),
        40 * H,
        id="office-week-with-spring-forward",  # local hours, the Sunday change is off time
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 1, 6),
        at(BERLIN, 2026, 1, 5),
        52 * 40 * H,
        id="office-year",  # 52 whole weeks (both DST changes), 52 x 40h
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 16, 12),
        at(BERLIN, 2025, 6, 16, 12),
        0,
        id="empty-range",
    ),
    pytest.param(
        OFFICE,
        at(BERLIN, 2025, 6, 16, 12),
        at(BERLIN, 2025, 6, 16, 10),
        0,
        id="end-before-start",
    ),
    pytest.param(
        OFFICE_HOLIDAYS,
        at(BERLIN, 2025, 5, 28, 16),
        at(BERLIN, 2025, 5, 30, 10),
        2 * H,
        id="across-holiday",  # Wed 16-17 + Fri 09-10; Thu is Ascension Day
    ),
    pytest.param(
        SPLIT,
        at(BERLIN, 2025, 6, 16, 11, 30),
        at(BERLIN, 2025, 6, 16, 13, 30),
        H,
        id="split-day-across-lunch",  # 11:30-12:00 + 13:00-13:30
    ),
    pytest.param(
        NIGHT,
        at(BERLIN, 2025, 6, 13, 23),
        at(BERLIN, 2025, 6, 14, 3),
        3 * H,
        id="overnight",  # Fri 23-24 + Sat 00-02
    ),
    pytest.param(
        NIGHT_SAT_HOLIDAY,
        at(BERLIN, 2025, 6, 13, 22),
        at(BERLIN, 2025, 6, 14, 3),
        2 * H,
        id="overnight-saturday-holiday",  # Fri 22-24 only
    ),
    pytest.param(
        NIGHT_FRI_HOLIDAY,
        at(BERLIN, 2025, 6, 13, 21),
        at(BERLIN, 2025, 6, 14, 3),
        2 * H,
        id="overnight-friday-holiday",  # Sat 00-02 only
    ),
    pytest.param(
        WHOLE_SUNDAY_BERLIN,
        at(BERLIN, 2025, 3, 29),
        at(BERLIN, 2025, 3, 31),
        23 * H,
        id="berlin-spring-sunday-23h",  # Sun 00:00 CET = Sat 23:00Z .. Mon 00:00 CEST = 22:00Z
    ),
    pytest.param(
        WHOLE_SUNDAY_BERLIN,
        at(BERLIN, 2025, 10, 25),
        at(BERLIN, 2025, 10, 27),
        25 * H,
        id="berlin-fall-sunday-25h",  # Sat 22:00Z .. Sun 23:00Z
    ),
    pytest.param(
        WHOLE_SUNDAY_NY,
        at(NEW_YORK, 2025, 3, 8),
        at(NEW_YORK, 2025, 3, 10),
        23 * H,
        id="new-york-spring-sunday-23h",  # 05:00Z .. Mon 04:00Z
    ),
    pytest.param(
        WHOLE_SUNDAY_NY,
        at(NEW_YORK, 2025, 11, 1),
        at(NEW_YORK, 2025, 11, 3),
        25 * H,
        id="new-york-fall-sunday-25h",  # 04:00Z .. Mon 05:00Z
    ),
    pytest.param(
        SHIFT_BERLIN,
        at(BERLIN, 2025, 3, 29),
        at(BERLIN, 2025, 3, 31),
        5 * H,
        id="berlin-spring-shift-5h",  # 00:00 CET = 23:00Z .. 06:00 CEST = 04:00Z
    ),
    pytest.param(
        SHIFT_BERLIN,
        at(BERLIN, 2025, 10, 25),
        at(BERLIN, 2025, 10, 27),
        7 * H,
        id="berlin-fall-shift-7h",  # 00:00 CEST = 22:00Z .. 06:00 CET = 05:00Z
    ),
    pytest.param(
        SHIFT_NY,
        at(NEW_YORK, 2025, 3, 8),
        at(NEW_YORK, 2025, 3, 10),
        5 * H,
        id="new-york-spring-shift-5h",  # 05:00Z .. 10:00Z
    ),
    pytest.param(
        SHIFT_NY,
        at(NEW_YORK, 2025, 11, 1),
        at(NEW_YORK, 2025, 11, 3),
        7 * H,
        id="new-york-fall-shift-7h",  # 04:00Z .. 11:00Z
    ),
    pytest.param(
        EVERY_DAY_BERLIN,
        at(BERLIN, 2025, 3, 29, 12),
        at(BERLIN, 2025, 3, 31, 12),
        47 * H,
        id="berlin-every-day-spring-47h",  # Sat 11:00Z .. Mon 10:00Z
    ),
    pytest.param(
        EVERY_DAY_BERLIN,
        at(BERLIN, 2025, 10, 25, 12),
        at(BERLIN, 2025, 10, 27, 12),
        49 * H,
        id="berlin-every-day-fall-49h",  # Sat 10:00Z .. Mon 11:00Z
    ),
    pytest.param(
        GAP_EDGES_BERLIN,
        at(BERLIN, 2025, 3, 29),
        at(BERLIN, 2025, 3, 31),
        H,
        id="gap-boundary-02h30-to-03h",  # 03:00-04:00 CEST = 01:00Z-02:00Z
    ),
    pytest.param(
        GAP_EDGES_BERLIN,
        at(BERLIN, 2025, 10, 25),
        at(BERLIN, 2025, 10, 27),
        2.5 * H,
        id="fold-boundary-first-02h30",  # 02:30 CEST = 00:30Z .. 04:00 CET = 03:00Z
    ),
    pytest.param(
        WHOLE_SUNDAY_LORD_HOWE,
        at(LORD_HOWE, 2025, 4, 5),
        at(LORD_HOWE, 2025, 4, 7),
        24.5 * H,
        id="lord-howe-half-hour-fall-back",  # 00:00 +11:00 = 13:00Z .. 00:00 +10:30 = 13:30Z
    ),
    pytest.param(
        WHOLE_SUNDAY_LORD_HOWE,
        at(LORD_HOWE, 2025, 10, 4),
        at(LORD_HOWE, 2025, 10, 6),
        23.5 * H,
        id="lord-howe-half-hour-spring",  # 00:00 +10:30 = 13:30Z .. 00:00 +11:00 = 13:00Z
    ),
    pytest.param(
        ALWAYS,
        at(BERLIN, 2025, 10, 25, 12),
        at(BERLIN, 2025, 10, 27, 12),
        49 * H,
        id="always-is-real-time",  # 10:00Z .. 11:00Z two days later
    ),
]


@pytest.mark.parametrize(("calendar", "start", "end", "expected"), ELAPSED_CASES)
def test_business_seconds_between(calendar, start, end, expected):
    seconds = business_seconds_between(calendar, start, end)
    assert seconds == expected
    assert type(seconds) is int  # whole-second inputs give int seconds
    assert seconds <= max(0, (utc(end) - utc(start)).total_seconds())


def test_worked_example_calendar_vs_business_time():
    """The metric definitions' example: created Fri 16:00, resolved Mon 10:00."""
    created, resolved = at(BERLIN, 2025, 6, 13, 16), at(BERLIN, 2025, 6, 16, 10)
    assert business_seconds_between(ALWAYS, created, resolved) == 66 * H
    assert business_seconds_between(OFFICE, created, resolved) == 2 * H


def test_seconds_are_float_only_for_fractions():
    start = at(BERLIN, 2025, 6, 16, 10)
    assert business_seconds_between(OFFICE, start, start + timedelta(microseconds=1500)) == 0.0015
    assert business_time_between(OFFICE, start, start + timedelta(microseconds=1)) == timedelta(
        microseconds=1
    )


def test_is_business_time_half_open_spans():
    assert is_business_time(OFFICE, at(BERLIN, 2025, 6, 16, 9))  # opening instant counts
    assert is_business_time(OFFICE, at(BERLIN, 2025, 6, 16, 16, 59, 59))
    assert not is_business_time(OFFICE, at(BERLIN, 2025, 6, 16, 17))  # closing does not
    assert not is_business_time(OFFICE, at(BERLIN, 2025, 6, 14, 12))  # Saturday
    assert not is_business_time(OFFICE_HOLIDAYS, at(BERLIN, 2025, 6, 9, 12))  # holiday
    assert is_business_time(NIGHT, at(BERLIN, 2025, 6, 14, 1))  # Sat part of Fri night
    assert not is_business_time(NIGHT_SAT_HOLIDAY, at(BERLIN, 2025, 6, 14, 1))
    assert is_business_time(NIGHT_FRI_HOLIDAY, at(BERLIN, 2025, 6, 14, 1))
    assert is_business_time(ALWAYS, at(NEW_YORK, 2025, 11, 2, 1, 30, fold=1))


def test_always_is_plain_arithmetic_everywhere():
    start = at(NEW_YORK, 2025, 3, 9, 1, 30)
    for hours in (1, 24, 1000):
        assert add_business_time(ALWAYS, start, timedelta(hours=hours)) == utc(start) + timedelta(
            hours=hours
        )
    assert ALWAYS == Calendar.always()
    assert ALWAYS.time_zone == "UTC"


def test_adding_10000_business_hours_is_fast():
    start = at(BERLIN, 2025, 6, 16, 9)
    # 10,000h / 40h = 250 weeks: the last hour ends on Friday 17:00 of the 250th week,
    # Mon 16 June 2025 + 249 weeks + 4 days = Fri 29 March 2030 (still CET).
    assert date(2025, 6, 16) + timedelta(weeks=249, days=4) == date(2030, 3, 29)
    expected = at(BERLIN, 2030, 3, 29, 17)
    assert add_business_time(OFFICE, start, timedelta(hours=10_000)) == utc(expected)
    timings = []
    for _ in range(5):
        began = clock.perf_counter()
        add_business_time(OFFICE, start, timedelta(hours=10_000))
        timings.append(clock.perf_counter() - began)
    assert min(timings) < 0.010
    assert business_seconds_between(OFFICE, start, expected) == 10_000 * H


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "Europe"])
def test_unknown_time_zone_is_refused(zone):
    with pytest.raises(ValueError, match="Unknown time zone"):
        office(zone)


def test_zero_length_interval_is_refused():
    with pytest.raises(ValueError, match="start and end are equal"):
        Interval(MON, time(9), time(9))


def test_whole_day_and_until_midnight_intervals_are_allowed():
    assert Interval(MON, time(0), time(0)).length == timedelta(days=1)
    assert Interval(MON, time(18), time(0)).length == timedelta(hours=6)
    assert not Interval(MON, time(18), time(0)).overnight
    assert Interval(FRI, time(22), time(2)).overnight


@pytest.mark.parametrize("weekday", [-1, 7])
def test_weekday_out_of_range_is_refused(weekday):
    with pytest.raises(ValueError, match="weekday"):
        Interval(weekday, time(9), time(17))


def test_interval_times_must_be_local():
    with pytest.raises(ValueError, match="without a time zone"):
        Interval(MON, time(9, tzinfo=UTC), time(17))


@pytest.mark.parametrize(
    "intervals",
    [
        pytest.param([(MON, time(9), time(12)), (MON, time(11), time(13))], id="same-day"),
        pytest.param([(MON, time(9), time(12)), (MON, time(9), time(12))], id="duplicate"),
        pytest.param([(MON, time(8), time(18)), (MON, time(12), time(13))], id="contained"),
        pytest.param(
            [(FRI, time(22), time(2)), (SAT, time(1), time(5))], id="overnight-spills-over"
        ),
        pytest.param(
            [(SUN, time(22), time(2)), (MON, time(1), time(9))], id="sunday-night-into-monday"
        ),
        pytest.param([(MON, time(0), time(0)), (MON, time(23), time(1))], id="whole-day"),
    ],
)
def test_overlapping_intervals_are_refused(intervals):
    with pytest.raises(ValueError, match="Working hours overlap"):
        weekly("Europe/Berlin", *intervals)


def test_touching_intervals_are_allowed():
    calendar = weekly(
        "Europe/Berlin",
        (MON, time(9), time(12)),
        (MON, time(12), time(13)),
        (FRI, time(22), time(2)),
        (SAT, time(2), time(6)),
        (SUN, time(0), time(0)),
    )
    # Fri 22:00 -> Sat 06:00 is one continuous 8h stretch.
    assert (
        business_seconds_between(calendar, at(BERLIN, 2025, 6, 13, 20), at(BERLIN, 2025, 6, 14, 8))
        == 8 * H
    )


def test_calendar_without_working_time_is_refused():
    with pytest.raises(ValueError, match="no working hours"):
        Calendar("Europe/Berlin", ())


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(minutes=-5)])
def test_duration_must_be_positive(duration):
    with pytest.raises(ValueError, match="must be positive"):
        add_business_time(OFFICE, at(BERLIN, 2025, 6, 16, 9), duration)


def test_naive_datetimes_are_refused():
    naive, aware = datetime(2025, 6, 16, 9), at(BERLIN, 2025, 6, 16, 9)  # noqa: DTZ001
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add_business_time(OFFICE, naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        business_seconds_between(OFFICE, naive, aware)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        business_seconds_between(OFFICE, aware, naive)
    with pytest.raises(ValueError, match="moment must be timezone-aware"):
        is_business_time(OFFICE, naive)


def test_holidays_for_years_fail_fast_with_a_clear_error():
    every_day = frozenset(date(2025, 1, 1) + timedelta(days=n) for n in range(15 * 366))
    calendar = office(holidays=every_day)
    began = clock.perf_counter()
    with pytest.raises(ValueError, match="within 10 years"):
        add_business_time(calendar, at(BERLIN, 2025, 1, 2, 9), timedelta(minutes=1))
    assert business_seconds_between(calendar, at(BERLIN, 2025, 1, 1), at(BERLIN, 2039, 1, 1)) == 0
    assert clock.perf_counter() - began < 0.5


def test_holidays_must_be_dates():
    with pytest.raises(TypeError, match=r"datetime\.date"):
        office(holidays={at(BERLIN, 2025, 6, 9)})


def test_calendar_normalises_and_is_hashable():
    calendar = Calendar(
        "Europe/Berlin", [Interval(MON, time(9), time(17))], [date(2025, 6, 9), date(2025, 6, 9)]
    )
    assert calendar.intervals == (Interval(MON, time(9), time(17)),)
    assert calendar.holidays == frozenset({date(2025, 6, 9)})
    assert hash(calendar) == hash(dataclasses.replace(calendar))
    with pytest.raises(ValueError, match="Unknown time zone"):
        dataclasses.replace(calendar, time_zone="Mars/Olympus")


# --- properties ------------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
FIRST, LAST = datetime(2023, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
# Around daylight-saving changes of the zones above (the exact instants vary by zone).
DST_DAYS = [
    datetime(year, month, day, tzinfo=UTC)
    for year in (2024, 2025, 2026)
    for month, day in ((3, 10), (3, 30), (4, 6), (10, 5), (10, 27), (11, 2))
]


def _interval(start_minute: int, length: int) -> Interval:
    """Interval from a minute of the week; length 1..1440 (1440 only from 00:00)."""
    start = start_minute % WEEK_MINUTES
    end = (start + length) % DAY_MINUTES
    return Interval(
        start // DAY_MINUTES, time(*divmod(start % DAY_MINUTES, 60)), time(*divmod(end, 60))
    )


@st.composite
def calendars(draw, grid: int = 1) -> Calendar:
    """Random valid calendars: a few non-overlapping intervals (overnight ones and Sunday
    night into Monday included, by rotating the week), or whole days; random holidays."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 4)) == 0:
        days = draw(st.sets(st.integers(0, 6), min_size=1))
        intervals = [Interval(day, time(0), time(0)) for day in days]
    else:
        step = draw(st.sampled_from([s for s in (1, 15, 60) if s % grid == 0]))
        cuts = draw(
            st.lists(
                st.integers(0, WEEK_MINUTES // step - 1).map(lambda n: n * step),
                min_size=2,
                max_size=20,
                unique=True,
            )
        )
        cuts.sort()
        rotation = step * draw(st.integers(0, WEEK_MINUTES // step - 1))
        intervals = []
        for begin, finish in zip(cuts[::2], cuts[1::2], strict=False):
            start = (begin + rotation) % WEEK_MINUTES
            longest = DAY_MINUTES if start % DAY_MINUTES == 0 else DAY_MINUTES - step
            intervals.append(_interval(start, min(finish - begin, longest)))
    holidays = draw(st.frozensets(st.dates(date(2022, 12, 1), date(2028, 12, 31)), max_size=40))
    return Calendar(zone, tuple(intervals), holidays)


def _instant(epoch_seconds: int, zone: str) -> datetime:
    """An aware datetime in the calendar's zone (or UTC), so folds are exercised too."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).astimezone(ZoneInfo(zone))


def starts(zone: str):
    uniform = st.integers(int(FIRST.timestamp()), int(LAST.timestamp()))
    near_dst = st.builds(
        lambda day, shift: int(day.timestamp()) + shift,
        st.sampled_from(DST_DAYS),
        st.integers(-4 * 86_400, 4 * 86_400),
    )
    minute_aligned = uniform.map(lambda s: s - s % 900)  # hits interval boundaries often
    return st.one_of(uniform, near_dst, minute_aligned).map(lambda s: _instant(s, zone))


def weekly_seconds(calendar: Calendar) -> int:
    return int(sum((iv.length for iv in calendar.intervals), timedelta()).total_seconds())


def durations(data, calendar: Calendar) -> timedelta:
    """1 minute to 500 hours, but at most ~200 weeks' worth so the 10-year bound is never hit
    by a calendar with very little weekly working time."""
    most = min(500 * H, 200 * weekly_seconds(calendar))
    return timedelta(seconds=data.draw(st.integers(60, most)))


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(calendar=calendars(), data=st.data())
def test_property_add_composes(calendar, data):
    start = data.draw(starts(calendar.time_zone))
    first, second = durations(data, calendar), durations(data, calendar)
    stepwise = add_business_time(calendar, add_business_time(calendar, start, first), second)
    assert stepwise == add_business_time(calendar, start, first + second)


@PROPERTY_SETTINGS
@given(calendar=calendars(), data=st.data())
def test_property_elapsed_inverts_add_and_result_is_working_time(calendar, data):
    start = data.draw(starts(calendar.time_zone))
    duration = durations(data, calendar)
    result = add_business_time(calendar, start, duration)
    assert result > utc(start)
    assert business_seconds_between(calendar, start, result) == int(duration.total_seconds())
    # The result is inside a working span or at its closing instant: just before it is working.
    assert is_business_time(calendar, result - timedelta(microseconds=1))


@PROPERTY_SETTINGS
@given(calendar=calendars(), data=st.data())
def test_property_elapsed_is_additive_and_bounded_by_real_time(calendar, data):
    # Sort and subtract in UTC: same-zone aware datetimes compare by wall clock (PEP 495).
    a, b, c = sorted((data.draw(starts(calendar.time_zone)) for _ in range(3)), key=utc)
    ab, bc = business_seconds_between(calendar, a, b), business_seconds_between(calendar, b, c)
    assert ab + bc == business_seconds_between(calendar, a, c)
    assert 0 <= ab <= (utc(b) - utc(a)).total_seconds()
    assert 0 <= bc <= (utc(c) - utc(b)).total_seconds()
    if utc(c) > utc(a):
        assert business_seconds_between(calendar, c, a) == 0  # reversed range


def _oracle_is_working(calendar: Calendar, instant: datetime) -> bool:
    """Independent definition: the instant's local date is no holiday and its local wall time
    lies in an interval of that weekday (or in the after-midnight part of yesterday's)."""
    local = instant.astimezone(ZoneInfo(calendar.time_zone))
    if local.date() in calendar.holidays:
        return False
    weekday, wall = local.weekday(), local.time().replace(fold=0)
    for interval in calendar.intervals:
        if interval.end > interval.start:
            if weekday == interval.weekday and interval.start <= wall < interval.end:
                return True
        else:
            if weekday == interval.weekday and wall >= interval.start:
                return True
            if weekday == (interval.weekday + 1) % 7 and wall < interval.end:
                return True
    return False


@settings(max_examples=100, deadline=None)
@given(
    calendar=calendars(grid=15),
    quarter=st.integers(int(FIRST.timestamp()) // 900, int(LAST.timestamp()) // 900),
    quarters=st.integers(0, 3 * 96),
)
def test_property_matches_quarter_hour_oracle_away_from_dst(calendar, quarter, quarters):
    """Away from offset changes (where the boundary rules are defined, not derived), the
    result equals counting working quarter-hours one by one."""
    tz = ZoneInfo(calendar.time_zone)
    start = datetime.fromtimestamp(quarter * 900, tz=UTC)
    end = start + timedelta(minutes=15 * quarters)
    # No offset change within two days of the range (changes are months apart here).
    margin = timedelta(days=2)
    assume((start - margin).astimezone(tz).utcoffset() == (end + margin).astimezone(tz).utcoffset())
    steps = [start + timedelta(minutes=15 * n) for n in range(quarters)]
    working = [_oracle_is_working(calendar, step) for step in steps]
    assert business_seconds_between(calendar, start, end) == 900 * sum(working)
    for step, expected in list(zip(steps, working, strict=True))[::7]:
        assert is_business_time(calendar, step) == expected
