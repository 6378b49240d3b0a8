"""Every write to the CRM core."""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from .choices import Role
from .models import (
    Account,
    ApiScope,
    ApiToken,
    Contact,
    Notification,
    SupportAttention,
    Team,
    User,
)
from .selectors import account_for_email
from .signals import ACCOUNT_ACTIVITY_REASONS, account_activity, account_tier_changed


def _domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


@transaction.atomic
def account_create(
    *,
    name: str,
    domains: list[str] | None = None,
    tier: str = "starter",
    segment: str = "",
    lifecycle_stage: str = "onboarding",
    csm: User | None = None,
    mrr: Decimal | int = 0,
    seats: int | None = None,
    renewal_date=None,
) -> Account:
    account = Account(
        name=name.strip(),
        domains=sorted({d.strip().lower() for d in domains or [] if d.strip()}),
        tier=tier,
        segment=segment,
        lifecycle_stage=lifecycle_stage,
        csm=csm,
        mrr=mrr,
        seats=seats,
        renewal_date=renewal_date,
    )
    account.full_clean()
    account.save()
    return account


def contact_get_or_create(*, email: str, name: str = "", account: Account | None = None) -> Contact:
    """The contact with this address (any case), created if unknown.

    A new contact's account is `account` if given, else the account whose email domains
    include the address's domain. Safe under concurrency: the case-insensitive unique
    constraint decides, and the loser of a race reads the winner's row.
    """
    email = email.strip().lower()
    existing = Contact.objects.with_email(email).select_related("account").first()
    if existing:
        return existing
    contact = Contact(
        email=email,
        name=name.strip() or email.split("@", 1)[0],
        account=account or account_for_email(email),
    )
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        return Contact.objects.with_email(email).get()
    return contact


@transaction.atomic
def staff_user_create(
    *,
    email: str,
    full_name: str,
    role: str,
    password: str | None = None,
    teams: list[Team] | None = None,
) -> User:
    if role == Role.CUSTOMER:
        raise ValueError(
            "Customers sign in through their contact: use contact_portal_login_create."
        )
    user = User.objects.create_user(
        email=email,
        password=password,
        full_name=full_name,
        role=role,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if teams:
        user.teams.set(teams)
    return user


@transaction.atomic
def contact_portal_login_create(*, contact: Contact, password: str | None = None) -> User:
    """Give a contact a customer login for the portal (or return the one it has)."""
    if contact.user_id:
        return contact.user
    user = User.objects.create_user(
        email=contact.email, password=password, full_name=contact.name, role=Role.CUSTOMER
    )
    contact.user = user
    contact.save(update_fields=["user"])
    return user


def account_tier_changed_announce(*, account_id: int) -> None:
    """Tell the other apps, once the transaction commits, that an account's tier changed."""
    transaction.on_commit(lambda: account_tier_changed.send(sender=Account, account_id=account_id))


def account_activity_announce(*, account_id: int | None, reason: str) -> None:
    """Tell the other apps, once the transaction commits, that something happened to an
    account that may move its health or escalation flags (see accounts.signals)."""
    if account_id is None:
        return
    if reason not in ACCOUNT_ACTIVITY_REASONS:
        raise ValueError(f"Unknown account activity: {reason!r}")
    transaction.on_commit(
        lambda: account_activity.send(sender=Account, account_id=account_id, reason=reason)
    )


@transaction.atomic
def account_update(
    *, account: Account, acting_user: User | None = None, **fields: object
) -> Account:
    """Change an account's fields; a tier change is announced to the other apps."""
    tier_before = Account.objects.filter(pk=account.pk).values_list("tier", flat=True).first()
    for name, value in fields.items():
        setattr(account, name, value)
    account.full_clean()
    account.save()
    if account.tier != tier_before:
        account_tier_changed_announce(account_id=account.pk)
    return account


# One statement however many accounts metrics passes (a sweep may mark thousands): the
# notes arrive as two parallel arrays, so the SQL and its plan do not grow with the batch.
# Only rows whose mark or note differs are written; SET reads the row's old values, so an
# account already carrying this attention keeps the moment it got it.
_SUPPORT_ATTENTION_SET_SQL = """
UPDATE accounts_account AS a
SET support_attention = %(attention)s,
    support_attention_note = v.note,
    support_attention_since = CASE
        WHEN %(attention)s = '' THEN NULL
        WHEN a.support_attention = %(attention)s THEN a.support_attention_since
        ELSE %(since)s
    END
FROM unnest(%(ids)s::bigint[], %(notes)s::text[]) AS v(id, note)
WHERE a.id = v.id
  AND (a.support_attention <> %(attention)s OR a.support_attention_note <> v.note)
"""


def account_support_attention_set(*, attention: str, notes: dict[int, str], since=None) -> int:
    """Set (or, with attention "", clear) what support must keep in mind on the given
    accounts, each with its note (`notes`: account id → note). Called by metrics when an
    at-risk flag opens, changes its note or resolves. Only rows that change are written;
    returns how many."""
    if attention not in SupportAttention.values:
        raise ValueError(f"Unknown support attention: {attention!r}")
    if not notes:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _SUPPORT_ATTENTION_SET_SQL,
            {
                "attention": attention,
                "since": since or timezone.now(),
                "ids": list(notes),
                "notes": list(notes.values()) if attention else [""] * len(notes),
            },
        )
        return cursor.rowcount


def account_support_onboarding_set(*, account_ids: Iterable[int], onboarding: bool) -> int:
    """Mark (or unmark) accounts whose new tickets support handles as onboarding ones.
    Called by metrics when the onboarding rule's flag opens or resolves; only rows that
    change are written. Returns how many."""
    return (
        Account.objects.filter(pk__in=list(account_ids))
        .exclude(support_onboarding=onboarding)
        .update(support_onboarding=onboarding)
    )


def notifications_email(*, notification_ids: list[int]) -> int:
    """Email the given notifications to their people, each once (rows are claimed with a
    conditional update, so a retried or duplicated task sends nothing twice)."""
    with transaction.atomic():
        claimed = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk__in=notification_ids, emailed_at__isnull=True, user__is_active=True)
            .select_related("user")
        )
        if not claimed:
            return 0
        Notification.objects.filter(pk__in=[n.pk for n in claimed]).update(
            emailed_at=timezone.now()
        )
        messages = [
            EmailMessage(
                subject=n.title,
                body=f"{n.body}\n\n{settings.CX_BASE_URL.rstrip('/')}{n.url}\n",
                to=[n.user.email],
            )
            for n in claimed
        ]
        return get_connection().send_messages(messages) or 0


def notification_open(*, notification: Notification) -> Notification:
    """Mark a notification read (the person opened it)."""
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- contacts and staff (the API's writes) --------------------------------------------------


@transaction.atomic
def contact_create(
    *,
    email: str,
    name: str = "",
    account: Account | None = None,
    title: str = "",
    phone: str = "",
    is_account_admin: bool = False,
) -> Contact:
    """A new contact (named after the email's local part when no name is given); an address
    already known (in any case) is refused."""
    email = email.strip().lower()
    if Contact.objects.with_email(email).exists():
        raise ValidationError({"email": "A contact with this email already exists."})
    contact = Contact(
        name=name.strip() or email.split("@", 1)[0],
        email=email,
        account=account or account_for_email(email),
        title=title,
        phone=phone,
        is_account_admin=is_account_admin,
    )
    contact.full_clean()
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:  # a concurrent create of the same address won
        raise ValidationError({"email": "A contact with this email already exists."}) from None
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, **fields: object) -> Contact:
    if "email" in fields:
        email = str(fields["email"]).strip().lower()
        if Contact.objects.with_email(email).exclude(pk=contact.pk).exists():
            raise ValidationError({"email": "A contact with this email already exists."})
        fields["email"] = email
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.full_clean(validate_constraints=False)
    contact.save()
    return contact


@transaction.atomic
def staff_user_update(
    *,
    user: User,
    full_name: str | None = None,
    role: str | None = None,
    teams: list[Team] | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a staff member's name, role, teams or whether they may sign in."""
    if user.role == Role.CUSTOMER or role == Role.CUSTOMER:
        raise ValidationError({"role": "Customers are managed through their contact."})
    if full_name is not None:
        user.full_name = full_name.strip()
    if role is not None:
        user.role = role
        user.is_staff = user.is_superuser = role == Role.ADMIN
    if is_active is not None:
        user.is_active = is_active
    user.save()
    if teams is not None:
        user.teams.set(teams)
    return user


# --- API tokens --------------------------------------------------------------------------

API_TOKEN_PREFIX = "cx_"
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (the token is 256 random bits, so no slow
    password hash is needed to resist guessing)."""
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` and its secret: `cx_<prefix>_<secret>`, shown once."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name."})
    unknown = sorted(set(scopes) - set(ApiScope.values))
    if unknown:
        message = f"Unknown scopes: {', '.join(unknown)}. Allowed: {', '.join(ApiScope.values)}."
        raise ValidationError({"scopes": message})
    if not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    if not user.is_active:
        raise ValidationError("An inactive user cannot have API tokens.")
    prefix = secrets.token_hex(4)  # 8 hex characters, shown in lists
    token = f"{API_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=api_token_hash(token),
        scopes=[scope for scope in ApiScope.values if scope in scopes],
        expires_at=expires_at,
    )
    return api_token, token


def api_token_revoke(*, api_token: ApiToken) -> bool:
    """Revoke a token now; False if it already was."""
    return bool(
        ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def api_token_touch(*, api_token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was used, at most once a minute (not a write per request)."""
    now = now or timezone.now()
    stale_before = now - API_TOKEN_TOUCH_INTERVAL
    if api_token.last_used_at is not None and api_token.last_used_at > stale_before:
        return
    ApiToken.objects.filter(pk=api_token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)
    ).update(last_used_at=now)
    api_token.last_used_at = now
