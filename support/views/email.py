"""The inbound email webhook: a mail provider POSTs one raw MIME message per request."""

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..services.email import email_ingest

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Inbound-Secret"


def _secret_ok(request: HttpRequest) -> bool:
    expected = settings.CX_INBOUND_EMAIL_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    # No secret configured: the webhook is off, whatever is sent.
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@csrf_exempt  # machine to machine: the shared secret authenticates, not a session
@require_POST
def inbound_email(request: HttpRequest) -> JsonResponse:
    """POST /inbound/email/ with the raw message as the body and the shared secret in the
    X-Inbound-Secret header → 202 with the stored message's id and status (the same id
    for a repeated delivery); 403 for a wrong secret, 413 over CX_INBOUND_EMAIL_MAX_BYTES,
    400 for an empty body."""
    if not _secret_ok(request):
        logger.warning("inbound email refused: wrong or missing %s", SECRET_HEADER)
        return JsonResponse({"error": "Wrong or missing shared secret."}, status=403)
    limit = settings.CX_INBOUND_EMAIL_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return JsonResponse({"error": f"The message is over {limit} bytes."}, status=413)
    # Read the stream ourselves: request.body would stop at DATA_UPLOAD_MAX_MEMORY_SIZE.
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return JsonResponse({"error": f"The message is over {limit} bytes."}, status=413)
    if not raw.strip():
        return JsonResponse({"error": "The request body must be the raw message."}, status=400)
    inbound = email_ingest(raw=raw, source="webhook")
    return JsonResponse(
        {"id": inbound.pk, "status": inbound.status, "reason": inbound.reason}, status=202
    )
