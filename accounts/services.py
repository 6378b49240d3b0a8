"""Every write to the CRM core."""

from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, TextField, Value, When
from django.utils import timezone

from .choices import Role
from .models import Account, Contact, Notification, SupportAttention, Team, User
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
    existing = Contact.objects.filter(email__iexact=email).select_related("account").first()
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
        return Contact.objects.get(email__iexact=email)
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


def account_support_attention_set(
    *, attention: str, notes: dict[int, str], since=None
) -> int:
    """Set (or, with attention "", clear) what support must keep in mind on the given
    accounts, each with its note (`notes`: account id → note). Called by metrics when an
    at-risk flag opens, changes its note or resolves. Only rows that change are written;
    returns how many."""
    if attention not in SupportAttention.values:
        raise ValueError(f"Unknown support attention: {attention!r}")
    if not notes:
        return 0
    if not attention:
        notes = dict.fromkeys(notes, "")
    changed = Q()
    for pk, text in notes.items():
        changed |= Q(pk=pk) & (~Q(support_attention=attention) | ~Q(support_attention_note=text))
    return Account.objects.filter(changed).update(
        support_attention=attention,
        support_attention_note=Case(
            *[When(pk=pk, then=Value(text)) for pk, text in notes.items()],
            output_field=TextField(),
        ),
        # A new note on an account already at risk keeps the moment it became so.
        support_attention_since=Case(
            When(support_attention=attention, then=F("support_attention_since")),
            default=Value(since or timezone.now()),
        )
        if attention
        else None,
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
