import datetime

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.choices import LifecycleStage, Role
from accounts.permissions import SUCCESS_STAFF, role_required

from .plans import check_in_cadence_days, check_in_overdue_before, plan_progress
from .selectors import (
    ACCOUNT_RECENT_LIMIT,
    PANEL_LIMIT,
    PORTFOLIO_LIMIT,
    TASKS_AHEAD_DAYS,
    account_contacts,
    account_recent_touchpoints,
    account_revenue_events,
    account_subscriptions,
    account_success_plans,
    accounts_with_overdue_check_in,
    milestones_due_this_week,
    portfolio,
    renewals_due,
)


@role_required(*SUCCESS_STAFF)
def home(request: HttpRequest) -> HttpResponse:
    accounts, truncated = _first(portfolio(viewer=request.user), PORTFOLIO_LIMIT)
    context = {"accounts": accounts, "truncated": truncated, "limit": PORTFOLIO_LIMIT}
    # The panels are a CSM's own work; managers and admins see the whole portfolio instead.
    if request.user.role == Role.CSM:
        today = timezone.localdate(timezone=request.user.zone)
        tasks, tasks_more = _first(milestones_due_this_week(csm=request.user, today=today))
        renewals, renewals_more = _first(renewals_due(csm=request.user, today=today))
        check_ins, check_ins_more = _first(
            accounts_with_overdue_check_in(csm=request.user, today=today)
        )
        context |= {
            "panels": True,
            "today": today,
            "week_end": today + datetime.timedelta(days=TASKS_AHEAD_DAYS),
            "panel_limit": PANEL_LIMIT,
            "tasks": tasks,
            "tasks_more": tasks_more,
            "renewals": renewals,
            "renewals_more": renewals_more,
            "check_ins": check_ins,
            "check_ins_more": check_ins_more,
        }
    return render(request, "success/home.html", context)


@role_required(*SUCCESS_STAFF)
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    """Account 360: everything success knows of one account. Whoever may see the account in
    their portfolio may open it (a CSM their own, managers and admins any); others get 404."""
    account = get_object_or_404(portfolio(viewer=request.user), pk=account_id)
    today = timezone.localdate(timezone=request.user.zone)
    plans = [
        (plan, plan_progress(plan.milestones.all(), today))
        for plan in account_success_plans(account=account)
    ]
    touchpoints = list(account_recent_touchpoints(account=account)[:ACCOUNT_RECENT_LIMIT])
    last_touchpoint_at = touchpoints[0].happened_at if touchpoints else None
    context = {
        "account": account,
        "today": today,
        "plans": plans,
        "touchpoints": touchpoints,
        "last_touchpoint_at": last_touchpoint_at,
        "cadence_days": check_in_cadence_days(account.tier),
        # Same rule as the home page's overdue check-ins: churned accounts are never due.
        "check_in_overdue": account.lifecycle_stage != LifecycleStage.CHURNED
        and (
            last_touchpoint_at is None
            or timezone.localdate(last_touchpoint_at) < check_in_overdue_before(account.tier, today)
        ),
        "subscriptions": list(account_subscriptions(account=account)),
        "revenue_events": list(account_revenue_events(account=account)[:ACCOUNT_RECENT_LIMIT]),
        "contacts": list(account_contacts(account=account)),
        "recent_limit": ACCOUNT_RECENT_LIMIT,
    }
    return render(request, "success/account_detail.html", context)


def _first(queryset: QuerySet, limit: int = PANEL_LIMIT) -> tuple[list, bool]:
    """Up to `limit` rows, and whether there were more: one query."""
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit
