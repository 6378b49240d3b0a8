"""Every write of the customer portal: magic sign-in links, the customer's login, new
tickets from the portal, and knowledge-base deflections.

A sign-in request answers the same whether or not the address belongs to a contact (the
page never tells who is a customer); the link itself is made and mailed by a Celery task
after the request's transaction commits, so the raw token never passes through the broker
and the request does the same work for known and unknown addresses.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from accounts.models import Contact, User

from ..choices import Channel
from ..models import (
    DEFLECTION_WINDOW,
    LOGIN_LINK_LIFETIME,
    PortalDeflection,
    PortalLoginToken,
    Ticket,
)
from . import ticket_create

logger = logging.getLogger(__name__)

# Sign-in links one email address / one client address may ask for per window.
SIGN_IN_LIMIT_PER_EMAIL = 5
SIGN_IN_LIMIT_PER_IP = 20
SIGN_IN_LIMIT_WINDOW_SECONDS = 3600
# Spent or expired sign-in links are kept this long (to answer "my link did not work").
LOGIN_TOKEN_KEPT = timedelta(days=1)


class SignInRateLimited(Exception):
    """Too many sign-in links asked for; `retry_after` seconds until the window ends."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            "Too many sign-in links were asked for. Wait an hour, then ask for a new one "
            "(or sign in with your password if you set one)."
        )


class LoginLinkError(Exception):
    """A sign-in link that cannot sign anyone in; `status` is the HTTP answer."""

    status = 400


class LoginLinkInvalid(LoginLinkError):
    def __init__(self) -> None:
        super().__init__("This sign-in link is not valid. Check that you copied all of it.")


class LoginLinkSpent(LoginLinkError):
    status = 410

    def __init__(self, message: str) -> None:
        super().__init__(message)


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


# --- asking for a link ------------------------------------------------------------------


def _count(key: str, limit: int) -> None:
    # add() starts the window only when the key is new; incr() is atomic in Redis.
    cache.add(key, 0, timeout=SIGN_IN_LIMIT_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, timeout=SIGN_IN_LIMIT_WINDOW_SECONDS)
        count = 1
    if count > limit:
        raise SignInRateLimited(retry_after=SIGN_IN_LIMIT_WINDOW_SECONDS)


def portal_sign_in_throttle(*, email: str, client_ip: str) -> None:
    """Count one sign-in attempt (link or password) for this address and client.

    Raises `SignInRateLimited` past SIGN_IN_LIMIT_PER_IP attempts from one client address
    or SIGN_IN_LIMIT_PER_EMAIL for one email address in a window (counted in Redis).
    """
    email_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    _count(f"portal-sign-in:ip:{client_ip or 'unknown'}", SIGN_IN_LIMIT_PER_IP)
    _count(f"portal-sign-in:email:{email_key}", SIGN_IN_LIMIT_PER_EMAIL)


def portal_sign_in_request(*, email: str) -> None:
    """Send a sign-in link to `email` if it belongs to a contact; silently nothing if not
    (the caller throttles first with `portal_sign_in_throttle`)."""
    contact_id = Contact.objects.with_email(email).values_list("pk", flat=True).first()
    if contact_id is None:
        logger.info("portal sign-in asked for an address that is no contact")
        return

    from ..tasks import portal_login_link_send_task

    transaction.on_commit(lambda: portal_login_link_send_task.delay(contact_id))


def portal_login_link_send(*, contact_id: int, now: datetime | None = None) -> bool:
    """Make a sign-in link for the contact and email it. False when the contact is gone."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return False
    now = now or timezone.now()
    raw_token = secrets.token_urlsafe(32)
    PortalLoginToken.objects.create(
        contact=contact,
        token_hash=token_hash(raw_token),
        created_at=now,
        expires_at=now + LOGIN_LINK_LIFETIME,
    )
    url = settings.CX_BASE_URL.rstrip("/") + reverse(
        "support:portal-sign-in-link", args=[raw_token]
    )
    minutes = int(LOGIN_LINK_LIFETIME.total_seconds() // 60)
    message = EmailMessage(
        subject="Your sign-in link",
        body=(
            f"Hello {contact.first_name},\n\n"
            f"Open this link to sign in to the support portal:\n\n{url}\n\n"
            f"It works once, for {minutes} minutes. If you did not ask for it, ignore this "
            "email: nobody can sign in without opening the link.\n"
        ),
        to=[contact.email],
    )
    get_connection().send_messages([message])
    return True


# --- using a link -----------------------------------------------------------------------


def portal_login_token_check(*, raw_token: str, now: datetime | None = None) -> Contact:
    """The contact a link would sign in, without spending it (the confirm page's GET)."""
    now = now or timezone.now()
    row = (
        PortalLoginToken.objects.select_related("contact")
        .filter(token_hash=token_hash(raw_token))
        .first()
    )
    if row is None:
        raise LoginLinkInvalid()
    if row.used_at is not None:
        raise LoginLinkSpent("This sign-in link has already been used. Ask for a new one.")
    if row.expires_at <= now:
        raise LoginLinkSpent("This sign-in link has expired. Ask for a new one.")
    return row.contact


@transaction.atomic
def portal_login_token_redeem(*, raw_token: str, now: datetime | None = None) -> User:
    """Spend a sign-in link and return the contact's portal user (made on first sign-in).

    The conditional update is the single-use guarantee: of two concurrent redeems, one
    updates the row and the other finds nothing to update.
    """
    now = now or timezone.now()
    hashed = token_hash(raw_token)
    spent = PortalLoginToken.objects.filter(
        token_hash=hashed, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        portal_login_token_check(raw_token=raw_token, now=now)  # raises the reason
        raise LoginLinkSpent("This sign-in link has already been used. Ask for a new one.")
    token = PortalLoginToken.objects.select_related("contact").get(token_hash=hashed)
    # Any other link still in the contact's mailbox is void once they are signed in.
    PortalLoginToken.objects.filter(contact_id=token.contact_id, used_at__isnull=True).update(
        used_at=now
    )
    return portal_user_for_contact(contact=token.contact)


def portal_login_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete sign-in links that expired over a day ago; a re-run finds nothing."""
    cutoff = (now or timezone.now()) - LOGIN_TOKEN_KEPT
    deleted, _ = PortalLoginToken.objects.filter(expires_at__lt=cutoff).delete()
    return deleted


def portal_user_for_contact(*, contact: Contact) -> User:
    """The contact's portal login; created (role customer, no password) when missing."""
    if contact.user_id is not None:
        user = contact.user
        if user.role != Role.CUSTOMER or not user.is_active:
            raise LoginLinkInvalid()
        return user
    user = User.objects.filter(email__iexact=contact.email).first()
    if user is None:
        user = User(email=contact.email.lower(), full_name=contact.name, role=Role.CUSTOMER)
        user.set_unusable_password()
        user.save()
    elif user.role != Role.CUSTOMER or not user.is_active or hasattr(user, "contact"):
        # A staff member's address, or a login that is someone else's: never hand it over.
        logger.warning("portal sign-in refused: contact %s's address has another login", contact)
        raise LoginLinkInvalid()
    contact.user = user
    contact.save(update_fields=["user"])
    return user


@transaction.atomic
def portal_password_set(*, user: User, password: str) -> User:
    """The customer chooses a password (then may sign in with it instead of a link).
    Raises ValidationError from the password validators."""
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


# --- tickets and deflections ------------------------------------------------------------


def portal_deflection_record(
    *, contact: Contact, article_id: int, now: datetime | None = None
) -> PortalDeflection:
    """The contact opened a suggested article while writing a new ticket."""
    return PortalDeflection.objects.create(
        contact=contact, article_id=article_id, opened_at=now or timezone.now()
    )


@transaction.atomic
def portal_ticket_submit(
    *,
    contact: Contact,
    subject: str,
    body: str,
    attachments: Sequence[UploadedFile] = (),
    now: datetime | None = None,
) -> Ticket:
    """A contact opens a ticket from the portal. Suggestions they opened in the last
    DEFLECTION_WINDOW did not help after all: they are tied to the ticket."""
    ticket = ticket_create(
        requester=contact,
        subject=subject,
        body=body,
        channel=Channel.PORTAL,
        attachments=attachments,
    )
    now = now or timezone.now()
    PortalDeflection.objects.filter(
        contact=contact, ticket__isnull=True, opened_at__gte=now - DEFLECTION_WINDOW
    ).update(ticket=ticket)
    return ticket
