"""`Idempotency-Key` on POST: a retried request with the same key and body gets the first
response again instead of creating a second object.

Stored in PostgreSQL (`accounts.ApiIdempotencyKey`), not Redis: the promise is "for 24
hours", and Redis here is a cache that may evict keys or restart empty, which would turn a
retry into a duplicate; the table's unique (owner, key) constraint is also the claim that
lets only one of two concurrent duplicates run.

Flow: insert the claim row (committed at once) → run the view → store the status and body
on the row. A second request with the key finds the row: same fingerprint and a stored
response → that response, replayed; no response yet → 409 "in progress"; different
fingerprint → 409. A 5xx or a crash deletes the claim so the client may retry.
"""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from ..models import ApiIdempotencyKey, ApiToken
from .errors import Conflict

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("Location", "ETag")


class IdempotencyKeyError(Conflict):
    pass


def owner_of(request) -> str:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    return f"user:{request.user.pk}"


def fingerprint_of(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def idempotency_claim(request) -> tuple[ApiIdempotencyKey | None, Response | None]:
    """For a POST with the header: (the claimed row, None) when this request should run, or
    (None, the response to send instead). (None, None) without the header."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None, None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError({HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters."]})
    owner = owner_of(request)
    fingerprint = fingerprint_of(request)
    now = timezone.now()
    # An expired key is as good as unused.
    ApiIdempotencyKey.objects.filter(owner=owner, key=key, created_at__lt=now - KEEP_FOR).delete()
    try:
        with transaction.atomic():
            claim = ApiIdempotencyKey.objects.create(
                owner=owner, key=key, fingerprint=fingerprint, created_at=now
            )
    except IntegrityError:
        existing = ApiIdempotencyKey.objects.filter(owner=owner, key=key).first()
        if existing is None:  # released between our insert and this read: ask for a retry
            raise IdempotencyKeyError(
                "A request with this Idempotency-Key is in progress; retry shortly.",
                code="idempotency_in_progress",
            ) from None
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyError(
                "This Idempotency-Key was used with a different request body.",
                code="idempotency_key_reused",
            ) from None
        if existing.response_status is None:
            raise IdempotencyKeyError(
                "A request with this Idempotency-Key is in progress; retry shortly.",
                code="idempotency_in_progress",
            ) from None
        replay = Response(
            existing.response_body,
            status=existing.response_status,
            headers=existing.response_headers,
        )
        replay["Idempotent-Replayed"] = "true"
        return None, replay
    return claim, None


def idempotency_store(claim: ApiIdempotencyKey, response) -> None:
    """Keep the response for replays; release the claim on a server error."""
    if response.status_code >= 500:
        ApiIdempotencyKey.objects.filter(pk=claim.pk).delete()
        return
    data = getattr(response, "data", None)
    body = json.loads(JSONRenderer().render(data)) if data is not None else None
    headers = {name: response[name] for name in REPLAYED_HEADERS if name in response}
    ApiIdempotencyKey.objects.filter(pk=claim.pk).update(
        response_status=response.status_code, response_body=body, response_headers=headers
    )


def idempotency_release(claim: ApiIdempotencyKey) -> None:
    ApiIdempotencyKey.objects.filter(pk=claim.pk).delete()


def idempotency_keys_purge(*, now=None) -> int:
    """Delete keys older than 24 hours (expired keys are also ignored when met)."""
    now = now or timezone.now()
    deleted, _ = ApiIdempotencyKey.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    return deleted
