"""The Account 360's health, usage and NPS panels: the health explained from stored
snapshots, the override never hidden, "no data" never shown as 0, NPS from its responses,
and a query count that does not grow with 90 days of history."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import HealthBand, Role
from success.health import (
    HealthInputs,
    ProductUsageInputs,
    SupportExperienceInputs,
    explain_change,
    health_score,
    result_from_json,
)
from success.models import HealthSnapshot, NpsResponse, UsageDaily
from success.selectors import account_health_context, account_nps_panel
from success.services import health_components_json, health_override_set, health_snapshot_store
from tests.factories import AccountFactory, ContactFactory, NpsResponseFactory

# Last week: usage 62 % -> 70, support 1 SLA breach -> 80: (30 x 70 + 20 x 80) / 50 = 74.
LAST_WEEK = health_score(
    HealthInputs(
        product_usage=ProductUsageInputs(utilisation_pct=62.0),
        support_experience=SupportExperienceInputs(sla_breaches=1),
    )
)
# Today: support 3 SLA breaches -> 40: (30 x 70 + 20 x 40) / 50 = 58.
TODAY = health_score(
    HealthInputs(
        product_usage=ProductUsageInputs(utilisation_pct=62.0),
        support_experience=SupportExperienceInputs(sla_breaches=3),
    )
)
EXPLANATION = "Health fell 74 → 58 since last week: support experience 80 → 40 (3 SLA breaches)"

# The health, usage and NPS panels: the health model, the latest snapshot, the one a week
# before, the 90-day series, active users and seats, key features, the last NPS responses
# and the NPS counts (the override comes with the header).
PANEL_QUERIES = 8


def _today() -> datetime.date:
    return timezone.localdate()


def _days(n: int) -> datetime.date:
    return _today() + datetime.timedelta(days=n)


def _url(account) -> str:
    return reverse("success:account-detail", args=[account.pk])


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


def _page(client_for, user, account) -> str:
    response = client_for(user).get(_url(account))
    assert response.status_code == 200
    return response.content.decode()


def _scored(account) -> None:
    health_snapshot_store(account=account, day=_days(-7), result=LAST_WEEK)
    health_snapshot_store(account=account, day=_today(), result=TODAY)


def test_results_used_here_score_as_the_tests_assume():
    assert (LAST_WEEK.score, TODAY.score) == (74.0, 58.0)


# Health


def test_health_explains_the_change_since_last_week(client_for, csm):
    account = AccountFactory(csm=csm)
    _scored(account)

    health = _section(_page(client_for, csm, account), "health")

    assert EXPLANATION in health
    assert 'class="fs-3 fw-semibold cx-health-score"' in health
    assert ">58<" in health
    assert "At risk" in health
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="cx-chart cx-chart-health"' in health
    assert "2 days scored (n)" in health


def test_breakdown_shows_weights_contributions_and_facts(client_for, csm):
    account = AccountFactory(csm=csm)
    _scored(account)

    health = _section(_page(client_for, csm, account), "health")
    support = health[health.index('data-component="support_experience"') :]
    support = support[: support.index("</tr>")]

    assert "Support experience" in support
    assert ">40<" in support  # score
    assert ">20<" in support  # weight
    assert ">40 %<" in support  # counts for 20 of 50
    assert ">16.0<" in support  # points
    assert "3 SLA breaches" in support


def test_no_data_is_shown_as_no_data_not_zero(client_for, csm):
    account = AccountFactory(csm=csm)
    _scored(account)

    health = _section(_page(client_for, csm, account), "health")
    sentiment = health[health.index('data-component="sentiment"') :]
    sentiment = sentiment[: sentiment.index("</tr>")]

    assert "no data" in sentiment
    assert "left out" in sentiment
    assert ">0<" not in sentiment
    assert ">0.0<" not in sentiment


def test_without_a_snapshot_a_week_earlier_it_says_so(client_for, csm):
    account = AccountFactory(csm=csm)
    health_snapshot_store(account=account, day=_today(), result=TODAY)

    health = _section(_page(client_for, csm, account), "health")

    assert "No score from a week earlier to compare with yet." in health
    assert "1 day scored (n)" in health


def test_a_snapshot_too_old_is_not_compared_as_last_week(db):
    account = AccountFactory()
    health_snapshot_store(account=account, day=_days(-30), result=LAST_WEEK)
    health_snapshot_store(account=account, day=_today(), result=TODAY)

    health = account_health_context(account=account, today=_today())["health"]

    assert health.previous is None
    assert health.explanation == ""


def test_the_override_is_shown_with_reason_who_and_expiry(client_for, csm):
    account = AccountFactory(csm=csm)
    _scored(account)
    expires = _days(10)
    health_override_set(
        account=account,
        band=HealthBand.GREEN,
        reason="Exec sponsor renewed <verbally>",
        expires_on=expires,
        acting_user=csm,
    )

    health = _section(_page(client_for, csm, account), "health")

    override = health[health.index('id="health-override"') :]
    assert "Overridden" in override
    assert "Band set to <strong>Healthy</strong> by Casey Success" in override
    assert f"until {expires:%-d %b %Y}" in override
    assert "Exec sponsor renewed &lt;verbally&gt;" in override
    assert "shown as Healthy while the override lasts" in health
    assert EXPLANATION in health  # the computed story is still told


def test_an_expired_override_is_still_shown_as_expired(client_for, csm):
    account = AccountFactory(csm=csm)
    _scored(account)
    health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Watch them",
        expires_on=_today(),
        acting_user=csm,
    )

    health = account_health_context(account=account, today=_days(1))["health"]

    assert health.override.reason == "Watch them"
    assert health.override_in_force is False


def test_not_scored_yet_empty_state(client_for, csm):
    health = _section(_page(client_for, csm, AccountFactory(csm=csm)), "health")

    assert (
        "Not scored yet: health is computed nightly once usage, support or survey data exists"
        in health
    )
    assert "<svg" not in health


def test_explanation_from_stored_rows_matches_the_live_one():
    previous = result_from_json("74.0", "yellow", health_components_json(LAST_WEEK))
    current = result_from_json("58.0", "yellow", health_components_json(TODAY))

    assert explain_change(previous, current) == explain_change(LAST_WEEK, TODAY) == EXPLANATION


def test_stored_rows_that_no_longer_fit_are_read_without_facts():
    rows = [
        {"key": "product_usage", "label": "Usage", "raw": {"utilisation_pct": -5}, "score": 10},
        {"key": "sentiment", "raw": {"nps": 20, "unknown_field": 1}, "score": "60"},
        "garbage",
    ]

    result = result_from_json(None, "", rows)

    assert result.score is None
    assert result.band is None
    usage, sentiment = result.components
    assert (usage.raw, usage.score) == (None, 10.0)
    assert sentiment.raw.facts() == ("NPS +20",)
    assert (sentiment.label, sentiment.score, sentiment.weight) == ("sentiment", 60.0, 0.0)


# Usage


def test_usage_shows_active_users_seats_and_key_features(client_for, csm):
    account = AccountFactory(csm=csm, seats=50)
    for n in range(10):
        UsageDaily.objects.create(
            account=account, day=_days(-n), metric="active_users", value=30 + n
        )
    UsageDaily.objects.create(account=account, day=_days(-2), metric="feature_reports", value=4)
    UsageDaily.objects.create(account=account, day=_days(-1), metric="feature_reports", value=7)
    UsageDaily.objects.create(account=account, day=_days(-200), metric="feature_old", value=1)

    usage = _section(_page(client_for, csm, account), "usage")

    assert "30</span> active users of 50 seats" in usage
    assert "(60 % utilisation)" in usage
    assert "cx-chart-usage" in usage
    assert "10 days with data (n)" in usage
    assert 'title="feature_reports">Reports</th><td class="text-end">7</td>' in usage
    assert "feature_old" not in usage


def test_usage_empty_state(client_for, csm):
    usage = _section(_page(client_for, csm, AccountFactory(csm=csm)), "usage")

    assert "No product usage yet." in usage


# NPS


def test_nps_over_180_days_and_the_last_five_responses(client_for, csm):
    account = AccountFactory(csm=csm)
    person = ContactFactory(account=account, name="Dana Detractor")
    now = timezone.now()
    for days_ago, score in [(1, 10), (2, 9), (3, 9), (4, 7), (5, 3), (200, 0)]:
        NpsResponseFactory(
            account=account,
            contact=person,
            score=score,
            reason=f"Reason {days_ago} <b>",
            responded_at=now - datetime.timedelta(days=days_ago),
        )

    nps = _section(_page(client_for, csm, account), "nps")

    # 3 promoters, 1 passive, 1 detractor of 5 in the window: 100 x (3 - 1) / 5 = +40.
    assert '<span class="fs-5 fw-semibold" id="nps-score">+40</span>' in nps
    assert "n = 5" in nps
    assert "small sample" in nps
    assert "3 promoters · 1 passive · 1 detractor" in nps
    assert nps.count("<li") == 5
    assert "Reason 5 &lt;b&gt;" in nps
    assert "Reason 200" not in nps  # the sixth response is neither listed nor counted
    assert "3 · Detractor" in nps
    assert "Dana Detractor" in nps


def test_nps_counts_only_the_accounts_own_responses(db):
    account = AccountFactory()
    NpsResponseFactory(account=account, score=0)
    NpsResponseFactory(score=10)  # another account

    panel = account_nps_panel(account=account, today=_today(), window_days=180)

    assert (panel.responses, panel.detractors, panel.nps, panel.nps_text) == (1, 1, -100, "-100")


def test_nps_empty_state(client_for, csm):
    nps = _section(_page(client_for, csm, AccountFactory(csm=csm)), "nps")

    assert "No NPS responses yet." in nps


def test_nps_score_must_be_0_to_10(db):
    with pytest.raises(IntegrityError):
        NpsResponseFactory(score=11)


def test_deleting_the_contact_keeps_the_response(db):
    response = NpsResponseFactory(score=8)
    response.contact.delete()

    response.refresh_from_db()
    assert response.contact is None


def test_a_response_contact_must_be_at_the_account(db):
    response = NpsResponseFactory.build(account=AccountFactory(), contact=ContactFactory(), score=5)

    with pytest.raises(ValidationError, match="This person is not at this account"):
        response.full_clean()


# Who may see it: the panels live on the Account 360, whose permissions
# tests/success/test_views_account.py covers; one check that nothing leaks here.


def test_another_csms_account_health_is_not_shown(client_for, csm, make_user):
    account = AccountFactory(csm=make_user(Role.CSM))
    _scored(account)

    assert client_for(csm).get(_url(account)).status_code == 404


# Queries


def test_panels_run_a_fixed_number_of_queries(db, django_assert_num_queries):
    account = AccountFactory(seats=10)
    _scored(account)
    NpsResponseFactory(account=account)

    with django_assert_num_queries(PANEL_QUERIES + 1):  # + the override
        account_health_context(account=account, today=_today())
    with django_assert_num_queries(PANEL_QUERIES):
        account_health_context(account=account, today=_today(), override=None)


def _history(account, days: int) -> None:
    for n in range(days):
        health_snapshot_store(account=account, day=_days(-n), result=TODAY)
        UsageDaily.objects.create(account=account, day=_days(-n), metric="active_users", value=n)
        UsageDaily.objects.create(account=account, day=_days(-n), metric="seats", value=50)
        UsageDaily.objects.create(account=account, day=_days(-n), metric="feature_api", value=n)
    for _ in range(min(days, 12)):
        NpsResponseFactory(account=account, score=days % 11)


def _count_queries(client, account) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(account))
    assert response.status_code == 200
    return len(queries)


def test_account_page_query_count_is_the_same_with_1_or_90_days(client_for, csm):
    small, large = AccountFactory(csm=csm), AccountFactory(csm=csm)
    _history(small, 1)
    _history(large, 90)
    client = client_for(csm)
    _count_queries(client, small)  # warm the session and caches alike

    assert _count_queries(client, small) == _count_queries(client, large)
    assert HealthSnapshot.objects.filter(account=large).count() == 90
    assert NpsResponse.objects.filter(account=large).count() == 12


@pytest.mark.parametrize("days", [1, 90])
def test_account_page_with_health_history_is_pinned(
    client_for, csm, django_assert_max_num_queries, days
):
    from tests.success.test_views_account import ACCOUNT_MAX_QUERIES

    account = AccountFactory(csm=csm)
    _history(account, days)
    client = client_for(csm)

    with django_assert_max_num_queries(ACCOUNT_MAX_QUERIES):
        response = client.get(_url(account))

    assert response.status_code == 200
