"""Reads of escalation flags for the CSM home, the Account 360 page and a flag's page."""

from django.db.models import Prefetch, QuerySet

from accounts.choices import Role
from accounts.models import Account, User

from ..models import EscalationDirection, EscalationFlag, EscalationFlagEvent, FlagState

HOME_FLAGS_SHOWN = 20
RESOLVED_FLAGS_SHOWN = 5
UNRESOLVED = [FlagState.OPEN, FlagState.ACKNOWLEDGED]


def _flags() -> QuerySet[EscalationFlag]:
    return EscalationFlag.objects.select_related("rule", "owner", "acknowledged_by", "resolved_by")


def flags_for_home(*, viewer: User, limit: int = HOME_FLAGS_SHOWN) -> list[EscalationFlag]:
    """The support → success flags not yet resolved, newest evidence first: of the CSM's
    own accounts, or of every account for managers and admins. One query."""
    flags = (
        _flags()
        .select_related("account")
        .filter(state__in=UNRESOLVED, direction=EscalationDirection.SUPPORT_TO_SUCCESS)
        .order_by("-last_fired_at", "-id")
    )
    if viewer.role == Role.CSM:
        flags = flags.filter(account__csm=viewer)
    return list(flags[: limit + 1])


def flags_for_account(*, account: Account) -> tuple[list[EscalationFlag], list[EscalationFlag]]:
    """The account's unresolved flags (open first, newest first) and its latest resolved
    ones: two queries."""
    unresolved = list(
        _flags()
        .filter(account=account, state__in=UNRESOLVED)
        .order_by("-state", "-last_fired_at", "-id")  # "open" before "acknowledged"
    )
    resolved = list(
        _flags()
        .filter(account=account, state=FlagState.RESOLVED)
        .order_by("-resolved_at", "-id")[:RESOLVED_FLAGS_SHOWN]
    )
    return unresolved, resolved


def flag_detail(*, flag_id: int, accounts: QuerySet[Account]) -> EscalationFlag | None:
    """One flag with its account and history, if its account is among `accounts` (the
    viewer's portfolio): two queries."""
    return (
        _flags()
        .select_related("account", "account__csm")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=EscalationFlagEvent.objects.select_related("actor").order_by(
                    "created_at", "id"
                ),
            )
        )
        .filter(pk=flag_id, account__in=accounts)
        .first()
    )
