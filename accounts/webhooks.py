"""Signed webhooks (issue 8): apps publish events inside their transactions; Celery delivers
them after commit, with retries, a delivery log and an SSRF guard.

    webhook_event_publish(event_type=..., resource={...})   # in the app's transaction

Each delivery POSTs `{"id", "type", "created_at", "data"}` with
`X-CX-Signature: t=<unix>,v1=<hex hmac-sha256(secret, f"{t}.{body}")>`.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import (
    User,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)
from .permissions import MANAGERS

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-CX-Signature"
# Who may own a subscription: those who may read every account's data.
SUBSCRIBER_ROLES = MANAGERS
EVENT_TYPES_CACHE_KEY = "accounts:webhooks:event-types"
EVENT_TYPES_CACHE_SECONDS = 60
TIMEOUT_SECONDS = 10
MAX_REDIRECTS = 3
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
GIVE_UP_AFTER = timedelta(hours=24)
DISABLE_AFTER_FAILURES = 50
CLAIM_LEASE = timedelta(minutes=5)  # a claimed attempt is not retried before this
QUEUE_LEASE = timedelta(minutes=5)  # a queued attempt no worker claimed is queued again
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}


class WebhookTargetRefused(ValueError):
    """The URL's host is (or resolves to) an address webhooks may not reach."""


# --- the SSRF guard --------------------------------------------------------------------------


def _ip_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip in METADATA_ADDRESSES
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def webhook_target_check(url: str) -> tuple[str, int, str]:
    """(host, port, the address to connect to) for `url`, or WebhookTargetRefused: every
    address the host resolves to must be public (unless CX_WEBHOOK_ALLOW_PRIVATE)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookTargetRefused("Only http and https URLs with a host can receive webhooks.")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookTargetRefused("The URL's port is not valid.") from exc
    try:
        addresses = _resolve(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookTargetRefused(f"The host {host} could not be resolved.") from exc
    if not addresses:
        raise WebhookTargetRefused(f"The host {host} could not be resolved.")
    if not settings.CX_WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if _ip_refused(ipaddress.ip_address(address.split("%")[0])):
                raise WebhookTargetRefused(
                    f"The host {host} resolves to {address}, a loopback, private, link-local "
                    "or metadata address; webhooks cannot be sent there."
                )
    return host, port, addresses[0]


# --- subscriptions ---------------------------------------------------------------------------


def webhook_event_types_forget() -> None:
    transaction.on_commit(lambda: cache.delete(EVENT_TYPES_CACHE_KEY))
    cache.delete(EVENT_TYPES_CACHE_KEY)


def _clean_events(events) -> list[str]:
    events = list(dict.fromkeys(events or ()))
    unknown = [e for e in events if e not in WebhookEvent.values]
    if unknown or not events:
        raise ValidationError({"events": f"Choose events among: {', '.join(WebhookEvent.values)}."})
    return events


def _clean_url(url: str) -> str:
    try:
        webhook_target_check(url)
    except WebhookTargetRefused as exc:
        raise ValidationError({"url": str(exc)}) from exc
    return url


@transaction.atomic
def webhook_owner_check(owner: User) -> None:
    """Only active admins and managers may own a subscription: it receives every account's
    events of its types (surveys, health bands, flags), which only they may read."""
    if not (owner.is_active and owner.role in SUBSCRIBER_ROLES):
        raise ValidationError(
            "Only admins and managers may subscribe to webhooks: a subscription receives "
            "every account's events."
        )


def webhook_subscription_create(
    *, owner: User, url: str, events, active: bool = True
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (returned here only: show it once)."""
    webhook_owner_check(owner)
    secret = secrets.token_hex(32)
    subscription = WebhookSubscription.objects.create(
        owner=owner, url=_clean_url(url), events=_clean_events(events), secret=secret, active=active
    )
    webhook_event_types_forget()
    return subscription, secret


@transaction.atomic
def webhook_subscription_update(
    *, subscription: WebhookSubscription, **fields
) -> WebhookSubscription:
    if "url" in fields:
        subscription.url = _clean_url(fields["url"])
    if "events" in fields:
        subscription.events = _clean_events(fields["events"])
    if "active" in fields:
        subscription.active = bool(fields["active"])
        if subscription.active:  # re-enabled: start counting again
            subscription.consecutive_failures = 0
            subscription.disabled_at = None
    subscription.save()
    webhook_event_types_forget()
    return subscription


@transaction.atomic
def webhook_subscription_admin_save(*, subscription: WebhookSubscription) -> None:
    """Save from the admin site: a new subscription gets a secret (the API shows it once;
    the admin never does), and publishing forgets the cached event types."""
    webhook_owner_check(subscription.owner)
    _clean_url(subscription.url)
    _clean_events(subscription.events)
    if not subscription.secret:
        subscription.secret = secrets.token_hex(32)
    if subscription.active:
        subscription.disabled_at = None
    subscription.save()
    webhook_event_types_forget()


@transaction.atomic
def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    subscription.delete()
    webhook_event_types_forget()


def _receiving():
    """Subscriptions that get events: active, and owned by someone who may still read every
    account's data (an owner demoted or deactivated since gets nothing)."""
    return WebhookSubscription.objects.filter(
        active=True, owner__is_active=True, owner__role__in=SUBSCRIBER_ROLES
    )


def webhook_event_types_subscribed() -> frozenset[str]:
    """The event types some active subscription wants (cached 60 s, forgotten on change)."""
    types = cache.get(EVENT_TYPES_CACHE_KEY)
    if types is None:
        rows = _receiving().values_list("events", flat=True)
        types = frozenset(e for events in rows.distinct() for e in events)
        cache.set(EVENT_TYPES_CACHE_KEY, types, EVENT_TYPES_CACHE_SECONDS)
    return types


# --- publishing ------------------------------------------------------------------------------


def webhook_event_publish(*, event_type: str, resource: dict | Callable[[], dict]) -> int:
    """Queue the event for every active subscription to `event_type` (call it inside the
    writing transaction: deliveries start after commit, and vanish on rollback). Costs no
    query (a cached set) when nobody subscribes to the type; `resource` may be a function,
    called only when someone does. Returns the deliveries made."""
    return webhook_events_publish(event_type=event_type, resources=lambda: [resource])


def webhook_events_publish(*, event_type: str, resources: list | Callable[[], list]) -> int:
    """Many events of one type (one per resource) in two queries, whatever their number:
    the subscriptions, then one insert of every delivery. Items of `resources` (or the
    list itself) may be functions, called only when someone subscribes."""
    if event_type not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    if event_type not in webhook_event_types_subscribed():
        return 0
    subscription_ids = list(
        _receiving().filter(events__contains=[event_type]).values_list("pk", flat=True)
    )
    if not subscription_ids:
        return 0
    if callable(resources):
        resources = resources()
    now = timezone.now()
    rows = []
    for resource in resources:
        event_id = uuid.uuid4()
        payload = json.loads(
            json.dumps(
                {
                    "id": str(event_id),
                    "type": event_type,
                    "created_at": now,
                    "data": resource() if callable(resource) else resource,
                },
                cls=DjangoJSONEncoder,
            )
        )
        rows += [
            WebhookDelivery(
                subscription_id=pk,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=now,
                queued_at=now,  # queued on commit below, so the retry job leaves it alone
                created_at=now,
            )
            for pk in subscription_ids
        ]
    deliveries = WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    if deliveries:
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: _enqueue(ids))
    return len(deliveries)


def _enqueue(delivery_ids: list[int]) -> None:
    from .tasks import webhook_deliver_task

    for pk in delivery_ids:
        webhook_deliver_task.delay(pk)


# --- delivering ------------------------------------------------------------------------------


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the guard checked (no second DNS lookup to rebind)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url`, following up to 3 307/308 redirects, each target re-checked by
    the guard. Returns the final status code; raises OSError / WebhookTargetRefused."""
    for _ in range(MAX_REDIRECTS + 1):
        host, port, address = webhook_target_check(url)
        parts = urlsplit(url)
        cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        conn = cls(host, port, address, TIMEOUT_SECONDS)
        try:
            path = parts.path or "/"
            if parts.query:
                path += f"?{parts.query}"
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(65536)
            status, location = response.status, response.getheader("Location")
        finally:
            conn.close()
        if status in {307, 308} and location:
            url = urljoin(url, location)
            continue
        return status
    raise OSError(f"More than {MAX_REDIRECTS} redirects.")


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(
                pk=delivery_id,
                status__in=[WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.FAILED],
                next_attempt_at__lte=now,
            )
            .first()
        )
        if delivery is None:
            return None
        if not delivery.subscription.active:
            delivery.status = WebhookDeliveryStatus.GAVE_UP
            delivery.last_error = "The subscription is disabled."
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + CLAIM_LEASE
        delivery.queued_at = None  # this attempt used the queued task; its retry is queued anew
        delivery.save(update_fields=["attempts", "next_attempt_at", "queued_at"])
        return delivery


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failed attempt, doubling, at most an hour."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Attempt one delivery if it is due and unclaimed (a duplicate call does nothing).
    Returns the new status, or None when there was nothing to do."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    subscription = delivery.subscription
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CX-Platform-Webhooks/1",
        SIGNATURE_HEADER: webhook_signature(
            secret=subscription.secret, body=body, timestamp=int(time.time())
        ),
        "X-CX-Event": delivery.event_type,
        "X-CX-Delivery": str(delivery.event_id),
    }
    started = time.monotonic()
    code, error = None, ""
    try:
        code = _post(subscription.url, body, headers)
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except WebhookTargetRefused as exc:
        error = str(exc)
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    latency = int((time.monotonic() - started) * 1000)
    return _record(delivery, now=now, code=code, error=error, latency=latency)


def _record(delivery: WebhookDelivery, *, now, code, error, latency) -> str:
    delivery.response_code = code
    delivery.latency_ms = latency
    delivery.last_error = error[:500]
    subscriptions = WebhookSubscription.objects.filter(pk=delivery.subscription_id)
    if not error:
        delivery.status = WebhookDeliveryStatus.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
        subscriptions.exclude(consecutive_failures=0).update(consecutive_failures=0)
    else:
        next_at = now + retry_delay(delivery.attempts)
        if next_at > delivery.created_at + GIVE_UP_AFTER:
            delivery.status = WebhookDeliveryStatus.GAVE_UP
            delivery.next_attempt_at = None
        else:
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = next_at
        subscriptions.update(consecutive_failures=F("consecutive_failures") + 1)
        _disable_if_failing(delivery.subscription_id, now)
    delivery.save(
        update_fields=[
            "status",
            "response_code",
            "latency_ms",
            "last_error",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery.status


def _disable_if_failing(subscription_id: int, now: datetime) -> None:
    disabled = WebhookSubscription.objects.filter(
        pk=subscription_id,
        disabled_at__isnull=True,
        consecutive_failures__gte=DISABLE_AFTER_FAILURES,
    ).update(active=False, disabled_at=now)
    if not disabled:
        return
    webhook_event_types_forget()
    subscription = WebhookSubscription.objects.select_related("owner").get(pk=subscription_id)
    send_mail(
        subject="A webhook was disabled after repeated failures",
        message=(
            f"Your webhook to {subscription.url} failed {DISABLE_AFTER_FAILURES} times in a row "
            "and has been disabled. Fix the receiver, then re-activate the subscription.\n"
        ),
        from_email=None,
        recipient_list=[subscription.owner.email],
        fail_silently=True,
    )


def webhook_retries_queue(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Queue an attempt (after commit) for each delivery whose retry is due; returns their
    ids. The rows are claimed as they are queued: locked with SKIP LOCKED and stamped
    `queued_at`, so runs that overlap queue each delivery once. One queued but not claimed
    by a worker within QUEUE_LEASE (a lost message) is queued again; each attempt still
    claims its row, so a delivery queued twice is still sent once."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                Q(queued_at__isnull=True) | Q(queued_at__lte=now - QUEUE_LEASE),
                status__in=[WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.FAILED],
                next_attempt_at__lte=now,
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(queued_at=now)
            transaction.on_commit(lambda: _enqueue(ids))
    return ids
