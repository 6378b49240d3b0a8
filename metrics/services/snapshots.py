"""The daily metric snapshots: every catalogue metric, for every subject it is kept for,
for one local day, written by set-based upserts.

One statement per metric family (volume, backlog, durations, SLA, CSAT/CES, FCR, NPS,
licence utilisation, revenue, health): a `facts` scan of the day's rows, each row carrying
its subjects (team, agent, channel, tier, account, band, CSM), grouped with GROUPING SETS
into the company, team, agent, … rows in one pass, then `INSERT … ON CONFLICT DO UPDATE`
(rows whose value did not change are not rewritten) and a DELETE of the family's rows of
that day that the data no longer produces. Running a day again, or backfilling it, gives
the same rows.

Each row's `value` is what `catalogue.pool` gives for that one day and `sample_size` its
n. A subject appears only if it had activity in the family that day: a day without data
writes no row ("no data"); a count that is truly 0 for an active subject is 0; a rate with
an empty denominator is NULL.

Sources (see also the catalogue's definitions):
- created: Ticket.created_at; solved and reopened: TicketEvent (status → solved, kind
  reopened), so a ticket solved twice counts twice;
- backlog at the end of the day: from Ticket.created_at and solved_at / closed_at (a past
  instant is reconstructed from the columns, not the event log: a ticket reopened since
  counts as unsolved from its creation until its latest solve);
- durations: Ticket.first_response_at / solved_at (the latest solve) vs created_at, and the
  business seconds the SLA refresh stores on the ticket;
- SLA: breaches are SlaAlert breach rows on the day of the breach; a target is achieved on
  the day its clock stopped (the first reply, the solve) if it never breached;
- band: the account's HealthSnapshot of that day ('' when it has none).

A day is computed in one transaction under a transaction-level advisory lock on
("metrics.snapshots", day): a second run of the same day at the same time returns at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from success.models import HealthSnapshot, NpsResponse, RevenueEvent, UsageDaily
from support.models import CsatResponse, Message, SlaAlert, Ticket, TicketEvent

from .. import catalogue
from ..catalogue import BAND_IDS, CHANNEL_IDS, COMPANY_ID, TIER_IDS, Pooling
from ..models import MetricSnapshot, SubjectKind

logger = logging.getLogger(__name__)

AGED_AFTER = dt.timedelta(days=30)
FCR_REOPEN_WINDOW = dt.timedelta(days=7)

_T = {
    "ticket": Ticket._meta.db_table,
    "event": TicketEvent._meta.db_table,
    "message": Message._meta.db_table,
    "alert": SlaAlert._meta.db_table,
    "csat": CsatResponse._meta.db_table,
    "account": Account._meta.db_table,
    "health": HealthSnapshot._meta.db_table,
    "nps": NpsResponse._meta.db_table,
    "usage": UsageDaily._meta.db_table,
    "revenue": RevenueEvent._meta.db_table,
    "snapshot": MetricSnapshot._meta.db_table,
}


def _codes(expression: str, codes: dict[str, int]) -> str:
    whens = " ".join(f"WHEN '{key}' THEN {code}" for key, code in codes.items())
    return f"(CASE {expression} {whens} END)"


# The subject columns every facts row carries (NULL: not that kind of subject), in the
# order the grouping sets are tried.
_DIMS: dict[SubjectKind, str] = {
    SubjectKind.TEAM: "d_team",
    SubjectKind.AGENT: "d_agent",
    SubjectKind.CHANNEL: "d_channel",
    SubjectKind.TIER: "d_tier",
    SubjectKind.ACCOUNT: "d_account",
    SubjectKind.BAND: "d_band",
    SubjectKind.CSM: "d_csm",
}


def _account_dims(account: str, *, ticket: str | None = None) -> str:
    """The subject columns of a row whose account id is `account` (alias `a` joined to the
    account, `hs` to its health snapshot of the day) and, for ticket rows, the ticket's
    team, assignee and channel."""
    band = _codes("COALESCE(hs.band, '')", BAND_IDS)
    return ", ".join(
        [
            f"{ticket}.team_id::bigint AS d_team" if ticket else "NULL::bigint AS d_team",
            f"{ticket}.assignee_id::bigint AS d_agent" if ticket else "NULL::bigint AS d_agent",
            f"{_codes(f'{ticket}.channel', CHANNEL_IDS)}::bigint AS d_channel"
            if ticket
            else "NULL::bigint AS d_channel",
            f"{_codes('a.tier', TIER_IDS)}::bigint AS d_tier",
            f"{account}::bigint AS d_account",
            f"(CASE WHEN {account} IS NULL THEN NULL ELSE {band} END)::bigint AS d_band",
            "a.csm_id::bigint AS d_csm",
        ]
    )


def _account_joins(account: str) -> str:
    return (
        f"LEFT JOIN {_T['account']} a ON a.id = {account} "
        f"LEFT JOIN {_T['health']} hs ON hs.account_id = {account} AND hs.day = %(day)s"
    )


_TICKET_COLUMNS = "t.team_id, t.assignee_id, t.channel, t.account_id"


def _ticket_dims() -> str:
    return _account_dims("t.account_id", ticket="t")


@dataclass(frozen=True)
class _Window:
    day: dt.date
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime

    @property
    def until(self) -> dt.datetime:
        """The end of the day, or now while the day is still running."""
        return min(self.end, self.now)

    def params(self) -> dict[str, object]:
        return {
            "day": self.day,
            "start": self.start,
            "end": self.end,
            "until": self.until,
            "now": self.now,
            "aged_before": self.until - AGED_AFTER,
            "fcr_window": FCR_REOPEN_WINDOW,
        }


def day_window(day: dt.date, *, now: dt.datetime | None = None) -> _Window:
    """[day 00:00, day+1 00:00) in the platform's time zone."""
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return _Window(day, start, end, now or timezone.now())


# --- metric expressions -------------------------------------------------------------------
# Each metric of a family: (name, value, parts, sample size) as SQL over the grouped
# columns of that family, matching catalogue.pool for one day.


def _sum(name: str, count: str) -> tuple[str, str, str, str]:
    return (name, f"{count}::float8", f"jsonb_build_object('count', {count})", f"{count}")


def _last(name: str, count: str, n: str | None = None) -> tuple[str, str, str, str]:
    n = n or count
    return (
        name,
        f"{count}::float8",
        f"jsonb_build_object('count', {count}, 'n', {n})",
        f"{n}",
    )


def _ratio(name: str, numerator: str, denominator: str) -> tuple[str, str, str, str]:
    return (
        name,
        f"CASE WHEN {denominator} > 0 THEN 100.0 * {numerator} / {denominator} END::float8",
        f"jsonb_build_object('numerator', {numerator}, 'denominator', {denominator})",
        f"{denominator}",
    )


def _mean(name: str, total: str, count: str) -> tuple[str, str, str, str]:
    return (
        name,
        f"CASE WHEN {count} > 0 THEN {total}::float8 / {count} END::float8",
        f"jsonb_build_object('sum', {total}, 'count', {count})",
        f"{count}",
    )


def _nps(name: str) -> tuple[str, str, str, str]:
    return (
        name,
        "CASE WHEN responses > 0 THEN 100.0 * (promoters - detractors) / responses END::float8",
        "jsonb_build_object('promoters', promoters, 'detractors', detractors, "
        "'responses', responses)",
        "responses",
    )


@dataclass(frozen=True)
class _Family:
    name: str
    metrics: tuple[str, ...]
    facts: str  # SELECT … with the _DIMS columns and the measure columns
    aggregates: str = ""  # SELECT list over facts per group (sum(…) AS …)
    expressions: tuple[tuple[str, str, str, str], ...] = ()
    duration: bool = False  # facts carry (metric, seconds, bucket) instead


def _grouping(kinds: list[SubjectKind], *, extra: str = "") -> tuple[str, str, str]:
    """(subject_kind CASE, subject_id CASE, GROUPING SETS list) for these kinds."""
    prefix = f"{extra}, " if extra else ""
    sets = [f"({extra})" if extra else "()"]
    sets += [f"({prefix}{_DIMS[kind]})" for kind in kinds]
    kind_case = " ".join(f"WHEN GROUPING({_DIMS[k]}) = 0 THEN '{k.value}'" for k in kinds)
    id_case = " ".join(f"WHEN GROUPING({_DIMS[k]}) = 0 THEN {_DIMS[k]}" for k in kinds)
    company = SubjectKind.COMPANY.value
    return (
        f"(CASE {kind_case} ELSE '{company}' END)" if kinds else f"'{company}'",
        f"(CASE {id_case} ELSE {COMPANY_ID} END)::bigint" if kinds else f"{COMPANY_ID}::bigint",
        ", ".join(sets),
    )


def _allowed(metrics: Iterable[str]) -> tuple[str, list[SubjectKind]]:
    pairs = sorted(
        (name, kind.value) for name in metrics for kind in catalogue.metric(name).subjects
    )
    kinds = sorted(
        {SubjectKind(kind) for _, kind in pairs} - {SubjectKind.COMPANY},
        key=list(_DIMS).index,
    )
    values = ", ".join(f"('{name}', '{kind}')" for name, kind in pairs)
    return f"(VALUES {values}) AS ok(metric, subject_kind)", kinds


def _computed_sql(family: _Family, metrics: list[str]) -> str:
    allowed, kinds = _allowed(metrics)
    if family.duration:
        kind_case, id_case, sets = _grouping(kinds, extra="metric, bucket")
        return f"""
        grouped AS (
            SELECT {kind_case} AS subject_kind, {id_case} AS subject_id, metric, bucket,
                   count(*) AS cnt, sum(seconds) AS total_seconds
            FROM facts WHERE metric = ANY(%(metrics)s)
            GROUP BY GROUPING SETS ({sets})
        ),
        hist AS (
            SELECT g.*,
                   sum(cnt) OVER (PARTITION BY subject_kind, subject_id, metric
                                  ORDER BY bucket) AS cum,
                   sum(cnt) OVER (PARTITION BY subject_kind, subject_id, metric) AS n
            FROM grouped g WHERE subject_id IS NOT NULL
        ),
        computed AS (
            SELECT h.subject_kind, h.subject_id, h.metric,
                   max(CASE WHEN cum >= n * 0.5 AND cum - cnt < n * 0.5 THEN
                       CASE WHEN bucket = 0
                            THEN {catalogue.DURATION_BUCKET_BASE} * (n * 0.5 - (cum - cnt)) / cnt
                            ELSE {catalogue.DURATION_BUCKET_BASE}
                                 * power({catalogue.DURATION_BUCKET_RATIO}, bucket - 1)
                                 * power({catalogue.DURATION_BUCKET_RATIO},
                                         (n * 0.5 - (cum - cnt))::float8 / cnt)
                       END END)::float8 AS value,
                   jsonb_build_object(
                       'count', sum(cnt), 'sum', sum(total_seconds),
                       'hist', jsonb_object_agg(bucket::text, cnt)
                   ) AS parts,
                   sum(cnt)::int AS sample_size
            FROM hist h
            JOIN {allowed} ON ok.metric = h.metric AND ok.subject_kind = h.subject_kind
            GROUP BY h.subject_kind, h.subject_id, h.metric
        )"""
    kind_case, id_case, sets = _grouping(kinds)
    rows = ", ".join(
        f"('{name}', {value}, {parts}, ({n})::int)"
        for name, value, parts, n in family.expressions
        if name in metrics
    )
    return f"""
        grouped AS (
            SELECT {kind_case} AS subject_kind, {id_case} AS subject_id, {family.aggregates}
            FROM facts
            GROUP BY GROUPING SETS ({sets})
            HAVING count(*) > 0
        ),
        computed AS (
            SELECT g.subject_kind, g.subject_id, m.metric, m.value, m.parts, m.sample_size
            FROM grouped g
            CROSS JOIN LATERAL (VALUES {rows}) AS m(metric, value, parts, sample_size)
            JOIN {allowed} ON ok.metric = m.metric AND ok.subject_kind = g.subject_kind
            WHERE g.subject_id IS NOT NULL
        )"""


def _statement(family: _Family, metrics: list[str]) -> str:
    return f"""
    WITH facts AS ({family.facts}),
    {_computed_sql(family, metrics)},
    written AS (
        INSERT INTO {_T["snapshot"]} AS s
            (day, subject_kind, subject_id, metric, value, parts, sample_size, computed_at)
        SELECT %(day)s, subject_kind, subject_id, metric, value, parts, sample_size, %(now)s
        FROM computed
        ON CONFLICT (subject_kind, subject_id, metric, day) DO UPDATE
        SET value = EXCLUDED.value, parts = EXCLUDED.parts,
            sample_size = EXCLUDED.sample_size, computed_at = EXCLUDED.computed_at
        WHERE (s.value, s.parts, s.sample_size)
              IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.parts, EXCLUDED.sample_size)
        RETURNING 1
    ),
    removed AS (
        DELETE FROM {_T["snapshot"]} s
        WHERE s.day = %(day)s AND s.metric = ANY(%(metrics)s)
          AND NOT EXISTS (
              SELECT 1 FROM computed c
              WHERE c.subject_kind = s.subject_kind AND c.subject_id = s.subject_id
                AND c.metric = s.metric
          )
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM written) + (SELECT count(*) FROM removed)
    """


# --- families -----------------------------------------------------------------------------

_UNSOLVED = "('new', 'open', 'pending', 'on_hold')"
_DONE = "('solved', 'closed')"


def _in_day(column: str) -> str:
    return f"{column} >= %(start)s AND {column} < %(until)s"


VOLUME = _Family(
    "volume",
    ("tickets_created", "tickets_solved", "tickets_reopened", "reopen_rate"),
    facts=f"""
        SELECT x.created, x.solved, x.reopened, {_account_dims("x.account_id", ticket="x")}
        FROM (
            SELECT {_TICKET_COLUMNS}, 1 AS created, 0 AS solved, 0 AS reopened
            FROM {_T["ticket"]} t WHERE {_in_day("t.created_at")}
            UNION ALL
            SELECT {_TICKET_COLUMNS}, 0, 1, 0
            FROM {_T["event"]} e JOIN {_T["ticket"]} t ON t.id = e.ticket_id
            WHERE {_in_day("e.created_at")}
              AND e.kind = 'changed' AND e.field = 'status' AND e.new_value = 'solved'
            UNION ALL
            SELECT {_TICKET_COLUMNS}, 0, 0, 1
            FROM {_T["event"]} e JOIN {_T["ticket"]} t ON t.id = e.ticket_id
            WHERE {_in_day("e.created_at")} AND e.kind = 'reopened'
        ) x
        {_account_joins("x.account_id")}
    """,
    aggregates="sum(created) AS created, sum(solved) AS solved, sum(reopened) AS reopened",
    expressions=(
        _sum("tickets_created", "created"),
        _sum("tickets_solved", "solved"),
        _sum("tickets_reopened", "reopened"),
        _ratio("reopen_rate", "reopened", "solved"),
    ),
)

# Unsolved at the end of the day: created before it and not done by then. Tickets done
# during the day add their subjects with 0, so an active team with an empty backlog has 0.
BACKLOG = _Family(
    "backlog",
    ("backlog", "backlog_aged"),
    facts=f"""
        SELECT x.unsolved, (x.unsolved = 1 AND x.created_at < %(aged_before)s)::int AS aged,
               {_account_dims("x.account_id", ticket="x")}
        FROM (
            SELECT {_TICKET_COLUMNS}, t.created_at, 1 AS unsolved FROM {_T["ticket"]} t
            WHERE t.status IN {_UNSOLVED} AND t.created_at < %(until)s
            UNION ALL
            SELECT {_TICKET_COLUMNS}, t.created_at,
                   (COALESCE(t.solved_at, t.closed_at) >= %(until)s)::int
            FROM {_T["ticket"]} t
            WHERE t.status IN {_DONE} AND COALESCE(t.solved_at, t.closed_at) >= %(start)s
              AND t.created_at < %(until)s
        ) x
        {_account_joins("x.account_id")}
    """,
    aggregates="sum(unsolved) AS unsolved, sum(aged) AS aged",
    expressions=(_last("backlog", "unsolved"), _last("backlog_aged", "aged")),
)

_BASE, _RATIO = catalogue.DURATION_BUCKET_BASE, catalogue.DURATION_BUCKET_RATIO
_BUCKET = (
    f"CASE WHEN s.seconds < {_BASE} THEN 0 ELSE "
    f"1 + floor(ln(s.seconds / {_BASE}) / ln({_RATIO}) + 1e-12)::int END"
)

DURATIONS = _Family(
    "durations",
    (
        "first_response_time",
        "first_response_time_calendar",
        "resolution_time",
        "resolution_time_calendar",
    ),
    facts=f"""
        SELECT s.metric, s.seconds, {_BUCKET} AS bucket, s.d_team, s.d_agent, s.d_channel,
               s.d_tier, s.d_account, s.d_band, s.d_csm
        FROM (
            SELECT m.metric, greatest(m.seconds, 0)::float8 AS seconds, {_ticket_dims()}
            FROM {_T["ticket"]} t
            {_account_joins("t.account_id")}
            CROSS JOIN LATERAL (VALUES
                ('first_response_time', t.first_response_business_seconds::float8),
                ('first_response_time_calendar',
                 extract(epoch FROM t.first_response_at - t.created_at)::float8)
            ) AS m(metric, seconds)
            WHERE {_in_day("t.first_response_at")} AND m.seconds IS NOT NULL
            UNION ALL
            SELECT m.metric, greatest(m.seconds, 0)::float8, {_ticket_dims()}
            FROM {_T["ticket"]} t
            {_account_joins("t.account_id")}
            CROSS JOIN LATERAL (VALUES
                ('resolution_time', t.resolution_business_seconds::float8),
                ('resolution_time_calendar',
                 extract(epoch FROM t.solved_at - t.created_at)::float8)
            ) AS m(metric, seconds)
            WHERE t.status IN {_DONE} AND {_in_day("t.solved_at")} AND m.seconds IS NOT NULL
        ) s
    """,
    duration=True,
)


def _breached(metric: str | None) -> str:
    which = f"AND b.metric = '{metric}'" if metric else ""
    return (
        f"EXISTS (SELECT 1 FROM {_T['alert']} b WHERE b.ticket_id = t.id {which} "
        "AND b.kind = 'breach' AND b.at <= %(now)s)"
    )


# Achieved on the day the clock stopped without ever breaching; breached on the day of the
# breach. A ticket complies when none of its targets (next response included) breached.
SLA = _Family(
    "sla",
    ("sla_first_response", "sla_resolution", "sla_tickets"),
    facts=f"""
        SELECT x.fr_met, x.fr_missed, x.res_met, x.res_missed, x.tk_ok, x.tk_n,
               {_account_dims("x.account_id", ticket="x")}
        FROM (
            SELECT {_TICKET_COLUMNS},
                   (al.metric = 'first_response')::int AS fr_missed, 0 AS fr_met,
                   (al.metric = 'resolution')::int AS res_missed, 0 AS res_met,
                   0 AS tk_ok, 0 AS tk_n
            FROM {_T["alert"]} al JOIN {_T["ticket"]} t ON t.id = al.ticket_id
            WHERE al.kind = 'breach' AND {_in_day("al.at")}
              AND al.metric IN ('first_response', 'resolution')
            UNION ALL
            SELECT {_TICKET_COLUMNS}, 0, 1, 0, 0, 0, 0 FROM {_T["ticket"]} t
            WHERE {_in_day("t.first_response_at")}
              AND t.first_response_business_seconds IS NOT NULL
              AND NOT {_breached("first_response")}
            UNION ALL
            SELECT {_TICKET_COLUMNS}, 0, 0, 0,
                   (t.resolution_business_seconds IS NOT NULL
                    AND NOT {_breached("resolution")})::int,
                   (NOT {_breached(None)})::int, 1
            FROM {_T["ticket"]} t
            WHERE t.status IN {_DONE} AND {_in_day("t.solved_at")}
              AND (t.resolution_business_seconds IS NOT NULL
                   OR t.first_response_business_seconds IS NOT NULL)
        ) x
        {_account_joins("x.account_id")}
    """,
    aggregates=(
        "sum(fr_met) AS fr_met, sum(fr_met + fr_missed) AS fr_n, "
        "sum(res_met) AS res_met, sum(res_met + res_missed) AS res_n, "
        "sum(tk_ok) AS tk_ok, sum(tk_n) AS tk_n"
    ),
    expressions=(
        _ratio("sla_first_response", "fr_met", "fr_n"),
        _ratio("sla_resolution", "res_met", "res_n"),
        _ratio("sla_tickets", "tk_ok", "tk_n"),
    ),
)

# The response's account (copied when it arrived), the ticket's team, agent and channel.
SURVEYS = _Family(
    "surveys",
    ("csat", "ces", "ces_easy"),
    facts=f"""
        SELECT (r.rating >= 4)::int AS satisfied, r.ces,
               (r.ces IS NOT NULL)::int AS ces_n, (r.ces >= 5)::int AS easy,
               {_account_dims("r.account_id", ticket="t")}
        FROM {_T["csat"]} r
        JOIN {_T["ticket"]} t ON t.id = r.ticket_id
        {_account_joins("r.account_id")}
        WHERE {_in_day("r.responded_at")}
    """,
    aggregates=(
        "sum(satisfied) AS satisfied, count(*) AS rated, coalesce(sum(ces), 0) AS ces_sum, "
        "sum(ces_n) AS ces_n, coalesce(sum(easy), 0) AS easy"
    ),
    expressions=(
        _ratio("csat", "satisfied", "rated"),
        _mean("ces", "ces_sum", "ces_n"),
        _ratio("ces_easy", "easy", "ces_n"),
    ),
)

# Tickets solved on the day (once each, at their first solve of the day), FCR when they
# had at most one public agent reply by then and no reopen within 7 days of it.
FCR = _Family(
    "fcr",
    ("fcr",),
    facts=f"""
        SELECT (
                   (SELECT count(*) FROM {_T["message"]} m
                    WHERE m.ticket_id = t.id AND m.public AND m.author_user_id IS NOT NULL
                      AND m.created_at <= x.solved_at) <= 1
                   AND NOT EXISTS (
                       SELECT 1 FROM {_T["event"]} r
                       WHERE r.ticket_id = t.id AND r.kind = 'reopened'
                         AND r.created_at > x.solved_at
                         AND r.created_at <= x.solved_at + %(fcr_window)s
                   )
               )::int AS first_contact,
               {_ticket_dims()}
        FROM (
            SELECT ticket_id, min(created_at) AS solved_at FROM {_T["event"]}
            WHERE {_in_day("created_at")}
              AND kind = 'changed' AND field = 'status' AND new_value = 'solved'
            GROUP BY ticket_id
        ) x
        JOIN LATERAL (
            SELECT * FROM {_T["ticket"]} WHERE id = x.ticket_id
        ) t ON true
        {_account_joins("t.account_id")}
    """,
    aggregates="sum(first_contact) AS first_contact, count(*) AS solved",
    expressions=(_ratio("fcr", "first_contact", "solved"),),
)

NPS = _Family(
    "nps",
    ("nps",),
    facts=f"""
        SELECT (r.score >= 9)::int AS promoter, (r.score <= 6)::int AS detractor,
               {_account_dims("r.account_id")}
        FROM {_T["nps"]} r
        {_account_joins("r.account_id")}
        WHERE {_in_day("r.responded_at")}
    """,
    aggregates=("sum(promoter) AS promoters, sum(detractor) AS detractors, count(*) AS responses"),
    expressions=(_nps("nps"),),
)

USAGE = _Family(
    "usage",
    ("licence_utilisation",),
    facts=f"""
        SELECT u.value AS active, a.seats,
               {_account_dims("u.account_id")}
        FROM {_T["usage"]} u
        {_account_joins("u.account_id")}
        WHERE u.day = %(day)s AND u.metric = 'active_users' AND a.seats > 0
    """,
    aggregates="sum(active) AS active, sum(seats) AS seats",
    expressions=(_ratio("licence_utilisation", "active", "seats"),),
)

# MRR at the end of the day from the revenue events (the single source of MRR history):
# every account with events by then; active when its MRR is positive.
REVENUE = _Family(
    "revenue",
    ("accounts_active", "mrr"),
    facts=f"""
        SELECT p.mrr, (p.mrr > 0)::int AS active, {_account_dims("p.account_id")}
        FROM (
            SELECT account_id, sum(mrr_delta) AS mrr FROM {_T["revenue"]}
            WHERE date <= %(day)s GROUP BY account_id
        ) p
        {_account_joins("p.account_id")}
    """,
    aggregates="sum(mrr) AS mrr, sum(active) AS active",
    expressions=(_last("accounts_active", "active"), _last("mrr", "mrr", "active")),
)

_BAND_COUNTS = tuple(
    _last(f"accounts_{band or 'unscored'}", f"band_{band or 'unscored'}")
    for band in ("green", "yellow", "red", "")
)
HEALTH = _Family(
    "health",
    ("health_score", *(name for name, *_ in _BAND_COUNTS)),
    facts=f"""
        SELECT hs.score, hs.band, {_account_dims("hs.account_id")}
        FROM {_T["health"]} hs
        LEFT JOIN {_T["account"]} a ON a.id = hs.account_id
        WHERE hs.day = %(day)s
    """,
    aggregates=(
        "coalesce(sum(score), 0) AS score_sum, count(score) AS scored, "
        + ", ".join(
            f"count(*) FILTER (WHERE band = '{band}') AS band_{band or 'unscored'}"
            for band in ("green", "yellow", "red", "")
        )
    ),
    expressions=(_mean("health_score", "score_sum", "scored"), *_BAND_COUNTS),
)

FAMILIES: tuple[_Family, ...] = (
    VOLUME,
    BACKLOG,
    DURATIONS,
    SLA,
    SURVEYS,
    FCR,
    NPS,
    USAGE,
    REVENUE,
    HEALTH,
)
_FAMILY_OF = {name: family for family in FAMILIES for name in family.metrics}
_mismatch = set(catalogue.METRICS) ^ set(_FAMILY_OF)
assert not _mismatch, f"catalogue metrics and snapshot families disagree: {_mismatch}"


def _pooling_checked() -> None:
    # Each family writes the parts its metrics' pooling reads.
    for family in FAMILIES:
        for name in family.metrics:
            pooling = catalogue.metric(name).pooling
            assert family.duration == (pooling == Pooling.DURATION), name


_pooling_checked()


# --- the job ------------------------------------------------------------------------------


def _wanted(metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return list(catalogue.METRICS)
    names = list(dict.fromkeys(metrics))
    for name in names:
        catalogue.metric(name)  # UnknownMetric for a name the catalogue does not know
    return names


def _try_lock(cursor, job: str, day: dt.date) -> bool:
    """A transaction-level advisory lock on (job, day): released at commit or rollback."""
    key = zlib.crc32(job.encode()) & 0x7FFFFFFF
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [key, day.toordinal()])
    return bool(cursor.fetchone()[0])


def snapshots_compute_day(
    *, day: dt.date, metrics: Iterable[str] | None = None, now: dt.datetime | None = None
) -> int:
    """Compute the snapshots of `day` (every catalogue metric, or `metrics`) in one
    transaction. Returns the number of rows written (inserted, changed or removed): 0 when
    nothing changed, or when another run holds this day (it is doing the same work)."""
    wanted = _wanted(metrics)
    window = day_window(day, now=now)
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if not _try_lock(cursor, "metrics.snapshots", day):
            logger.info("Snapshots of %s are being computed by another run; skipped.", day)
            return 0
        for family in FAMILIES:
            names = [name for name in family.metrics if name in wanted]
            if not names:
                continue
            cursor.execute(_statement(family, names), {**window.params(), "metrics": names})
            written += cursor.fetchone()[0]
    return written


def snapshot_statement(family: str, *, day: dt.date) -> tuple[str, dict[str, object]]:
    """The SQL and parameters of one family's statement (for EXPLAIN in the benchmark)."""
    chosen = next(f for f in FAMILIES if f.name == family)
    names = list(chosen.metrics)
    return _statement(chosen, names), {**day_window(day).params(), "metrics": names}


def snapshots_nightly(*, today: dt.date | None = None) -> int:
    """The nightly run: yesterday in full, then FCR of the 7 days before it (a reopen within
    7 days of a solve can still take a ticket out of those days' FCR)."""
    today = today or timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    written = snapshots_compute_day(day=yesterday)
    for back in range(1, FCR_REOPEN_WINDOW.days + 1):
        written += snapshots_compute_day(day=yesterday - dt.timedelta(days=back), metrics=["fcr"])
    return written
