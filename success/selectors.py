"""Reads for the success team's pages."""

from django.db.models import QuerySet

from accounts.choices import Role
from accounts.models import Account, User

PORTFOLIO_LIMIT = 500


def portfolio(*, viewer: User) -> QuerySet[Account]:
    """The accounts a person looks after: a CSM's own; managers and admins see every one."""
    accounts = Account.objects.select_related("csm").order_by("name")
    if viewer.role == Role.CSM:
        accounts = accounts.filter(csm=viewer)
    return accounts
