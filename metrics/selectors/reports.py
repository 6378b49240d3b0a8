"""Reads behind the three managers' reports (support, success, alignment).

Support and quality numbers come from the daily snapshots (metrics.MetricSnapshot): one
query reads every metric a report shows for its subject and period, and
`metrics.catalogue.pool` turns each bucket's rows (a day, a week, a month) and the whole
period's rows into a value with its n, never averaging daily values. Revenue retention,
renewals, ticket volume before churn, escalation flags and the health back-test read the
source tables with one set-based query each (however many days or accounts).

Every chart's numbers are built here as a `metrics.charts.Chart`, rounded as the page
shows them; the page draws it and the CSV download writes it, so they cannot disagree.
"""

from __future__ import annotations

import datetime
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage
from accounts.models import Account, Team, User
from success.choices import RevenueEventKind, SubscriptionStatus
from success.models import HealthSnapshot, RevenueEvent, Subscription
from support.models import Ticket

from .. import catalogue, formulas
from ..catalogue import BAND_IDS, CHANNEL_IDS, COMPANY_ID, TIER_IDS, Pooled, Unit
from ..charts import BAND_COLOURS, Chart, Series
from ..models import EscalationDirection, EscalationFlag, MetricSnapshot, SubjectKind

# --- Periods and buckets ------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """Part of a period, [start, end) in local days: one point of a trend chart."""

    start: datetime.date
    end: datetime.date
    label: str


@dataclass(frozen=True)
class Period:
    """A report's period, half-open [start, end) (METRICS.md), cut by `grain`."""

    start: datetime.date
    end: datetime.date
    grain: str = "week"

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> datetime.date:
        return self.end - datetime.timedelta(days=1)

    def buckets(self) -> list[Bucket]:
        """Days, ISO weeks (Monday first) or calendar months, the first and last cut to the
        period."""
        found = []
        day = self.start
        while day < self.end:
            if self.grain == "day":
                following = day + datetime.timedelta(days=1)
                label = f"{day.day} {day:%b}"
            elif self.grain == "week":
                following = day + datetime.timedelta(days=7 - day.weekday())
                label = f"{day.day} {day:%b}"
            else:
                following = (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
                label = f"{day:%b %Y}"
            following = min(following, self.end)
            found.append(Bucket(day, following, label))
            day = following
        return found


@dataclass(frozen=True)
class Subject:
    """Whose numbers: the company, a team, an agent, a CSM's portfolio, a channel, a tier."""

    kind: str
    id: int
    label: str


COMPANY = Subject(SubjectKind.COMPANY, COMPANY_ID, "Whole company")


def subject_for(field_name: str, value) -> Subject:
    """The snapshot subject of one report filter (its URL value), with a label to show.
    Raises LookupError when no such team or person exists."""
    match field_name:
        case "":
            return COMPANY
        case "team":
            team = Team.objects.filter(pk=value).values_list("name", flat=True).first()
            if team is None:
                raise LookupError(f"There is no team {value}.")
            return Subject(SubjectKind.TEAM, int(value), f"Team {team}")
        case "agent" | "csm":
            name = User.objects.filter(pk=value).values_list("full_name", "email").first()
            if name is None:
                raise LookupError(f"There is no person {value}.")
            kind = SubjectKind.AGENT if field_name == "agent" else SubjectKind.CSM
            prefix = "" if field_name == "agent" else "Portfolio of "
            return Subject(kind, int(value), f"{prefix}{name[0] or name[1]}")
        case "channel":
            return Subject(SubjectKind.CHANNEL, CHANNEL_IDS[value], f"Channel: {value}")
        case "tier":
            return Subject(SubjectKind.TIER, TIER_IDS[value], f"Tier: {value}")
    raise LookupError(field_name)


# --- Snapshots, pooled --------------------------------------------------------------------


@dataclass
class MetricResult:
    """One metric of one subject over a period: the whole period pooled, and each bucket."""

    name: str
    total: Pooled
    series: list[Pooled]
    parts: dict = field(default_factory=dict)  # summed parts of the period (NPS split)

    @property
    def definition(self) -> catalogue.MetricDef:
        return catalogue.metric(self.name)

    @property
    def no_data(self) -> bool:
        return self.total.value is None


# The parts each pooling adds up (catalogue.Pooling); LAST keeps the last day's instead.
_SUMMED_PARTS = ("count", "sum", "numerator", "denominator", "promoters", "detractors", "responses")
_PARTS_OF = {
    catalogue.Pooling.SUM: ("count",),
    catalogue.Pooling.RATIO: ("numerator", "denominator"),
    catalogue.Pooling.NPS: ("promoters", "detractors", "responses"),
    catalogue.Pooling.MEAN: ("sum", "count"),
}


def _summed_rows(*, metrics, kind, ids, period, bounds) -> list[tuple]:
    """Per (metric, subject, bucket), the sum of each additive part over its days and the
    last day's "count" and "n" (for instants): grouped in the database, so a year of days
    comes back as a row per bucket and no JSON is decoded in Python."""
    sums = ", ".join(f"sum((parts->>'{key}')::float8)" for key in _SUMMED_PARTS)
    sql = f"""
        SELECT metric, subject_id, width_bucket(day, %(bounds)s::date[]) - 1, {sums},
               (array_agg(parts->>'count' ORDER BY day DESC))[1],
               (array_agg(parts->>'n' ORDER BY day DESC))[1]
        FROM {MetricSnapshot._meta.db_table}
        WHERE metric = ANY(%(metrics)s) AND subject_kind = %(kind)s
          AND subject_id = ANY(%(ids)s) AND day >= %(start)s AND day < %(end)s
        GROUP BY 1, 2, 3
    """
    params = {
        "bounds": bounds,
        "metrics": list(metrics),
        "kind": kind,
        "ids": list(ids),
        "start": period.start,
        "end": period.end,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _summed_histograms(*, metrics, kind, ids, period, bounds=None) -> list[tuple]:
    """(metric, subject, bucket index, histogram bucket, count) of duration metrics, summed
    per report bucket when `bounds` (their start days) are given, else over the period
    (bucket index 0)."""
    index = "width_bucket(s.day, %(bounds)s::date[]) - 1" if bounds else "0"
    sql = f"""
        SELECT s.metric, s.subject_id, {index}, h.key, sum(h.value::bigint)
        FROM {MetricSnapshot._meta.db_table} s
        CROSS JOIN LATERAL jsonb_each_text(s.parts->'hist') h
        WHERE s.metric = ANY(%(metrics)s) AND s.subject_kind = %(kind)s
          AND s.subject_id = ANY(%(ids)s) AND s.day >= %(start)s AND s.day < %(end)s
        GROUP BY 1, 2, 3, 4
    """
    params = {
        "bounds": bounds,
        "metrics": list(metrics),
        "kind": kind,
        "ids": list(ids),
        "start": period.start,
        "end": period.end,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def snapshot_results(
    *,
    metrics: Sequence[str],
    kind: str,
    ids: Iterable[int],
    period: Period,
    series: Iterable[str] | None = None,
) -> dict[tuple[str, int], MetricResult]:
    """Every (metric, subject id) of `kind` over the period, the whole period and each
    bucket pooled by `catalogue.pool`, never averaging daily values. Buckets are pooled
    only for the metrics in `series` (default all): those a chart draws; the others need
    the period's value only, and a year of daily duration histograms is costly to pool.

    At most three queries however many days, metrics or subjects: the additive parts
    summed per bucket in the database, the duration histograms summed there too, and for
    a day grain the daily rows of the charted durations. A metric without rows is "no
    data" (value None), never 0."""
    ids = list(ids)
    buckets = period.buckets()
    starts = [bucket.start for bucket in buckets]
    pooling = {name: catalogue.metric(name).pooling for name in metrics}
    charted = set(metrics if series is None else series)
    all_durations = [name for name in metrics if pooling[name] == catalogue.Pooling.DURATION]
    # Durations are added up in the database, histograms included: per bucket when a chart
    # draws them (except by day: a bucket per day is the daily rows themselves, fetched as
    # they are), over the period when only its value is shown.
    by_day = period.grain == "day"
    durations = [name for name in all_durations if name in charted and by_day]
    period_durations = [name for name in all_durations if name not in charted]
    bucket_durations = [name for name in all_durations if name in charted and not by_day]
    summed_durations = period_durations + bucket_durations
    others = [name for name in metrics if name not in all_durations]
    by_key: dict[tuple[str, int], list[list[dict]]] = defaultdict(lambda: [[] for _ in buckets])
    duration_parts: dict[tuple[str, int, int], dict] = {}
    if others or summed_durations:
        for name, subject_id, index, *values in _summed_rows(
            metrics=others + summed_durations, kind=kind, ids=ids, period=period, bounds=starts
        ):
            summed = dict(zip(_SUMMED_PARTS, values[: len(_SUMMED_PARTS)], strict=True))
            last_count, last_n = values[len(_SUMMED_PARTS) :]
            if name in summed_durations:
                at = 0 if name in period_durations else index
                part = duration_parts.get((name, subject_id, at))
                if part is None:
                    part = {"count": 0.0, "sum": 0.0, "hist": {}}
                    duration_parts[(name, subject_id, at)] = part
                    by_key[(name, subject_id)][at].append(part)
                part["count"] += summed["count"] or 0
                part["sum"] += summed["sum"] or 0
                continue
            if pooling[name] == catalogue.Pooling.LAST:
                part = {
                    "count": None if last_count is None else float(last_count),
                    "n": 1 if last_n is None else float(last_n),
                }
            else:
                part = {key: summed[key] or 0 for key in _PARTS_OF[pooling[name]]}
            by_key[(name, subject_id)][index].append(part)
    for names, bounds in ((period_durations, None), (bucket_durations, starts)):
        if not names or not duration_parts:
            continue
        for name, subject_id, at, bucket, count in _summed_histograms(
            metrics=names, kind=kind, ids=ids, period=period, bounds=bounds
        ):
            duration_parts[(name, subject_id, at)]["hist"][bucket] = int(count)
    if durations:
        rows = (
            MetricSnapshot.objects.filter(
                metric__in=durations,
                subject_kind=kind,
                subject_id__in=ids,
                day__gte=period.start,
                day__lt=period.end,
            )
            .order_by("day")
            .values_list("metric", "subject_id", "day", "parts")
        )
        for name, subject_id, day, parts in rows:
            by_key[(name, subject_id)][bisect_right(starts, day) - 1].append(parts)
    results = {}
    for name in metrics:
        for subject_id in ids:
            days = by_key.get((name, subject_id)) or [[] for _ in buckets]
            if pooling[name] == catalogue.Pooling.DURATION:
                # Add each bucket's histograms up once: the bucket and the period then pool
                # a part per bucket instead of a part per day (the same sums).
                days = [_merged_durations(bucket) if len(bucket) > 1 else bucket for bucket in days]
            everything = [part for bucket in days for part in bucket]
            summed_nps: dict = {}
            if pooling[name] == catalogue.Pooling.NPS:
                for key in ("promoters", "detractors", "responses"):
                    summed_nps[key] = int(sum(float(p.get(key) or 0) for p in everything))
            results[(name, subject_id)] = MetricResult(
                name=name,
                total=catalogue.pool(name, everything),
                series=(
                    [catalogue.pool(name, bucket) for bucket in days] if name in charted else []
                ),
                parts=summed_nps,
            )
    return results


def _merged_durations(parts: list[dict]) -> list[dict]:
    """Duration parts of several days as one: counts, sums and histograms added up."""
    hist: dict[str, int] = defaultdict(int)
    count = total = 0.0
    for part in parts:
        count += float(part.get("count") or 0)
        total += float(part.get("sum") or 0)
        for bucket, n in (part.get("hist") or {}).items():
            hist[bucket] += n
    return [{"count": count, "sum": total, "hist": hist}]


def display(value: float | None, unit: str) -> float | None:
    """A value as the page and the CSV show it: one decimal (METRICS.md), durations in hours
    with two."""
    if value is None:
        return None
    if unit == Unit.DURATION:
        return round(value / 3600, 2)
    return formulas.round_for_display(value)


def _series_from(result: MetricResult, label: str, *, use: str = "value", **style) -> Series:
    unit = result.definition.unit
    values = [display(getattr(p, use) if use != "value" else p.value, unit) for p in result.series]
    return Series(label, values, [p.sample_size for p in result.series], **style)


def _chart(
    name: str,
    title: str,
    definition: str,
    unit: str,
    buckets: list[Bucket],
    series: list[Series],
    **options,
) -> Chart:
    return Chart(
        name=name,
        title=title,
        definition=definition,
        unit=unit,
        buckets=[bucket.label for bucket in buckets],
        bucket_starts=[bucket.start.isoformat() for bucket in buckets],
        bucket_ends=[bucket.end.isoformat() for bucket in buckets],
        series=series,
        **options,
    )


@dataclass(frozen=True)
class Card:
    """One number of a report's summary: value (None = no data), n, definition."""

    name: str
    label: str
    value: float | None
    unit: str
    definition: str
    sample_size: int | None = None
    small_sample: bool = False
    extra: str = ""  # e.g. "p90 4.2 h · mean 3.1 h"

    @property
    def no_data(self) -> bool:
        return self.value is None

    @property
    def text(self) -> str:
        return format_value(self.value, self.unit)


def format_value(value: float | None, unit: str) -> str:
    """A displayed value with its unit ("no data" when there is none)."""
    if value is None:
        return "no data"
    match unit:
        case Unit.PERCENT | "%":
            return f"{value:.1f} %"
        case Unit.DURATION | "hours":
            return f"{value:,.2f} h"
        case Unit.MONEY:
            return f"{value:,.0f}"
        case Unit.COUNT:
            return f"{value:,.0f}"
    return f"{value:,.1f}"


def card(result: MetricResult, *, label: str = "", flag_small: bool = False) -> Card:
    definition = result.definition
    unit = definition.unit
    extra = ""
    if unit == Unit.DURATION and result.total.value is not None:
        extra = (
            f"p90 ≈ {_hours(result.total.p90)} · mean {_hours(result.total.mean)}"
            if result.total.p90 is not None
            else ""
        )
    return Card(
        name=result.name,
        label=label or definition.label,
        value=display(result.total.value, unit),
        unit=str(unit),
        definition=definition.definition,
        sample_size=(
            result.total.sample_size
            if result.total.value is not None and _has_sample(definition)
            else None
        ),
        small_sample=flag_small and result.total.value is not None and result.total.small_sample,
        extra=extra,
    )


def _has_sample(definition: catalogue.MetricDef) -> bool:
    """Whether n means something to a reader: responses, tickets, targets, durations; not
    for counts (n is the count), instants, or account-day averages (seat-days)."""
    if definition.pooling in (catalogue.Pooling.SUM, catalogue.Pooling.LAST):
        return False
    return definition.name not in ("licence_utilisation", "health_score")


def _hours(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.2f} h"


# --- Support report -----------------------------------------------------------------------

SUPPORT_METRICS = (
    "tickets_created",
    "tickets_solved",
    "tickets_reopened",
    "backlog",
    "backlog_aged",
    "first_response_time",
    "first_response_time_calendar",
    "resolution_time",
    "resolution_time_calendar",
    "sla_first_response",
    "sla_resolution",
    "sla_tickets",
    "csat",
    "ces",
    "ces_easy",
    "fcr",
    "reopen_rate",
)


# Shown as a number of the period only (no chart): no per-bucket pooling.
SUPPORT_CARD_ONLY = frozenset(
    {"tickets_reopened", "first_response_time_calendar", "resolution_time_calendar", "ces"}
)


@dataclass
class Report:
    subject: Subject
    period: Period
    cards: list[Card]
    charts: dict[str, Chart]
    sections: dict = field(default_factory=dict)
    has_snapshots: bool = True

    def chart(self, name: str) -> Chart:
        return self.charts[name]


def support_report(*, subject: Subject, period: Period) -> Report:
    """Volume, backlog, speed (business hours and calendar), SLA compliance per target,
    CSAT, CES, FCR and reopen rate of one subject: one query."""
    results = snapshot_results(
        metrics=SUPPORT_METRICS,
        kind=subject.kind,
        ids=[subject.id],
        period=period,
        series=set(SUPPORT_METRICS) - SUPPORT_CARD_ONLY,
    )
    r = {name: results[(name, subject.id)] for name in SUPPORT_METRICS}
    buckets = period.buckets()
    cards = [
        card(r["tickets_created"]),
        card(r["tickets_solved"]),
        card(r["tickets_reopened"]),
        card(r["backlog"], label="Backlog (end of period)"),
        card(r["backlog_aged"], label="Aged backlog (end of period)"),
        card(r["first_response_time"], label="First response, median (business hours)"),
        card(r["first_response_time_calendar"], label="First response, median (calendar)"),
        card(r["resolution_time"], label="Resolution, median (business hours)"),
        card(r["resolution_time_calendar"], label="Resolution, median (calendar)"),
        card(r["sla_first_response"]),
        card(r["sla_resolution"]),
        card(r["sla_tickets"]),
        card(r["csat"], flag_small=True),
        card(r["ces"], flag_small=True),
        card(r["ces_easy"], flag_small=True),
        card(r["fcr"]),
        card(r["reopen_rate"]),
    ]

    def definition(*names: str) -> str:
        return " ".join(
            f"{catalogue.metric(n).label}: {catalogue.metric(n).definition}" for n in names
        )

    charts = {
        "volume": _chart(
            "volume",
            "Tickets created and solved",
            definition("tickets_created", "tickets_solved"),
            "tickets",
            buckets,
            [
                _series_from(r["tickets_created"], "Created"),
                _series_from(r["tickets_solved"], "Solved"),
            ],
            kind="bar",
        ),
        "backlog": _chart(
            "backlog",
            "Backlog and aged backlog (last day of each bucket)",
            definition("backlog", "backlog_aged"),
            "tickets",
            buckets,
            [
                _series_from(r["backlog"], "Backlog"),
                _series_from(r["backlog_aged"], "Older than 30 days"),
            ],
        ),
        "first_response": _chart(
            "first_response",
            "First response time, business hours (median and p90)",
            definition("first_response_time") + " Percentiles read from 10 % buckets (≈).",
            "hours",
            buckets,
            [
                _series_from(r["first_response_time"], "Median", use="median"),
                _series_from(r["first_response_time"], "p90", use="p90", dashed=True),
            ],
        ),
        "resolution": _chart(
            "resolution",
            "Resolution time, business hours (median and p90)",
            definition("resolution_time") + " Percentiles read from 10 % buckets (≈).",
            "hours",
            buckets,
            [
                _series_from(r["resolution_time"], "Median", use="median"),
                _series_from(r["resolution_time"], "p90", use="p90", dashed=True),
            ],
        ),
        "sla": _chart(
            "sla",
            "SLA compliance per target",
            definition("sla_first_response", "sla_resolution", "sla_tickets"),
            "%",
            buckets,
            [
                _series_from(r["sla_first_response"], "First response"),
                _series_from(r["sla_resolution"], "Resolution"),
                _series_from(r["sla_tickets"], "Whole ticket"),
            ],
            y_max=100,
        ),
        "satisfaction": _chart(
            "satisfaction",
            "CSAT and CES % easy",
            definition("csat", "ces_easy"),
            "%",
            buckets,
            [_series_from(r["csat"], "CSAT"), _series_from(r["ces_easy"], "CES % easy")],
            y_max=100,
        ),
        "resolution_quality": _chart(
            "resolution_quality",
            "First contact resolution and reopen rate",
            definition("fcr", "reopen_rate"),
            "%",
            buckets,
            [_series_from(r["fcr"], "FCR"), _series_from(r["reopen_rate"], "Reopen rate")],
            y_max=100,
        ),
    }
    return Report(
        subject=subject,
        period=period,
        cards=cards,
        charts=charts,
        has_snapshots=any(result.total.value is not None for result in r.values()),
    )


# --- Success report -----------------------------------------------------------------------

SUCCESS_METRICS = (
    "nps",
    "licence_utilisation",
    "accounts_active",
    "mrr",
    "health_score",
    "accounts_green",
    "accounts_yellow",
    "accounts_red",
    "accounts_unscored",
)
RENEWAL_DAYS = 90
RENEWALS_LISTED = 25


@dataclass(frozen=True)
class Retention:
    """Revenue and logo retention of the customers active at the start of a period."""

    starting: int  # S: active at the start
    retained: int  # of S, still active at the end
    churned: int  # of S, not active at the end
    new: int  # not active at the start, active at the end
    ending: int  # E
    starting_mrr: Decimal
    expansion: Decimal  # net rise of the cohort's customers that grew (NRR)
    contraction: Decimal
    churned_mrr: Decimal
    expansion_revenue: Decimal  # sum of the period's expansion events of the cohort
    logo_retention: float | None
    logo_churn: float | None
    grr: float | None
    nrr: float | None


def _account_filter_sql(subject: Subject, alias: str = "a") -> tuple[str, dict]:
    """SQL condition on accounts_account for a portfolio or tier subject."""
    if subject.kind == SubjectKind.CSM:
        return f" AND {alias}.csm_id = %(subject)s", {"subject": subject.id}
    if subject.kind == SubjectKind.TIER:
        tier = {code: name for name, code in TIER_IDS.items()}[subject.id]
        return f" AND {alias}.tier = %(subject)s", {"subject": tier}
    return "", {}


def _accounts_queryset(subject: Subject):
    accounts = Account.objects.all()
    if subject.kind == SubjectKind.CSM:
        accounts = accounts.filter(csm_id=subject.id)
    elif subject.kind == SubjectKind.TIER:
        tier = {code: name for name, code in TIER_IDS.items()}[subject.id]
        accounts = accounts.filter(tier=tier)
    return accounts


def retention(*, subject: Subject, period: Period) -> Retention:
    """Logo retention and churn, GRR, NRR and expansion over [start, end) from the revenue
    events, in one grouped query: an account's MRR at an instant is the sum of its events
    before it (METRICS.md: new logos are outside the cohort, so a customer who joins and
    churns inside the period changes nothing). Accounts are filtered by their current CSM
    or tier."""
    condition, params = _account_filter_sql(subject)
    sql = f"""
        WITH per_account AS (
            SELECT e.account_id,
                   coalesce(sum(e.mrr_delta) FILTER (WHERE e.date < %(start)s), 0) AS at_start,
                   coalesce(sum(e.mrr_delta), 0) AS at_end,
                   coalesce(sum(e.mrr_delta) FILTER (
                       WHERE e.date >= %(start)s AND e.kind = %(expansion)s), 0) AS expanded
            FROM {RevenueEvent._meta.db_table} e
            JOIN {Account._meta.db_table} a ON a.id = e.account_id
            WHERE e.date < %(end)s{condition}
            GROUP BY e.account_id
        )
        SELECT count(*) FILTER (WHERE at_start > 0),
               count(*) FILTER (WHERE at_start > 0 AND at_end > 0),
               count(*) FILTER (WHERE at_start > 0 AND at_end <= 0),
               count(*) FILTER (WHERE at_start <= 0 AND at_end > 0),
               count(*) FILTER (WHERE at_end > 0),
               coalesce(sum(at_start) FILTER (WHERE at_start > 0), 0),
               coalesce(sum(at_end - at_start) FILTER (
                   WHERE at_start > 0 AND at_end > at_start), 0),
               coalesce(sum(at_start - at_end) FILTER (
                   WHERE at_start > 0 AND at_end > 0 AND at_end < at_start), 0),
               coalesce(sum(at_start) FILTER (WHERE at_start > 0 AND at_end <= 0), 0),
               coalesce(sum(expanded) FILTER (WHERE at_start > 0), 0)
        FROM per_account
    """
    params |= {
        "start": period.start,
        "end": period.end,
        "expansion": RevenueEventKind.EXPANSION,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (
            starting,
            retained,
            churned,
            new,
            ending,
            starting_mrr,
            expansion,
            contraction,
            churned_mrr,
            expanded,
        ) = cursor.fetchone()
    movements = formulas.RevenueMovements(
        starting_mrr=Decimal(starting_mrr),
        expansion=Decimal(expansion),
        contraction=Decimal(contraction),
        churned_mrr=Decimal(churned_mrr),
    )
    return Retention(
        starting=starting,
        retained=retained,
        churned=churned,
        new=new,
        ending=ending,
        starting_mrr=movements.starting_mrr,
        expansion=movements.expansion,
        contraction=movements.contraction,
        churned_mrr=movements.churned_mrr,
        expansion_revenue=formulas.expansion_revenue([Decimal(expanded)]),
        # The cohort form: customers active at start and end, over S (E - N counts a
        # customer who joined and left inside the period).
        logo_retention=formulas.logo_retention_from_counts(starting, retained, 0),
        logo_churn=formulas.logo_churn(churned, starting),
        grr=formulas.grr(movements),
        nrr=formulas.nrr(movements),
    )


@dataclass(frozen=True)
class RenewalRow:
    band: str
    label: str
    accounts: int
    mrr: Decimal


def renewals_due(*, subject: Subject, today: datetime.date) -> dict:
    """Accounts renewing from today through today + 90 days (churned left out), live from
    the accounts: counts and MRR per health band (one query) and the soonest ones (one)."""
    accounts = (
        _accounts_queryset(subject)
        .filter(
            renewal_date__gte=today,
            renewal_date__lt=today + datetime.timedelta(days=RENEWAL_DAYS),
        )
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
    )
    grouped = {
        row["health_band"]: row
        for row in accounts.values("health_band").annotate(n=Count("id"), total=Sum("mrr"))
    }
    rows = []
    for band, label in [*HealthBand.choices, ("", "Not enough data")]:
        row = grouped.get(band, {})
        rows.append(RenewalRow(band, label, row.get("n", 0), row.get("total") or Decimal(0)))
    soonest = list(
        accounts.select_related("csm").order_by("renewal_date", "name")[:RENEWALS_LISTED]
    )
    return {
        "rows": rows,
        "accounts": sum(row.accounts for row in rows),
        "mrr": sum((row.mrr for row in rows), Decimal(0)),
        "soonest": soonest,
        "days": RENEWAL_DAYS,
        "chart": Chart(
            name="renewals",
            title=f"Renewals due in the next {RENEWAL_DAYS} days by health band",
            definition="Accounts whose renewal date falls from today through the next "
            f"{RENEWAL_DAYS} days, by their current health band; churned accounts left out.",
            unit="accounts",
            buckets=[row.label for row in rows],
            # One series per band, each with its own bar only, so each bar has its colour.
            series=[
                Series(
                    row.label,
                    [row.accounts if other is row else None for other in rows],
                    colour=BAND_COLOURS[row.band or "unscored"],
                )
                for row in rows
            ],
            kind="stacked",
        ),
    }


def success_report(*, subject: Subject, period: Period, today: datetime.date) -> Report:
    """Retention, NPS with its split, health bands over time, renewals due, adoption."""
    results = snapshot_results(
        metrics=SUCCESS_METRICS, kind=subject.kind, ids=[subject.id], period=period
    )
    r = {name: results[(name, subject.id)] for name in SUCCESS_METRICS}
    buckets = period.buckets()
    kept = retention(subject=subject, period=period)
    nps = r["nps"]
    split = nps.parts
    passives = split.get("responses", 0) - split.get("promoters", 0) - split.get("detractors", 0)
    band_names = ("green", "yellow", "red", "unscored")
    band_labels = {
        "green": "Green (healthy)",
        "yellow": "Yellow (at risk)",
        "red": "Red",
        "unscored": "Not enough data",
    }
    charts = {
        "nps": _chart(
            "nps",
            "NPS",
            catalogue.metric("nps").definition,
            "score",
            buckets,
            [_series_from(nps, "NPS")],
            y_min=-100,
            y_max=100,
        ),
        "health_bands": _chart(
            "health_bands",
            "Accounts by health band (last day of each bucket)",
            "Accounts whose health band was green, yellow or red, or without enough data to "
            "score, at the end of the bucket's last day.",
            "accounts",
            buckets,
            [
                _series_from(r[f"accounts_{band}"], band_labels[band], colour=BAND_COLOURS[band])
                for band in band_names
            ],
            kind="stacked",
        ),
        "adoption": _chart(
            "adoption",
            "Licence utilisation",
            catalogue.metric("licence_utilisation").definition,
            "%",
            buckets,
            [_series_from(r["licence_utilisation"], "Licence utilisation")],
        ),
        "customers": _chart(
            "customers",
            "Active customers (last day of each bucket)",
            catalogue.metric("accounts_active").definition,
            "accounts",
            buckets,
            [_series_from(r["accounts_active"], "Active customers")],
        ),
        "health_score": _chart(
            "health_score",
            "Mean health score",
            catalogue.metric("health_score").definition,
            "score",
            buckets,
            [_series_from(r["health_score"], "Mean health score")],
            y_max=100,
        ),
    }
    renewals = renewals_due(subject=subject, today=today)
    charts["renewals"] = renewals["chart"]
    cards = [
        card(nps, flag_small=True),
        card(r["licence_utilisation"]),
        card(r["accounts_active"], label="Active customers (end of period)"),
        card(r["mrr"], label="MRR (end of period)"),
        card(r["health_score"], label="Mean health score"),
    ]
    return Report(
        subject=subject,
        period=period,
        cards=cards,
        charts=charts,
        sections={
            "retention": kept,
            "nps": {
                "score": display(nps.total.value, Unit.SCORE),
                "responses": split.get("responses", 0),
                "promoters": split.get("promoters", 0),
                "passives": passives,
                "detractors": split.get("detractors", 0),
                "small_sample": nps.total.value is not None and nps.total.small_sample,
                "definition": catalogue.metric("nps").definition,
            },
            "renewals": renewals,
        },
        has_snapshots=any(result.total.value is not None for result in r.values()),
    )


# --- Alignment report ---------------------------------------------------------------------

BAND_METRICS = ("csat", "sla_first_response", "sla_resolution", "sla_tickets")
BAND_LABELS = {"green": "Green", "yellow": "Yellow", "red": "Red", "": "Not enough data"}
BACKTEST_DAYS = 90
BACKTEST_TOLERANCE_DAYS = 30  # the snapshot read is the latest in the 30 days up to D - 90


@dataclass(frozen=True)
class VolumeGroup:
    label: str
    accounts: int
    tickets: int
    seats: int  # seats of the accounts that have them
    tickets_with_seats: int

    @property
    def per_account(self) -> float | None:
        return formulas.round_for_display(self.tickets / self.accounts) if self.accounts else None

    @property
    def per_10_seats(self) -> float | None:
        value = formulas.tickets_per_10_seats(self.tickets_with_seats, self.seats or None)
        return formulas.round_for_display(value)


@dataclass(frozen=True)
class FlagRow:
    direction: str
    label: str
    raised: int
    acknowledged: int
    resolved: int
    ack_median: float | None  # hours
    ack_p90: float | None
    resolve_median: float | None
    resolve_p90: float | None


def flag_summary(*, period: Period) -> list[FlagRow]:
    """Escalation flags raised in the period, per direction: how many, and the median and
    p90 time from raising to acknowledging and to resolving (of those that were), in
    calendar hours. One grouped query."""
    tz = timezone.get_default_timezone()
    start = datetime.datetime.combine(period.start, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(period.end, datetime.time.min, tzinfo=tz)
    sql = f"""
        SELECT direction, count(*), count(to_ack), count(to_resolve),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY to_ack),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY to_ack),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY to_resolve),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY to_resolve)
        FROM (
            SELECT direction,
                   extract(epoch FROM acknowledged_at - opened_at) AS to_ack,
                   extract(epoch FROM resolved_at - opened_at) AS to_resolve
            FROM {EscalationFlag._meta.db_table}
            WHERE opened_at >= %s AND opened_at < %s
        ) flags
        GROUP BY direction
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end])
        found = {row[0]: row[1:] for row in cursor.fetchall()}

    def hours(seconds) -> float | None:
        return None if seconds is None else round(float(seconds) / 3600, 2)

    rows = []
    for direction, label in EscalationDirection.choices:
        raised, acked, resolved, *times = found.get(direction) or (0, 0, 0, None, None, None, None)
        rows.append(FlagRow(direction, label, raised, acked, resolved, *map(hours, times)))
    return rows


@dataclass(frozen=True)
class BacktestRow:
    band: str
    label: str
    accounts: int
    churned: int

    @property
    def renewed(self) -> int:
        return self.accounts - self.churned

    @property
    def churn_rate(self) -> float | None:
        return formulas.round_for_display(formulas.percentage(self.churned, self.accounts))


@dataclass(frozen=True)
class ChurnOutcomes:
    volume: list[VolumeGroup]  # churned, renewed
    backtest: list[BacktestRow]  # by band 90 days before


# churn_outcomes counts every churned or renewed account's tickets over 90 days: at 10,000
# accounts and 1,000,000 tickets, a few thousand index ranges (0.5-1 s). Past tickets, churn
# events and contracts do not change, so the result is kept for an hour per (subject,
# period, today); settings.CX_REPORTS_CACHE_SECONDS = 0 turns the cache off.
OUTCOMES_CACHE_SECONDS = 3600


def churn_outcomes(*, subject: Subject, period: Period, today: datetime.date) -> ChurnOutcomes:
    """The same as `churn_outcomes_query`, kept in the cache (see OUTCOMES_CACHE_SECONDS)."""
    seconds = getattr(settings, "CX_REPORTS_CACHE_SECONDS", OUTCOMES_CACHE_SECONDS)
    if not seconds:
        return churn_outcomes_query(subject=subject, period=period, today=today)
    key = (
        f"metrics:churn-outcomes:v1:{subject.kind}:{subject.id}:{period.start}:{period.end}:{today}"
    )
    found = cache.get(key)
    if found is None:
        found = churn_outcomes_query(subject=subject, period=period, today=today)
        cache.set(key, found, seconds)
    return found


def churn_outcomes_query(
    *, subject: Subject, period: Period, today: datetime.date
) -> ChurnOutcomes:
    """The accounts whose churn (their churn event) or renewal (a contract that ended in
    the period, up to today, not cancelled, of an account that did not churn in it) fell
    in the period, each with its outcome day D, and for each: the tickets it created in
    [D - 90, D) and its health band at D - 90 (the latest HealthSnapshot in the 30 days up
    to that day). One query; per account one (account, created_at) ticket index range and
    one (account, -day) snapshot probe. Grouped into ticket volume before churn against
    before renewal, and into the health model's back-test (of the accounts red / yellow /
    green 90 days before, how many churned)."""
    condition, params = _account_filter_sql(subject)
    sql = f"""
        WITH churned AS (
            SELECT account_id, min(date) AS day FROM {RevenueEvent._meta.db_table}
            WHERE kind = %(churn)s AND date >= %(start)s AND date < %(end)s
            GROUP BY account_id
        ), renewed AS (
            SELECT s.account_id, min(s.end_date) AS day FROM {Subscription._meta.db_table} s
            WHERE s.end_date >= %(start)s AND s.end_date < %(end)s AND s.end_date <= %(today)s
              AND s.status <> %(cancelled)s
              AND NOT EXISTS (SELECT 1 FROM churned c WHERE c.account_id = s.account_id)
            GROUP BY s.account_id
        ), outcomes AS (
            SELECT account_id, day, true AS churned FROM churned
            UNION ALL
            SELECT account_id, day, false FROM renewed
        )
        SELECT o.churned, coalesce(h.band, 'none'), count(*), coalesce(sum(t.n), 0),
               coalesce(sum(a.seats) FILTER (WHERE a.seats > 0), 0),
               coalesce(sum(t.n) FILTER (WHERE a.seats > 0), 0)
        FROM outcomes o
        JOIN {Account._meta.db_table} a ON a.id = o.account_id
        CROSS JOIN LATERAL (
            SELECT count(*) AS n FROM {Ticket._meta.db_table} t
            WHERE t.account_id = o.account_id
              AND t.created_at >= ((o.day - %(days)s)::timestamp AT TIME ZONE %(tz)s)
              AND t.created_at < (o.day::timestamp AT TIME ZONE %(tz)s)
        ) t
        LEFT JOIN LATERAL (
            SELECT hs.band FROM {HealthSnapshot._meta.db_table} hs
            WHERE hs.account_id = o.account_id
              AND hs.day <= o.day - %(days)s AND hs.day > o.day - %(days)s - %(tolerance)s
            ORDER BY hs.day DESC LIMIT 1
        ) h ON true
        WHERE true{condition}
        GROUP BY 1, 2
    """
    params |= {
        "churn": RevenueEventKind.CHURN,
        "cancelled": SubscriptionStatus.CANCELLED,
        "start": period.start,
        "end": period.end,
        "today": today,
        "days": BACKTEST_DAYS,
        "tolerance": BACKTEST_TOLERANCE_DAYS,
        "tz": settings.TIME_ZONE,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [
            (churned, band, *map(int, numbers)) for churned, band, *numbers in cursor.fetchall()
        ]
    volume = []
    for churned, label in (
        (True, "Churned (90 days before churn)"),
        (False, "Renewed (90 days before renewal)"),
    ):
        mine = [row for row in rows if row[0] is churned]
        volume.append(VolumeGroup(label, *(sum(row[i] for row in mine) for i in range(2, 6))))
    groups = [
        ("red", "Red"),
        ("yellow", "Yellow"),
        ("green", "Green"),
        ("", "Not enough data"),
        ("none", "No snapshot"),
    ]
    backtest = [
        BacktestRow(
            band,
            label,
            sum(row[2] for row in rows if row[1] == band),
            sum(row[2] for row in rows if row[1] == band and row[0]),
        )
        for band, label in groups
    ]
    return ChurnOutcomes(volume=volume, backtest=backtest)


def alignment_report(*, period: Period, today: datetime.date) -> Report:
    """CSAT and SLA compliance by health band (snapshots of the BAND subjects: one query),
    ticket volume before churn, escalation flags by direction, and the health back-test."""
    band_ids = dict(BAND_IDS)
    results = snapshot_results(
        metrics=BAND_METRICS, kind=SubjectKind.BAND, ids=band_ids.values(), period=period
    )
    bands = list(band_ids.items())
    labels = [BAND_LABELS[band] for band, _ in bands]
    metric_labels = {
        "csat": "CSAT",
        "sla_first_response": "SLA: first response",
        "sla_resolution": "SLA: resolution",
        "sla_tickets": "SLA: whole ticket",
    }
    by_band = Chart(
        name="by_band",
        title="CSAT and SLA compliance by health band",
        definition=" ".join(
            f"{catalogue.metric(n).label}: {catalogue.metric(n).definition}" for n in BAND_METRICS
        )
        + " Accounts are grouped by their health band on the day.",
        unit="%",
        buckets=labels,
        series=[
            Series(
                metric_labels[name],
                [display(results[(name, code)].total.value, Unit.PERCENT) for _, code in bands],
                [results[(name, code)].total.sample_size for _, code in bands],
            )
            for name in BAND_METRICS
        ],
        kind="bar",
        y_max=100,
    )
    buckets = period.buckets()
    csat_trend = _chart(
        "csat_by_band",
        "CSAT by health band over time",
        catalogue.metric("csat").definition + " Accounts grouped by their band on the day.",
        "%",
        buckets,
        [
            _series_from(
                results[("csat", code)],
                BAND_LABELS[band],
                colour=BAND_COLOURS[band or "unscored"],
            )
            for band, code in bands
        ],
        y_max=100,
    )
    outcomes = churn_outcomes(subject=COMPANY, period=period, today=today)
    volume = outcomes.volume
    volume_chart = Chart(
        name="before_churn",
        title="Tickets per account in the 90 days before churn, against before renewal",
        definition="Tickets created in the 90 days before an account's churn date (accounts "
        "that churned in the period), against those of the accounts that renewed in the "
        "period (a contract ended, not cancelled), in the 90 days before their renewal; per "
        "account and per 10 seats (accounts with known seats).",
        unit="tickets",
        buckets=[group.label for group in volume],
        series=[
            Series(
                "Per account", [group.per_account for group in volume], [g.accounts for g in volume]
            ),
            Series(
                "Per 10 seats",
                [group.per_10_seats for group in volume],
                [g.accounts for g in volume],
            ),
        ],
        kind="bar",
    )
    flags = flag_summary(period=period)
    flags_chart = Chart(
        name="flags",
        title="Escalation flags: time to acknowledge and to resolve (median, hours)",
        definition="Flags raised in the period, by direction; the median time from raising "
        "to the first acknowledgement and to resolution, of the flags that were "
        "(calendar hours).",
        unit="hours",
        buckets=[row.label for row in flags],
        series=[
            Series("Raised", [row.raised for row in flags]),
            Series(
                "To acknowledge, median",
                [row.ack_median for row in flags],
                [r.acknowledged for r in flags],
            ),
            Series(
                "To acknowledge, p90",
                [row.ack_p90 for row in flags],
                [r.acknowledged for r in flags],
            ),
            Series(
                "To resolve, median",
                [row.resolve_median for row in flags],
                [r.resolved for r in flags],
            ),
            Series(
                "To resolve, p90", [row.resolve_p90 for row in flags], [r.resolved for r in flags]
            ),
        ],
        kind="bar",
    )
    backtest = outcomes.backtest
    backtest_chart = Chart(
        name="backtest",
        title="Churn by health band 90 days before renewal or churn",
        definition="Accounts whose churn or renewal date fell in the period, by their health "
        "band 90 days before it (the latest snapshot in the 30 days up to that day): how "
        "many churned, and the share.",
        unit="%",
        buckets=[row.label for row in backtest],
        series=[
            Series(
                "Churned", [row.churn_rate for row in backtest], [row.accounts for row in backtest]
            )
        ],
        kind="bar",
        y_max=100,
    )
    return Report(
        subject=COMPANY,
        period=period,
        cards=[],
        charts={
            "by_band": by_band,
            "csat_by_band": csat_trend,
            "before_churn": volume_chart,
            "flags": flags_chart,
            "backtest": backtest_chart,
        },
        sections={"volume": volume, "flags": flags, "backtest": backtest},
        has_snapshots=by_band.has_data,
    )


def report_options(*, viewer: User, fields: Iterable[str]) -> dict:
    """The choices of the team, agent and CSM filters a viewer may pick: one query each."""
    from accounts.choices import Role

    options: dict = {}
    fields = set(fields)
    if "team" in fields:
        teams = Team.objects.order_by("name")
        if viewer.role == Role.AGENT:
            teams = teams.filter(members=viewer)
        options["teams"] = list(teams.values_list("pk", "name"))
    if "agent" in fields:
        agents = User.objects.filter(role=Role.AGENT, is_active=True).order_by("full_name")
        if viewer.role == Role.AGENT:
            agents = agents.filter(pk=viewer.pk)
        options["agents"] = list(agents.values_list("pk", "full_name"))
    if "csm" in fields:
        csms = User.objects.filter(role=Role.CSM, is_active=True).order_by("full_name")
        if viewer.role == Role.CSM:
            csms = csms.filter(pk=viewer.pk)
        options["csms"] = list(csms.values_list("pk", "full_name"))
    return options


__all__ = [
    "COMPANY",
    "Bucket",
    "Card",
    "MetricResult",
    "Period",
    "Report",
    "Subject",
    "alignment_report",
    "churn_outcomes",
    "flag_summary",
    "renewals_due",
    "report_options",
    "retention",
    "snapshot_results",
    "subject_for",
    "success_report",
    "support_report",
]
