"""Incremental ticket export: `GET /api/v1/export/tickets/?start_time=...` then `?cursor=...`.

A data warehouse pulls every ticket changed since a moment, oldest change first, 1,000 a
page, each rendered as the tickets API renders it:

    {"results": [...], "end_of_stream": bool, "next_cursor": str, "next": url}

Order and position. Tickets come in (updated_at, id) order and a cursor is the exact
(updated_at, id) of the last ticket sent (signed, so a tampered cursor is a 400). A ticket
changed while a client pages gets a new updated_at, later than any position handed out,
so it moves to a later page: its final state is always exported.

Safety margin. A transaction takes its `updated_at` before it commits, so a slow one can
commit a change *older* than a ticket another transaction already committed. To never skip
it, a page only holds tickets changed before `now - CX_EXPORT_SAFETY_SECONDS` (default 60
s): the stream ends that much behind the present, by which time every such transaction has
committed. So **no change is missed, but a ticket may appear more than once** (once per
change, or again on a later page if it changed meanwhile): clients upsert by `number`.

`end_of_stream` is true when the page reached that horizon; keep `next_cursor` (it never
goes backwards) and ask again later to continue from there.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.api.viewsets import ApiView
from accounts.models import ApiScope
from accounts.permissions import SUPPORT_STAFF

from .. import selectors
from .serializers import TicketSerializer

EXPORT_PAGE_SIZE = 1000
DEFAULT_SAFETY_SECONDS = 60
_CURSOR_SALT = "support.api.export.tickets"


def safety_seconds() -> float:
    return float(getattr(settings, "CX_EXPORT_SAFETY_SECONDS", DEFAULT_SAFETY_SECONDS))


def cursor_encode(updated_at: datetime, ticket_id: int) -> str:
    return signing.dumps([updated_at.isoformat(), ticket_id], salt=_CURSOR_SALT, compress=False)


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    """The (updated_at, id) position in a cursor; ValidationError if it was not ours."""
    try:
        raw_time, ticket_id = signing.loads(cursor, salt=_CURSOR_SALT)
        position = parse_datetime(raw_time)
        if position is None or position.tzinfo is None or type(ticket_id) is not int:
            raise ValueError
    except (signing.BadSignature, ValueError, TypeError):
        raise ValidationError({"cursor": ["Invalid cursor: use next_cursor as given."]}) from None
    return position, ticket_id


def start_time_parse(raw: str) -> datetime:
    """ISO 8601 (with an offset, or UTC when none) or a unix timestamp in seconds."""
    raw = raw.strip()
    try:
        if raw.lstrip("-").replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(raw), tz=UTC)
        value = parse_datetime(raw)
    except (ValueError, OverflowError, OSError):
        value = None
    if value is None:
        raise ValidationError(
            {"start_time": ["Give an ISO 8601 date-time or a unix timestamp in seconds."]}
        )
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def export_page(*, after: datetime, after_id: int, horizon: datetime, size: int):
    """Tickets positioned after (after, after_id) and changed before `horizon`, in
    (updated_at, id) order; one query (`size + 1` rows tell whether more follow). The
    range on updated_at walks the (-updated_at, -id) index backwards."""
    rows = (
        selectors.ticket_api_queryset()
        .filter(updated_at__gte=after, updated_at__lt=horizon)
        .filter(Q(updated_at__gt=after) | Q(id__gt=after_id))
        .order_by("updated_at", "id")[: size + 1]
    )
    rows = list(rows)
    return rows[:size], len(rows) > size


_ExportPage = inline_serializer(
    name="TicketExportPage",
    fields={
        "results": TicketSerializer(many=True),
        "end_of_stream": serializers.BooleanField(),
        "next_cursor": serializers.CharField(),
        "next": serializers.URLField(),
    },
)


class TicketExportView(ApiView):
    """Tickets changed since `start_time` (or after `cursor`), oldest change first.

    No change is missed; a ticket may appear more than once (see the module docs)."""

    read_scope = ApiScope.TICKETS_READ
    read_roles = SUPPORT_STAFF
    role_message = "The ticket export is for staff."

    @extend_schema(
        summary="Export tickets changed since a moment (incremental)",
        parameters=[
            OpenApiParameter(
                "start_time",
                OpenApiTypes.STR,
                description="ISO 8601 date-time or unix seconds; the first request's start.",
            ),
            OpenApiParameter(
                "cursor", OpenApiTypes.STR, description="next_cursor from the previous page."
            ),
        ],
        responses={200: _ExportPage},
    )
    def get(self, request):
        cursor = request.query_params.get("cursor")
        start = request.query_params.get("start_time")
        if cursor and start:
            raise ValidationError({"cursor": ["Give either start_time or cursor, not both."]})
        if cursor:
            after, after_id = cursor_decode(cursor)
        elif start:
            # Inclusive: a ticket changed exactly at start_time is sent (id 0 precedes all).
            after, after_id = start_time_parse(start), 0
        else:
            raise ValidationError({"start_time": ["Give start_time (or a cursor)."]})
        horizon = timezone.now() - timedelta(seconds=safety_seconds())
        tickets, more = export_page(
            after=after, after_id=after_id, horizon=horizon, size=EXPORT_PAGE_SIZE
        )
        if tickets:
            after, after_id = tickets[-1].updated_at, tickets[-1].pk
        next_cursor = cursor_encode(after, after_id)
        return Response(
            {
                "results": TicketSerializer(tickets, many=True).data,
                "end_of_stream": not more,
                "next_cursor": next_cursor,
                "next": request.build_absolute_uri(
                    f"{request.path}?{urlencode({'cursor': next_cursor})}"
                ),
            }
        )
