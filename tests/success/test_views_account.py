"""Account 360 (success:account-detail): who may open it, each section with data and empty,
escaping of what people typed, and a query count that does not grow with the account."""

import datetime
import decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Role, Tier
from success.choices import (
    MilestoneStatus,
    PlanStatus,
    RevenueEventKind,
    SubscriptionStatus,
    TouchpointKind,
)
from success.models import PlanMilestone, RevenueEvent, Subscription, SuccessPlan, Touchpoint
from tests.factories import AccountFactory, ContactFactory

# Session, user, the account, its contacts, the active override and its author, plans with
# objectives and milestones (3), plan templates, touchpoints with participants (2),
# subscriptions, revenue events, the health model, snapshots (2: latest pair and the 90-day
# series), usage (2), NPS (2) and the notifications bell count. The support panel and the
# timeline are loaded by htmx from metrics and pinned in tests/metrics.
ACCOUNT_MAX_QUERIES = 22


def _url(account) -> str:
    return reverse("success:account-detail", args=[account.pk])


def _today() -> datetime.date:
    return timezone.localdate()


def _days(n: int) -> datetime.date:
    return _today() + datetime.timedelta(days=n)


def _page(client_for, user, account) -> str:
    response = client_for(user).get(_url(account))
    assert response.status_code == 200
    return response.content.decode()


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


def _plan(account, title="Adoption", *, milestones=()):
    plan = SuccessPlan.objects.create(
        account=account, title=title, status=PlanStatus.ACTIVE, start_date=_days(-60)
    )
    for position, (name, due_in_days, status) in enumerate(milestones):
        PlanMilestone.objects.create(
            plan=plan,
            title=name,
            due_date=_days(due_in_days),
            status=status,
            done_at=_today() if status == MilestoneStatus.DONE else None,
            position=position,
        )
    return plan


def _touch(account, *, days_ago=1, summary="Catch-up", next_steps="", participants=()):
    touchpoint = Touchpoint.objects.create(
        account=account,
        kind=TouchpointKind.CALL,
        happened_at=timezone.now() - datetime.timedelta(days=days_ago),
        summary=summary,
        next_steps=next_steps,
    )
    touchpoint.participants.set(participants)
    return touchpoint


def _subscription(account, plan_name="Pro"):
    return Subscription.objects.create(
        account=account,
        plan_name=plan_name,
        seats=25,
        mrr=decimal.Decimal("1200"),
        start_date=_days(-300),
        end_date=_days(65),
        status=SubscriptionStatus.ACTIVE,
    )


def _event(account, *, kind=RevenueEventKind.EXPANSION, delta="300", days_ago=10, reason=""):
    return RevenueEvent.objects.create(
        account=account,
        kind=kind,
        date=_days(-days_ago),
        mrr_delta=decimal.Decimal(delta),
        reason=reason,
    )


# Who may open it


def test_csm_opens_own_account(client_for, csm):
    account = AccountFactory(name="Acme", csm=csm)

    page = _page(client_for, csm, account)

    assert "<title>Acme · CX Platform</title>" in page


def test_csm_gets_404_for_another_csms_account(client_for, csm, make_user):
    account = AccountFactory(csm=make_user(Role.CSM))

    assert client_for(csm).get(_url(account)).status_code == 404


def test_csm_gets_404_for_unassigned_account(client_for, csm):
    assert client_for(csm).get(_url(AccountFactory(csm=None))).status_code == 404


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_open_any_account(client_for, make_user, role):
    account = AccountFactory(csm=make_user(Role.CSM))

    assert client_for(make_user(role)).get(_url(account)).status_code == 200


@pytest.mark.parametrize("role", [Role.AGENT, Role.CUSTOMER])
def test_agents_and_customers_are_refused(client_for, make_user, role):
    user = make_user(role)
    account = AccountFactory(csm=make_user(Role.CSM))

    assert client_for(user).get(_url(account)).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, db):
    account = AccountFactory()

    response = client.get(_url(account))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_account_is_404(client_for, manager):
    assert client_for(manager).get("/success/accounts/999999/").status_code == 404


def test_home_portfolio_links_each_account_to_its_page(client_for, csm):
    account = AccountFactory(name="Acme", csm=csm)

    page = client_for(csm).get(reverse("success:home")).content.decode()

    assert f'href="{_url(account)}">Acme</a>' in page


# Header


def test_header_shows_the_account_facts_and_health(client_for, csm):
    account = AccountFactory(
        name="Acme",
        csm=csm,
        tier=Tier.ENTERPRISE,
        lifecycle_stage=LifecycleStage.ADOPTION,
        mrr=decimal.Decimal("12500"),
        seats=140,
        renewal_date=datetime.date(2031, 3, 4),
        health_band=HealthBand.RED,
        health_score=decimal.Decimal("31.0"),
    )

    header = _section(_page(client_for, csm, account), "account-header").split("</header>")[0]

    for text in ("Acme", "Enterprise", "Adoption", "Casey Success", "12,500", "140"):
        assert text in header
    assert "4 Mar 2031" in header
    assert "cx-badge-red" in header
    assert "Not scored yet" not in header


def test_header_says_not_scored_yet_without_a_band(client_for, csm):
    account = AccountFactory(csm=csm, health_band="", seats=None)

    header = _section(_page(client_for, csm, account), "account-header").split("</header>")[0]

    assert "Not scored yet" in header
    assert "Not set" in header  # no renewal date


# Success plans


def test_plans_show_percent_status_and_overdue_milestones(client_for, csm):
    account = AccountFactory(csm=csm)
    _plan(
        account,
        "Rollout",
        milestones=[
            ("Kick-off", -30, MilestoneStatus.DONE),
            ("Training", -10, MilestoneStatus.TODO),
            ("Dropped step", -20, MilestoneStatus.SKIPPED),
            ("Go-live", 20, MilestoneStatus.TODO),
        ],
    )
    _plan(account, "Expansion", milestones=[("Scope", 30, MilestoneStatus.TODO)])

    section = _section(_page(client_for, csm, account), "plans")

    assert "Rollout" in section
    assert "33% done" in section  # 1 of 3 counted; skipped left out
    assert "Off track" in section  # Training is 10 days late
    assert "Training" in section
    assert section.count("Overdue") == 1
    assert "Dropped step" not in section
    assert "On track" in section  # Expansion
    assert "0% done" in section


def test_plans_empty_state(client_for, csm):
    section = _section(_page(client_for, csm, AccountFactory(csm=csm)), "plans")

    assert "No success plan yet." in section


# Touchpoints


def test_touchpoints_show_the_ten_most_recent_with_details(client_for, csm):
    account = AccountFactory(csm=csm, tier=Tier.GROWTH)
    person = ContactFactory(account=account, name="Pat Buyer")
    _touch(
        account,
        days_ago=2,
        summary="Quarterly review went well",
        next_steps="Send the roadmap",
        participants=[person],
    )
    for day in range(3, 15):
        _touch(account, days_ago=day, summary=f"Older call {day}")

    section = _section(_page(client_for, csm, account), "touchpoints")

    assert "Quarterly review went well" in section
    assert "Send the roadmap" in section
    assert "with Pat Buyer</span>" in section  # names, not email addresses
    assert "Call" in section
    assert "Older call 11" in section
    assert "Older call 12" not in section  # the 11th most recent
    assert "Check-in every 30 days" in section
    assert "Within cadence" in section


def test_touchpoints_flag_an_overdue_check_in(client_for, csm):
    account = AccountFactory(csm=csm, tier=Tier.ENTERPRISE)
    _touch(account, days_ago=20)

    section = _section(_page(client_for, csm, account), "touchpoints")

    assert "Check-in every 14 days" in section
    assert "Check-in overdue" in section


def test_touchpoints_empty_state_and_never_touched_is_overdue(client_for, csm):
    account = AccountFactory(csm=csm, tier=Tier.STARTER)

    section = _section(_page(client_for, csm, account), "touchpoints")

    assert "No touchpoints logged yet." in section
    assert "Check-in overdue" in section
    assert "every 60 days" in section


def test_user_text_is_escaped(client_for, csm):
    account = AccountFactory(csm=csm, name="<b>Acme</b>")
    _touch(account, summary="<script>alert(1)</script>", next_steps="<img src=x>")

    page = _page(client_for, csm, account)

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page
    assert "<b>Acme</b>" not in page


# Revenue


def test_revenue_shows_subscriptions_and_ten_latest_events(client_for, csm):
    account = AccountFactory(csm=csm)
    _subscription(account, "Enterprise annual")
    _event(account, kind=RevenueEventKind.CHURN, delta="-500", days_ago=1, reason="Budget cut")
    for day in range(2, 13):
        _event(account, delta=str(day), days_ago=day)

    section = _section(_page(client_for, csm, account), "revenue")

    assert "Enterprise annual" in section
    assert "1,200" in section
    assert "Churn" in section
    assert "-500" in section
    assert "Budget cut" in section
    assert "+10" in section  # the 10th latest
    assert "+11" not in section


def test_revenue_empty_state(client_for, csm):
    section = _section(_page(client_for, csm, AccountFactory(csm=csm)), "revenue")

    assert "No subscriptions or revenue events yet." in section


# Contacts


def test_contacts_of_the_account_only(client_for, csm):
    account = AccountFactory(csm=csm)
    ContactFactory(account=account, name="Pat Buyer", title="VP Ops", is_account_admin=True)
    ContactFactory(account=AccountFactory(), name="Someone Else")

    section = _section(_page(client_for, csm, account), "contacts")

    assert "Pat Buyer" in section
    assert "VP Ops" in section
    assert "Account admin" in section
    assert "Someone Else" not in section


def test_contacts_empty_state(client_for, csm):
    section = _section(_page(client_for, csm, AccountFactory(csm=csm)), "contacts")

    assert "No contacts at this account." in section


# Queries


@pytest.mark.parametrize("size", [1, 20])
def test_account_page_query_count_is_fixed(client_for, csm, django_assert_max_num_queries, size):
    account = AccountFactory(csm=csm, health_band=HealthBand.GREEN)
    people = [ContactFactory(account=account) for _ in range(size)]
    for n in range(size):
        _plan(
            account,
            f"Plan {n}",
            milestones=[("Past", -2, MilestoneStatus.TODO), ("Done", -5, MilestoneStatus.DONE)],
        )
        _touch(account, days_ago=n + 1, participants=people[:2])
        _subscription(account, f"Plan {n}")
        _event(account, days_ago=n + 1)
    client = client_for(csm)

    with django_assert_max_num_queries(ACCOUNT_MAX_QUERIES):
        response = client.get(_url(account))

    assert response.status_code == 200


def test_support_panel_and_timeline_load_from_metrics(client_for, csm):
    """Success never reads support: the page asks metrics for those two sections."""
    account = AccountFactory(csm=csm)

    page = _page(client_for, csm, account)

    assert f'hx-get="{reverse("metrics:account-support", args=[account.pk])}"' in page
    assert f'hx-get="{reverse("metrics:account-timeline", args=[account.pk])}"' in page
