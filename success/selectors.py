"""Reads for the success team's pages."""

import datetime

from django.db.models import (
    Case,
    DateTimeField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from accounts.choices import LifecycleStage, Role
from accounts.models import Account, User

from .models import PlanMilestone, SuccessPlan, Touchpoint
from .plans import CHECK_IN_CADENCE_DAYS, DEFAULT_CHECK_IN_CADENCE_DAYS, check_in_overdue_before

PORTFOLIO_LIMIT = 500


def portfolio(*, viewer: User) -> QuerySet[Account]:
    """The accounts a person looks after: a CSM's own; managers and admins see every one."""
    accounts = Account.objects.select_related("csm").order_by("name")
    if viewer.role == Role.CSM:
        accounts = accounts.filter(csm=viewer)
    return accounts


def accounts_with_overdue_check_in(*, csm: User, today: datetime.date) -> QuerySet[Account]:
    """The CSM's accounts due a check-in on `today`: never touched, or last touched on a day
    before today minus their tier's cadence (success.plans). Churned accounts are left out.

    Each account carries `last_touchpoint_at` (None when never touched); never-touched
    accounts come first, then the longest silent. One query, however many accounts.
    """
    last_touchpoint = (
        Touchpoint.objects.filter(account=OuterRef("pk"))
        .order_by("-happened_at")
        .values("happened_at")[:1]
    )
    # A touchpoint before the start of this day (local time) is too old, per tier.
    overdue_before = Case(
        *(
            When(tier=tier, then=Value(_day_start(check_in_overdue_before(tier, today))))
            for tier in CHECK_IN_CADENCE_DAYS
        ),
        default=Value(_day_start(today - datetime.timedelta(days=DEFAULT_CHECK_IN_CADENCE_DAYS))),
        output_field=DateTimeField(),
    )
    return (
        Account.objects.filter(csm=csm)
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
        .annotate(last_touchpoint_at=Subquery(last_touchpoint), overdue_before=overdue_before)
        .filter(Q(last_touchpoint_at__isnull=True) | Q(last_touchpoint_at__lt=F("overdue_before")))
        .select_related("csm")
        .order_by(F("last_touchpoint_at").asc(nulls_first=True), "name")
    )


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def account_success_plans(*, account: Account) -> QuerySet[SuccessPlan]:
    """An account's success plans, newest first, with objectives and milestones (and the
    milestones' owners) loaded: three queries in all."""
    return (
        SuccessPlan.objects.filter(account=account)
        .select_related("account", "template", "created_by")
        .prefetch_related("objectives", Prefetch("milestones", queryset=_milestones()))
        .order_by("-start_date", "-id")
    )


def _milestones() -> QuerySet[PlanMilestone]:
    return PlanMilestone.objects.select_related("owner").order_by("position", "due_date", "id")
