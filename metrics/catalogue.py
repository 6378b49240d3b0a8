"""What each snapshot metric is, and how a period pools its days.

The nightly job writes one MetricSnapshot row per (subject, metric, day) with the *parts* of
the metric for that day; a report over a period never averages daily values, it adds the
parts up and applies the formula once (`pool`). Each entry here says what the parts are,
which subjects the metric is kept for, and the definition shown on hover in the reports
(METRICS.md, in one sentence).

Durations (first response, resolution) are kept as a histogram with geometric buckets, so a
period's median and p90 can be read from the pooled buckets without keeping every ticket's
duration: each bucket is 10 % wide, so a percentile read from them lies in the exact one's
bucket, within 10 % of it (the reports say "≈"). The mean is exact (sum / count).
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from . import formulas
from .models import SubjectKind


class Unit(StrEnum):
    PERCENT = "percent"
    DURATION = "duration"  # seconds
    COUNT = "count"
    SCORE = "score"  # NPS -100..100, CES 1..7
    MONEY = "money"


class Pooling(StrEnum):
    SUM = "sum"  # parts {"count"}: add the days
    LAST = "last"  # parts {"count"}: an instant (end of day); a period shows its last day
    RATIO = "ratio"  # parts {"numerator", "denominator"}: 100 * Σnum / Σden
    NPS = "nps"  # parts {"promoters", "detractors", "responses"}
    MEAN = "mean"  # parts {"sum", "count"}
    DURATION = "duration"  # parts {"count", "sum", "hist": {bucket: count}}


# Fixed codes for the subjects that are not rows (SubjectKind CHANNEL, TIER, BAND). Append
# only: stored rows keep these numbers.
CHANNEL_IDS = {"email": 1, "portal": 2, "api": 3, "phone": 4, "chat": 5}
TIER_IDS = {"enterprise": 1, "growth": 2, "starter": 3}
BAND_IDS = {"green": 1, "yellow": 2, "red": 3, "": 4}  # "" = not enough data
COMPANY_ID = 0

_SUPPORT_SUBJECTS = frozenset(
    {
        SubjectKind.COMPANY,
        SubjectKind.ACCOUNT,
        SubjectKind.TEAM,
        SubjectKind.AGENT,
        SubjectKind.CHANNEL,
        SubjectKind.TIER,
        SubjectKind.BAND,
    }
)
_ACCOUNT_ROLLUPS = frozenset(
    {
        SubjectKind.COMPANY,
        SubjectKind.ACCOUNT,
        SubjectKind.CSM,
        SubjectKind.TIER,
        SubjectKind.BAND,
    }
)
_PORTFOLIO_ROLLUPS = frozenset(
    {SubjectKind.COMPANY, SubjectKind.CSM, SubjectKind.TIER, SubjectKind.BAND}
)


@dataclass(frozen=True)
class MetricDef:
    name: str
    label: str
    definition: str
    unit: Unit
    pooling: Pooling
    subjects: frozenset[SubjectKind]
    higher_is_better: bool | None = True


def _defs(*metrics: MetricDef) -> dict[str, MetricDef]:
    return {metric.name: metric for metric in metrics}


METRICS: dict[str, MetricDef] = _defs(
    # --- Support: volume and backlog ---------------------------------------------------
    MetricDef(
        "tickets_created",
        "Tickets created",
        "Tickets created in the period (merged tickets included, as they arrived).",
        Unit.COUNT,
        Pooling.SUM,
        _SUPPORT_SUBJECTS | {SubjectKind.CSM},
        None,
    ),
    MetricDef(
        "tickets_solved",
        "Tickets solved",
        "Transitions to solved in the period (a ticket solved twice counts twice).",
        Unit.COUNT,
        Pooling.SUM,
        _SUPPORT_SUBJECTS,
        None,
    ),
    MetricDef(
        "tickets_reopened",
        "Tickets reopened",
        "A customer reply after solved reopened the ticket in the period.",
        Unit.COUNT,
        Pooling.SUM,
        _SUPPORT_SUBJECTS,
        False,
    ),
    MetricDef(
        "backlog",
        "Backlog",
        "Tickets new, open, pending or on hold at the end of the day (a period shows its "
        "last day).",
        Unit.COUNT,
        Pooling.LAST,
        _SUPPORT_SUBJECTS - {SubjectKind.ACCOUNT, SubjectKind.BAND},
        False,
    ),
    MetricDef(
        "backlog_aged",
        "Aged backlog",
        "Unsolved tickets older than 30 days at the end of the day (a period shows its last day).",
        Unit.COUNT,
        Pooling.LAST,
        _SUPPORT_SUBJECTS - {SubjectKind.ACCOUNT, SubjectKind.BAND},
        False,
    ),
    # --- Support: speed ------------------------------------------------------------------
    MetricDef(
        "first_response_time",
        "First response time (business hours)",
        "Creation to the first public agent reply, in business time of the ticket's SLA "
        "calendar; counted in the period of the reply. Median and p90.",
        Unit.DURATION,
        Pooling.DURATION,
        _SUPPORT_SUBJECTS,
        False,
    ),
    MetricDef(
        "first_response_time_calendar",
        "First response time (calendar)",
        "Creation to the first public agent reply, in calendar time; counted in the period "
        "of the reply. Median and p90.",
        Unit.DURATION,
        Pooling.DURATION,
        _SUPPORT_SUBJECTS,
        False,
    ),
    MetricDef(
        "resolution_time",
        "Resolution time (business hours)",
        "Creation to the latest solve (full resolution) minus time pending, in business "
        "time of the ticket's SLA calendar; counted in the period of that solve. Median and "
        "p90.",
        Unit.DURATION,
        Pooling.DURATION,
        _SUPPORT_SUBJECTS,
        False,
    ),
    MetricDef(
        "resolution_time_calendar",
        "Resolution time (calendar)",
        "Creation to the latest solve (full resolution), in calendar time; counted in the "
        "period of that solve. Median and p90.",
        Unit.DURATION,
        Pooling.DURATION,
        _SUPPORT_SUBJECTS,
        False,
    ),
    # --- Support: quality ----------------------------------------------------------------
    MetricDef(
        "sla_first_response",
        "SLA compliance: first response",
        "100 * achieved / (achieved + breached) for first-response targets that came due or "
        "were met in the period; running targets not yet due are left out.",
        Unit.PERCENT,
        Pooling.RATIO,
        _SUPPORT_SUBJECTS,
    ),
    MetricDef(
        "sla_resolution",
        "SLA compliance: resolution",
        "100 * achieved / (achieved + breached) for resolution targets that came due or were "
        "met in the period; running targets not yet due are left out.",
        Unit.PERCENT,
        Pooling.RATIO,
        _SUPPORT_SUBJECTS,
    ),
    MetricDef(
        "sla_tickets",
        "SLA compliance: tickets",
        "Tickets solved in the period whose every SLA target was met, over tickets solved "
        "in the period that had targets.",
        Unit.PERCENT,
        Pooling.RATIO,
        _SUPPORT_SUBJECTS,
    ),
    MetricDef(
        "csat",
        "CSAT",
        "100 * ratings of 4 or 5 / ratings, 1-5 scale, the latest rating per ticket, in the "
        "period it was submitted.",
        Unit.PERCENT,
        Pooling.RATIO,
        _SUPPORT_SUBJECTS | {SubjectKind.CSM},
    ),
    MetricDef(
        "ces",
        "CES",
        "Mean of 'the company made it easy to handle my issue', 1-7, higher is easier.",
        Unit.SCORE,
        Pooling.MEAN,
        _SUPPORT_SUBJECTS,
    ),
    MetricDef(
        "ces_easy",
        "CES: % easy",
        "100 * CES answers of 5 or more / answers.",
        Unit.PERCENT,
        Pooling.RATIO,
        _SUPPORT_SUBJECTS,
    ),
    MetricDef(
        "fcr",
        "First contact resolution",
        "Tickets solved in the period with at most one public agent reply and not reopened "
        "within 7 days, over tickets solved in the period.",
        Unit.PERCENT,
        Pooling.RATIO,
        _SUPPORT_SUBJECTS,
    ),
    MetricDef(
        "reopen_rate",
        "Reopen rate",
        "Tickets reopened in the period over tickets solved in the period.",
        Unit.PERCENT,
        Pooling.RATIO,
        _SUPPORT_SUBJECTS,
        False,
    ),
    # --- Success -------------------------------------------------------------------------
    MetricDef(
        "nps",
        "NPS",
        "100 * (promoters 9-10 - detractors 0-6) / responses, pooled over the period's "
        "responses; n < 30 is a small sample.",
        Unit.SCORE,
        Pooling.NPS,
        _ACCOUNT_ROLLUPS,
    ),
    MetricDef(
        "licence_utilisation",
        "Licence utilisation",
        "Active users over seats, for accounts that report usage.",
        Unit.PERCENT,
        Pooling.RATIO,
        _ACCOUNT_ROLLUPS,
    ),
    MetricDef(
        "accounts_active",
        "Active customers",
        "Accounts with a live subscription at the end of the day.",
        Unit.COUNT,
        Pooling.LAST,
        _PORTFOLIO_ROLLUPS,
        None,
    ),
    MetricDef(
        "mrr",
        "MRR",
        "Monthly recurring revenue at the end of the day.",
        Unit.MONEY,
        Pooling.LAST,
        _PORTFOLIO_ROLLUPS | {SubjectKind.ACCOUNT},
    ),
    MetricDef(
        "health_score",
        "Health score",
        "Mean health score of the scored accounts (0-100) at the end of the day.",
        Unit.SCORE,
        Pooling.MEAN,
        _PORTFOLIO_ROLLUPS - {SubjectKind.BAND},
    ),
    *(
        MetricDef(
            f"accounts_{band or 'unscored'}",
            f"Accounts {label}",
            f"Accounts whose health band was {label} at the end of the day.",
            Unit.COUNT,
            Pooling.LAST,
            _PORTFOLIO_ROLLUPS - {SubjectKind.BAND},
            None,
        )
        for band, label in (
            ("green", "green"),
            ("yellow", "yellow"),
            ("red", "red"),
            ("", "without enough data"),
        )
    ),
)


class UnknownMetric(KeyError):
    pass


def metric(name: str) -> MetricDef:
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownMetric(name) from None


# --- Duration histograms ------------------------------------------------------------------

DURATION_BUCKET_BASE = 60.0  # seconds: bucket 0 holds everything under a minute
DURATION_BUCKET_RATIO = 1.1


def duration_bucket(seconds: float) -> int:
    """Bucket 0 is [0, 60 s); bucket k ≥ 1 is [60·1.1^(k-1), 60·1.1^k)."""
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"A duration cannot be {seconds!r} seconds.")
    if seconds < DURATION_BUCKET_BASE:
        return 0
    return 1 + math.floor(
        math.log(seconds / DURATION_BUCKET_BASE) / math.log(DURATION_BUCKET_RATIO) + 1e-12
    )


def duration_bucket_bounds(bucket: int) -> tuple[float, float]:
    if bucket <= 0:
        return 0.0, DURATION_BUCKET_BASE
    return (
        DURATION_BUCKET_BASE * DURATION_BUCKET_RATIO ** (bucket - 1),
        DURATION_BUCKET_BASE * DURATION_BUCKET_RATIO**bucket,
    )


def duration_percentile(hist: Mapping[int, int], fraction: float) -> float | None:
    """The `fraction` percentile (0.5 = median) of a duration histogram, in seconds,
    interpolated inside its bucket (linearly in bucket 0, geometrically above); None when
    the histogram is empty."""
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be between 0 and 1")
    counts = sorted((int(bucket), int(count)) for bucket, count in hist.items() if count)
    total = sum(count for _, count in counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for bucket, count in counts:
        if seen + count >= rank:
            low, high = duration_bucket_bounds(bucket)
            share = (rank - seen) / count
            if bucket == 0:
                return low + (high - low) * share
            return low * (high / low) ** share
        seen += count
    return duration_bucket_bounds(counts[-1][0])[1]  # pragma: no cover (rounding guard)


# --- Pooling a period ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pooled:
    """A metric over a period: its value (None = no data), n, and for durations the
    median, p90 and mean (value is the median)."""

    value: float | None
    sample_size: int
    median: float | None = None
    p90: float | None = None
    mean: float | None = None

    @property
    def small_sample(self) -> bool:
        return formulas.is_small_sample(self.sample_size)


def _sum(parts: list[Mapping], key: str) -> float:
    return sum(float(part.get(key) or 0) for part in parts)


def pool(name: str, days: Iterable[Mapping]) -> Pooled:
    """Pool the parts of a metric's daily rows, oldest first, into the period's value."""
    definition = metric(name)
    parts = [day for day in days if day is not None]
    if not parts:
        return Pooled(None, 0)
    match definition.pooling:
        case Pooling.SUM:
            total = int(_sum(parts, "count"))
            return Pooled(float(total), total)
        case Pooling.LAST:
            last = parts[-1]
            value = last.get("count")
            return Pooled(None if value is None else float(value), int(last.get("n", 1) or 0))
        case Pooling.RATIO:
            numerator, denominator = _sum(parts, "numerator"), _sum(parts, "denominator")
            return Pooled(formulas.percentage(numerator, denominator), int(denominator))
        case Pooling.NPS:
            tally = formulas.NpsTally(
                responses=int(_sum(parts, "responses")),
                promoters=int(_sum(parts, "promoters")),
                detractors=int(_sum(parts, "detractors")),
            )
            return Pooled(tally.score, tally.responses)
        case Pooling.MEAN:
            count = int(_sum(parts, "count"))
            return Pooled(_sum(parts, "sum") / count if count else None, count)
        case Pooling.DURATION:
            hist: dict[int, int] = {}
            for part in parts:
                for bucket, count in (part.get("hist") or {}).items():
                    hist[int(bucket)] = hist.get(int(bucket), 0) + int(count)
            count = int(_sum(parts, "count"))
            if not count:
                return Pooled(None, 0)
            median = duration_percentile(hist, 0.5)
            return Pooled(
                median,
                count,
                median=median,
                p90=duration_percentile(hist, 0.9),
                mean=_sum(parts, "sum") / count,
            )
    raise AssertionError(definition.pooling)  # pragma: no cover
