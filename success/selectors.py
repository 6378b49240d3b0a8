"""Reads for the success team's pages."""

import datetime

from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    ExpressionWrapper,
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
from accounts.models import Account, Contact, User

from .choices import MilestoneStatus, PlanStatus
from .models import PlanMilestone, RevenueEvent, Subscription, SuccessPlan, Touchpoint
from .plans import CHECK_IN_CADENCE_DAYS, DEFAULT_CHECK_IN_CADENCE_DAYS, check_in_overdue_before

PORTFOLIO_LIMIT = 500
# Rows each home-page panel shows; the rest are counted as "more".
PANEL_LIMIT = 50
TASKS_AHEAD_DAYS = 6  # today through today + 6: this week
RENEWAL_WINDOWS_DAYS = (30, 60, 90)
# Rows of each history section on the account page (touchpoints, revenue events).
ACCOUNT_RECENT_LIMIT = 10


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


def milestones_due_this_week(*, csm: User, today: datetime.date) -> QuerySet[PlanMilestone]:
    """Open milestones of active plans that the CSM owns or that sit on the CSM's accounts,
    due by today + TASKS_AHEAD_DAYS, overdue ones included: oldest due date first.

    Each milestone carries `is_overdue` (due before today), its plan, account and owner
    loaded. One query, however many milestones.
    """
    return (
        PlanMilestone.objects.filter(
            Q(owner=csm) | Q(plan__account__csm=csm),
            status=MilestoneStatus.TODO,
            plan__status=PlanStatus.ACTIVE,
            due_date__lte=today + datetime.timedelta(days=TASKS_AHEAD_DAYS),
        )
        .annotate(is_overdue=ExpressionWrapper(Q(due_date__lt=today), output_field=BooleanField()))
        .select_related("plan__account", "owner")
        .order_by("due_date", "plan__account__name", "position", "id")
    )


def renewals_due(*, csm: User, today: datetime.date) -> QuerySet[Account]:
    """The CSM's accounts renewing from today through today + 90 days, soonest first;
    churned accounts are left out.

    Each account carries `renewal_window`: 30, 60 or 90, the first of RENEWAL_WINDOWS_DAYS
    its renewal date falls within. One query, however many accounts.
    """
    *nearer, furthest = RENEWAL_WINDOWS_DAYS
    window = Case(
        *(
            When(renewal_date__lte=today + datetime.timedelta(days=days), then=Value(days))
            for days in nearer
        ),
        default=Value(furthest),
    )
    return (
        Account.objects.filter(
            csm=csm,
            renewal_date__gte=today,
            renewal_date__lte=today + datetime.timedelta(days=furthest),
        )
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
        .annotate(renewal_window=window)
        .order_by("renewal_date", "name")
    )


def account_recent_touchpoints(*, account: Account) -> QuerySet[Touchpoint]:
    """An account's touchpoints, most recent first, with who logged them and their
    participants loaded: two queries, however many are taken (slice before iterating)."""
    return (
        Touchpoint.objects.filter(account=account)
        .select_related("logged_by")
        .prefetch_related(Prefetch("participants", queryset=Contact.objects.order_by("name")))
        .order_by("-happened_at", "-id")
    )


def account_subscriptions(*, account: Account) -> QuerySet[Subscription]:
    """An account's subscriptions, latest start first: one query."""
    return Subscription.objects.filter(account=account).order_by("-start_date", "-id")


def account_revenue_events(*, account: Account) -> QuerySet[RevenueEvent]:
    """An account's MRR changes, latest first, with their subscription loaded: one query."""
    return (
        RevenueEvent.objects.filter(account=account)
        .select_related("subscription")
        .order_by("-date", "-id")
    )


def account_contacts(*, account: Account) -> QuerySet[Contact]:
    """The people at an account, account admins first, then by name: one query."""
    return Contact.objects.filter(account=account).order_by("-is_account_admin", "name", "id")
