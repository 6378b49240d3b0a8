"""The CSM's home page (success:home): the three work panels above the portfolio — tasks
due this week, renewals due, overdue check-ins — their membership, empty states, and a
query count that does not grow with the portfolio."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Role
from success.choices import MilestoneStatus, PlanStatus, TouchpointKind
from success.models import PlanMilestone, SuccessPlan, Touchpoint
from tests.factories import AccountFactory

# Session, user, the portfolio, one per panel (3) and the notifications bell count.
HOME_MAX_QUERIES = 7

URL = reverse("success:home")


def _today() -> datetime.date:
    return timezone.localdate()


def _days(n: int) -> datetime.date:
    return _today() + datetime.timedelta(days=n)


def _milestone(
    account,
    title,
    due_in_days,
    *,
    owner=None,
    status=MilestoneStatus.TODO,
    plan_status=PlanStatus.ACTIVE,
):
    plan = SuccessPlan.objects.create(
        account=account, title=f"{title} plan", status=plan_status, start_date=_days(-60)
    )
    return PlanMilestone.objects.create(
        plan=plan,
        title=title,
        owner=owner,
        due_date=_days(due_in_days),
        status=status,
        done_at=_today() if status == MilestoneStatus.DONE else None,
    )


def _touch(account, days_ago: int) -> None:
    Touchpoint.objects.create(
        account=account,
        kind=TouchpointKind.CALL,
        happened_at=timezone.now() - datetime.timedelta(days=days_ago),
        summary="Catch-up",
    )


def _page(client_for, user) -> str:
    response = client_for(user).get(URL)
    assert response.status_code == 200
    return response.content.decode()


def _panel(page: str, panel_id: str) -> str:
    """The HTML of one panel section."""
    start = page.index(f'<section class="col" id="{panel_id}"')
    return page[start : page.index("</section>", start)]


# Tasks due this week


def test_tasks_panel_shows_due_through_six_days_and_overdue_oldest_first(client_for, csm):
    account = AccountFactory(name="Acme", csm=csm)
    _milestone(account, "Kick-off due today", 0)
    _milestone(account, "Training due in six days", 6)
    _milestone(account, "Rollout due in seven days", 7)
    _milestone(account, "Setup two days late", -2)
    _milestone(account, "Sign-off ten days late", -10)

    panel = _panel(_page(client_for, csm), "tasks")

    assert "Rollout due in seven days" not in panel
    shown = [
        "Sign-off ten days late",
        "Setup two days late",
        "Kick-off due today",
        "Training due in six days",
    ]
    positions = [panel.index(title) for title in shown]
    assert positions == sorted(positions)
    assert panel.count("Overdue") == 2
    assert "Acme" in panel
    assert "Kick-off due today plan" in panel


def test_tasks_panel_leaves_out_done_skipped_and_inactive_plans(client_for, csm):
    account = AccountFactory(csm=csm)
    _milestone(account, "Already done", 1, status=MilestoneStatus.DONE)
    _milestone(account, "Skipped step", 1, status=MilestoneStatus.SKIPPED)
    _milestone(account, "On a cancelled plan", 1, plan_status=PlanStatus.CANCELLED)
    _milestone(account, "On a completed plan", -3, plan_status=PlanStatus.COMPLETED)

    panel = _panel(_page(client_for, csm), "tasks")

    for title in ("Already done", "Skipped step", "On a cancelled plan", "On a completed plan"):
        assert title not in panel
    assert "Nothing due this week." in panel


def test_tasks_panel_takes_own_milestones_and_own_accounts_never_another_csms(
    client_for, csm, make_user
):
    other_csm = make_user(Role.CSM)
    mine = AccountFactory(csm=csm)
    theirs = AccountFactory(name="Their Account", csm=other_csm)
    _milestone(mine, "On my account, owned by a colleague", 2, owner=other_csm)
    _milestone(theirs, "Owned by me on their account", 2, owner=csm)
    _milestone(theirs, "Their own task", 2, owner=other_csm)
    _milestone(theirs, "Unowned on their account", -1)

    panel = _panel(_page(client_for, csm), "tasks")

    assert "On my account, owned by a colleague" in panel
    assert "Owned by me on their account" in panel
    assert "Their own task" not in panel
    assert "Unowned on their account" not in panel


def test_tasks_panel_empty_state_says_what_to_do(client_for, csm):
    panel = _panel(_page(client_for, csm), "tasks")
    assert "Nothing due this week." in panel
    assert "show up here a week before they are due" in panel


# Renewals due


def test_renewals_panel_takes_the_next_90_days_soonest_first_labelled_by_window(client_for, csm):
    AccountFactory(name="Renews day 91", csm=csm, renewal_date=_days(91))
    AccountFactory(
        name="Renews day 90", csm=csm, renewal_date=_days(90), mrr=4200, health_band=HealthBand.RED
    )
    AccountFactory(name="Renews day 31", csm=csm, renewal_date=_days(31))
    AccountFactory(
        name="Renews day 30", csm=csm, renewal_date=_days(30), health_band=HealthBand.GREEN
    )
    AccountFactory(name="Renews today", csm=csm, renewal_date=_today())
    AccountFactory(name="Renewed yesterday", csm=csm, renewal_date=_days(-1))
    AccountFactory(name="No renewal date", csm=csm)

    panel = _panel(_page(client_for, csm), "renewals")

    for name in ("Renews day 91", "Renewed yesterday", "No renewal date"):
        assert name not in panel
    order = [
        "Within 30 days",
        "Renews today",
        "Renews day 30",
        "Within 60 days",
        "Renews day 31",
        "Within 90 days",
        "Renews day 90",
    ]
    positions = [panel.index(text) for text in order]
    assert positions == sorted(positions)
    assert "4,200 MRR" in panel
    assert "cx-badge-red" in panel
    assert "cx-badge-green" in panel


def test_renewals_panel_leaves_out_churned_and_another_csms_accounts(client_for, csm, make_user):
    AccountFactory(
        name="Churned Co", csm=csm, renewal_date=_days(10), lifecycle_stage=LifecycleStage.CHURNED
    )
    AccountFactory(name="Their Renewal", csm=make_user(Role.CSM), renewal_date=_days(10))
    AccountFactory(name="Unassigned Renewal", renewal_date=_days(10))

    panel = _panel(_page(client_for, csm), "renewals")

    assert "Churned Co" not in panel
    assert "Their Renewal" not in panel
    assert "Unassigned Renewal" not in panel
    assert "No renewals in the next 90 days." in panel


# Overdue check-ins


def test_check_ins_panel_shows_never_touched_and_silent_accounts(client_for, csm, make_user):
    AccountFactory(name="Never Touched", csm=csm)
    silent = AccountFactory(name="Long Silent", csm=csm)  # growth: every 30 days
    _touch(silent, days_ago=45)
    recent = AccountFactory(name="Recently Called", csm=csm)
    _touch(recent, days_ago=2)
    AccountFactory(name="Their Silent Account", csm=make_user(Role.CSM))

    panel = _panel(_page(client_for, csm), "check-ins")

    assert panel.index("Never Touched") < panel.index("Long Silent")
    assert "never" in panel
    assert "Recently Called" not in panel
    assert "Their Silent Account" not in panel


def test_check_ins_panel_empty_state_says_what_to_do(client_for, csm):
    recent = AccountFactory(csm=csm)
    _touch(recent, days_ago=1)
    panel = _panel(_page(client_for, csm), "check-ins")
    assert "Every account is within its check-in cadence" in panel
    assert "without a logged touchpoint" in panel


# The page as a whole


def test_panels_have_headings_and_link_to_portfolio_rows(client_for, csm):
    account = AccountFactory(name="Linked Ltd", csm=csm, renewal_date=_days(5))
    page = _page(client_for, csm)
    for heading in ("Tasks due this week", "Renewals due", "Overdue check-ins", "Portfolio"):
        assert f">{heading}</h2>" in page
    assert f'href="#account-{account.pk}"' in page
    assert f'<tr id="account-{account.pk}">' in page


def test_managers_see_the_portfolio_without_csm_panels(client_for, manager, csm):
    AccountFactory(name="Someone Else Account", csm=csm, renewal_date=_days(5))
    page = _page(client_for, manager)
    assert "Someone Else Account" in page
    assert "Renewals due" not in page


@pytest.mark.parametrize("size", [1, 20])
def test_home_query_count_is_fixed(client_for, csm, make_user, django_assert_max_num_queries, size):
    _fill_portfolio(csm, make_user, size)
    client = client_for(csm)
    with django_assert_max_num_queries(HOME_MAX_QUERIES):
        response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('href="#account-') >= 3 * size


def test_home_query_count_does_not_grow_with_the_portfolio(client_for, csm, make_user):
    client = client_for(csm)
    counts = []
    for size in (1, 20):
        _fill_portfolio(csm, make_user, size)
        with CaptureQueriesContext(connection) as queries:
            client.get(URL)
        counts.append(len(queries))
    assert counts[0] == counts[1]


def _fill_portfolio(csm, make_user, size: int) -> None:
    """`size` accounts, each renewing soon, never touched, with an overdue milestone owned by
    a colleague and one due this week owned by the CSM."""
    colleague = make_user(Role.CSM)
    for n in range(size):
        account = AccountFactory(csm=csm, renewal_date=_days(n * 4), health_band=HealthBand.GREEN)
        _milestone(account, f"Overdue {n}", -1 - n, owner=colleague)
        _milestone(account, f"This week {n}", n % 7, owner=csm)
