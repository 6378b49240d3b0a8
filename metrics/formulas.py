"""Metric formulas of /work/shared/METRICS.md ("Metric definitions for CX Platform").

One small pure function per metric: no Django, no database, standard library only. The
queries that feed these functions live elsewhere; this module only does the arithmetic, so
the definitions can be read and tested in one place. Sections follow METRICS.md (Sentiment,
Support, Success and revenue); the health score and the escalation flags are not here.

Conventions (all from METRICS.md)
---------------------------------
* **Percentages** are ``float`` in 0-100 (NPS: -100..100) and are returned **unrounded**:
  METRICS.md says "round only when displaying (one decimal)", so rounding belongs to the
  report. :func:`round_for_display` is that one decimal (half away from zero, so the worked
  examples read exactly as written: 69.158... -> 69.2, 2/3 -> 66.7).
* **Empty denominators** give ``None``, never 0 and never ``ZeroDivisionError``.
* **Bad inputs** raise ``ValueError`` naming the value: a score outside its scale, a negative
  count, a part larger than its whole, a naive datetime.
* **Survey responses without a score** (``None``) are dropped: they are not responses.
* **Durations** are ``timedelta``; instants must be timezone-aware. Business time is computed
  by a caller-supplied ``business_time(start, end) -> timedelta`` function (for example
  ``functools.partial(support.business_hours.business_time_between, calendar)``), so this
  module stays free of app imports; the default :func:`calendar_time` is real elapsed time.
* **Money** is ``Decimal`` (ints accepted).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

__all__ = [
    "BACKLOG_STATUSES",
    "SMALL_SAMPLE",
    "Author",
    "CsatRating",
    "CustomerActivity",
    "CustomerMrr",
    "DurationSummary",
    "NpsTally",
    "ResolutionTimes",
    "RevenueMovements",
    "SlaTarget",
    "SolvedTicket",
    "StatusChange",
    "TargetOutcome",
    "TicketMessage",
    "aged_backlog",
    "backlog_flow",
    "calendar_time",
    "ces",
    "ces_percent_easy",
    "csat",
    "duration_summary",
    "expansion_revenue",
    "fcr",
    "feature_adoption",
    "first_response_at",
    "first_response_time",
    "grr",
    "is_first_contact_resolution",
    "is_small_sample",
    "latest_ratings",
    "licence_utilisation",
    "logo_churn",
    "logo_retention",
    "logo_retention_from_counts",
    "nps",
    "nps_tally",
    "nrr",
    "percentile",
    "pooled_nps",
    "reopen_rate",
    "resolution_times",
    "response_rate",
    "round_for_display",
    "sla_compliance",
    "sla_compliance_of",
    "stickiness",
    "ticket_sla_compliance",
    "tickets_per_10_seats",
]

#: Below this many responses a survey score is flagged as a small sample (NPS section).
SMALL_SAMPLE = 30
#: Ticket statuses that make up the backlog.
BACKLOG_STATUSES = frozenset({"new", "open", "pending", "on_hold"})
#: A solved ticket reopened within this time is not a first contact resolution.
FCR_REOPEN_WINDOW = timedelta(days=7)
#: Backlog tickets older than this are "aged".
AGED_AFTER = timedelta(days=30)

BusinessTime = Callable[[datetime, datetime], timedelta]
_ZERO = timedelta(0)
_SOLVED = "solved"
_RESOLVED = ("solved", "closed")
_PENDING = "pending"


# --------------------------------------------------------------------------- helpers


def round_for_display(value: float | None) -> float | None:
    """One decimal, half away from zero, as reports show it; ``None`` stays ``None``."""
    if value is None:
        return None
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative whole number, got {value!r}")
    return value


def _part_of(part_name: str, part: int, whole_name: str, whole: int) -> None:
    _count(part_name, part)
    _count(whole_name, whole)
    if part > whole:
        raise ValueError(f"{part_name} ({part!r}) cannot exceed {whole_name} ({whole!r})")


def _percent(part: float | int | Decimal, whole: float | int | Decimal) -> float | None:
    if not whole:
        return None
    return float(100 * Decimal(part) / Decimal(whole))


def percentage(part: float | int | Decimal, whole: float | int | Decimal) -> float | None:
    """``100 * part / whole``; None when the whole is empty (the pooled form of every rate)."""
    return _percent(part, whole)


def _money(name: str, value: Decimal | int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError(f"{name} must be a Decimal amount, got {value!r}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name} must be a non-negative amount, got {value!r}")
    return amount


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _scores(values: Iterable[int | None], low: int, high: int, survey: str) -> list[int]:
    """Scores on an integer scale, unanswered (None) dropped, anything else refused."""
    kept = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{survey} score {value!r} is not a whole number on the {low}-{high} scale"
            )
        if not low <= value <= high:
            raise ValueError(f"{survey} score {value!r} is outside the {low}-{high} scale")
        kept.append(value)
    return kept


def is_small_sample(responses: int) -> bool:
    """True when fewer than 30 responses back a survey score (show n beside it, flag it)."""
    return _count("responses", responses) < SMALL_SAMPLE


def response_rate(responses: int, surveys_sent: int) -> float | None:
    """Share of sent surveys that were answered: ``100 * responses / surveys sent``."""
    _part_of("responses", responses, "surveys_sent", surveys_sent)
    return _percent(responses, surveys_sent)


# --------------------------------------------------------------------------- sentiment


@dataclass(frozen=True)
class NpsTally:
    """NPS counts of one group: responses (n), promoters (9-10) and detractors (0-6)."""

    responses: int
    promoters: int
    detractors: int

    def __post_init__(self) -> None:
        _count("responses", self.responses)
        _count("promoters", self.promoters)
        _count("detractors", self.detractors)
        if self.promoters + self.detractors > self.responses:
            raise ValueError(
                f"promoters ({self.promoters}) + detractors ({self.detractors}) cannot exceed "
                f"responses ({self.responses})"
            )

    @property
    def score(self) -> float | None:
        """``100 * (promoters - detractors) / responses``; None without responses."""
        return _percent(self.promoters - self.detractors, self.responses)


def nps_tally(scores: Iterable[int | None]) -> NpsTally:
    """Count the 0-10 scores into promoters (9-10), passives (7-8) and detractors (0-6)."""
    kept = _scores(scores, 0, 10, "NPS")
    return NpsTally(
        responses=len(kept),
        promoters=sum(1 for score in kept if score >= 9),
        detractors=sum(1 for score in kept if score <= 6),
    )


def nps(scores: Iterable[int | None]) -> float | None:
    """Net Promoter Score, -100..100: ``100 * (promoters - detractors) / responses``.

    Promoters score 9-10, detractors 0-6; responses without a score are dropped.
    """
    return nps_tally(scores).score


def pooled_nps(tallies: Iterable[NpsTally]) -> float | None:
    """NPS of several groups (segments, periods) together: pool their responses, never
    average the groups' NPS."""
    responses = promoters = detractors = 0
    for tally in tallies:
        responses += tally.responses
        promoters += tally.promoters
        detractors += tally.detractors
    return NpsTally(responses, promoters, detractors).score


@dataclass(frozen=True)
class CsatRating:
    """One CSAT rating (1-5) of a ticket, as submitted."""

    ticket_id: int | str
    submitted_at: datetime
    rating: int


def latest_ratings(ratings: Iterable[CsatRating]) -> list[int]:
    """One rating per ticket counts: the latest submitted (a tie goes to the later one given)."""
    latest: dict[int | str, CsatRating] = {}
    for rating in ratings:
        current = latest.get(rating.ticket_id)
        if current is None or _aware("submitted_at", rating.submitted_at) >= _aware(
            "submitted_at", current.submitted_at
        ):
            latest[rating.ticket_id] = rating
    return [rating.rating for rating in latest.values()]


def csat(ratings: Iterable[int | None]) -> float | None:
    """Customer satisfaction: ``100 * satisfied / responses`` on a 1-5 scale, where satisfied
    means 4 or 5 (3 is not). Unanswered surveys (None) are not responses."""
    kept = _scores(ratings, 1, 5, "CSAT")
    return _percent(sum(1 for rating in kept if rating >= 4), len(kept))


def ces(scores: Iterable[int | None]) -> float | None:
    """Customer effort score: the mean of 1-7 agree-scale answers (higher is easier)."""
    kept = _scores(scores, 1, 7, "CES")
    if not kept:
        return None
    return float(Decimal(sum(kept)) / len(kept))


def ces_percent_easy(scores: Iterable[int | None]) -> float | None:
    """Share of CES answers that found it easy: ``100 * count(score >= 5) / responses``."""
    kept = _scores(scores, 1, 7, "CES")
    return _percent(sum(1 for score in kept if score >= 5), len(kept))


# --------------------------------------------------------------------------- support


def calendar_time(start: datetime, end: datetime) -> timedelta:
    """Real elapsed time between two aware instants (correct across DST changes)."""
    return _aware("end", end) - _aware("start", start)


class Author(StrEnum):
    """Who wrote a ticket message."""

    AGENT = "agent"
    CUSTOMER = "customer"
    SYSTEM = "system"  # automatic messages


@dataclass(frozen=True)
class TicketMessage:
    """A message on a ticket: when, by whom, and whether the customer sees it."""

    at: datetime
    author: Author
    public: bool


def first_response_at(
    messages: Iterable[TicketMessage], *, created_by_agent: bool = False
) -> datetime | None:
    """When the first-response clock stopped: the first *public* agent message.

    Internal notes, automatic messages and the customer's messages do not stop it. If an agent
    opened the ticket on the customer's behalf, that opening message is skipped, so the clock
    stops at the second public agent message. None until answered.
    """
    agent_public = sorted(
        (m.at for m in messages if m.author == Author.AGENT and m.public),
        key=lambda at: _aware("message at", at),
    )
    skip = 1 if created_by_agent else 0
    return agent_public[skip] if len(agent_public) > skip else None


def first_response_time(
    created_at: datetime,
    first_response: datetime | None,
    business_time: BusinessTime = calendar_time,
) -> timedelta | None:
    """First response time: from ticket creation to the first public agent reply, in calendar
    time or (with ``business_time``) in the SLA calendar's business time; None until answered.
    """
    if first_response is None:
        return None
    if calendar_time(created_at, first_response) < _ZERO:
        raise ValueError(f"first response {first_response!r} is before creation {created_at!r}")
    return business_time(created_at, first_response)


@dataclass(frozen=True)
class StatusChange:
    """A ticket entered ``status`` at ``at``."""

    at: datetime
    status: str


@dataclass(frozen=True)
class ResolutionTimes:
    """First resolution (to the first solve) and full resolution (to the last solve)."""

    first: timedelta | None
    full: timedelta | None


def resolution_times(
    created_at: datetime,
    statuses: Sequence[StatusChange],
    *,
    business_time: BusinessTime = calendar_time,
    exclude_pending: bool = False,
) -> ResolutionTimes:
    """Resolution time: from creation to the first transition to ``solved`` (first resolution)
    and to the last one (full resolution; None while the ticket is not solved or closed).

    ``statuses`` are the status changes in time order. For SLAs measure in business time with
    ``exclude_pending=True``: time spent ``pending`` (waiting on the customer) is subtracted.
    """
    changes = sorted(statuses, key=lambda change: _aware("status change at", change.at))
    solves = [change.at for change in changes if change.status == _SOLVED]
    if not solves:
        return ResolutionTimes(None, None)

    def until(stop: datetime) -> timedelta:
        if calendar_time(created_at, stop) < _ZERO:
            raise ValueError(f"solved at {stop!r} is before creation {created_at!r}")
        elapsed = business_time(created_at, stop)
        if exclude_pending:
            for change, following in zip(changes, [*changes[1:], None], strict=True):
                if change.status != _PENDING:
                    continue
                end = stop if following is None else min(following.at, stop, key=_utc)
                start = max(change.at, created_at, key=_utc)
                if _utc(end) > _utc(start):
                    elapsed -= business_time(start, end)
        return elapsed

    full = until(solves[-1]) if changes[-1].status in _RESOLVED else None
    return ResolutionTimes(first=until(solves[0]), full=full)


def _utc(value: datetime) -> datetime:
    return _aware("instant", value)


def percentile(durations: Iterable[timedelta], fraction: float) -> timedelta | None:
    """The ``fraction`` (0-1) percentile by linear interpolation between the closest ranks,
    the same as PostgreSQL's ``percentile_cont``; None for no durations."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"percentile fraction {fraction!r} is outside 0-1")
    ordered = sorted(durations)
    if not ordered:
        return None
    if ordered[0] < _ZERO:
        raise ValueError(f"duration {ordered[0]!r} is negative")
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class DurationSummary:
    """How durations (first response, resolution) are reported: median and p90 first."""

    n: int
    median: timedelta
    p90: timedelta
    mean: timedelta


def duration_summary(durations: Iterable[timedelta]) -> DurationSummary | None:
    """Median, p90 and mean of durations (median and p90 lead the report); None if empty."""
    values = list(durations)
    median = percentile(values, 0.5)
    p90 = percentile(values, 0.9)
    if median is None or p90 is None:
        return None
    mean = sum(values, _ZERO) / len(values)
    return DurationSummary(n=len(values), median=median, p90=p90, mean=mean)


class TargetOutcome(StrEnum):
    """How one SLA target counts in compliance."""

    ACHIEVED = "achieved"
    BREACHED = "breached"
    NOT_DUE = "not_due"  # still running and not yet due: excluded


@dataclass(frozen=True)
class SlaTarget:
    """One SLA target of a ticket: the target, the business time used so far (until the clock
    stopped, for a stopped one) and whether the clock has stopped (met or missed)."""

    target: timedelta
    elapsed: timedelta
    stopped: bool

    @property
    def outcome(self) -> TargetOutcome:
        """Breached once the elapsed time reaches the target, running or not (as in
        ``support.sla``); achieved if stopped before that; otherwise not due yet."""
        if self.elapsed >= self.target:
            return TargetOutcome.BREACHED
        return TargetOutcome.ACHIEVED if self.stopped else TargetOutcome.NOT_DUE


def sla_compliance(achieved: int, breached: int) -> float | None:
    """SLA compliance per target: ``100 * achieved / (achieved + breached)``. Targets still
    running and not yet due are not counted; running past due count as breached."""
    _count("achieved", achieved)
    _count("breached", breached)
    return _percent(achieved, achieved + breached)


def sla_compliance_of(targets: Iterable[SlaTarget]) -> float | None:
    """SLA compliance per target over target states (see :class:`SlaTarget`)."""
    outcomes = [target.outcome for target in targets]
    return sla_compliance(
        outcomes.count(TargetOutcome.ACHIEVED), outcomes.count(TargetOutcome.BREACHED)
    )


def ticket_sla_compliance(tickets: Iterable[Iterable[SlaTarget]]) -> float | None:
    """SLA compliance per ticket: a ticket complies only if all its targets were met.

    A ticket with any breached target counts as breached; one with no breach but a target not
    yet due (or with no targets) is not counted yet.
    """
    achieved = breached = 0
    for targets in tickets:
        outcomes = {target.outcome for target in targets}
        if TargetOutcome.BREACHED in outcomes:
            breached += 1
        elif outcomes == {TargetOutcome.ACHIEVED}:
            achieved += 1
    return sla_compliance(achieved, breached)


@dataclass(frozen=True)
class SolvedTicket:
    """What FCR needs of a solved ticket."""

    solved_at: datetime
    public_agent_replies: int
    reopened_at: datetime | None = None  # first reopen after this solve, if any


def is_first_contact_resolution(ticket: SolvedTicket) -> bool:
    """Solved with at most one public agent reply and not reopened within 7 days (7 * 24 h
    after the solve, inclusive)."""
    if _count("public_agent_replies", ticket.public_agent_replies) > 1:
        return False
    if ticket.reopened_at is None:
        return True
    return calendar_time(ticket.solved_at, ticket.reopened_at) > FCR_REOPEN_WINDOW


def fcr(first_contact_resolved: int, solved: int) -> float | None:
    """First contact resolution: ``100 * tickets solved at first contact / tickets solved``
    in the period (see :func:`is_first_contact_resolution`)."""
    _part_of("first_contact_resolved", first_contact_resolved, "solved", solved)
    return _percent(first_contact_resolved, solved)


def reopen_rate(reopened: int, solved: int) -> float | None:
    """Reopen rate: ``100 * tickets reopened (customer reply after solved) / tickets solved``
    in the period."""
    _count("reopened", reopened)
    _count("solved", solved)
    return _percent(reopened, solved)


def backlog_flow(
    opening: int, created: int, reopened: int, solved: int, merged_or_cancelled: int
) -> int:
    """The backlog the flow predicts at the end of a period:
    ``opening + created + reopened - solved - merged/cancelled`` (compare with the count)."""
    for name, value in (
        ("opening", opening),
        ("created", created),
        ("reopened", reopened),
        ("solved", solved),
        ("merged_or_cancelled", merged_or_cancelled),
    ):
        _count(name, value)
    ending = opening + created + reopened - solved - merged_or_cancelled
    if ending < 0:
        raise ValueError(f"backlog flow gives a negative ending backlog ({ending})")
    return ending


def aged_backlog(created_ats: Iterable[datetime], at: datetime) -> int:
    """How many backlog tickets (created at ``created_ats``) are older than 30 days at ``at``."""
    return sum(1 for created in created_ats if calendar_time(created, at) > AGED_AFTER)


def tickets_per_10_seats(tickets: int, seats: int | None) -> float | None:
    """Ticket volume of an account normalised per 10 seats; None when seats are unknown."""
    _count("tickets", tickets)
    if seats is None:
        return None
    _count("seats", seats)
    return None if seats == 0 else 10 * tickets / seats


# --------------------------------------------------------------------------- success, revenue


@dataclass(frozen=True)
class CustomerActivity:
    """Whether a customer was active at the start and at the end of a period."""

    active_at_start: bool
    active_at_end: bool


def logo_retention(customers: Iterable[CustomerActivity]) -> float | None:
    """Customer (logo) retention on the cohort: customers active at the start and still active
    at the end, over customers active at the start. Customers who joined during the period,
    including any who joined and churned inside it, are outside the cohort."""
    starting = retained = 0
    for customer in customers:
        if customer.active_at_start:
            starting += 1
            retained += customer.active_at_end
    return _percent(retained, starting)


def logo_retention_from_counts(starting: int, ending: int, new: int) -> float | None:
    """The counting form ``100 * (E - N) / S``; equals :func:`logo_retention` unless a customer
    joined and churned inside the period (prefer the cohort form)."""
    _count("starting", starting)
    _count("ending", ending)
    _count("new", new)
    return _percent(ending - new, starting)


def logo_churn(churned: int, starting: int) -> float | None:
    """Logo churn: customers active at the start who churned during the period, over S."""
    _part_of("churned", churned, "starting", starting)
    return _percent(churned, starting)


@dataclass(frozen=True)
class CustomerMrr:
    """MRR of one customer active at the start of a period, at the start and at the end
    (0 at the end: churned)."""

    start: Decimal
    end: Decimal

    def __post_init__(self) -> None:
        _money("start MRR", self.start)
        _money("end MRR", self.end)


@dataclass(frozen=True)
class RevenueMovements:
    """MRR movements of the customers active at the start of a period (new logos excluded)."""

    starting_mrr: Decimal
    expansion: Decimal = Decimal(0)
    contraction: Decimal = Decimal(0)
    churned_mrr: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        starting = _money("starting MRR", self.starting_mrr)
        _money("expansion", self.expansion)
        lost = _money("contraction", self.contraction) + _money("churned MRR", self.churned_mrr)
        if lost > starting:
            raise ValueError(
                f"contraction ({self.contraction}) + churned MRR ({self.churned_mrr}) cannot "
                f"exceed starting MRR ({self.starting_mrr})"
            )

    @classmethod
    def from_customers(cls, customers: Iterable[CustomerMrr]) -> RevenueMovements:
        """Sum each customer's net change over the period into expansion, contraction and
        churn."""
        starting = expansion = contraction = churned = Decimal(0)
        for customer in customers:
            starting += customer.start
            if customer.end == 0:
                churned += customer.start
            elif customer.end > customer.start:
                expansion += customer.end - customer.start
            else:
                contraction += customer.start - customer.end
        return cls(starting, expansion, contraction, churned)


def grr(movements: RevenueMovements) -> float | None:
    """Gross revenue retention: ``100 * (starting - contraction - churned) / starting`` for the
    customers active at the start; expansion never counts, so it is never above 100."""
    kept = movements.starting_mrr - movements.contraction - movements.churned_mrr
    return _percent(kept, movements.starting_mrr)


def nrr(movements: RevenueMovements) -> float | None:
    """Net revenue retention: ``100 * (starting + expansion - contraction - churned) /
    starting``, same cohort as GRR; new-logo MRR is excluded."""
    kept = (
        movements.starting_mrr + movements.expansion - movements.contraction - movements.churned_mrr
    )
    return _percent(kept, movements.starting_mrr)


def expansion_revenue(changes: Iterable[Decimal | int]) -> Decimal:
    """Expansion revenue: the sum of the positive MRR changes of existing customers in the
    period (decreases are ignored, not netted)."""
    total = Decimal(0)
    for change in changes:
        if isinstance(change, bool) or not isinstance(change, Decimal | int):
            raise ValueError(f"MRR change must be a Decimal amount, got {change!r}")
        if change > 0:
            total += change
    return total


def licence_utilisation(active_users: int, seats: int | None) -> float | None:
    """Licence utilisation: ``100 * users active in the last 30 days / seats``; None when the
    seats are unknown or zero. May exceed 100 when more users are active than seats bought."""
    _count("active_users", active_users)
    if seats is None:
        return None
    _count("seats", seats)
    return _percent(active_users, seats)


def stickiness(daily_active_users: Sequence[int], monthly_active_users: int) -> float | None:
    """Stickiness: ``100 * average daily active users / monthly active users`` over the month
    (pass the month's daily counts; their *average* is taken)."""
    _count("monthly_active_users", monthly_active_users)
    for day in daily_active_users:
        _part_of("daily active users", day, "monthly_active_users", monthly_active_users)
    if not daily_active_users:
        return None
    average = Decimal(sum(daily_active_users)) / len(daily_active_users)
    return _percent(average, monthly_active_users)


def feature_adoption(used: int, eligible: int) -> float | None:
    """Feature adoption: accounts (or users) that used a key feature in the last 30 days over
    those that could."""
    _part_of("used", used, "eligible", eligible)
    return _percent(used, eligible)
