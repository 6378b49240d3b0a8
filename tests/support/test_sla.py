"""SLA clocks (support.sla.ticket_clocks): hand-worked cases plus hypothesis properties.

Pure functions only: no database, no models. Most cases use the 24/7 calendar and a ticket
created at T0 (Mon 2 June 2025 08:00 UTC), so ``t(h, m)`` is "h hours m minutes after
creation" and the arithmetic in the comments is plain hours. Business-hours cases use
Mon-Fri 09:00-17:00 Europe/Berlin, written in local time and compared in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.business_hours import Calendar, Interval, business_time_between
from support.sla import (
    AT_RISK,
    BREACHED,
    DEFAULT_WARNING_MARGIN,
    FIRST_RESPONSE,
    MET,
    METRICS,
    NEXT_RESPONSE,
    PAUSED,
    RESOLUTION,
    RUNNING,
    Clock,
    History,
    Targets,
    ticket_clocks,
)

BERLIN = ZoneInfo("Europe/Berlin")
ALWAYS = Calendar.always()
OFFICE = Calendar("Europe/Berlin", tuple(Interval(day, time(9), time(17)) for day in range(5)))
T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # Monday


def t(hours: int, minutes: int = 0) -> datetime:
    """T0 + hours:minutes."""
    return T0 + timedelta(hours=hours, minutes=minutes)


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


def berlin(*fields: int) -> datetime:
    """A Berlin wall-clock instant, as UTC: berlin(2025, 6, 13, 16) is Fri 13 June 16:00."""
    return datetime(*fields, tzinfo=BERLIN).astimezone(UTC)


def utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def history(
    *statuses: tuple[datetime, str],
    created: datetime = T0,
    customer: tuple[datetime, ...] = (),
    replies: tuple[datetime, ...] = (),
    first_response: datetime | None = None,
) -> History:
    """A ticket created at ``created`` in status ``open`` unless ``statuses`` say otherwise;
    ``first_response`` defaults to the earliest agent reply."""
    if not statuses:
        statuses = ((created, "open"),)
    if first_response is None and replies:
        first_response = min(replies)
    return History(
        created_at=created,
        statuses=statuses,
        customer_messages=customer,
        agent_replies=replies,
        first_response_at=first_response,
    )


def clock_of(
    metric: str,
    hist: History,
    targets: Targets,
    *,
    now: datetime,
    calendar: Calendar = ALWAYS,
) -> Clock:
    clocks = ticket_clocks(hist, targets, calendar, now=now)
    assert metric in clocks, f"no {metric} clock: {clocks}"
    return clocks[metric]


def check(
    clock: Clock,
    state: str,
    *,
    elapsed: timedelta,
    due: datetime | None = None,
    warn: datetime | None = None,
    stopped: datetime | None = None,
    started: datetime | None = None,
) -> None:
    assert clock.state == state, clock
    assert clock.elapsed == elapsed, clock
    assert utc(clock.due_at) == utc(due), clock
    assert utc(clock.warn_at) == utc(warn), clock
    assert utc(clock.stopped_at) == utc(stopped), clock
    if started is not None:
        assert utc(clock.started_at) == utc(started), clock


# --- first response ------------------------------------------------------------------------

FR4 = Targets(first_response=hours(4))  # 4 h, default margin 25 %: warn after 3 h


def test_first_response_running():
    # 1 h of 4 h used: due T0+4h, at risk from T0+3h (4h x 0.75); 3 h remaining.
    clock = clock_of(FIRST_RESPONSE, history(), FR4, now=t(1))
    check(clock, RUNNING, elapsed=hours(1), due=t(4), warn=t(3), started=T0)
    assert clock.remaining == hours(3)
    assert clock.is_live
    assert clock.label == "First response"
    assert clock.state_label == "Running"


def test_first_response_just_before_at_risk():
    # 2h59 used, 1h01 left: more than 25 % (1 h) left, still running.
    clock = clock_of(FIRST_RESPONSE, history(), FR4, now=t(2, 59))
    check(clock, RUNNING, elapsed=hours(2) + timedelta(minutes=59), due=t(4), warn=t(3))


@pytest.mark.parametrize(
    ("now", "elapsed"),
    [
        pytest.param(t(3), hours(3), id="at-warn-instant"),  # 3 h used, 1 h (25 %) left
        pytest.param(t(3, 30), hours(3.5), id="half-an-hour-left"),  # 3h30 used, 30 m left
    ],
)
def test_first_response_at_risk(now, elapsed):
    clock = clock_of(FIRST_RESPONSE, history(), FR4, now=now)
    check(clock, AT_RISK, elapsed=elapsed, due=t(4), warn=t(3))
    assert clock.is_live
    assert clock.state_label == "At risk"


@pytest.mark.parametrize(
    ("now", "elapsed"),
    [
        pytest.param(t(4), hours(4), id="at-due-instant"),  # elapsed reaches 4 h at T0+4h
        pytest.param(t(5), hours(5), id="an-hour-late"),  # 5 h used, 1 h over
    ],
)
def test_first_response_breached_while_unanswered(now, elapsed):
    # Breached, still unanswered: due_at is the breach instant T0+4h, the clock keeps counting.
    clock = clock_of(FIRST_RESPONSE, history(), FR4, now=now)
    assert clock.state == BREACHED
    assert clock.due_at == t(4)
    assert clock.elapsed == elapsed
    assert clock.stopped_at is None
    assert clock.remaining == hours(4) - elapsed  # 0 at the due instant, then negative
    assert clock.is_live
    assert clock.state_label == "Breached"


def test_first_response_met():
    # Agent replied at T0+2h (2 h of 4 h): met, stopped at the reply, elapsed frozen at 2 h.
    hist = history(customer=(T0,), replies=(t(2),))
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(6))
    check(clock, MET, elapsed=hours(2), stopped=t(2))
    assert clock.remaining == hours(2)
    assert not clock.is_live


def test_first_response_answered_exactly_at_due_is_met():
    # Reply at T0+4h, the due instant itself: the reply came in time (breach < stop fails).
    hist = history(replies=(t(4),))
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(6))
    check(clock, MET, elapsed=hours(4), stopped=t(4))


def test_first_response_breached_then_answered():
    # Due T0+4h, reply T0+5h: breached at T0+4h; stopped at T0+5h after 5 h.
    hist = history(replies=(t(5),))
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(6))
    check(clock, BREACHED, elapsed=hours(5), due=t(4), stopped=t(5))
    assert clock.remaining == -hours(1)
    assert not clock.is_live


def test_first_response_stopped_by_solve():
    # Solved at T0+1h without any reply: the solve stops the clock after 1 h: met.
    hist = history((T0, "open"), (t(1), "solved"))
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(3))
    check(clock, MET, elapsed=hours(1), stopped=t(1))


def test_first_response_solve_before_reply_wins():
    # Solved T0+1h, first reply T0+2h: whichever comes first (the solve) stops it.
    hist = history((T0, "open"), (t(1), "solved"), replies=(t(2),))
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(3))
    check(clock, MET, elapsed=hours(1), stopped=t(1))


def test_first_response_is_never_paused():
    # Pending from T0+1h does not pause first response: 2 h used at T0+2h, due T0+4h.
    hist = history((T0, "open"), (t(1), "pending"))
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(2))
    check(clock, RUNNING, elapsed=hours(2), due=t(4), warn=t(3))


def test_first_response_reply_after_now_is_ignored():
    # Recomputing the past: at T0+1h the reply of T0+2h has not happened yet.
    hist = history(replies=(t(2),))
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(1))
    check(clock, RUNNING, elapsed=hours(1), due=t(4), warn=t(3))


def test_first_response_given_at_creation():
    # Opened by an agent on the customer's behalf, first_response_at == created_at: 0 h, met.
    hist = history(first_response=T0)
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=t(1))
    check(clock, MET, elapsed=timedelta(0), stopped=T0)


FR2 = Targets(first_response=hours(2))  # warn after 1h30
FRIDAY = berlin(2025, 6, 13, 16)  # Fri 13 June 2025 16:00 Berlin


@pytest.mark.parametrize(
    ("now", "state", "elapsed"),
    [
        # Fri 16:00-16:30 = 30 m.
        pytest.param(berlin(2025, 6, 13, 16, 30), RUNNING, hours(0.5), id="fri-16h30"),
        # Fri 16:00-17:00 = 1 h, the weekend counts nothing.
        pytest.param(berlin(2025, 6, 14, 12), RUNNING, hours(1), id="saturday"),
        # Fri 1 h + Mon 09:00-09:15 = 1h15.
        pytest.param(berlin(2025, 6, 16, 9, 15), RUNNING, hours(1.25), id="mon-09h15"),
        # Fri 1 h + Mon 09:00-09:30 = 1h30 = 75 % of 2 h: at risk.
        pytest.param(berlin(2025, 6, 16, 9, 30), AT_RISK, hours(1.5), id="mon-09h30"),
    ],
)
def test_first_response_business_hours(now, state, elapsed):
    # Created Fri 16:00, 2 h: Fri 16-17 = 1 h, Mon 09-10 = 1 h -> due Mon 16 June 10:00;
    # warn after 1h30 -> Fri 1 h + Mon 30 m -> Mon 09:30.
    hist = history(created=FRIDAY)
    clock = clock_of(FIRST_RESPONSE, hist, FR2, now=now, calendar=OFFICE)
    check(
        clock,
        state,
        elapsed=elapsed,
        due=berlin(2025, 6, 16, 10),
        warn=berlin(2025, 6, 16, 9, 30),
        started=FRIDAY,
    )


def test_first_response_business_hours_breached():
    # Mon 11:00: Fri 1 h + Mon 09-11 2 h = 3 h used; breached at Mon 10:00.
    hist = history(created=FRIDAY)
    clock = clock_of(FIRST_RESPONSE, hist, FR2, now=berlin(2025, 6, 16, 11), calendar=OFFICE)
    assert clock.state == BREACHED
    assert clock.due_at == berlin(2025, 6, 16, 10)
    assert clock.elapsed == hours(3)


def test_first_response_business_hours_met():
    # Reply Mon 09:50: Fri 1 h + Mon 50 m = 1h50 < 2 h: met.
    hist = history(created=FRIDAY, replies=(berlin(2025, 6, 16, 9, 50),))
    clock = clock_of(FIRST_RESPONSE, hist, FR2, now=berlin(2025, 6, 16, 12), calendar=OFFICE)
    check(clock, MET, elapsed=hours(1) + timedelta(minutes=50), stopped=berlin(2025, 6, 16, 9, 50))


def test_first_response_business_hours_replied_on_saturday_after_due():
    # Due Fri 17:00 (target 1 h from Fri 16:00); reply Sat 10:00 adds no business time
    # (elapsed stays 1 h), but the breach (Fri 17:00) came before the reply: breached.
    hist = history(created=FRIDAY, replies=(berlin(2025, 6, 14, 10),))
    targets = Targets(first_response=hours(1))
    clock = clock_of(FIRST_RESPONSE, hist, targets, now=berlin(2025, 6, 14, 11), calendar=OFFICE)
    check(
        clock,
        BREACHED,
        elapsed=hours(1),
        due=berlin(2025, 6, 13, 17),
        stopped=berlin(2025, 6, 14, 10),
    )


@pytest.mark.parametrize(
    ("created", "now", "due", "real_hours"),
    [
        # Spring forward (Sun 30 March 2025): Fri 28 Mar 16:00 CET = 15:00 UTC; Fri 16-17 1 h,
        # Mon 31 Mar 09-10 CEST 1 h -> due Mon 10:00 CEST = 08:00 UTC, 65 real hours later.
        pytest.param(
            berlin(2025, 3, 28, 16),
            berlin(2025, 3, 31, 9, 15),
            berlin(2025, 3, 31, 10),
            65,
            id="spring-forward",
        ),
        # Fall back (Sun 26 Oct 2025): Fri 24 Oct 16:00 CEST = 14:00 UTC -> due Mon 27 Oct
        # 10:00 CET = 09:00 UTC, 67 real hours later.
        pytest.param(
            berlin(2025, 10, 24, 16),
            berlin(2025, 10, 27, 9, 15),
            berlin(2025, 10, 27, 10),
            67,
            id="fall-back",
        ),
    ],
)
def test_first_response_business_hours_across_dst(created, now, due, real_hours):
    # At Mon 09:15: Fri 1 h + Mon 15 m = 1h15 used, 45 m left; warn at Mon 09:30.
    hist = history(created=created)
    clock = clock_of(FIRST_RESPONSE, hist, FR2, now=now, calendar=OFFICE)
    check(clock, RUNNING, elapsed=hours(1.25), due=due, warn=due - timedelta(minutes=30))
    assert clock.due_at - created == hours(real_hours)


def test_first_response_always_calendar():
    # 24/7: created Fri 16:00 Berlin, 2 h -> due Fri 18:00 (no business hours), warn 17:30.
    hist = history(created=FRIDAY)
    clock = clock_of(FIRST_RESPONSE, hist, FR2, now=berlin(2025, 6, 13, 17), calendar=ALWAYS)
    check(
        clock,
        RUNNING,
        elapsed=hours(1),
        due=berlin(2025, 6, 13, 18),
        warn=berlin(2025, 6, 13, 17, 30),
    )


def test_first_response_always_calendar_across_dst():
    # 24/7 counts real time: Sat 29 Mar 2025 12:00 CET (11:00 UTC) + 24 h = Sun 30 Mar
    # 11:00 UTC = 13:00 CEST (the wall clock skipped an hour overnight).
    created = berlin(2025, 3, 29, 12)
    hist = history(created=created)
    targets = Targets(first_response=hours(24))
    clock = clock_of(FIRST_RESPONSE, hist, targets, now=created + hours(1), calendar=ALWAYS)
    check(
        clock,
        RUNNING,
        elapsed=hours(1),
        due=berlin(2025, 3, 30, 13),
        warn=created + hours(18),  # 24 h x 0.75
    )


# --- resolution ----------------------------------------------------------------------------

R8 = Targets(resolution=hours(8))  # 8 h, warn after 6 h


def test_resolution_running():
    # Open since T0, 2 h used: due T0+8h, warn T0+6h.
    clock = clock_of(RESOLUTION, history(), R8, now=t(2))
    check(clock, RUNNING, elapsed=hours(2), due=t(8), warn=t(6), started=T0)


def test_resolution_new_then_open_is_one_span():
    # new T0 -> open T0+1h both count: 2 h used at T0+2h, due T0+8h.
    hist = history((T0, "new"), (t(1), "open"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(2))
    check(clock, RUNNING, elapsed=hours(2), due=t(8), warn=t(6))


def test_resolution_paused_while_pending():
    # open T0-T0+2h (2 h), pending since T0+2h: paused at 2 h, no due or warn time.
    hist = history((T0, "open"), (t(2), "pending"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(5))
    check(clock, PAUSED, elapsed=hours(2))
    assert clock.remaining == hours(6)
    assert not clock.is_live
    assert clock.state_label == "Paused"


def test_resolution_resumes_after_pending():
    # open 0-2 (2 h), pending 2-5, open from 5: at T0+6h 2 + 1 = 3 h used. 6 h were left
    # at the resume -> due T0+5h + 6h = T0+11h; warn at 6 h used -> T0+5h + 4h = T0+9h.
    hist = history((T0, "open"), (t(2), "pending"), (t(5), "open"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(6))
    check(clock, RUNNING, elapsed=hours(3), due=t(11), warn=t(9))


def test_resolution_created_pending():
    # Created pending (waiting on the customer from the start): paused, nothing used.
    hist = history((T0, "pending"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(3))
    check(clock, PAUSED, elapsed=timedelta(0))


def test_resolution_paused_while_on_hold_by_default():
    # pause_on_hold defaults to True: open 0-2 (2 h), on_hold from 2: paused at 2 h.
    assert Targets().pause_on_hold is True
    hist = history((T0, "open"), (t(2), "on_hold"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(5))
    check(clock, PAUSED, elapsed=hours(2))


def test_resolution_runs_through_on_hold_when_not_pausing():
    # pause_on_hold=False: on_hold counts like open: 5 h used at T0+5h, due T0+8h.
    hist = history((T0, "open"), (t(2), "on_hold"))
    targets = Targets(resolution=hours(8), pause_on_hold=False)
    clock = clock_of(RESOLUTION, hist, targets, now=t(5))
    check(clock, RUNNING, elapsed=hours(5), due=t(8), warn=t(6))


def test_resolution_pending_pauses_even_when_on_hold_does_not():
    # pause_on_hold=False only affects on_hold: open 0-1, on_hold 1-3, pending from 3
    # -> 3 h used, paused.
    hist = history((T0, "open"), (t(1), "on_hold"), (t(3), "pending"))
    targets = Targets(resolution=hours(8), pause_on_hold=False)
    clock = clock_of(RESOLUTION, hist, targets, now=t(5))
    check(clock, PAUSED, elapsed=hours(3))


def test_resolution_met_at_solve():
    # Solved at T0+6h after 6 h of 8 h: met, stopped at the solve.
    hist = history((T0, "open"), (t(6), "solved"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(10))
    check(clock, MET, elapsed=hours(6), stopped=t(6))
    assert not clock.is_live


def test_resolution_breached_at_solve():
    # Solved at T0+9h: the 8 h were reached at T0+8h: breached, 9 h used.
    hist = history((T0, "open"), (t(9), "solved"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(10))
    check(clock, BREACHED, elapsed=hours(9), due=t(8), stopped=t(9))
    assert not clock.is_live


def test_resolution_breached_then_paused():
    # open 0-9 reaches 8 h at T0+8h; pending from T0+9h: still breached (due T0+8h), 9 h
    # used, but no longer counting.
    hist = history((T0, "open"), (t(9), "pending"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(10))
    assert clock.state == BREACHED
    assert clock.due_at == t(8)
    assert clock.elapsed == hours(9)
    assert clock.stopped_at is None
    assert not clock.is_live


def test_resolution_reopen_resumes_with_time_used():
    # open 0-3 (3 h), solved 3-5, reopened at 5: at T0+6h 3 + 1 = 4 h used; 5 h left at the
    # reopen -> due T0+5h+5h = T0+10h; warn at 6 h -> T0+5h + 3h = T0+8h.
    hist = history((T0, "open"), (t(3), "solved"), (t(5), "open"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(6))
    check(clock, RUNNING, elapsed=hours(4), due=t(10), warn=t(8), started=T0)


def test_resolution_reopen_then_solved_again():
    # open 0-3, solved 3-5, open 5-7, solved at 7: 3 + 2 = 5 h, met at the second solve.
    hist = history((T0, "open"), (t(3), "solved"), (t(5), "open"), (t(7), "solved"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(8))
    check(clock, MET, elapsed=hours(5), stopped=t(7))


def test_resolution_reopen_breaches_later():
    # open 0-6 (6 h), solved 6-10, open from 10: 2 h left -> due T0+12h; at T0+13h 6 + 3 = 9 h.
    hist = history((T0, "open"), (t(6), "solved"), (t(10), "open"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(13))
    assert clock.state == BREACHED
    assert clock.due_at == t(12)
    assert clock.elapsed == hours(9)
    assert clock.is_live


def test_resolution_stops_at_the_solve_not_at_the_close():
    # open 0-3, solved at 3, closed (automatically) at 30: the clock stopped at the solve.
    hist = history((T0, "open"), (t(3), "solved"), (t(30), "closed"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(40))
    check(clock, MET, elapsed=hours(3), stopped=t(3))


def test_resolution_ignores_a_solve_after_now():
    # Recomputing at T0+2h a ticket that will be solved at T0+3h: still running, 2 h used.
    hist = history((T0, "open"), (t(3), "solved"), (t(30), "closed"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(2))
    check(clock, RUNNING, elapsed=hours(2), due=t(8), warn=t(6))


MON_14H = berlin(2025, 6, 16, 14)  # Mon 16 June 2025 14:00 Berlin


def test_resolution_business_hours_paused():
    # open Mon 14:00-16:00 (2 h), pending since: on Tue 10:00 paused at 2 h.
    hist = history((MON_14H, "open"), (berlin(2025, 6, 16, 16), "pending"), created=MON_14H)
    clock = clock_of(RESOLUTION, hist, R8, now=berlin(2025, 6, 17, 10), calendar=OFFICE)
    check(clock, PAUSED, elapsed=hours(2))


def test_resolution_business_hours_due_after_pause():
    # open Mon 14:00-16:00 (2 h), pending Mon 16:00-Wed 11:00, open from Wed 11:00.
    # Wed 12:00: 2 + 1 = 3 h used. Due = resume + remaining = Wed 11:00 + 6 h = Wed 17:00;
    # warn at 6 h used = Wed 11:00 + 4 h = Wed 15:00.
    hist = history(
        (MON_14H, "open"),
        (berlin(2025, 6, 16, 16), "pending"),
        (berlin(2025, 6, 18, 11), "open"),
        created=MON_14H,
    )
    clock = clock_of(RESOLUTION, hist, R8, now=berlin(2025, 6, 18, 12), calendar=OFFICE)
    check(
        clock,
        RUNNING,
        elapsed=hours(3),
        due=berlin(2025, 6, 18, 17),
        warn=berlin(2025, 6, 18, 15),
    )


def test_resolution_business_hours_resumed_outside_hours():
    # Same, but the customer answers Tue 20:00 (after hours): counting resumes Wed 09:00 with
    # 6 h left -> due Wed 15:00; warn (6 h used, 4 h after resuming) Wed 13:00.
    hist = history(
        (MON_14H, "open"),
        (berlin(2025, 6, 16, 16), "pending"),
        (berlin(2025, 6, 17, 20), "open"),
        created=MON_14H,
    )
    clock = clock_of(RESOLUTION, hist, R8, now=berlin(2025, 6, 17, 21), calendar=OFFICE)
    check(
        clock,
        RUNNING,
        elapsed=hours(2),
        due=berlin(2025, 6, 18, 15),
        warn=berlin(2025, 6, 18, 13),
    )


# --- next response -------------------------------------------------------------------------

N2 = Targets(next_response=hours(2))  # 2 h, warn after 1h30


def test_next_response_no_clock_before_a_customer_message_after_first_response():
    # The customer's opening message (T0) was answered by the first response (T0+1h); no
    # customer message since: no next-response clock.
    hist = history(customer=(T0,), replies=(t(1),))
    assert NEXT_RESPONSE not in ticket_clocks(hist, N2, ALWAYS, now=t(5))


def test_next_response_no_clock_before_the_first_response():
    # Customer wrote twice but nobody answered yet: that is first response's business.
    hist = history(customer=(T0, t(2)))
    assert NEXT_RESPONSE not in ticket_clocks(hist, N2, ALWAYS, now=t(5))


def test_next_response_starts_at_customer_message_after_reply():
    # Reply T0+1h, customer T0+3h: cycle from T0+3h, 1 h used at T0+4h; due T0+5h,
    # warn T0+4h30.
    hist = history(customer=(T0, t(3)), replies=(t(1),))
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(4))
    check(clock, RUNNING, elapsed=hours(1), due=t(5), warn=t(4, 30), started=t(3))
    assert clock.label == "Next response"


def test_next_response_two_customer_messages_start_at_the_first():
    # Customer T0+3h and T0+4h: the cycle starts at the first (T0+3h); at T0+4h30 1h30 used
    # = 75 %: at risk, due T0+5h.
    hist = history(customer=(T0, t(3), t(4)), replies=(t(1),))
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(4, 30))
    check(clock, AT_RISK, elapsed=hours(1.5), due=t(5), warn=t(4, 30), started=t(3))


def test_next_response_agent_reply_stops_it():
    # Customer 3h, 4h; agent reply 4h30: met after 1h30, stopped at the reply.
    hist = history(customer=(T0, t(3), t(4)), replies=(t(1), t(4, 30)))
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(6))
    check(clock, MET, elapsed=hours(1.5), stopped=t(4, 30), started=t(3))


def test_next_response_breached_then_answered():
    # Customer 3h, reply 6h: 2 h reached at T0+5h before the reply: breached, 3 h used.
    hist = history(customer=(T0, t(3)), replies=(t(1), t(6)))
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(7))
    check(clock, BREACHED, elapsed=hours(3), due=t(5), stopped=t(6), started=t(3))


def test_next_response_later_message_starts_a_new_cycle():
    # First cycle 3h-4h30 (answered); customer again at T0+8h: the clock shows the new cycle:
    # 1 h used at T0+9h, due T0+10h, warn T0+9h30.
    hist = history(customer=(T0, t(3), t(4), t(8)), replies=(t(1), t(4, 30)))
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(9))
    check(clock, RUNNING, elapsed=hours(1), due=t(10), warn=t(9, 30), started=t(8))


def test_next_response_paused_while_pending():
    # Customer T0+3h; set pending at T0+4h (1 h used): paused at T0+5h.
    hist = history((T0, "open"), (t(4), "pending"), customer=(T0, t(3)), replies=(t(1),))
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(5))
    check(clock, PAUSED, elapsed=hours(1), started=t(3))


def test_next_response_resumes_after_pending_in_the_same_cycle():
    # Customer 3h; pending 4h-6h; the customer writes again at 6h (ticket back to open).
    # The cycle still starts at 3h: 1 h (3-4) + 30 m (6-6h30) = 1h30 at T0+6h30 = at risk;
    # 30 m left from 6h30 -> due T0+7h; warn reached exactly at T0+6h30.
    hist = history(
        (T0, "open"),
        (t(4), "pending"),
        (t(6), "open"),
        customer=(T0, t(3), t(6)),
        replies=(t(1),),
    )
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(6, 30))
    check(clock, AT_RISK, elapsed=hours(1.5), due=t(7), warn=t(6, 30), started=t(3))


def test_next_response_on_hold_counts_when_not_pausing():
    # Customer 3h, on_hold from 4h, pause_on_hold=False: on_hold counts, so at T0+4h30
    # 1h30 used (at risk), due T0+5h, warn T0+4h30.
    hist = history((T0, "open"), (t(4), "on_hold"), customer=(T0, t(3)), replies=(t(1),))
    targets = Targets(next_response=hours(2), pause_on_hold=False)
    clock = clock_of(NEXT_RESPONSE, hist, targets, now=t(4, 30))
    check(clock, AT_RISK, elapsed=hours(1.5), due=t(5), warn=t(4, 30))
    # ... and with the default (pause on hold) it is paused at 1 h.
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(4, 30))
    check(clock, PAUSED, elapsed=hours(1))


def test_next_response_stopped_by_solve():
    # Customer 3h, solved 4h without a reply: met after 1 h, stopped at the solve.
    hist = history((T0, "open"), (t(4), "solved"), customer=(T0, t(3)), replies=(t(1),))
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(5))
    check(clock, MET, elapsed=hours(1), stopped=t(4), started=t(3))


def test_next_response_customer_reopens_after_solve():
    # Customer 3h, solved 4h (cycle 3h-4h met); the customer writes at 6h, which reopens the
    # ticket: a new cycle from 6h, 1 h used at T0+7h, due T0+8h, warn T0+7h30.
    hist = history(
        (T0, "open"),
        (t(4), "solved"),
        (t(6), "open"),
        customer=(T0, t(3), t(6)),
        replies=(t(1),),
    )
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=t(7))
    check(clock, RUNNING, elapsed=hours(1), due=t(8), warn=t(7, 30), started=t(6))


def test_next_response_business_hours():
    # First reply Fri 10:00; customer Fri 16:30. At Mon 09:00: Fri 16:30-17:00 = 30 m used;
    # due: 30 m Fri + 1h30 Mon -> Mon 10:30; warn (1h30): 30 m Fri + 1 h Mon -> Mon 10:00.
    hist = history(
        created=berlin(2025, 6, 13, 9),
        customer=(berlin(2025, 6, 13, 9), berlin(2025, 6, 13, 16, 30)),
        replies=(berlin(2025, 6, 13, 10),),
    )
    clock = clock_of(NEXT_RESPONSE, hist, N2, now=berlin(2025, 6, 16, 9), calendar=OFFICE)
    check(
        clock,
        RUNNING,
        elapsed=hours(0.5),
        due=berlin(2025, 6, 16, 10, 30),
        warn=berlin(2025, 6, 16, 10),
        started=berlin(2025, 6, 13, 16, 30),
    )


# --- warning margin, Clock properties, metrics without target ----------------------------


def test_default_warning_margin_is_a_quarter():
    assert DEFAULT_WARNING_MARGIN == 0.25
    assert Targets().warning_margin == 0.25


@pytest.mark.parametrize(
    ("margin", "warn"),
    [
        pytest.param(0.25, t(3), id="quarter"),  # 4 h x 0.75 = 3 h
        pytest.param(0.5, t(2), id="half"),  # 4 h x 0.5 = 2 h
        pytest.param(0.0, t(4), id="zero"),  # no warning before the due time
        pytest.param(1.0, T0, id="one"),  # at risk from the start
        pytest.param(1.5, T0, id="clamped-above"),  # treated as 1
        pytest.param(-0.5, t(4), id="clamped-below"),  # treated as 0
    ],
)
def test_warning_margin(margin, warn):
    targets = Targets(first_response=hours(4), warning_margin=margin)
    clock = clock_of(FIRST_RESPONSE, history(), targets, now=t(1))
    assert clock.due_at == t(4)
    assert clock.warn_at == warn
    assert clock.state == (AT_RISK if warn <= t(1) else RUNNING)


def test_zero_margin_warns_at_due():
    # margin 0: warn_at == due_at; one minute before due still running, at due breached.
    targets = Targets(first_response=hours(4), warning_margin=0)
    clock = clock_of(FIRST_RESPONSE, history(), targets, now=t(3, 59))
    assert clock.state == RUNNING
    assert clock.warn_at == clock.due_at == t(4)
    assert clock_of(FIRST_RESPONSE, history(), targets, now=t(4)).state == BREACHED


@pytest.mark.parametrize(
    ("hist", "now", "state", "remaining", "live"),
    [
        # 4 h target. Running: 1 h used, 3 h left.
        pytest.param(history(), t(1), RUNNING, hours(3), True, id="running"),
        # At risk: 3h30 used, 30 m left.
        pytest.param(history(), t(3, 30), AT_RISK, hours(0.5), True, id="at-risk"),
        # Breached and unanswered: 6 h used, 2 h over.
        pytest.param(history(), t(6), BREACHED, -hours(2), True, id="breached-counting"),
        # Met: answered after 1 h, 3 h to spare.
        pytest.param(history(replies=(t(1),)), t(6), MET, hours(3), False, id="met"),
        # Breached then answered at 5 h: 1 h over, stopped.
        pytest.param(
            history(replies=(t(5),)), t(6), BREACHED, -hours(1), False, id="breached-stopped"
        ),
    ],
)
def test_remaining_and_is_live_first_response(hist, now, state, remaining, live):
    clock = clock_of(FIRST_RESPONSE, hist, FR4, now=now)
    assert clock.state == state
    assert clock.remaining == remaining == clock.target - clock.elapsed
    assert clock.is_live is live


def test_remaining_and_is_live_paused():
    # Resolution 8 h, open 0-2 then pending: paused with 6 h left, not counting.
    hist = history((T0, "open"), (t(2), "pending"))
    clock = clock_of(RESOLUTION, hist, R8, now=t(4))
    assert clock.state == PAUSED
    assert clock.remaining == hours(6)
    assert clock.is_live is False


def test_metrics_without_a_target_have_no_clock():
    hist = history((T0, "open"), customer=(T0, t(3)), replies=(t(1),))
    assert ticket_clocks(hist, Targets(), ALWAYS, now=t(4)) == {}
    assert set(ticket_clocks(hist, R8, ALWAYS, now=t(4))) == {RESOLUTION}
    assert set(ticket_clocks(hist, FR4, ALWAYS, now=t(4))) == {FIRST_RESPONSE}
    assert set(ticket_clocks(hist, N2, ALWAYS, now=t(4))) == {NEXT_RESPONSE}
    every = Targets(first_response=hours(4), next_response=hours(2), resolution=hours(8))
    assert set(ticket_clocks(hist, every, ALWAYS, now=t(4))) == set(METRICS)


# --- properties ----------------------------------------------------------------------------

BASES = (
    datetime(2025, 6, 2, 7, 0, tzinfo=UTC),  # Mon 09:00 Berlin
    datetime(2025, 3, 21, 15, 0, tzinfo=UTC),  # Fri 16:00 Berlin, DST change 9 days later
)
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
# Messages twice as likely as each status, so that next-response cycles are common.
EVENT_KINDS = (*STATUSES, "customer", "customer", "agent", "agent")
# Gaps up to three days, often only up to four hours (so that not everything is breached).
MINUTES = st.integers(min_value=1, max_value=4 * 60) | st.integers(
    min_value=1, max_value=3 * 24 * 60
)
TARGET = st.none() | st.integers(min_value=15, max_value=30 * 60).map(
    lambda minutes: timedelta(minutes=minutes)
)


@st.composite
def scenarios(draw):
    """(calendar, history, targets, now): a ticket created at a fixed base, then status
    changes, customer messages and agent replies at strictly increasing instants; ``now`` is
    at or after the last event."""
    calendar = draw(st.sampled_from((ALWAYS, OFFICE)))
    base = draw(st.sampled_from(BASES))
    statuses = [(base, draw(st.sampled_from(("new", "open", "pending", "on_hold"))))]
    customer, replies = [base], []
    at = base
    for kind in draw(st.lists(st.sampled_from(EVENT_KINDS), max_size=10)):
        at += timedelta(minutes=draw(MINUTES))
        if kind == "customer":
            customer.append(at)
        elif kind == "agent":
            replies.append(at)
        else:
            statuses.append((at, kind))
    hist = History(
        created_at=base,
        statuses=tuple(statuses),
        customer_messages=tuple(customer),
        agent_replies=tuple(replies),
        first_response_at=replies[0] if replies else None,
    )
    targets = Targets(
        first_response=draw(TARGET),
        next_response=draw(TARGET),
        resolution=draw(TARGET),
        pause_on_hold=draw(st.booleans()),
        warning_margin=draw(st.sampled_from((0.0, 0.1, 0.25, 0.5, 1.0))),
    )
    now = at + timedelta(minutes=draw(st.integers(min_value=0, max_value=4 * 24 * 60)))
    return calendar, hist, targets, now


def _is_counting(clock: Clock) -> bool:
    return clock.stopped_at is None and clock.state in (RUNNING, AT_RISK)


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(), later=MINUTES)
def test_due_times_do_not_drift(scenario, later):
    """(a) With no new events, a later `now` keeps a live clock's due time; a stopped or
    paused clock does not change at all; a running one gains exactly the business time that
    passed."""
    calendar, hist, targets, now = scenario
    now2 = now + timedelta(minutes=later)
    first = ticket_clocks(hist, targets, calendar, now=now)
    second = ticket_clocks(hist, targets, calendar, now=now2)
    assert first.keys() == second.keys()
    for metric, clock in first.items():
        again = second[metric]
        if clock.stopped_at is not None or clock.state == PAUSED or not clock.is_live:
            assert again == clock
            continue
        assert again.due_at == clock.due_at
        assert again.started_at == clock.started_at
        assert again.elapsed - clock.elapsed == business_time_between(calendar, now, now2)
        if again.state != BREACHED:
            assert again.warn_at == clock.warn_at


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios())
def test_running_clock_elapsed_plus_remaining_is_target(scenario):
    """(b) A running clock: elapsed + the business time still to go until due_at == target,
    and elapsed is the business time of the counting spans up to now."""
    calendar, hist, targets, now = scenario
    clocks = ticket_clocks(hist, targets, calendar, now=now)
    for clock in clocks.values():
        if not _is_counting(clock):
            continue
        assert clock.due_at is not None
        assert clock.warn_at is not None
        assert clock.warn_at <= clock.due_at
        assert clock.due_at > now
        to_go = business_time_between(calendar, now, clock.due_at)
        assert clock.elapsed + to_go == clock.target
        assert clock.remaining == to_go
    if RESOLUTION in clocks:
        assert clocks[RESOLUTION].elapsed == _resolution_elapsed(calendar, hist, targets, now)
    if FIRST_RESPONSE in clocks:
        stops = [hist.first_response_at, *(at for at, s in hist.statuses if s in _STOP)]
        stop = min([at for at in stops if at is not None and at <= now], default=now)
        expected = business_time_between(calendar, hist.created_at, stop)
        assert clocks[FIRST_RESPONSE].elapsed == expected


_STOP = ("solved", "closed")


def _resolution_elapsed(calendar, hist, targets, now) -> timedelta:
    """Oracle: business time of every status period up to now in a counting status."""
    pauses = {"pending", "on_hold"} if targets.pause_on_hold else {"pending"}
    statuses = sorted(hist.statuses)
    total = timedelta(0)
    for index, (start, status) in enumerate(statuses):
        end = statuses[index + 1][0] if index + 1 < len(statuses) else now
        if status not in pauses and status not in _STOP:
            total += business_time_between(calendar, start, min(end, now))
    return total


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios())
def test_breached_iff_due_passed(scenario):
    """(c) An unstopped clock is BREACHED iff due_at is set and <= now; a stopped one is met
    or breached, breached iff it has the breach instant, which came before the stop."""
    calendar, hist, targets, now = scenario
    for clock in ticket_clocks(hist, targets, calendar, now=now).values():
        if clock.stopped_at is None:
            breached = clock.due_at is not None and clock.due_at <= now
            assert (clock.state == BREACHED) is breached, clock
            if clock.state == PAUSED:
                assert clock.due_at is None
                assert clock.warn_at is None
            if clock.state in (RUNNING, AT_RISK):
                assert (clock.state == AT_RISK) is (clock.warn_at <= now)
        else:
            assert clock.stopped_at <= now
            assert clock.state in (MET, BREACHED)
            assert (clock.state == BREACHED) is (clock.due_at is not None)
            if clock.due_at is not None:
                assert clock.due_at < clock.stopped_at
                assert clock.elapsed >= clock.target
            else:
                assert clock.elapsed <= clock.target


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_events_after_now_do_not_matter(scenario, data):
    """(d) Recomputing the past: the clocks at an earlier instant are those of the history cut
    at that instant (the event log may already hold later events)."""
    calendar, hist, targets, now = scenario
    span = int((now - hist.created_at).total_seconds() // 60)
    cut = hist.created_at + timedelta(minutes=data.draw(st.integers(0, span), label="cut"))
    first_response = hist.first_response_at
    truncated = History(
        created_at=hist.created_at,
        statuses=tuple(item for item in hist.statuses if item[0] <= cut),
        customer_messages=tuple(at for at in hist.customer_messages if at <= cut),
        agent_replies=tuple(at for at in hist.agent_replies if at <= cut),
        first_response_at=first_response if first_response and first_response <= cut else None,
    )
    assert ticket_clocks(hist, targets, calendar, now=cut) == ticket_clocks(
        truncated, targets, calendar, now=cut
    )
