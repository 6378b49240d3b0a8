"""Cursor pagination for every list, and the `updated_since` filter.

`{"results": [...], "next": url | null, "previous": url | null}`; `page_size` from 1 to
100 (default 50). A page size outside that range is a 400 rather than silently clamped, so
a client asking for 500 learns it gets at most 100.

The order is a unique column (the primary key unless a view says otherwise), so a cursor
is an exact position: rows inserted between two page requests land after or before it but
never shift what the next page holds, so nothing is skipped.
"""

import django_filters as filters
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


class ApiCursorPagination(CursorPagination):
    ordering = "pk"
    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def get_ordering(self, request, queryset, view):
        # A view may name its own unique order (`cursor_ordering`); ignore ?ordering=.
        ordering = getattr(view, "cursor_ordering", self.ordering)
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def decode_cursor(self, request):
        # DRF answers a bad cursor with "Invalid cursor" (404); keep that, but as our 400.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: ["Invalid cursor."]}) from None


class UpdatedSinceFilterSet(filters.FilterSet):
    """Base of every API list's FilterSet: `updated_since` (ISO 8601 date-time, inclusive)
    returns rows changed at or after that moment. A client syncing changes keeps the time it
    started a sweep and passes it as the next sweep's `updated_since`."""

    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Changed at or after (ISO 8601, e.g. 2026-01-31T00:00:00Z)",
    )
