"""Reads of the CRM core that views, the API and tasks share."""

from django.db.models import QuerySet

from .models import Account, Contact, User


def account_for_email(email: str) -> Account | None:
    """The account whose email domains contain the address's domain (GIN index on domains)."""
    domain = email.rsplit("@", 1)[-1].strip().lower()
    if not domain:
        return None
    return Account.objects.filter(domains__contains=[domain]).order_by("pk").first()


def accounts_for_csm(*, csm: User) -> QuerySet[Account]:
    return Account.objects.filter(csm=csm).select_related("csm").order_by("name")


def contact_for_user(*, user: User) -> Contact | None:
    return Contact.objects.filter(user=user).select_related("account").first()
