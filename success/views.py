import datetime

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.choices import Role
from accounts.permissions import SUCCESS_STAFF, role_required

from .selectors import (
    PANEL_LIMIT,
    PORTFOLIO_LIMIT,
    TASKS_AHEAD_DAYS,
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


def _first(queryset: QuerySet, limit: int = PANEL_LIMIT) -> tuple[list, bool]:
    """Up to `limit` rows, and whether there were more: one query."""
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit
