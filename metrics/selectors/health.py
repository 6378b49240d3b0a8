"""The raw inputs of the health score (/work/shared/METRICS.md, "Health score"), read from
both teams' rows for many accounts at once.

Each input family is one query over the accounts asked for (a chunk of the nightly run, or
the one account of an event), grouped by account: never one query per account. The model
itself, and what a component without data means, is success.health's.

Every window is a run of whole days of the platform's time zone that ends with `day`
(included): "the last 30 days" of a snapshot for 5 March are 4 February to 5 March. So a
day recomputed later, with the same rows, gives the same inputs, whatever the hour.

Choices the specification leaves open, made here:

- product usage: usage arrives as daily counts of active users, so the users active over
  30 days are approximated by the busiest day's count in the window (a lower bound of the
  true figure); seats are the account's, else the latest "seats" usage row in the window.
  No data without an active-users row in the window or without seats;
- support experience: tickets (merged duplicates left out) created in the window, per 10
  seats (the seats product usage reads), those of them now urgent, SLA breaches (recorded
  breach alerts whose moment fell in the window, on any ticket of the account) and open
  support-to-success escalation flags (not yet resolved: open or acknowledged). No data
  when none of these happened: an account that never contacts support is "no data", not a
  perfect 100;
- sentiment: NPS of the answers in the model's NPS window, CSAT (share of 4-5 ratings, one
  per ticket) of the ratings in its CSAT window, each by the account recorded on the answer;
- engagement: whole days between the day of the latest touchpoint (up to `day`) and `day`,
  against the tier's cadence (success.plans); never touched is no data;
- plan progress: milestones of the account's active plans, skipped ones left out, due
  before `day`; done on time when done on or before their due date. No active plan with a
  due milestone is no data.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Account
from success.choices import MilestoneStatus, PlanStatus, UsageMetric
from success.health import (
    EngagementInputs,
    HealthInputs,
    HealthModel,
    PlanProgressInputs,
    ProductUsageInputs,
    SentimentInputs,
    SupportExperienceInputs,
    nps_from_counts,
)
from success.models import NpsResponse, PlanMilestone, SuccessPlan, Touchpoint, UsageDaily
from success.plans import check_in_cadence_days
from support.choices import Priority, SlaAlertKind
from support.models import CsatResponse, SlaAlert, Ticket

from .. import formulas
from ..models import EscalationDirection, EscalationFlag, FlagState

USAGE_DAYS = 30
SUPPORT_DAYS = 30
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6
CSAT_SATISFIED_MIN = 4


@dataclass(frozen=True)
class HealthAccount:
    """What the health job needs to know of an account itself."""

    id: int
    tier: str
    seats: int | None


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _window(day: datetime.date, days: int) -> tuple[datetime.datetime, datetime.datetime]:
    """[start of the first day, start of the day after `day`): `days` whole local days."""
    return (
        _day_start(day - datetime.timedelta(days=days - 1)),
        _day_start(day + datetime.timedelta(days=1)),
    )


# --- Accounts --------------------------------------------------------------------------


def _scored_accounts():
    # Churned accounts are not scored (METRICS.md).
    return Account.objects.exclude(lifecycle_stage=LifecycleStage.CHURNED)


def health_accounts_count() -> int:
    """How many accounts the nightly run scores."""
    return _scored_accounts().count()


def health_accounts_after(*, after_id: int, limit: int) -> list[HealthAccount]:
    """The next `limit` scored accounts with an id above `after_id`, in id order (a keyset
    page: the nightly run walks all accounts in chunks). One query."""
    return [
        HealthAccount(id=pk, tier=tier, seats=seats)
        for pk, tier, seats in _scored_accounts()
        .filter(pk__gt=after_id)
        .order_by("pk")
        .values_list("pk", "tier", "seats")[:limit]
    ]


def health_accounts(*, account_ids: Iterable[int]) -> list[HealthAccount]:
    """The scored accounts among `account_ids` (churned and unknown ones left out). One query."""
    return [
        HealthAccount(id=pk, tier=tier, seats=seats)
        for pk, tier, seats in _scored_accounts()
        .filter(pk__in=list(account_ids))
        .order_by("pk")
        .values_list("pk", "tier", "seats")
    ]


# --- One query per input family --------------------------------------------------------
#
# Plain SQL: each family is one grouped query over `account_id = ANY(<ids>)`, an index range
# scan per account (every family has an index leading with the account), whatever the
# number of accounts. The ids travel as one array literal.


def _ids(account_ids: Sequence[int]) -> str:
    return "{" + ",".join(str(int(account_id)) for account_id in account_ids) + "}"


def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass(frozen=True)
class UsageFacts:
    peak_active_users: int | None  # the busiest day's active users in the window
    usage_seats: int | None  # the latest "seats" usage row in the window


_USAGE_SQL = f"""
SELECT account_id,
       max(value) FILTER (WHERE metric = %(active)s),
       (array_agg(value ORDER BY day DESC) FILTER (WHERE metric = %(seats)s))[1]
FROM {UsageDaily._meta.db_table}
WHERE account_id = ANY(%(ids)s::bigint[]) AND day > %(since)s AND day <= %(day)s
  AND metric IN (%(active)s, %(seats)s)
GROUP BY account_id
"""


def usage_facts(*, account_ids: Sequence[int], day: datetime.date) -> dict[int, UsageFacts]:
    """Per account with usage rows in the USAGE_DAYS up to `day`: its peak daily active
    users and latest seats row."""
    rows = _fetch(
        _USAGE_SQL,
        {
            "ids": _ids(account_ids),
            "since": day - datetime.timedelta(days=USAGE_DAYS),
            "day": day,
            "active": UsageMetric.ACTIVE_USERS.value,
            "seats": UsageMetric.SEATS.value,
        },
    )
    return {
        account_id: UsageFacts(peak_active_users=peak, usage_seats=seats)
        for account_id, peak, seats in rows
    }


_TICKETS_SQL = f"""
SELECT account_id, count(*), count(*) FILTER (WHERE priority = %(urgent)s)
FROM {Ticket._meta.db_table}
WHERE account_id = ANY(%(ids)s::bigint[]) AND created_at >= %(start)s AND created_at < %(end)s
  AND merged_into_id IS NULL
GROUP BY account_id
"""


def ticket_counts(*, account_ids: Sequence[int], day: datetime.date) -> dict[int, tuple[int, int]]:
    """Per account: (tickets created in the SUPPORT_DAYS up to `day`, of them urgent now).
    Merged duplicates are left out."""
    start, end = _window(day, SUPPORT_DAYS)
    rows = _fetch(
        _TICKETS_SQL,
        {"ids": _ids(account_ids), "start": start, "end": end, "urgent": Priority.URGENT.value},
    )
    return {account_id: (tickets, urgent) for account_id, tickets, urgent in rows}


_BREACH_WHERE = """a.kind = %(breach)s AND a.recorded_at IS NOT NULL
      AND a.at >= %(start)s AND a.at < %(end)s"""
# Many accounts: the window's breaches (a range of the partial index on breach moments),
# joined to their tickets.
_BREACHES_SQL = f"""
SELECT t.account_id, count(*)
FROM {SlaAlert._meta.db_table} a JOIN {Ticket._meta.db_table} t ON t.id = a.ticket_id
WHERE {_BREACH_WHERE} AND t.account_id = ANY(%(ids)s::bigint[])
GROUP BY t.account_id
"""
# A few accounts: their tickets, and the breaches of each (the alerts' ticket index), rather
# than every breach of the month.
_FEW_BREACHES_SQL = f"""
SELECT t.account_id, count(*)
FROM {Ticket._meta.db_table} t
CROSS JOIN LATERAL (
    SELECT 1 FROM {SlaAlert._meta.db_table} a WHERE a.ticket_id = t.id AND {_BREACH_WHERE}
) breach
WHERE t.account_id = ANY(%(ids)s::bigint[])
GROUP BY t.account_id
"""
_FEW_ACCOUNTS = 20


def sla_breach_counts(*, account_ids: Sequence[int], day: datetime.date) -> dict[int, int]:
    """Per account: SLA targets missed in the SUPPORT_DAYS up to `day` (breach alerts the
    minute job has recorded, by the moment the target was missed; on any of its tickets)."""
    start, end = _window(day, SUPPORT_DAYS)
    sql = _FEW_BREACHES_SQL if len(account_ids) <= _FEW_ACCOUNTS else _BREACHES_SQL
    params = {
        "ids": _ids(account_ids),
        "start": start,
        "end": end,
        "breach": SlaAlertKind.BREACH.value,
    }
    return dict(_fetch(sql, params))


_ESCALATIONS_SQL = f"""
SELECT account_id, count(*)
FROM {EscalationFlag._meta.db_table}
WHERE account_id = ANY(%(ids)s::bigint[]) AND direction = %(direction)s
  AND state <> %(resolved)s
GROUP BY account_id
"""


def _open_support_escalations(account_ids: Sequence[int]) -> dict[int, int]:
    """Per account: support -> success escalation flags not yet resolved (open or
    acknowledged: the problem is still there once someone has seen it)."""
    params = {
        "ids": _ids(account_ids),
        "direction": EscalationDirection.SUPPORT_TO_SUCCESS.value,
        "resolved": FlagState.RESOLVED.value,
    }
    return dict(_fetch(_ESCALATIONS_SQL, params))


_NPS_SQL = f"""
SELECT account_id, count(*), count(*) FILTER (WHERE score >= %(promoter)s),
       count(*) FILTER (WHERE score <= %(detractor)s)
FROM {NpsResponse._meta.db_table}
WHERE account_id = ANY(%(ids)s::bigint[])
  AND responded_at >= %(start)s AND responded_at < %(end)s
GROUP BY account_id
"""


def nps_counts(
    *, account_ids: Sequence[int], day: datetime.date, days: int
) -> dict[int, tuple[int, int, int]]:
    """Per account: (responses, promoters, detractors) answered in the `days` up to `day`."""
    start, end = _window(day, days)
    rows = _fetch(
        _NPS_SQL,
        {
            "ids": _ids(account_ids),
            "start": start,
            "end": end,
            "promoter": NPS_PROMOTER_MIN,
            "detractor": NPS_DETRACTOR_MAX,
        },
    )
    return {account_id: tuple(counts) for account_id, *counts in rows}


_CSAT_SQL = f"""
SELECT account_id, count(*), count(*) FILTER (WHERE rating >= %(satisfied)s)
FROM {CsatResponse._meta.db_table}
WHERE account_id = ANY(%(ids)s::bigint[])
  AND responded_at >= %(start)s AND responded_at < %(end)s
GROUP BY account_id
"""


def csat_counts(
    *, account_ids: Sequence[int], day: datetime.date, days: int
) -> dict[int, tuple[int, int]]:
    """Per account: (ratings, satisfied ratings) answered in the `days` up to `day`; one
    rating per ticket (a re-rating replaces the row), so the latest counts."""
    start, end = _window(day, days)
    rows = _fetch(
        _CSAT_SQL,
        {"ids": _ids(account_ids), "start": start, "end": end, "satisfied": CSAT_SATISFIED_MIN},
    )
    return {account_id: (responses, satisfied) for account_id, responses, satisfied in rows}


_TOUCHPOINTS_SQL = f"""
SELECT account_id, max(happened_at)
FROM {Touchpoint._meta.db_table}
WHERE account_id = ANY(%(ids)s::bigint[]) AND happened_at < %(end)s
GROUP BY account_id
"""


def last_touchpoints(
    *, account_ids: Sequence[int], day: datetime.date
) -> dict[int, datetime.datetime]:
    """Per account: the moment of its latest touchpoint up to the end of `day`."""
    end = _day_start(day + datetime.timedelta(days=1))
    return dict(_fetch(_TOUCHPOINTS_SQL, {"ids": _ids(account_ids), "end": end}))


_PLANS_SQL = f"""
SELECT p.account_id,
       count(*) FILTER (WHERE m.due_date < %(day)s),
       count(*) FILTER (WHERE m.due_date < %(day)s AND m.status = %(done)s
                          AND m.done_at <= m.due_date)
FROM {SuccessPlan._meta.db_table} p
JOIN {PlanMilestone._meta.db_table} m ON m.plan_id = p.id AND m.status <> %(skipped)s
WHERE p.account_id = ANY(%(ids)s::bigint[]) AND p.status = %(active)s
GROUP BY p.account_id
"""


def plan_milestone_counts(
    *, account_ids: Sequence[int], day: datetime.date
) -> dict[int, tuple[int, int]]:
    """Per account with an active plan: (milestones due before `day`, of them done on
    time). Skipped milestones do not count."""
    rows = _fetch(
        _PLANS_SQL,
        {
            "ids": _ids(account_ids),
            "day": day,
            "done": MilestoneStatus.DONE.value,
            "skipped": MilestoneStatus.SKIPPED.value,
            "active": PlanStatus.ACTIVE.value,
        },
    )
    return {account_id: (due, on_time) for account_id, due, on_time in rows}


# --- Putting them together -------------------------------------------------------------


def _seats(account: HealthAccount, facts: UsageFacts | None) -> int | None:
    """The account's seats, else its latest seats usage row; None when unknown (or 0)."""
    return account.seats or (facts.usage_seats if facts is not None else None) or None


def _product_usage(facts: UsageFacts | None, seats: int | None) -> ProductUsageInputs:
    if facts is None or facts.peak_active_users is None:
        return ProductUsageInputs()
    utilisation = formulas.licence_utilisation(facts.peak_active_users, seats)
    if utilisation is None:
        return ProductUsageInputs(evidence=("seats unknown",))
    return ProductUsageInputs(
        utilisation_pct=round(utilisation, 1),
        evidence=(
            f"at most {facts.peak_active_users} of {seats} seats active a day "
            f"in the last {USAGE_DAYS} days",
        ),
    )


def _support_experience(
    seats: int | None, tickets: tuple[int, int] | None, breaches: int, escalations: int
) -> SupportExperienceInputs:
    created, urgent = tickets or (0, 0)
    if not (created or breaches or escalations):
        return SupportExperienceInputs()  # no contact with support: no data
    per_10_seats = formulas.tickets_per_10_seats(created, seats)
    evidence = (f"{created} ticket{'' if created == 1 else 's'} in {SUPPORT_DAYS} days",)
    return SupportExperienceInputs(
        sla_breaches=breaches,
        urgent_tickets=urgent,
        tickets_per_10_seats=None if per_10_seats is None else round(per_10_seats, 2),
        open_escalations=escalations,
        evidence=evidence,
    )


def _sentiment(
    nps: tuple[int, int, int] | None, csat: tuple[int, int] | None, model: HealthModel
) -> SentimentInputs:
    evidence = []
    nps_value = csat_value = None
    if nps is not None:
        responses, promoters, detractors = nps
        nps_value = nps_from_counts(responses=responses, promoters=promoters, detractors=detractors)
        evidence.append(f"{responses} NPS answers in {model.sentiment.nps_days} days")
    if csat is not None:
        responses, satisfied = csat
        csat_value = formulas.percentage(satisfied, responses)
        evidence.append(f"{responses} CSAT ratings in {model.sentiment.csat_days} days")
    return SentimentInputs(
        nps=None if nps_value is None else round(nps_value, 1),
        csat=None if csat_value is None else round(csat_value, 1),
        evidence=tuple(evidence),
    )


def _engagement(
    account: HealthAccount, last: datetime.datetime | None, day: datetime.date
) -> EngagementInputs:
    cadence = check_in_cadence_days(account.tier)
    if last is None:
        return EngagementInputs(cadence_days=cadence)
    days = max(0, (day - timezone.localtime(last).date()).days)
    return EngagementInputs(days_since_last_touchpoint=days, cadence_days=cadence)


def _plan_progress(counts: tuple[int, int] | None) -> PlanProgressInputs:
    if counts is None:
        return PlanProgressInputs()  # no active plan
    due, on_time = counts
    return PlanProgressInputs(due_milestones=due, done_on_time=on_time)


def health_inputs(
    *, accounts: Sequence[HealthAccount], day: datetime.date, model: HealthModel
) -> dict[int, HealthInputs]:
    """Every account's raw health inputs on `day`: one query per input family (eight),
    however many accounts are asked for."""
    ids = [account.id for account in accounts]
    if not ids:
        return {}
    usage = usage_facts(account_ids=ids, day=day)
    tickets = ticket_counts(account_ids=ids, day=day)
    breaches = sla_breach_counts(account_ids=ids, day=day)
    escalations = _open_support_escalations(ids)
    nps = nps_counts(account_ids=ids, day=day, days=model.sentiment.nps_days)
    csat = csat_counts(account_ids=ids, day=day, days=model.sentiment.csat_days)
    touched = last_touchpoints(account_ids=ids, day=day)
    plans = plan_milestone_counts(account_ids=ids, day=day)
    inputs = {}
    for account in accounts:
        seats = _seats(account, usage.get(account.id))
        inputs[account.id] = HealthInputs(
            product_usage=_product_usage(usage.get(account.id), seats),
            support_experience=_support_experience(
                seats,
                tickets.get(account.id),
                breaches.get(account.id, 0),
                escalations.get(account.id, 0),
            ),
            sentiment=_sentiment(nps.get(account.id), csat.get(account.id), model),
            engagement=_engagement(account, touched.get(account.id), day),
            plan_progress=_plan_progress(plans.get(account.id)),
        )
    return inputs
