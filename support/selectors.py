"""Reads of tickets shared by the queue page, the ticket page, the API and tasks.

Pagination is by keyset: the cursor carries the last row's sort values and id, and the next
page is `WHERE (sort..., id) < (values...)` — an index range scan, never OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Field, FloatField, Func, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User

from .choices import UNSOLVED, Status
from .models import UNSOLVED_Q, Message, Ticket, TicketEvent

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


def queue_counts(*, viewer: User, now: datetime | None = None) -> dict[str, int]:
    """The number of tickets in each built-in view, in one statement.

    Each count is its own scalar subquery, so PostgreSQL answers it from that view's
    partial index (an index-only scan) instead of one pass over every candidate row.
    """
    now = now or timezone.now()
    selects, params = [], []
    for key, view in BUILTIN_VIEWS.items():
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
    return dict(zip(BUILTIN_VIEWS, row, strict=True))


# --- sorting and cursors ----------------------------------------------------------------

SORTS: dict[str, tuple[str, ...]] = {
    "updated": ("updated_at",),
    "created": ("created_at",),
    "priority": ("priority_rank", "updated_at"),
}
DEFAULT_SORT = "-updated"
SORT_LABELS = {
    "-updated": "Recently updated",
    "updated": "Least recently updated",
    "-created": "Newest",
    "created": "Oldest",
    "-priority": "Priority: urgent first",
    "priority": "Priority: low first",
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
) -> Page:
    """One page of `qs` ordered by (*columns, id), after `cursor`."""
    keys = (*columns, "pk")
    if cursor:
        values = decode_cursor(cursor, [_kind(c) for c in columns] + ["int"])
        left = _row(*[F(c) for c in keys])
        right = _row(*[Value(v) for v in values])
        qs = qs.alias(_cursor_left=left).filter(
            **{f"_cursor_left__{'lt' if descending else 'gt'}": right}
        )
    order = [f"-{k}" if descending else k for k in keys]
    rows = list(qs.order_by(*order)[: size + 1])
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


def ticket_search(qs: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """Tickets whose subject or messages match `text` (web-search syntax: words, "phrases",
    or, -not), with a `rank`: subject words (weight A) outrank message words (weight B)."""
    query = SearchQuery(text, search_type="websearch", config=settings.CX_SEARCH_CONFIG)
    # float8, not ts_rank's float4: the cursor carries the rank back as a float8 literal,
    # and comparing it with a float4 would repeat rows of equal rank on the next page.
    rank = Cast(SearchRank(F("search_vector"), query), FloatField())
    return qs.filter(search_vector=query).annotate(rank=rank)


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
    """A page of the queue: a built-in view, narrowed by a FilterSet's queryset, searched,
    sorted. Raises `BadCursor` for a cursor we did not make."""
    qs = filtered if filtered is not None else _queue_base()
    if view:
        qs = qs.filter(BUILTIN_VIEWS[view].condition(viewer, now or timezone.now()))
    if search.strip():
        return paginate(
            ticket_search(qs, search.strip()),
            columns=("rank",),
            descending=True,
            cursor=cursor,
            size=size,
            sort="rank",
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
