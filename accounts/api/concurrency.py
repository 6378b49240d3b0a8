"""Optimistic concurrency: an `ETag` on single-resource responses, `If-Match` on writes.

The ETag is a hash of the resource's JSON representation, so it changes exactly when what a
client sees changes (an `updated_at` in the representation makes every save count). A
PUT, PATCH or DELETE with `If-Match` is checked against the current representation of the
row, locked for the rest of the request's transaction so no other write slips in between
the check and the save; a stale tag is answered 412.
"""

import hashlib

from django.db import transaction
from rest_framework import mixins
from rest_framework.renderers import JSONRenderer

from .errors import PreconditionFailed

UNSAFE_METHODS = ("PUT", "PATCH", "DELETE")


def etag_of(data) -> str:
    return '"' + hashlib.sha256(JSONRenderer().render(data)).hexdigest()[:32] + '"'


def if_match_tags(request) -> list[str] | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    return [tag.strip() for tag in header.split(",") if tag.strip()]


class ETagMixin:
    """For model viewsets: ETag on retrieve and create. Add ETagUpdateModelMixin for PUT and
    PATCH and ETagDestroyModelMixin for DELETE: If-Match is checked on the row read with
    SELECT ... FOR UPDATE when the header is sent."""

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "_lock_row", False):
            queryset = queryset.select_for_update(of=("self",))
        return queryset

    def get_object(self):
        instance = super().get_object()
        tags = if_match_tags(self.request)
        if self.request.method in UNSAFE_METHODS and tags is not None and "*" not in tags:
            current = etag_of(self.get_serializer(instance).data)
            if current not in tags and f"W/{current}" not in tags:
                raise PreconditionFailed(
                    "The resource has changed since you read it (If-Match does not match its "
                    f"ETag {current}); fetch it again and reapply your change."
                )
        return instance

    def _checked_write(self, method, request, *args, **kwargs):
        if if_match_tags(request) is None:
            return method(request, *args, **kwargs)
        with transaction.atomic():
            self._lock_row = True
            try:
                return method(request, *args, **kwargs)
            finally:
                self._lock_row = False

    def retrieve(self, request, *args, **kwargs):
        return with_etag(super().retrieve(request, *args, **kwargs))

    def create(self, request, *args, **kwargs):
        return with_etag(super().create(request, *args, **kwargs))


class ETagUpdateModelMixin(mixins.UpdateModelMixin):
    """PUT and PATCH with the ETag, If-Match checked on the locked row (use with ETagMixin;
    a viewset without it offers no update, so the schema advertises none)."""

    def update(self, request, *args, **kwargs):
        parent = super().update
        return with_etag(self._checked_write(parent, request, *args, **kwargs))


class ETagDestroyModelMixin(mixins.DestroyModelMixin):
    """DELETE, with If-Match checked on the locked row (use with ETagMixin)."""

    def destroy(self, request, *args, **kwargs):
        return self._checked_write(super().destroy, request, *args, **kwargs)


def with_etag(response):
    if 200 <= response.status_code < 300 and isinstance(getattr(response, "data", None), dict):
        response["ETag"] = etag_of(response.data)
    return response
