"""Business-hours arithmetic for SLA due times: a pure, database-free module.

The model
=========
A :class:`Calendar` has

* an IANA time zone (``zoneinfo``), e.g. ``"Europe/Berlin"``;
* weekly working :class:`Interval` s in LOCAL wall-clock time, e.g. Monday 09:00-12:00 and
  Monday 13:00-17:00. Several intervals per day are allowed;
* holidays: local dates on which no working time counts.

``Calendar.always()`` is the 24/7 calendar ("calendar time"): both functions reduce to plain
``datetime`` arithmetic.

Intervals
---------
``Interval(weekday, start, end)`` with ``weekday`` 0 = Monday ... 6 = Sunday and naive
``datetime.time`` values:

* ``end > start``: the interval lies within the day (09:00-17:00).
* ``end <= start``: the interval is *overnight* and ends on the next day at ``end``:
  Friday 22:00-02:00 runs from Friday 22:00 to Saturday 02:00. ``end == 00:00`` therefore
  means "until midnight" (Monday 18:00-00:00 is 18:00-24:00).
* ``start == end == 00:00`` is the whole day (00:00-24:00).
* any other ``start == end`` is a zero-length interval and is refused; with this
  representation that is the only way an interval can be "inverted".

Intervals must not overlap (touching is fine, e.g. Monday 00:00-00:00 and Tuesday
00:00-00:00, or Friday 22:00-02:00 and Saturday 02:00-06:00). Overlap is checked on the
weekly wall clock, so the part of an overnight interval after midnight is checked against the
next day's intervals, and Sunday night spills into Monday morning.

Holidays: who owns the hours after midnight?
--------------------------------------------
Each instant is checked against the holiday list by its OWN local date. An overnight interval
is split at midnight: for Friday 22:00-02:00, Friday 22:00-24:00 belongs to Friday and
Saturday 00:00-02:00 belongs to Saturday. If Saturday is a holiday, only the Friday part
counts; if Friday is a holiday, only the Saturday part counts.

Time zones and daylight saving time
-----------------------------------
All arithmetic is done on UTC instants; local wall-clock times are only used to place the
boundaries of a given local date's intervals, which are then converted to UTC. Hence a working
day that contains a DST transition has more or less real time: 00:00-06:00 on the
spring-forward night in Europe/Berlin is 5 real hours, on the fall-back night 7 real hours.
A boundary's wall-clock time is converted deterministically:

* an ambiguous time (fall back: the hour that occurs twice) uses its FIRST occurrence
  (``fold=0``);
* a non-existent time (spring forward: the skipped hour) moves to the first valid instant
  after the gap (02:30 on the Berlin spring-forward night becomes 03:00 CEST). A boundary at
  midnight is resolved the same way, so local date D owns the real time from D's resolved
  midnight up to D+1's. This is "each instant by its own local date" except in the rare zones
  that fall back *across* midnight, where the repeated minutes belong to the later date.

Results and errors
------------------
* All datetimes passed in must be timezone-aware (any ``tzinfo``); naive ones raise
  ``ValueError``. ``add_business_time`` returns an aware datetime in UTC; use
  ``.astimezone(ZoneInfo(calendar.time_zone))`` to display it.
* ``add_business_time`` returns the EARLIEST instant at which the duration has elapsed, so the
  result can be the end of a working span (Mon 09:00 + 8 h on a 09:00-17:00 calendar is Mon
  17:00, not Tue 09:00). A start outside working time starts counting at the next working
  instant.
* ``business_seconds_between`` returns an ``int`` when the result is a whole number of
  seconds (always the case with whole-second inputs and boundaries) and a ``float``
  otherwise; ``business_time_between`` is the exact ``timedelta`` version.
* Invalid calendars raise ``ValueError`` with messages meant for an administrator; wrong
  argument *types* raise ``TypeError``.
* The search for working time is bounded (:data:`MAX_SEARCH_DAYS`, about ten years), so a
  calendar whose holidays cover every working day fails fast with a clear error instead of
  looping.

Validation
----------
``Calendar(...)`` validates on construction (there is no separate step; an invalid calendar
cannot exist) and refuses: an unknown time zone, a zero-length interval, overlapping intervals
(including an overnight interval running into the next day's, and Sunday night into Monday),
and a calendar without any interval (due times could never be reached).

Speed
-----
Days without working intervals and holidays are skipped without any time-zone work, and runs
of whole weeks without holidays or UTC-offset changes are consumed in one step each. The
offset changes of a zone are found once per zone and year (sampling every
:data:`SAMPLE_STEP`, then bisection) and cached; this assumes a zone never changes its offset
twice within three days, which holds for the IANA database (since 1900 the closest two
changes of any zone are four days apart, since 1970 about a week). Adding 10,000 business
hours to a Mon-Fri calendar takes about a millisecond (a few more the first time a process
meets those years of that zone).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MAX_SEARCH_DAYS",
    "Calendar",
    "Interval",
    "add_business_time",
    "business_seconds_between",
    "business_time_between",
    "is_business_time",
]

ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(days=7)
MICROSECOND = timedelta(microseconds=1)
MIDNIGHT = time(0)
#: Offset-change detection samples a zone this often; see "Speed" above.
SAMPLE_STEP = timedelta(days=3)

#: How far (in local days) ``add_business_time`` looks for working time before giving up.
MAX_SEARCH_DAYS = 3653  # ten years

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# A working span as real instants (UTC), half-open: [start, end).
Span = tuple[datetime, datetime]
# A piece of one local date's schedule, as offsets from local midnight: 0 <= start < end <= 24h.
Piece = tuple[timedelta, timedelta]


def _since_midnight(value: time) -> timedelta:
    """Wall-clock offset of ``value`` from local midnight."""
    return timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


def _format_time(value: time) -> str:
    """09:00, or 09:00:30 when seconds matter: short enough for an admin message."""
    if value.second or value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec="minutes")


@dataclass(frozen=True)
class Interval:
    """A weekly working interval in local wall-clock time; see the module docstring.

    ``end <= start`` means the interval ends on the next day (overnight); 00:00-00:00 is the
    whole day; any other ``start == end`` is refused as zero-length.
    """

    weekday: int  # 0 = Monday ... 6 = Sunday
    start: time
    end: time

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int):
            raise TypeError(f"Interval weekday must be an int 0-6, got {self.weekday!r}")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"Invalid weekday {self.weekday}: use 0 (Monday) to 6 (Sunday).")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time):
                raise TypeError(f"Interval {name} must be a datetime.time, got {value!r}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(
                f"{WEEKDAY_NAMES[self.weekday]} interval: times must be local wall-clock times "
                "without a time zone (the calendar's time zone applies)."
            )
        if self.start == self.end and self.start != MIDNIGHT:
            raise ValueError(
                f"{self}: start and end are equal, so the interval is empty. An end at or "
                "before the start means the interval runs overnight into the next day; "
                "use 00:00-00:00 for a whole day."
            )

    @property
    def overnight(self) -> bool:
        """True when the interval continues after midnight into the next day."""
        return self.end <= self.start and self.end != MIDNIGHT

    @property
    def length(self) -> timedelta:
        """Nominal (wall-clock) length; the real length differs on DST transition days."""
        length = _since_midnight(self.end) - _since_midnight(self.start)
        return length if length > ZERO else length + ONE_DAY

    def __str__(self) -> str:
        text = f"{WEEKDAY_NAMES[self.weekday]} {_format_time(self.start)}-{_format_time(self.end)}"
        return f"{text} (overnight)" if self.overnight else text


@dataclass(frozen=True)
class _Plan:
    """A validated calendar compiled for fast arithmetic (built once per Calendar)."""

    tz: ZoneInfo
    pieces: tuple[tuple[Piece, ...], ...]  # per weekday, sorted, touching pieces merged
    week_total: timedelta  # nominal working time of any 7 consecutive days
    holidays: frozenset[date]
    sorted_holidays: tuple[date, ...]
    continuous: bool  # every instant is working time: plain arithmetic


@dataclass(frozen=True)
class Calendar:
    """A business-hours calendar. Validated on construction (``ValueError`` if invalid).

    ``intervals`` and ``holidays`` accept any iterable and are normalised to a tuple and a
    frozenset, so calendars are hashable and comparable.
    """

    time_zone: str
    intervals: tuple[Interval, ...]
    holidays: frozenset[date] = frozenset()

    if TYPE_CHECKING:  # set in __post_init__; deliberately not a dataclass field
        _plan: _Plan

    def __post_init__(self) -> None:
        object.__setattr__(self, "intervals", tuple(self.intervals))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        tz = _load_time_zone(self.time_zone)
        _check_intervals(self.intervals)
        _check_holidays(self.holidays)
        # Not a dataclass field: excluded from eq/hash/repr, rebuilt by dataclasses.replace.
        object.__setattr__(self, "_plan", _compile(tz, self.intervals, self.holidays))

    @classmethod
    def always(cls) -> Calendar:
        """The 24/7 calendar: every instant counts, arithmetic is plain datetime arithmetic."""
        return cls("UTC", tuple(Interval(day, MIDNIGHT, MIDNIGHT) for day in range(7)))


def _load_time_zone(name: str) -> ZoneInfo:
    """Load an IANA zone, turning zoneinfo's various exceptions into one clear ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"time_zone must be a string such as 'Europe/Berlin', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'."
        ) from None


def _check_intervals(intervals: tuple[Interval, ...]) -> None:
    """Refuse an empty schedule (due times could never be reached) and overlaps."""
    for interval in intervals:
        if not isinstance(interval, Interval):
            raise TypeError(f"intervals must contain Interval objects, got {interval!r}")
    if not intervals:
        raise ValueError("The calendar has no working hours: add at least one working interval.")
    # Place every interval on the weekly wall clock; an overnight interval simply extends
    # past midnight, and Sunday's past the end of the week into Monday.
    placed = sorted(
        (
            (interval.weekday * ONE_DAY + _since_midnight(interval.start), interval)
            for interval in intervals
        ),
        key=lambda item: item[0],
    )
    for (start_a, a), (start_b, b) in pairwise(placed):
        if start_b < start_a + a.length:
            raise ValueError(f"Working hours overlap: {a} and {b}.")
    (first_start, first), (last_start, last) = placed[0], placed[-1]
    if len(placed) > 1 and last_start + last.length - ONE_WEEK > first_start:
        raise ValueError(f"Working hours overlap: {last} and {first}.")


def _check_holidays(holidays: frozenset[date]) -> None:
    """Holidays are local dates; a datetime (a date subclass) would be a silent mistake."""
    for holiday in holidays:
        if isinstance(holiday, datetime) or not isinstance(holiday, date):
            raise TypeError(f"holidays must be datetime.date values, got {holiday!r}")


def _compile(tz: ZoneInfo, intervals: tuple[Interval, ...], holidays: frozenset[date]) -> _Plan:
    """Split intervals at midnight into per-weekday pieces so each local date is independent.

    Splitting is what makes the holiday rule "by each instant's own local date" trivial: a
    holiday removes exactly the pieces of its date.
    """
    per_day: list[list[Piece]] = [[] for _ in range(7)]
    for interval in intervals:
        start, end = _since_midnight(interval.start), _since_midnight(interval.end)
        if end > start:
            per_day[interval.weekday].append((start, end))
        else:
            per_day[interval.weekday].append((start, ONE_DAY))
            if end > ZERO:
                per_day[(interval.weekday + 1) % 7].append((ZERO, end))
    pieces = tuple(_merge(sorted(day)) for day in per_day)
    full_day = ((ZERO, ONE_DAY),)
    return _Plan(
        tz=tz,
        pieces=pieces,
        week_total=sum((end - start for day in pieces for start, end in day), ZERO),
        holidays=holidays,
        sorted_holidays=tuple(sorted(holidays)),
        continuous=not holidays and all(day == full_day for day in pieces),
    )


def _merge(pieces: list[Piece]) -> tuple[Piece, ...]:
    """Join touching pieces (e.g. Sat 00:00-02:00 from Friday night and Sat 02:00-06:00)."""
    merged: list[Piece] = []
    for start, end in pieces:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


# --- wall clock -> UTC ---------------------------------------------------------------------


def _offset(tz: ZoneInfo, instant: datetime) -> timedelta | None:
    """The zone's UTC offset at a real instant."""
    return instant.astimezone(tz).utcoffset()


def _to_utc(tz: ZoneInfo, wall: datetime) -> tuple[datetime, bool]:
    """Naive local wall time -> (UTC instant, whether the wall time exists).

    ``fold=0`` already picks the first occurrence of an ambiguous time. For a time inside a
    spring-forward gap, PEP 495 would shift it forward by the gap length (02:30 -> 03:30);
    we want the first valid instant (03:00), i.e. the transition itself.
    """
    utc = wall.replace(tzinfo=tz).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc, True
    # In a gap, fold=1 reads the wall time with the new offset: an instant before the
    # transition; fold=0 (utc) reads it with the old offset: an instant after it.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _transition_between(tz, before, utc), False


def _resolve(tz: ZoneInfo, wall: datetime) -> datetime:
    """Naive local wall time -> UTC instant (first occurrence; gap -> first valid instant)."""
    return _to_utc(tz, wall)[0]


def _midnight(tz: ZoneInfo, day: date) -> tuple[datetime, bool]:
    """The real instant where local date ``day`` begins, and whether it is a true 00:00
    (False when a gap swallowed midnight and the date starts later, e.g. at 01:00)."""
    return _to_utc(tz, datetime.combine(day, MIDNIGHT))


def _transition_between(tz: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """First instant in (before, after] whose UTC offset differs from ``before``'s.

    Binary search to the microsecond (about 37 steps): zoneinfo does not expose its
    transition instants.
    """
    old = _offset(tz, before)
    while after - before > MICROSECOND:
        middle = before + (after - before) // 2
        if _offset(tz, middle) == old:
            before = middle
        else:
            after = middle
    return after


@lru_cache(maxsize=4096)
def _year_transitions(tz: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """The instants in (Jan 1 ``year``, Jan 1 ``year + 1``] (UTC) where the offset changes.

    Found once per zone and year (about 120 offset look-ups, then cached) by sampling every
    SAMPLE_STEP and bisecting where two samples differ. This is what lets whole weeks be
    skipped without checking every day. It assumes a zone never changes its offset twice
    within SAMPLE_STEP (see the module docstring).
    """
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if year < 9999 else datetime.max.replace(tzinfo=UTC)
    found = []
    sample, offset = start, _offset(tz, start)
    while sample < end:
        following = min(sample + SAMPLE_STEP, end)
        following_offset = _offset(tz, following)
        if following_offset != offset:
            found.append(_transition_between(tz, sample, following))
            offset = following_offset
        sample = following
    return tuple(found)


def _next_transition(tz: ZoneInfo, after: datetime, until: datetime) -> datetime | None:
    """The first offset change in (after, until], or None if the offset is steady there."""
    for year in range(after.year, until.year + 1):
        transitions = _year_transitions(tz, year)
        index = bisect_right(transitions, after)
        if index < len(transitions):
            return transitions[index] if transitions[index] <= until else None
    return None


def _day_spans(plan: _Plan, day: date, midnight: datetime, exact: bool) -> list[Span]:
    """The real (UTC) working spans of one local date, in order, empty ones dropped."""
    pieces = plan.pieces[day.weekday()]
    if exact and _next_transition(plan.tz, midnight, midnight + ONE_DAY) is None:
        # The usual day: local wall time is midnight + elapsed real time all day long.
        return [(midnight + start, midnight + end) for start, end in pieces]
    # A transition day: convert every boundary separately from wall-clock time.
    base = datetime.combine(day, MIDNIGHT)
    next_midnight, _ = _midnight(plan.tz, day + ONE_DAY)
    spans = []
    for start, end in pieces:
        real_start = _resolve(plan.tz, base + start)
        real_end = next_midnight if end == ONE_DAY else _resolve(plan.tz, base + end)
        if real_start < real_end:
            spans.append((real_start, real_end))
    return spans


def _is_off_day(plan: _Plan, day: date) -> bool:
    """A holiday, or a weekday without working pieces: skipped without time-zone work."""
    return not plan.pieces[day.weekday()] or day in plan.holidays


def _regular_weeks(plan: _Plan, day: date, midnight: datetime, wanted: int) -> int:
    """How many of the next ``wanted`` whole weeks from local midnight ``day`` (a true
    midnight) are regular: no holiday and no offset change, so each holds exactly the
    nominal ``week_total`` and they can be consumed in one step."""
    weeks = min(wanted, MAX_SEARCH_DAYS // 7 + 1)
    index = bisect_left(plan.sorted_holidays, day)
    if index < len(plan.sorted_holidays):
        weeks = min(weeks, (plan.sorted_holidays[index] - day).days // 7)
    if weeks > 0:
        change = _next_transition(plan.tz, midnight, midnight + weeks * ONE_WEEK)
        if change is not None:
            # The last whole week must end strictly before the change.
            weeks = min(weeks, (change - midnight - MICROSECOND) // ONE_WEEK)
    return max(weeks, 0)


# --- public functions ----------------------------------------------------------------------


def _plan_of(calendar: Calendar) -> _Plan:
    """The compiled form stored by ``Calendar.__post_init__``."""
    if not isinstance(calendar, Calendar):
        raise TypeError(f"calendar must be a Calendar, got {calendar!r}")
    return calendar._plan


def _as_utc(value: datetime, name: str) -> datetime:
    """Refuse naive datetimes: their meaning depends on a zone we would have to guess."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive datetime {value.isoformat()}.")
    return value.astimezone(UTC)


def add_business_time(calendar: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant (aware, UTC) by which ``duration`` of working time has elapsed
    since ``start``. A start outside working time counts from the next working instant.

    Raises ValueError for a naive ``start``, a ``duration`` that is not positive (an SLA
    target of zero length is invalid), or when the time cannot be found within
    :data:`MAX_SEARCH_DAYS` (a too-long duration or holidays covering everything).
    """
    start_utc = _as_utc(start, "start")
    if not isinstance(duration, timedelta):
        raise TypeError(f"duration must be a timedelta, got {duration!r}")
    if duration <= ZERO:
        raise ValueError(f"The duration must be positive, got {duration}.")
    plan = _plan_of(calendar)
    if plan.continuous:
        return start_utc + duration

    remaining = duration
    day = start_utc.astimezone(plan.tz).date()
    try:
        give_up = day + timedelta(days=MAX_SEARCH_DAYS)
        while day <= give_up:
            if _is_off_day(plan, day):
                day += ONE_DAY
                continue
            midnight, exact = _midnight(plan.tz, day)
            if remaining > plan.week_total and exact and midnight >= start_utc:
                wanted = (remaining - MICROSECOND) // plan.week_total  # leave some for below
                weeks = _regular_weeks(plan, day, midnight, wanted)
                if weeks:
                    remaining -= weeks * plan.week_total
                    day += weeks * ONE_WEEK
                    continue
            for span_start, span_end in _day_spans(plan, day, midnight, exact):
                if span_end <= start_utc:
                    continue
                counted_from = max(span_start, start_utc)
                available = span_end - counted_from
                if remaining <= available:
                    return counted_from + remaining
                remaining -= available
            day += ONE_DAY
    except OverflowError:
        pass  # ran past year 9999: report like any other search that found too little
    raise ValueError(
        f"Could not find {duration} of working time within {MAX_SEARCH_DAYS // 365} years "
        f"after {start.isoformat()}: the duration is too long or the calendar's holidays "
        "cover (almost) all working days."
    )


def business_time_between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """Working time in [start, end) as an exact timedelta; zero if ``end <= start``."""
    start_utc, end_utc = _as_utc(start, "start"), _as_utc(end, "end")
    if end_utc <= start_utc:
        return ZERO
    plan = _plan_of(calendar)
    if plan.continuous:
        return end_utc - start_utc

    total = ZERO
    day = start_utc.astimezone(plan.tz).date()
    # One extra date: in zones that fall back across midnight, date D's real time can reach
    # past instants whose own local date is D-1.
    last = end_utc.astimezone(plan.tz).date() + ONE_DAY
    while day <= last:
        if _is_off_day(plan, day):
            day += ONE_DAY
            continue
        midnight, exact = _midnight(plan.tz, day)
        if midnight >= end_utc:
            break
        if exact and midnight >= start_utc:
            weeks = _regular_weeks(plan, day, midnight, (end_utc - midnight) // ONE_WEEK)
            if weeks:
                total += weeks * plan.week_total
                day += weeks * ONE_WEEK
                continue
        for span_start, span_end in _day_spans(plan, day, midnight, exact):
            overlap = min(span_end, end_utc) - max(span_start, start_utc)
            if overlap > ZERO:
                total += overlap
        day += ONE_DAY
    return total


def business_seconds_between(calendar: Calendar, start: datetime, end: datetime) -> int | float:
    """Working time in [start, end) in seconds; 0 if ``end <= start``.

    An ``int`` when the result is a whole number of seconds (always, for whole-second inputs),
    otherwise a ``float``.
    """
    elapsed = business_time_between(calendar, start, end)
    if elapsed.microseconds:
        return elapsed.total_seconds()
    return elapsed.days * 86_400 + elapsed.seconds


def is_business_time(calendar: Calendar, moment: datetime) -> bool:
    """Whether ``moment`` lies in working time (spans are half-open: the closing instant is
    outside)."""
    moment_utc = _as_utc(moment, "moment")
    plan = _plan_of(calendar)
    if plan.continuous:
        return True
    local_date = moment_utc.astimezone(plan.tz).date()
    # The next date too, for zones that fall back across midnight (see business_time_between).
    for day in (local_date, local_date + ONE_DAY):
        if _is_off_day(plan, day):
            continue
        for span_start, span_end in _day_spans(plan, day, *_midnight(plan.tz, day)):
            if span_start <= moment_utc < span_end:
                return True
    return False
