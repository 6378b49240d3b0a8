"""Reads behind the managers' reports and the cross-team parts of the Account 360 page."""

import datetime
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum, Window
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage
from accounts.models import Account, Contact, User
from success.choices import RevenueEventKind, TouchpointKind
from success.models import (
    HealthOverride,
    HealthSnapshot,
    LifecycleChange,
    NpsResponse,
    PlanMilestone,
    RevenueEvent,
    SuccessPlan,
    Touchpoint,
)
from support.choices import Channel, Priority, SlaAlertKind, SlaMetric
from support.models import UNSOLVED_Q, CsatResponse, SlaAlert, Ticket

from .. import formulas
from ..models import EscalationFlag, EscalationRule


def account_overview() -> dict:
    """Accounts and MRR by tier and by lifecycle stage: two grouped queries."""
    by_tier = list(
        Account.objects.values("tier")
        .annotate(accounts=Count("id"), mrr=Sum("mrr"))
        .order_by("tier")
    )
    by_stage = list(
        Account.objects.values("lifecycle_stage")
        .annotate(accounts=Count("id"), mrr=Sum("mrr"))
        .order_by("lifecycle_stage")
    )
    return {
        "by_tier": by_tier,
        "by_stage": by_stage,
        "accounts": sum(row["accounts"] for row in by_tier),
        "mrr": sum((row["mrr"] or 0) for row in by_tier),
    }


# --- Account timeline -------------------------------------------------------------------
#
# What both teams did with one account, newest first, in one UNION ALL query: each branch
# reads one kind of event of that account through an index on (account, time), applies the
# keyset cursor and its own LIMIT, and the outer query merges the branches and cuts the
# page. The cursor is the last row's (at, kind, id): unique, so a page never skips or
# repeats a row, even when many events share a moment.

TIMELINE_PAGE_SIZE = 50
_KIND_ORDER = 'COLLATE "C"'  # kinds compare byte-wise, whatever the database's collation


class Kind(StrEnum):
    TOUCHPOINT = "touchpoint"
    LIFECYCLE = "lifecycle"
    REVENUE = "revenue"
    PLAN_CREATED = "plan_created"
    MILESTONE_DONE = "milestone_done"
    HEALTH_BAND = "health_band"
    TICKET_OPENED = "ticket_opened"
    TICKET_SOLVED = "ticket_solved"
    SLA_BREACH = "sla_breach"
    CSAT = "csat"
    NPS = "nps"
    OVERRIDE_SET = "override_set"
    OVERRIDE_CLEARED = "override_cleared"
    FLAG_RAISED = "flag_raised"
    FLAG_RESOLVED = "flag_resolved"


# Per kind: label, bootstrap icon, badge class (colours keep UI.md's meanings), and the
# section of the Account 360 page that shows the success team's rows.
KIND_STYLE: dict[str, tuple[str, str, str, str]] = {
    Kind.TOUCHPOINT: ("Touchpoint", "chat-left-text", "cx-badge-neutral", "touchpoints"),
    Kind.LIFECYCLE: ("Lifecycle", "signpost-split", "cx-badge-neutral", ""),
    Kind.REVENUE: ("Revenue", "cash-coin", "cx-badge-neutral", "revenue"),
    Kind.PLAN_CREATED: ("Success plan", "map", "cx-badge-neutral", "plans"),
    Kind.MILESTONE_DONE: ("Milestone", "flag", "cx-badge-green", "plans"),
    Kind.HEALTH_BAND: ("Health", "heart-pulse", "cx-badge-grey", ""),
    Kind.TICKET_OPENED: ("Ticket opened", "ticket", "cx-badge-blue", ""),
    Kind.TICKET_SOLVED: ("Ticket solved", "check-circle", "cx-badge-green", ""),
    Kind.SLA_BREACH: ("SLA breached", "exclamation-octagon-fill", "cx-badge-red", ""),
    Kind.CSAT: ("CSAT", "star-half", "cx-badge-grey", ""),
    Kind.NPS: ("NPS", "megaphone", "cx-badge-grey", "nps"),
    Kind.OVERRIDE_SET: ("Health override", "pin-angle", "cx-badge-grey", "health"),
    Kind.OVERRIDE_CLEARED: ("Health override", "pin", "cx-badge-grey", "health"),
    Kind.FLAG_RAISED: ("Escalation", "flag-fill", "cx-badge-red", "escalations"),
    Kind.FLAG_RESOLVED: ("Escalation", "flag", "cx-badge-green", "escalations"),
}
_BAND_TONE = {
    HealthBand.GREEN: "cx-badge-green",
    HealthBand.YELLOW: "cx-badge-amber",
    HealthBand.RED: "cx-badge-red",
}


class InvalidCursor(ValueError):
    """A timeline cursor that was not made by TimelineCursor.encode."""


@dataclass(frozen=True)
class TimelineCursor:
    """A position in the timeline: rows strictly older than (at, kind, id) come next."""

    at: datetime.datetime
    kind: str
    id: int

    def encode(self) -> str:
        """`<microseconds since 1970>.<kind>.<id>`: plain URL characters, no time zone."""
        micros = (self.at - _EPOCH) // datetime.timedelta(microseconds=1)
        return f"{micros}.{self.kind}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> "TimelineCursor":
        parts = text.split(".")
        if len(parts) != 3 or parts[1] not in KIND_STYLE:
            raise InvalidCursor("The timeline position in the link is not valid.")
        micros, kind, row_id = parts
        try:
            at = _EPOCH + datetime.timedelta(microseconds=int(micros))
            number = int(row_id)
        except (ValueError, OverflowError):
            raise InvalidCursor("The timeline position in the link is not valid.") from None
        if not 0 < number < 2**63:
            raise InvalidCursor("The timeline position in the link is not valid.")
        return cls(at=at, kind=kind, id=number)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class TimelineEntry:
    """One row of an account's timeline, ready to show."""

    at: datetime.datetime
    kind: str
    id: int
    title: str
    detail: str = ""
    actor: str = ""  # "by Casey Success", "from Jane at the customer"
    url: str = ""  # a ticket's page; success rows link to `section` of the 360 page
    section: str = ""
    all_day: bool = False  # dated events (revenue, milestones, health): show the day only
    tone: str = "cx-badge-neutral"
    tone_label: str = ""  # the badge's words (colour is never the only signal)

    @property
    def label(self) -> str:
        return KIND_STYLE[self.kind][0]

    @property
    def icon(self) -> str:
        return KIND_STYLE[self.kind][1]

    @property
    def day(self) -> datetime.date:
        return timezone.localtime(self.at).date()

    @property
    def cursor(self) -> str:
        return TimelineCursor(at=self.at, kind=self.kind, id=self.id).encode()


def _branches() -> list[tuple[str, str, str, str]]:
    """(kind, at expression, id expression, SELECT ... FROM ... WHERE <account> body).

    Every body selects the same columns, in this order, after at/kind/id: subject, detail,
    actor, ticket_id, code_from, code_to, amount. Dated rows sit at the start of their day
    in the platform's time zone (%(tz)s).
    """
    user = User._meta.db_table
    ticket = Ticket._meta.db_table
    on_day = "({}::timestamp AT TIME ZONE %(tz)s)"
    return [
        (
            Kind.TOUCHPOINT,
            "x.happened_at",
            "x.id",
            f"""left(x.summary, 500), x.next_steps, u.full_name, NULL::bigint,
                x.kind::text, NULL::text, NULL::numeric
            FROM {Touchpoint._meta.db_table} x LEFT JOIN {user} u ON u.id = x.logged_by_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.LIFECYCLE,
            "x.changed_at",
            "x.id",
            f"""NULL::text, left(x.note, 500), u.full_name, NULL::bigint,
                x.from_stage::text, x.to_stage::text, NULL::numeric
            FROM {LifecycleChange._meta.db_table} x LEFT JOIN {user} u ON u.id = x.actor_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.REVENUE,
            on_day.format("x.date"),
            "x.id",
            f"""NULL::text, x.reason::text, u.full_name, NULL::bigint,
                x.kind::text, NULL::text, x.mrr_delta
            FROM {RevenueEvent._meta.db_table} x LEFT JOIN {user} u ON u.id = x.recorded_by_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.PLAN_CREATED,
            "x.created_at",
            "x.id",
            f"""x.title::text, NULL::text, u.full_name, NULL::bigint,
                x.status::text, NULL::text, NULL::numeric
            FROM {SuccessPlan._meta.db_table} x LEFT JOIN {user} u ON u.id = x.created_by_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.MILESTONE_DONE,
            on_day.format("x.done_at"),
            "x.id",
            f"""x.title::text, p.title::text, u.full_name, NULL::bigint,
                NULL::text, NULL::text, NULL::numeric
            FROM {PlanMilestone._meta.db_table} x
            JOIN {SuccessPlan._meta.db_table} p ON p.id = x.plan_id
            LEFT JOIN {user} u ON u.id = x.completed_by_id
            WHERE p.account_id = %(account)s AND x.done_at IS NOT NULL""",
        ),
        (
            # A change of band between one scored snapshot and the account's previous scored
            # one (lag over its days); the first band ever is not a change.
            Kind.HEALTH_BAND,
            on_day.format("x.day"),
            "x.id",
            f"""NULL::text, NULL::text, NULL::text, NULL::bigint,
                x.previous_band::text, x.band::text, x.score
            FROM (
                SELECT id, day, band, score, lag(band) OVER (ORDER BY day) AS previous_band
                FROM {HealthSnapshot._meta.db_table}
                WHERE account_id = %(account)s AND band <> ''
            ) x
            WHERE x.band <> x.previous_band""",
        ),
        (
            Kind.TICKET_OPENED,
            "x.created_at",
            "x.id",
            f"""x.subject::text, NULL::text, c.name::text, x.id,
                x.priority::text, x.channel::text, NULL::numeric
            FROM {ticket} x LEFT JOIN {Contact._meta.db_table} c ON c.id = x.requester_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.TICKET_SOLVED,
            "x.solved_at",
            "x.id",
            f"""x.subject::text, NULL::text, u.full_name, x.id,
                x.priority::text, NULL::text, NULL::numeric
            FROM {ticket} x LEFT JOIN {user} u ON u.id = x.assignee_id
            WHERE x.account_id = %(account)s AND x.solved_at IS NOT NULL""",
        ),
        (
            # The moment the target was missed; only alerts the minute job has recorded
            # (a pending one is still in the future, or not yet processed).
            Kind.SLA_BREACH,
            "x.at",
            "x.id",
            f"""t.subject::text, NULL::text, NULL::text, t.id,
                x.metric::text, NULL::text, NULL::numeric
            FROM {SlaAlert._meta.db_table} x JOIN {ticket} t ON t.id = x.ticket_id
            WHERE t.account_id = %(account)s AND x.kind = '{SlaAlertKind.BREACH}'
              AND x.recorded_at IS NOT NULL""",
        ),
        (
            Kind.CSAT,
            "x.responded_at",
            "x.id",
            f"""t.subject::text, left(x.comment, 500), c.name::text, t.id,
                x.rating::text, x.ces::text, NULL::numeric
            FROM {CsatResponse._meta.db_table} x JOIN {ticket} t ON t.id = x.ticket_id
            LEFT JOIN {Contact._meta.db_table} c ON c.id = x.contact_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.NPS,
            "x.responded_at",
            "x.id",
            f"""NULL::text, left(x.reason, 500), c.name::text, NULL::bigint,
                x.score::text, NULL::text, NULL::numeric
            FROM {NpsResponse._meta.db_table} x
            LEFT JOIN {Contact._meta.db_table} c ON c.id = x.contact_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            # Overrides are logged, never hidden: when one was set, and when it was cleared.
            Kind.OVERRIDE_SET,
            "x.created_at",
            "x.id",
            f"""NULL::text, left(x.reason, 500), u.full_name, NULL::bigint,
                x.band::text, x.expires_on::text, NULL::numeric
            FROM {HealthOverride._meta.db_table} x LEFT JOIN {user} u ON u.id = x.set_by_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.OVERRIDE_CLEARED,
            "x.cleared_at",
            "x.id",
            f"""NULL::text, left(x.reason, 500), u.full_name, NULL::bigint,
                x.band::text, NULL::text, NULL::numeric
            FROM {HealthOverride._meta.db_table} x LEFT JOIN {user} u ON u.id = x.cleared_by_id
            WHERE x.account_id = %(account)s AND x.cleared_at IS NOT NULL""",
        ),
        (
            # Escalation flags between the teams: raised (with the evidence's summary) and
            # resolved (with the note); each links to the flag's page and its evidence.
            Kind.FLAG_RAISED,
            "x.opened_at",
            "x.id",
            f"""r.name::text, x.evidence->>'summary', NULL::text, NULL::bigint,
                r.code::text, x.direction::text, NULL::numeric
            FROM {EscalationFlag._meta.db_table} x
            JOIN {EscalationRule._meta.db_table} r ON r.id = x.rule_id
            WHERE x.account_id = %(account)s""",
        ),
        (
            Kind.FLAG_RESOLVED,
            "x.resolved_at",
            "x.id",
            f"""r.name::text, left(x.resolution_note, 500), u.full_name, NULL::bigint,
                r.code::text, x.direction::text, NULL::numeric
            FROM {EscalationFlag._meta.db_table} x
            JOIN {EscalationRule._meta.db_table} r ON r.id = x.rule_id
            LEFT JOIN {user} u ON u.id = x.resolved_by_id
            WHERE x.account_id = %(account)s AND x.resolved_at IS NOT NULL""",
        ),
    ]


_COLUMNS = (
    "at",
    "kind",
    "id",
    "subject",
    "detail",
    "actor",
    "ticket_id",
    "code_from",
    "code_to",
    "amount",
)


def _timeline_sql(*, paged: bool) -> str:
    branches = []
    for kind, at, row_id, body in _branches():
        after = (
            f" AND {at} <= %(at)s AND ({at}, '{kind}' {_KIND_ORDER}, {row_id})"
            f" < (%(at)s, %(kind)s {_KIND_ORDER}, %(id)s)"
            if paged
            else ""
        )
        branches.append(
            f"(SELECT {at} AS at, '{kind}'::text AS kind, {row_id} AS id, {body}{after}"
            f" ORDER BY 1 DESC, 3 DESC LIMIT %(limit)s)"
        )
    return (
        "SELECT * FROM (\n"
        + "\nUNION ALL\n".join(branches)
        + f"\n) timeline ({', '.join(_COLUMNS)})"
        + f" ORDER BY at DESC, kind {_KIND_ORDER} DESC, id DESC LIMIT %(limit)s"
    )


def account_timeline(
    *, account: Account, before: TimelineCursor | None = None, limit: int = TIMELINE_PAGE_SIZE
) -> list[TimelineEntry]:
    """Up to `limit` events of the account, newest first, older than `before` when given
    (the last entry's `.cursor` of the previous page): one query. Ask for one more than a
    page shows to learn whether an "Older" page exists."""
    params: dict[str, object] = {
        "account": account.pk,
        "tz": settings.TIME_ZONE,
        "limit": limit,
    }
    if before is not None:
        params |= {"at": before.at, "kind": before.kind, "id": before.id}
    with connection.cursor() as cursor:
        cursor.execute(_timeline_sql(paged=before is not None), params)
        return [_entry(*row) for row in cursor.fetchall()]


def _entry(at, kind, row_id, subject, detail, actor, ticket_id, code_from, code_to, amount):
    kind = Kind(kind)
    # The customer opened the ticket and rated it; our people did everything else.
    by = "from" if kind in (Kind.TICKET_OPENED, Kind.CSAT, Kind.NPS) else "by"
    fields: dict[str, object] = {"detail": detail or "", "actor": f"{by} {actor}" if actor else ""}
    if ticket_id is not None:
        fields["url"] = Ticket(pk=ticket_id).get_absolute_url()
    _label_text, _icon, tone, section = KIND_STYLE[kind]
    fields |= {"tone": tone, "section": section}
    match kind:
        case Kind.TOUCHPOINT:
            title = f"{_label(TouchpointKind, code_from)} logged"
            fields["detail"] = subject or ""
            if detail:
                fields["detail"] += f"\nNext steps: {detail}"
        case Kind.LIFECYCLE:
            title = (
                f"Stage changed: {_label(LifecycleStage, code_from)} → "
                f"{_label(LifecycleStage, code_to)}"
            )
        case Kind.REVENUE:
            sign = "+" if amount > 0 else "-"
            title = f"{_label(RevenueEventKind, code_from)}: {sign}{abs(amount):,.0f} MRR"
            fields["all_day"] = True
        case Kind.PLAN_CREATED:
            title = f"Success plan created: {subject}"
        case Kind.MILESTONE_DONE:
            title = f"Milestone done: {subject}"
            fields["detail"] = f"Plan: {detail}" if detail else ""
            fields["all_day"] = True
        case Kind.HEALTH_BAND:
            title = f"Health: {_label(HealthBand, code_from)} → {_label(HealthBand, code_to)}"
            fields["detail"] = f"Score {amount}" if amount is not None else ""
            fields["all_day"] = True
            fields["tone"] = _BAND_TONE.get(code_to, tone)
            fields["tone_label"] = _label(HealthBand, code_to)
        case Kind.TICKET_OPENED:
            title = f"#{ticket_id} {subject}"
            fields["detail"] = (
                f"{_label(Priority, code_from)} priority · via {_label(Channel, code_to)}"
            )
        case Kind.TICKET_SOLVED:
            title = f"#{ticket_id} {subject}"
        case Kind.SLA_BREACH:
            title = f"{_label(SlaMetric, code_from)} target missed on #{ticket_id} {subject}"
        case Kind.CSAT:
            rating = int(code_from)
            title = f"Rated {rating}/5 on #{ticket_id} {subject}"
            if code_to:
                fields["detail"] = f"Effort (CES) {code_to}/7" + (f" · {detail}" if detail else "")
            fields["tone"] = _csat_tone(rating)
            fields["tone_label"] = f"{rating}/5"
        case Kind.OVERRIDE_SET:
            band = _label(HealthBand, code_from)
            until = datetime.date.fromisoformat(code_to)
            title = f"Health band overridden to {band} until {until:%-d %b %Y}"
            fields["detail"] = f"Reason: {detail}" if detail else ""
            fields["tone"] = _BAND_TONE.get(code_from, tone)
            fields["tone_label"] = band
        case Kind.OVERRIDE_CLEARED:
            title = f"Health override ({_label(HealthBand, code_from)}) cleared"
            fields["detail"] = f"It said: {detail}" if detail else ""
        case Kind.FLAG_RAISED | Kind.FLAG_RESOLVED:
            raised = kind == Kind.FLAG_RAISED
            title = f"Flag {'raised' if raised else 'resolved'}: {subject}"
            fields["url"] = EscalationFlag(pk=row_id).get_absolute_url()
            fields["tone_label"] = "Raised" if raised else "Resolved"
            if not raised and not actor:
                fields["actor"] = "automatically"
            if raised:
                fields["detail"] = detail or ""
            else:
                fields["detail"] = f"Note: {detail}" if detail else ""
        case Kind.NPS:
            score = int(code_from)
            title = f"NPS response: {score}/10"
            fields["tone"] = _nps_tone(score)
            fields["tone_label"] = f"{score}/10"
    return TimelineEntry(at=at, kind=kind, id=row_id, title=title, **fields)


def _label(choices, value: str | None) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or "—"


def _csat_tone(rating: int) -> str:
    """Satisfied (4-5) green, neutral (3) grey, unhappy (1-2) red, as METRICS.md splits it."""
    return "cx-badge-green" if rating >= 4 else "cx-badge-grey" if rating == 3 else "cx-badge-red"


def _nps_tone(score: int) -> str:
    """Promoters (9-10) green, passives (7-8) grey, detractors (0-6) red (METRICS.md)."""
    return "cx-badge-green" if score >= 9 else "cx-badge-grey" if score >= 7 else "cx-badge-red"


# --- Account support panel --------------------------------------------------------------

OPEN_TICKETS_SHOWN = 10
RECENT_CSAT_SHOWN = 5
CSAT_WINDOW_DAYS = 90


@dataclass(frozen=True)
class AccountSupportSummary:
    """What support knows of one account, for its 360 page."""

    open_tickets: list[Ticket]  # the first OPEN_TICKETS_SHOWN, most urgent first
    open_count: int
    recent_csat: list[CsatResponse]  # the latest RECENT_CSAT_SHOWN, newest first
    csat_responses: int  # in the last CSAT_WINDOW_DAYS days
    csat_percent: float | None  # METRICS.md CSAT: share of 4-5 ratings, 0-100
    csat_average: float | None  # mean rating, 1-5
    ces_average: float | None  # mean CES, 1-7, of the responses that answered it
    window_days: int = CSAT_WINDOW_DAYS

    @property
    def more_open(self) -> int:
        return self.open_count - len(self.open_tickets)


def account_support_summary(
    *, account: Account, now: datetime.datetime | None = None
) -> AccountSupportSummary:
    """The account's unsolved tickets (the most urgent, then most recently updated, first;
    with the total), its latest CSAT answers, and its CSAT over the last 90 days: three
    queries, however many tickets and answers it has."""
    now = now or timezone.now()
    open_tickets = list(
        Ticket.objects.filter(UNSOLVED_Q, account=account)
        .annotate(open_total=Window(Count("id")))
        .select_related("assignee")
        .order_by("-priority_rank", "-updated_at", "-id")[:OPEN_TICKETS_SHOWN]
    )
    recent = list(
        CsatResponse.objects.filter(account=account)
        .select_related("ticket", "contact")
        .order_by("-responded_at", "-id")[:RECENT_CSAT_SHOWN]
    )
    # At most 5 x 8 (rating, CES) groups, however many answers.
    groups = list(
        CsatResponse.objects.filter(
            account=account, responded_at__gt=now - datetime.timedelta(days=CSAT_WINDOW_DAYS)
        )
        .values_list("rating", "ces")
        .annotate(n=Count("id"))
        .order_by()
    )
    ratings = [rating for rating, _ces, n in groups for _ in range(n)]
    efforts = [ces for _rating, ces, n in groups for _ in range(n)]
    return AccountSupportSummary(
        open_tickets=open_tickets,
        open_count=open_tickets[0].open_total if open_tickets else 0,
        recent_csat=recent,
        csat_responses=len(ratings),
        csat_percent=formulas.csat(ratings),
        csat_average=sum(ratings) / len(ratings) if ratings else None,
        ces_average=formulas.ces(efforts),
    )
