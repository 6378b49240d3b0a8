"""Every write to the CRM core."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from .choices import Role
from .models import Account, Contact, Team, User
from .selectors import account_for_email


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
