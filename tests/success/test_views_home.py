"""The CSM's home page (success:home): the three work panels above the portfolio — tasks
due this week, renewals due, overdue check-ins — their membership, empty states; the
portfolio table's sorts (empty values last both ways), filters, bad filter values and htmx
partial; and a query count that does not grow with the portfolio."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Role, Tier
from accounts.models import Account
from success.choices import MilestoneStatus, PlanStatus, TouchpointKind
from success.models import HealthSnapshot, PlanMilestone, SuccessPlan, Touchpoint
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


# The portfolio table: sorting, filtering, htmx


def _rows(page: str, accounts) -> list:
    """The accounts in the order the table shows them."""
    shown = [(page.index(f'<tr id="account-{a.pk}">'), a) for a in accounts]
    return [account for _position, account in sorted(shown, key=lambda pair: pair[0])]


def _snapshot(account, days_ago: int, score) -> None:
    HealthSnapshot.objects.create(account=account, day=_days(-days_ago), score=score, band="")


@pytest.fixture
def sortable(csm):
    """Alpha and Bravo have every sortable value; Charlie has none that may be empty."""
    alpha = AccountFactory(
        name="Alpha",
        csm=csm,
        health_score=80,
        health_band=HealthBand.GREEN,
        mrr=500,
        renewal_date=_days(10),
    )
    _snapshot(alpha, 7, 70)  # trend +10
    _touch(alpha, days_ago=1)
    bravo = AccountFactory(
        name="Bravo",
        csm=csm,
        health_score=40,
        health_band=HealthBand.YELLOW,
        mrr=3000,
        renewal_date=_days(100),
    )
    _snapshot(bravo, 9, 60)  # the latest on or before 7 days ago: trend -20
    _snapshot(bravo, 3, 45)  # too recent to count
    _touch(bravo, days_ago=30)
    charlie = AccountFactory(name="Charlie", csm=csm, mrr=1000)  # never scored nor touched
    return alpha, bravo, charlie


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", "ABC"),
        ("-name", "CBA"),
        ("health", "BAC"),
        ("-health", "ABC"),
        ("trend", "BAC"),
        ("-trend", "ABC"),
        ("mrr", "ACB"),
        ("-mrr", "BCA"),
        ("renewal", "ABC"),
        ("-renewal", "BAC"),
        ("last_touch", "BAC"),
        ("-last_touch", "ABC"),
    ],
)
def test_portfolio_sorts_both_ways_with_empty_values_last(
    client_for, csm, sortable, sort, expected
):
    response = client_for(csm).get(URL, {"sort": sort})

    assert response.status_code == 200
    order = "".join(a.name[0] for a in _rows(response.content.decode(), sortable))
    assert order == expected


def test_portfolio_shows_trend_and_last_touchpoint(client_for, csm, sortable):
    page = _page(client_for, csm)
    table = page[page.index('id="portfolio-rows"') :]
    assert "+10.0" in table
    assert "-20.0" in table
    assert "Never" in table


def test_sort_headers_keep_filters_and_flip_the_current_sort(client_for, csm, sortable):
    page = client_for(csm).get(URL, {"tier": "growth", "sort": "mrr"}).content.decode()

    assert 'href="/success/?tier=growth&amp;sort=-mrr"' in page  # MRR again: reversed
    assert 'href="/success/?tier=growth&amp;sort=health"' in page
    assert 'aria-sort="ascending"' in page
    assert "sorted by MRR, low to high" in page
    assert 'hx-push-url="true"' in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"band": "green"}, {"Alpha"}),
        ({"band": ["green", "yellow"]}, {"Alpha", "Bravo"}),
        ({"band": "none"}, {"Charlie", "Enterprise Co", "Renewing Co"}),
        ({"band": ["none", "yellow"]}, {"Bravo", "Charlie", "Enterprise Co", "Renewing Co"}),
        ({"tier": "enterprise"}, {"Enterprise Co"}),
        ({"stage": "renewal"}, {"Renewing Co"}),
        ({"q": "ALP"}, {"Alpha"}),
        ({"q": "co", "tier": "enterprise"}, {"Enterprise Co"}),
    ],
)
def test_portfolio_filters(client_for, csm, sortable, params, expected):
    AccountFactory(name="Enterprise Co", csm=csm, tier=Tier.ENTERPRISE)
    AccountFactory(name="Renewing Co", csm=csm, lifecycle_stage=LifecycleStage.RENEWAL)
    names = {"Alpha", "Bravo", "Charlie", "Enterprise Co", "Renewing Co"}

    page = client_for(csm).get(URL, params).content.decode()
    table = page[page.index('id="portfolio-rows"') :]

    assert {name for name in names if f">{name}</a>" in table} == expected
    assert "match" in table


def test_filters_never_widen_a_csms_portfolio(client_for, csm, make_user):
    AccountFactory(name="Their Red Co", csm=make_user(Role.CSM), health_band=HealthBand.RED)
    page = client_for(csm).get(URL, {"band": "red"}).content.decode()
    assert "Their Red Co" not in page


def test_no_match_empty_state_offers_to_clear_filters(client_for, csm, sortable):
    page = client_for(csm).get(URL, {"q": "nothing like this"}).content.decode()
    assert "No accounts match these filters." in page
    assert 'value="nothing like this"' in page  # what was typed stays
    assert '<a href="/success/">Clear filters</a>' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"band": "purple"}, "Health band: Select a valid choice. purple is not one of"),
        ({"tier": "platinum"}, "Tier: Select a valid choice."),
        ({"stage": "dormant"}, "Lifecycle stage: Select a valid choice."),
        ({"sort": "colour"}, "Sort: Select a valid choice."),
        ({"q": "x" * 201}, "Name contains: Ensure this value has at most 200 characters"),
    ],
)
def test_bad_filter_values_are_explained_with_400(client_for, csm, sortable, params, message):
    response = client_for(csm).get(URL, params)

    assert response.status_code == 400
    page = response.content.decode()
    assert "These filters cannot be applied" in page
    assert message in page
    assert "Tasks due this week" in page  # the page itself still works


def test_htmx_gets_only_the_table(client_for, csm, sortable):
    response = client_for(csm).get(URL, {"sort": "-mrr"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="portfolio-rows">')
    assert "Tasks due this week" not in page
    assert "<html" not in page
    assert _rows(page, sortable)[0].name == "Bravo"
    assert 'name="sort" value="-mrr" form="portfolio-filters"' in page
    assert "HX-Request" in response["Vary"]


def test_htmx_bad_filter_gets_the_table_with_the_error(client_for, csm):
    response = client_for(csm).get(URL, {"band": "purple"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "These filters cannot be applied" in response.content.decode()


def test_history_restore_gets_the_whole_page(client_for, csm):
    response = client_for(csm).get(
        URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


PORTFOLIO_SIZE = 200


def _big_portfolio(csm) -> None:
    """200 accounts, each with two snapshots and two touchpoints, some never scored."""
    accounts = Account.objects.bulk_create(
        Account(
            name=f"Bulk {n:03}",
            csm=csm,
            tier=Tier.GROWTH,
            mrr=n * 10,
            health_score=None if n % 10 == 0 else 30 + n % 60,
            health_band="" if n % 10 == 0 else HealthBand.GREEN,
            renewal_date=None if n % 7 == 0 else _days(n),
        )
        for n in range(PORTFOLIO_SIZE)
    )
    HealthSnapshot.objects.bulk_create(
        HealthSnapshot(account=account, day=_days(-days), score=50 + n % 30, band="")
        for n, account in enumerate(accounts)
        for days in (7, 14)
    )
    now = timezone.now()
    Touchpoint.objects.bulk_create(
        Touchpoint(
            account=account,
            kind=TouchpointKind.CALL,
            happened_at=now - datetime.timedelta(days=n % 40 + days),
            summary="Call",
        )
        for n, account in enumerate(accounts)
        if n % 5
        for days in (1, 20)
    )


@pytest.mark.parametrize("sort", ["trend", "-last_touch", "health", "-renewal"])
def test_portfolio_of_200_runs_a_fixed_number_of_queries(
    client_for, csm, django_assert_max_num_queries, sort
):
    _big_portfolio(csm)
    client = client_for(csm)

    with django_assert_max_num_queries(HOME_MAX_QUERIES):
        page = client.get(URL, {"sort": sort, "tier": "growth"}).content.decode()
    assert page.count('<tr id="account-') == PORTFOLIO_SIZE

    # The table alone: session, user and the portfolio.
    with django_assert_max_num_queries(3):
        client.get(URL, {"sort": sort}, HTTP_HX_REQUEST="true")


def test_portfolio_beyond_the_limit_says_so(client_for, manager, settings, monkeypatch):
    monkeypatch.setattr("success.views.PORTFOLIO_LIMIT", 3)
    for n in range(5):
        AccountFactory(name=f"Many {n}")
    page = client_for(manager).get(URL).content.decode()
    assert page.count('<tr id="account-') == 3
    assert "first 3 shown; narrow them with the filters" in page
