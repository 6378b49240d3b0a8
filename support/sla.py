"""SLA clocks: a pure function from a ticket's history to the state of each target.

No database access: the services load the ticket's event log into a :class:`History`, call
:func:`ticket_clocks`, and store what it returns. Because the answer is derived from the
history alone, recomputing it later from the event log gives the same due times as the
live clocks did.

The three targets (definitions in shared METRICS.md):

* **first response** runs from creation until the first public agent reply (or the first
  solve, whichever comes first). It is never paused.
* **next response** runs from the first customer message that awaits an agent's public reply
  (a customer message after the latest agent reply, once the first response was given)
  until the next public agent reply or solve.
* **resolution** runs from creation until the ticket is solved; a reopened ticket resumes it
  with the time already used.

Next response and resolution are paused while the ticket is ``pending`` (waiting on the
customer), and while ``on_hold`` unless the policy says otherwise. Time counts in the
policy's business-hours calendar (:mod:`support.business_hours`).

A target is *breached* the moment its elapsed business time reaches the target, whether or
not the clock has stopped since; *at risk* once less than ``warning_margin`` of it is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .business_hours import Calendar, add_business_time, business_time_between

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"
METRICS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
METRIC_LABELS = {
    FIRST_RESPONSE: "First response",
    NEXT_RESPONSE: "Next response",
    RESOLUTION: "Resolution",
}

# Clock states, in the words the ticket page shows.
MET = "met"
RUNNING = "running"
PAUSED = "paused"
AT_RISK = "at_risk"
BREACHED = "breached"
STATE_LABELS = {
    MET: "Met",
    RUNNING: "Running",
    PAUSED: "Paused",
    AT_RISK: "At risk",
    BREACHED: "Breached",
}

DEFAULT_WARNING_MARGIN = 0.25
_ZERO = timedelta(0)
_STOPPING = ("solved", "closed")
_ALWAYS_RUNNING = ("new", "open")


@dataclass(frozen=True)
class History:
    """What the clocks need of one ticket, read from its event log.

    ``statuses``: (instant, status entered), in time order, starting with the status the
    ticket was created in. ``customer_messages`` and ``agent_replies``: instants of the
    customer's public messages and the agents' public replies (internal notes are not
    replies). ``first_response_at`` is the ticket's own field, which already applies the
    "opened by an agent on the customer's behalf" rule.
    """

    created_at: datetime
    statuses: Sequence[tuple[datetime, str]]
    customer_messages: Sequence[datetime] = ()
    agent_replies: Sequence[datetime] = ()
    first_response_at: datetime | None = None


@dataclass(frozen=True)
class Targets:
    """A policy's targets for one priority (None: no such target) and how it pauses."""

    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    pause_on_hold: bool = True
    warning_margin: float = DEFAULT_WARNING_MARGIN

    def of(self, metric: str) -> timedelta | None:
        return getattr(self, metric)


@dataclass(frozen=True)
class Clock:
    """One target's state at ``now``.

    ``due_at`` is when the target is (or was) missed: a projection while the clock runs, the
    instant of the breach once breached, None while paused or after it was met.
    ``warn_at`` likewise for the start of "at risk". ``elapsed`` is the business time used
    so far (until the clock stopped, for a stopped one).
    """

    metric: str
    state: str
    target: timedelta
    started_at: datetime
    elapsed: timedelta
    due_at: datetime | None = None
    warn_at: datetime | None = None
    stopped_at: datetime | None = None
    running: bool = False  # counting right now (not stopped, not paused)

    @property
    def label(self) -> str:
        return METRIC_LABELS[self.metric]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def remaining(self) -> timedelta:
        return self.target - self.elapsed

    @property
    def is_live(self) -> bool:
        """Counting right now: what the queue sorts, and the minute job warns, on."""
        return self.running


Span = tuple[datetime, datetime | None]  # [start, end); None: still going at `now`


def _running_spans(history: History, *, pauses: frozenset[str], now: datetime) -> list[Span]:
    """Spans in which the ticket's status lets a pausable clock run (not stopped/paused)."""
    spans: list[Span] = []
    statuses = sorted(history.statuses, key=lambda item: item[0])
    for index, (at, status) in enumerate(statuses):
        if at > now:
            break
        end = statuses[index + 1][0] if index + 1 < len(statuses) else None
        if end is not None and end > now:
            end = None
        if status in pauses or status in _STOPPING:
            continue
        if spans and spans[-1][1] == at:  # open → new → open: one span
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((at, end))
    return spans


def _clip(spans: list[Span], start: datetime, stop: datetime | None) -> list[Span]:
    clipped: list[Span] = []
    for span_start, span_end in spans:
        lo = max(span_start, start)
        if stop is None:
            hi = span_end
        else:
            hi = stop if span_end is None else min(span_end, stop)
        if hi is None or hi > lo:
            clipped.append((lo, hi))
    return clipped


def _elapsed(calendar: Calendar, spans: list[Span], now: datetime) -> timedelta:
    return sum((business_time_between(calendar, start, end or now) for start, end in spans), _ZERO)


def _crossing(calendar: Calendar, spans: list[Span], amount: timedelta) -> datetime | None:
    """The instant at which the spans' business time reaches ``amount``; None if it never
    does (the spans end first)."""
    if not spans:
        return None
    if amount <= _ZERO:
        return spans[0][0]
    used = _ZERO
    for start, end in spans:
        length = None if end is None else business_time_between(calendar, start, end)
        if length is None or used + length >= amount:
            try:
                return add_business_time(calendar, start, amount - used)
            except ValueError:
                # Not within the calendar module's search horizon (years of holidays, or an
                # absurd target): never due, rather than failing the change that asked.
                return None
        used += length
    return None


def _first_after(instants: Sequence[datetime], after: datetime) -> datetime | None:
    later = [at for at in instants if at > after]
    return min(later) if later else None


def _solves(history: History) -> list[datetime]:
    return sorted(at for at, status in history.statuses if status in _STOPPING)


def _clock(
    *,
    metric: str,
    target: timedelta,
    calendar: Calendar,
    spans: list[Span],
    started_at: datetime,
    stopped_at: datetime | None,
    margin: float,
    now: datetime,
) -> Clock:
    elapsed = _elapsed(calendar, spans, now)
    breach = _crossing(calendar, spans, target)
    if stopped_at is not None:
        # Finished: breached if the target was reached before the clock stopped.
        missed = breach is not None and breach < stopped_at
        return Clock(
            metric,
            BREACHED if missed else MET,
            target,
            started_at,
            elapsed,
            due_at=breach if missed else None,
            stopped_at=stopped_at,
        )
    running = bool(spans) and spans[-1][1] is None
    if breach is not None and breach <= now:
        return Clock(
            metric,
            BREACHED,
            target,
            started_at,
            elapsed,
            due_at=breach,
            warn_at=breach,
            running=running,
        )
    if not running:
        return Clock(metric, PAUSED, target, started_at, elapsed)
    warn = _crossing(calendar, spans, target * (1 - margin))
    state = AT_RISK if warn is not None and warn <= now else RUNNING
    return Clock(
        metric, state, target, started_at, elapsed, due_at=breach, warn_at=warn, running=True
    )


def ticket_clocks(
    history: History, targets: Targets, calendar: Calendar, *, now: datetime
) -> dict[str, Clock]:
    """Each target's clock at ``now``, keyed by metric. A metric without a target, and next
    response before any customer message awaits a reply, has no clock."""
    clocks: dict[str, Clock] = {}
    margin = min(max(targets.warning_margin, 0.0), 1.0)
    solves = _solves(history)
    pauses = frozenset({"pending", "on_hold"} if targets.pause_on_hold else {"pending"})

    first_target = targets.first_response
    if first_target is not None:
        first_solve = solves[0] if solves else None
        candidates = [at for at in (history.first_response_at, first_solve) if at is not None]
        stop = min(candidates) if candidates else None
        if stop is not None and stop > now:
            stop = None
        clocks[FIRST_RESPONSE] = _clock(
            metric=FIRST_RESPONSE,
            target=first_target,
            calendar=calendar,
            spans=[(history.created_at, stop)] if stop is None or stop > history.created_at else [],
            started_at=history.created_at,
            stopped_at=stop,
            margin=margin,
            now=now,
        )

    next_target = targets.next_response
    if next_target is not None and history.first_response_at is not None:
        cycle = _next_response_cycle(history, solves, now)
        if cycle is not None:
            start, stop = cycle
            status_spans = _running_spans(history, pauses=pauses, now=now)
            clocks[NEXT_RESPONSE] = _clock(
                metric=NEXT_RESPONSE,
                target=next_target,
                calendar=calendar,
                spans=_clip(status_spans, start, stop),
                started_at=start,
                stopped_at=stop,
                margin=margin,
                now=now,
            )

    resolution_target = targets.resolution
    if resolution_target is not None:
        status_spans = _running_spans(history, pauses=pauses, now=now)
        # Stopped iff the status at `now` is solved/closed; it stopped when that run of
        # stopping statuses began (the solve, not a later close). Later events do not count.
        stop = None
        past = sorted((item for item in history.statuses if item[0] <= now), key=lambda i: i[0])
        for at, status in reversed(past):
            if status not in _STOPPING:
                break
            stop = at
        clocks[RESOLUTION] = _clock(
            metric=RESOLUTION,
            target=resolution_target,
            calendar=calendar,
            spans=_clip(status_spans, history.created_at, stop),
            started_at=history.created_at,
            stopped_at=stop,
            margin=margin,
            now=now,
        )
    return clocks


def _next_response_cycle(
    history: History, solves: list[datetime], now: datetime
) -> tuple[datetime, datetime | None] | None:
    """(start, stop) of the latest next-response cycle: the first customer message after
    the latest agent reply or solve that precedes it, until the next agent reply or solve."""
    first_response = history.first_response_at
    assert first_response is not None
    waiting = sorted(at for at in history.customer_messages if first_response < at <= now)
    if not waiting:
        return None
    replies = sorted(at for at in history.agent_replies if at <= now)
    latest_message = waiting[-1]
    # A solve ends a cycle like a reply does: a message after it (which reopens the ticket)
    # starts a new cycle instead of belonging to the one the solve already stopped.
    previous_ends = [at for at in (*replies, *solves) if at < latest_message]
    answered_up_to = max([first_response, *previous_ends])
    start = min(at for at in waiting if at > answered_up_to)
    ends = [
        at
        for at in (_first_after(replies, start), _first_after(solves, start))
        if at is not None and at <= now
    ]
    return start, (min(ends) if ends else None)
