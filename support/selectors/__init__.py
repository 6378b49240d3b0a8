"""Reads of tickets shared by the queue page, the ticket page, the API and tasks.

Pagination is by keyset: the cursor carries the last row's sort values and id, and the next
page is `WHERE (sort..., id) < (values...)` — an index range scan, never OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.lookups import DataContains
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    DateTimeField,
    F,
    Field,
    FloatField,
    Func,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User

from .. import business_hours, sla
from ..choices import UNSOLVED, EventKind, Status
from ..models import SLA_RISK_WINDOW, UNSOLVED_Q, Message, SlaPolicy, Ticket, TicketEvent

PAGE_SIZE = 50
RECENTLY_SOLVED_DAYS = 7


class BadCursor(ValueError):
    """The cursor was not made by us (edited, truncated or from another sort)."""


# --- built-in views ---------------------------------------------------------------------


def viewer_team_ids(viewer: User) -> list[int]:
    """The viewer's team ids, read once per request (a literal list lets PostgreSQL range-scan
    the (team, updated_at) index instead of joining)."""
    if not hasattr(viewer, "_cx_team_ids"):
        viewer._cx_team_ids = list(viewer.teams.values_list("pk", flat=True))
    return viewer._cx_team_ids


@dataclass(frozen=True)
class QueueView:
    key: str
    label: str
    empty: str

    def condition(self, viewer: User, now: datetime) -> Q:
        return _VIEW_CONDITIONS[self.key](viewer, now)


_VIEW_CONDITIONS = {
    "mine": lambda viewer, now: UNSOLVED_Q & Q(assignee=viewer),
    "unassigned": lambda viewer, now: UNSOLVED_Q & Q(assignee__isnull=True),
    "team": lambda viewer, now: UNSOLVED_Q & Q(team_id__in=viewer_team_ids(viewer)),
    "open": lambda viewer, now: UNSOLVED_Q,
    # Each SLA view reads one partial index: the warn-time index, and the (sla_sort_at, id)
    # one. sla_sort_at is sla_due_at with "no running target" as 9999-12-31, so
    # `sla_sort_at <= now` holds exactly when `sla_due_at <= now`.
    "at_risk": lambda viewer, now: (
        UNSOLVED_Q
        & Q(sla_warn_at__isnull=False)
        & Q(DataContains(SLA_RISK_WINDOW, Value(now, output_field=DateTimeField())))
    ),
    "breached": lambda viewer, now: UNSOLVED_Q & Q(sla_sort_at__lte=now),
    "pending": lambda viewer, now: Q(status=Status.PENDING),
    "solved": lambda viewer, now: Q(
        status__in=[Status.SOLVED, Status.CLOSED],
        solved_at__gte=now - timedelta(days=RECENTLY_SOLVED_DAYS),
    ),
}

BUILTIN_VIEWS = {
    view.key: view
    for view in [
        QueueView(
            "mine",
            "My open tickets",
            "Nothing assigned to you. Take one from Unassigned, or enjoy the quiet.",
        ),
        QueueView(
            "unassigned",
            "Unassigned",
            "No tickets waiting — nice. New unassigned tickets show up here.",
        ),
        QueueView("team", "My team's", "Your teams have no open tickets right now."),
        QueueView("open", "All open", "No open tickets. The backlog is empty."),
        QueueView(
            "at_risk",
            "At risk",
            "No SLA target is close to its due time. Tickets show up here when less than "
            "their policy's warning margin is left.",
        ),
        QueueView(
            "breached",
            "Breached",
            "No breached SLA targets — well done. A ticket whose target has passed shows up "
            "here until the clock stops.",
        ),
        QueueView(
            "pending",
            "Pending",
            "No tickets waiting on customers. Set a ticket to Pending when you need their answer.",
        ),
        QueueView(
            "solved",
            "Recently solved",
            f"Nothing solved in the last {RECENTLY_SOLVED_DAYS} days yet.",
        ),
    ]
}
DEFAULT_VIEW = "mine"


# Views whose members are the same for every agent: their counts are shared, kept in the
# cache for CX_QUEUE_COUNTS_CACHE_SECONDS and forgotten whenever a ticket changes.
_SHARED_COUNTS = ("unassigned", "open", "at_risk", "breached", "pending", "solved")
_SHARED_COUNTS_KEY = "support:queue-counts"


def queue_counts(*, viewer: User, now: datetime | None = None) -> dict[str, int]:
    """The number of tickets in each built-in view, in one statement.

    Each count is its own scalar subquery, so PostgreSQL answers it from that view's
    partial index (an index-only scan) instead of one pass over every candidate row. The
    counts everyone shares come from the cache when a recent page computed them (a ticket
    change forgets them, so they lag only for the time-driven At risk / Breached moves).
    """
    seconds = settings.CX_QUEUE_COUNTS_CACHE_SECONDS
    shared = cache.get(_SHARED_COUNTS_KEY) if seconds else None
    keys = [k for k in BUILTIN_VIEWS if shared is None or k not in _SHARED_COUNTS]
    counts = _count_views(keys, viewer=viewer, now=now or timezone.now())
    if shared is None:
        shared = {key: counts[key] for key in _SHARED_COUNTS}
        if seconds:
            cache.set(_SHARED_COUNTS_KEY, shared, seconds)
    return {key: counts[key] if key in counts else shared[key] for key in BUILTIN_VIEWS}


def queue_counts_forget() -> None:
    """Drop the shared counts (a ticket changed); the next queue page counts afresh."""
    cache.delete(_SHARED_COUNTS_KEY)


def _count_views(keys: list[str], *, viewer: User, now: datetime) -> dict[str, int]:
    selects, params = [], []
    for key in keys:
        view = BUILTIN_VIEWS[key]
        try:
            sql, view_params = (
                Ticket.objects.filter(view.condition(viewer, now))
                .order_by()
                .values("pk")
                .query.sql_with_params()
            )
        except EmptyResultSet:  # e.g. "My team's" for someone in no team
            selects.append(f"0 AS {key}")
            continue
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS v) AS {key}")
        params.extend(view_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        row = cursor.fetchone()
    return dict(zip(keys, row, strict=True))


# --- sorting and cursors ----------------------------------------------------------------

SORTS: dict[str, tuple[str, ...]] = {
    "updated": ("updated_at",),
    "created": ("created_at",),
    "priority": ("priority_rank", "updated_at"),
    "due": ("sla_sort_at",),  # tickets without a running SLA target last (9999-12-31)
}
DEFAULT_SORT = "-updated"
SORT_LABELS = {
    "-updated": "Recently updated",
    "updated": "Least recently updated",
    "-created": "Newest",
    "created": "Oldest",
    "-priority": "Priority: urgent first",
    "priority": "Priority: low first",
    "due": "Due soonest",
    "-due": "Due latest",
}


def _row(*expressions: Any) -> Func:
    return Func(*expressions, function="ROW", output_field=Field())


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: list[str]) -> list[Any]:
    """Values of a cursor, checked against the expected kinds ('datetime', 'int', 'float')."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("The page link is damaged; start again from the first page.") from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise BadCursor("The page link does not match this list; start from the first page.")
    parsed = []
    for value, kind in zip(values, kinds, strict=True):
        if kind == "datetime":
            moment = parse_datetime(value) if isinstance(value, str) else None
            if moment is None:
                raise BadCursor("The page link is damaged; start again from the first page.")
            parsed.append(moment)
        elif kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            parsed.append(value)
        elif kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
            parsed.append(float(value))
        else:
            raise BadCursor("The page link is damaged; start again from the first page.")
    return parsed


@dataclass
class Page:
    rows: list[Ticket]
    next_cursor: str | None
    sort: str


def _kind(column: str) -> str:
    if column.endswith("_at"):
        return "datetime"
    return "float" if column == "rank" else "int"


def paginate(
    qs: QuerySet,
    *,
    columns: tuple[str, ...],
    descending: bool,
    cursor: str | None,
    size: int = PAGE_SIZE,
    sort: str = "",
    rows_from: QuerySet | None = None,
) -> Page:
    """One page of `qs` ordered by (*columns, id), after `cursor`.

    With `rows_from`, the page is picked on `qs` by id alone and its rows are read from
    `rows_from` in the same statement (`WHERE id IN (<the page's ids>)`, then ordered again):
    when many candidates are sorted (a search ranks every match), only the page's rows are
    joined and fetched, not every candidate's. `rows_from` must annotate `columns` with the
    same expressions as `qs`, so that the cursor is made from the values the page was cut by.
    """
    keys = (*columns, "pk")
    if cursor:
        values = decode_cursor(cursor, [_kind(c) for c in columns] + ["int"])
        left = _row(*[F(c) for c in keys])
        right = _row(*[Value(v) for v in values])
        qs = qs.alias(_cursor_left=left).filter(
            **{f"_cursor_left__{'lt' if descending else 'gt'}": right}
        )
    order = [f"-{k}" if descending else k for k in keys]
    if rows_from is None:
        rows = list(qs.order_by(*order)[: size + 1])
    else:
        page_ids = qs.order_by(*order).values("pk")[: size + 1]
        rows = list(rows_from.filter(pk__in=page_ids).order_by(*order))
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, c) for c in columns] + [last.pk])
    return Page(rows=rows, next_cursor=next_cursor, sort=sort)


# --- the queue --------------------------------------------------------------------------


def _queue_base() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("requester", "account", "assignee", "team").defer(
        "search_vector", "requester__created_at", "account__domains"
    )


def _search_query(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config=settings.CX_SEARCH_CONFIG)


def _search_rank(query: SearchQuery) -> Cast:
    # float8, not ts_rank's float4: the cursor carries the rank back as a float8 literal,
    # and comparing it with a float4 would repeat rows of equal rank on the next page.
    return Cast(SearchRank(F("search_vector"), query), FloatField())


def ticket_search(qs: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """Tickets whose subject or messages match `text` (web-search syntax: words, "phrases",
    or, -not), with a `rank`: subject words (weight A) outrank message words (weight B)."""
    query = _search_query(text)
    return qs.filter(search_vector=query).annotate(rank=_search_rank(query))


def ticket_queue(
    *,
    viewer: User,
    view: str | None = None,
    filtered: QuerySet[Ticket] | None = None,
    search: str = "",
    sort: str = DEFAULT_SORT,
    cursor: str | None = None,
    size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> Page:
    """A page of the queue: a built-in view, narrowed by a FilterSet's queryset (made from
    `queue_queryset()`), searched, sorted. Raises `BadCursor` for a cursor we did not make."""
    qs = filtered if filtered is not None else _queue_base()
    if view:
        qs = qs.filter(BUILTIN_VIEWS[view].condition(viewer, now or timezone.now()))
    if search.strip():
        # A common word matches tens of thousands of tickets, and every match is ranked. The
        # page is picked from support_ticket alone (id and rank; the view and filters, with
        # their own joins, apply there), and only its rows are joined to the people, account
        # and team they show, in the same statement.
        text = search.strip()
        return paginate(
            ticket_search(qs, text),
            columns=("rank",),
            descending=True,
            cursor=cursor,
            size=size,
            sort="rank",
            rows_from=_queue_base().annotate(rank=_search_rank(_search_query(text))),
        )
    if sort not in SORT_LABELS:
        sort = DEFAULT_SORT
    return paginate(
        qs,
        columns=SORTS[sort.lstrip("-")],
        descending=sort.startswith("-"),
        cursor=cursor,
        size=size,
        sort=sort,
    )


def queue_queryset() -> QuerySet[Ticket]:
    """The base queryset the FilterSet narrows (the same for the page and the API)."""
    return _queue_base()


# The columns the API renders of a ticket (support/api/serializers.py TicketSerializer):
# related rows are ids, but for the requester's and the assignee's email.
API_TICKET_FIELDS = (
    "id",
    "subject",
    "requester__email",
    "account_id",
    "status",
    "priority",
    "type",
    "channel",
    "tags",
    "assignee__email",
    "team_id",
    "version",
    "merged_into_id",
    "created_at",
    "first_response_at",
    "solved_at",
    "updated_at",
    "external_id",
)


def ticket_api_queryset() -> QuerySet[Ticket]:
    """The base queryset of the tickets API and its export: only what the API renders (no
    account or team rows, no SLA or search columns). An export page of 1,000 tickets
    builds a third of the objects the queue's queryset would."""
    return Ticket.objects.select_related("requester", "assignee").only(*API_TICKET_FIELDS)


def ticket_number_by_external_id(external_id: str) -> int | None:
    """The number of the ticket imported with this id from another system, if any (the
    history import and the tickets API refuse to import it twice). Served by the partial
    unique index ticket_external_id_unique."""
    if not external_id:
        return None
    return Ticket.objects.filter(external_id=external_id).values_list("pk", flat=True).first()


# --- one ticket -------------------------------------------------------------------------


def ticket_detail(*, number: int) -> Ticket | None:
    """A ticket with everything its page shows, in a fixed number of queries."""
    return (
        Ticket.objects.select_related(
            "requester",
            "account",
            "account__csm",
            "assignee",
            "team",
            "merged_into",
            "follow_up_of",
            "csat_response",  # the CSAT panel (support/templatetags/surveys.py)
            "csat_request",
        )
        .prefetch_related(
            Prefetch(
                "messages",
                queryset=Message.objects.select_related("author_user", "author_contact")
                .prefetch_related("attachments")
                .order_by("created_at", "pk"),
            ),
            Prefetch(
                "events",
                queryset=TicketEvent.objects.select_related("actor").order_by("-created_at", "-pk"),
            ),
        )
        .filter(pk=number)
        .first()
    )


def account_other_open_tickets(*, ticket: Ticket, limit: int = 10) -> list[Ticket]:
    if ticket.account_id is None:
        return []
    return list(
        Ticket.objects.filter(account_id=ticket.account_id, status__in=[s.value for s in UNSOLVED])
        .exclude(pk=ticket.pk)
        .only("pk", "subject", "status", "priority", "updated_at")
        .order_by("-updated_at")[:limit]
    )


def latest_public_message_id(*, ticket: Ticket) -> int | None:
    """The newest public message id among the prefetched thread (no query)."""
    ids = [m.pk for m in ticket.messages.all() if m.public]
    return max(ids) if ids else None


# --- SLAs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LoadedPolicy:
    policy: SlaPolicy
    team_ids: frozenset[int]
    minutes: dict[tuple[str, str], int]
    calendar: business_hours.Calendar


@dataclass(frozen=True)
class SlaMatch:
    policy: SlaPolicy
    targets: sla.Targets
    calendar: business_hours.Calendar


class SlaPolicies:
    """The active policies in order, loaded once and matched against many tickets."""

    def __init__(self, loaded: list[_LoadedPolicy]) -> None:
        self._loaded = loaded

    def match(self, ticket: Ticket, *, tier: str | None) -> SlaMatch | None:
        """The first policy whose conditions hold, with its targets for the ticket's
        priority (a matching policy without targets for it still applies: no clocks)."""
        for loaded in self._loaded:
            if loaded.policy.matches(ticket, tier=tier, team_ids=set(loaded.team_ids)):
                minutes = {
                    metric: loaded.minutes.get((ticket.priority, metric)) for metric in sla.METRICS
                }
                targets = sla.Targets(
                    **{
                        metric: timedelta(minutes=value) if value else None
                        for metric, value in minutes.items()
                    },
                    pause_on_hold=loaded.policy.pause_on_hold,
                    warning_margin=loaded.policy.warning_margin_percent / 100,
                )
                return SlaMatch(loaded.policy, targets, loaded.calendar)
        return None


def sla_policies() -> SlaPolicies:
    """The active SLA policies with their targets, teams and calendars (four queries)."""
    policies = (
        SlaPolicy.objects.filter(active=True)
        .select_related("calendar")
        .prefetch_related("targets", "teams", "calendar__intervals")
        .order_by("position")
    )
    loaded = []
    always = business_hours.Calendar.always()
    for policy in policies:
        try:
            calendar = policy.calendar.to_calendar() if policy.calendar else always
        except ValueError:
            # Refused on save; a definition broken behind the admin's back counts 24/7.
            calendar = always
        loaded.append(
            _LoadedPolicy(
                policy=policy,
                team_ids=frozenset(team.pk for team in policy.teams.all()),
                minutes={(t.priority, t.metric): t.minutes for t in policy.targets.all()},
                calendar=calendar,
            )
        )
    return SlaPolicies(loaded)


def sla_history(
    *,
    created_at: datetime,
    status: str,
    first_response_at: datetime | None,
    status_changes: Iterable[tuple[str, str, datetime]],
    messages: Iterable[tuple[bool, datetime]],
) -> sla.History:
    """A ticket's history for the SLA clocks from its status-change events (old, new, at,
    in time order) and its public messages (from the customer?, at)."""
    statuses: list[tuple[datetime, str]] = []
    for old, new, at in status_changes:
        if not statuses:
            statuses.append((created_at, old or Status.NEW))
        statuses.append((at, new))
    if not statuses:
        statuses.append((created_at, status))
    customer: list[datetime] = []
    agent: list[datetime] = []
    for from_customer, at in messages:
        (customer if from_customer else agent).append(at)
    return sla.History(
        created_at=created_at,
        statuses=tuple(statuses),
        customer_messages=tuple(customer),
        agent_replies=tuple(agent),
        first_response_at=first_response_at,
    )


def ticket_sla_history(ticket: Ticket) -> sla.History:
    """What the SLA clocks need: status changes from the ticket's event log, replies from
    its public messages (two queries)."""
    changes = (
        TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CHANGED, field="status")
        .order_by("created_at", "id")
        .values_list("old_value", "new_value", "created_at")
    )
    messages = (
        Message.objects.filter(ticket=ticket, public=True)
        .annotate(from_customer=Q(author_contact__isnull=False))
        .values_list("from_customer", "created_at")
    )
    return sla_history(
        created_at=ticket.created_at,
        status=ticket.status,
        first_response_at=ticket.first_response_at,
        status_changes=changes,
        messages=messages,
    )


@dataclass(frozen=True)
class SlaPanel:
    policy: SlaPolicy | None
    clocks: list[sla.Clock]


def ticket_sla_clocks(ticket: Ticket, *, now: datetime | None = None) -> SlaPanel:
    """The ticket page's SLA panel: the policy that applies and each target's clock,
    computed from the event log (the same match the services store)."""
    if ticket.sla_policy_id is None:
        return SlaPanel(None, [])
    tier = ticket.account.tier if ticket.account_id else None
    match = sla_policies().match(ticket, tier=tier)
    if match is None:
        return SlaPanel(None, [])
    clocks = sla.ticket_clocks(
        ticket_sla_history(ticket), match.targets, match.calendar, now=now or timezone.now()
    )
    return SlaPanel(match.policy, [clocks[m] for m in sla.METRICS if m in clocks])
