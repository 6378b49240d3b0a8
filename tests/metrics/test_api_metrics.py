"""GET /api/v1/metrics/{name}/: the reports' numbers over the API (the same selectors), bad
periods and names, and who may read whose numbers."""

import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.choices import Role
from metrics.catalogue import COMPANY_ID, TIER_IDS, pool
from metrics.models import MetricSnapshot, SubjectKind
from metrics.selectors.reports import Period, retention
from success.models import RevenueEvent
from tests.api_helpers import (
    assert_not_authenticated,
    assert_scope_missing,
    bearer_client,
    error_of,
    scopes_except,
)
from tests.factories import AccountFactory, TeamFactory
from tests.metrics.test_reports import END, PERIOD, START, durations, fill_support_days, snap

pytestmark = pytest.mark.django_db

SUPPORT = reverse("metrics:report-support")
SUCCESS = reverse("metrics:report-success")


def api(user, scopes=("metrics:read",)) -> APIClient:
    """A token client with `metrics:read` unless told otherwise."""
    return bearer_client(user, scopes)


def card(response, name):
    return next(c for c in response.context["report"].cards if c.name == name)


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN)


# --- the same numbers as the reports ------------------------------------------------------


def test_csat_equals_the_support_reports_card(manager, client_for):
    fill_support_days(14)

    body = api(manager).get(f"/api/v1/metrics/csat/?{PERIOD}").json()
    report = client_for(manager).get(f"{SUPPORT}?{PERIOD}")

    assert body["value"] == card(report, "csat").value
    assert body["n"] == card(report, "csat").sample_size == 70
    assert body["unit"] == "percent"
    assert body["from"] == START.isoformat()
    assert body["to"] == END.isoformat()
    assert body["definition"].startswith("100 * ratings of 4 or 5")
    assert body["metric"] == "csat"


def test_durations_give_the_median_mean_and_p90_in_hours(manager, client_for):
    fill_support_days(14)
    client = api(manager)

    business = client.get(f"/api/v1/metrics/first_response_time/?{PERIOD}").json()
    calendar = client.get(f"/api/v1/metrics/first_response_time/?{PERIOD}&calendar=calendar").json()
    report = client_for(manager).get(f"{SUPPORT}?{PERIOD}")

    frt = pool(
        "first_response_time",
        [r.parts for r in MetricSnapshot.objects.filter(metric="first_response_time")],
    )
    assert business["value"] == card(report, "first_response_time").value
    assert business["value"] == round(frt.median / 3600, 2)
    assert business["p90"] == round(frt.p90 / 3600, 2)
    assert business["mean"] == round(frt.mean / 3600, 2) == 9.6  # (1+2+2+3+40) / 5
    assert business["n"] == 70
    assert business["unit"] == "hours"
    assert calendar["value"] == card(report, "first_response_time_calendar").value
    assert calendar["n"] == 42


def test_backlog_is_the_last_day_of_the_period(manager):
    fill_support_days(14)

    body = api(manager).get(f"/api/v1/metrics/backlog/?{PERIOD}").json()

    assert body["value"] == 113
    assert body["unit"] == "count"


def test_retention_metrics_equal_the_success_reports(manager, client_for):
    kept, lost = AccountFactory.create_batch(2)
    before = START - datetime.timedelta(days=30)
    RevenueEvent.objects.create(account=kept, kind="new", date=before, mrr_delta=1000)
    RevenueEvent.objects.create(account=kept, kind="expansion", date=START, mrr_delta=200)
    RevenueEvent.objects.create(account=lost, kind="new", date=before, mrr_delta=500)
    RevenueEvent.objects.create(
        account=lost, kind="churn", date=START, mrr_delta=-500, reason="budget"
    )
    client = api(manager)
    report = client_for(manager).get(f"{SUCCESS}?{PERIOD}").context["report"]
    section = report.sections["retention"]

    values = {
        name: client.get(f"/api/v1/metrics/{name}/?{PERIOD}").json()
        for name in ("logo_retention", "logo_churn", "grr", "nrr", "expansion")
    }

    assert values["grr"]["value"] == round(section.grr, 1) == 66.7
    assert values["nrr"]["value"] == round(section.nrr, 1) == 80.0
    assert values["logo_retention"]["value"] == section.logo_retention == 50.0
    assert values["logo_churn"]["value"] == 50.0
    assert values["expansion"]["value"] == 200.0
    assert values["expansion"]["unit"] == "money"
    assert {body["n"] for body in values.values()} == {2}
    assert section == retention(subject=report.subject, period=Period(START, END))


def test_nps_and_licence_utilisation_by_tier(manager):
    tier = TIER_IDS["enterprise"]
    snap("nps", START, {"promoters": 6, "detractors": 2, "responses": 10}, SubjectKind.TIER, tier)
    snap(
        "licence_utilisation",
        START,
        {"numerator": 30, "denominator": 40},
        SubjectKind.TIER,
        tier,
    )
    client = api(manager)

    nps = client.get(f"/api/v1/metrics/nps/?{PERIOD}&tier=enterprise").json()
    usage = client.get(f"/api/v1/metrics/license_utilization/?{PERIOD}&tier=enterprise").json()

    assert (nps["value"], nps["n"], nps["unit"]) == (40.0, 10, "score")
    assert (usage["value"], usage["unit"]) == (75.0, "percent")


def test_an_account_subject_reads_the_accounts_snapshots(manager):
    account = AccountFactory()
    snap("csat", START, {"numerator": 1, "denominator": 4}, SubjectKind.ACCOUNT, account.pk)
    snap("csat", START, {"numerator": 4, "denominator": 4})

    body = api(manager).get(f"/api/v1/metrics/csat/?{PERIOD}&account={account.pk}").json()

    assert (body["value"], body["n"]) == (25.0, 4)


def test_no_data_is_null_with_n_zero(manager):
    client = api(manager)

    for name in ("csat", "resolution_time", "grr", "backlog", "nps"):
        body = client.get(f"/api/v1/metrics/{name}/?{PERIOD}").json()
        assert (body["value"], body["n"]) == (None, 0), name


def test_sla_compliance_may_name_its_target(manager):
    snap("sla_tickets", START, {"numerator": 1, "denominator": 2})
    snap("sla_first_response", START, {"numerator": 3, "denominator": 4})
    client = api(manager)

    tickets = client.get(f"/api/v1/metrics/sla_compliance/?{PERIOD}").json()
    first = client.get(f"/api/v1/metrics/sla_compliance/?{PERIOD}&target=first_response").json()

    assert (tickets["value"], first["value"]) == (50.0, 75.0)


# --- bad requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("from=2026-03-10&to=2026-03-01", "must be before"),
        ("from=2026-03-01&to=10000-01-01", "not a date"),
        ("from=yesterday&to=2026-03-01", "not a date"),
        ("from=1900-01-01&to=2026-03-01", "must lie between"),
        (f"{PERIOD}&team=1&agent=2", "Choose one"),
        (f"{PERIOD}&account=x", "account"),
        (f"{PERIOD}&colour=red", "Unknown parameter"),
        (f"{PERIOD}&calendar=lunar", "business or calendar"),
        (f"{PERIOD}&target=resolution", ""),  # only sla_compliance has targets
    ],
)
def test_bad_queries_are_400s_in_the_error_shape(manager, query, words):
    response = api(manager).get(f"/api/v1/metrics/csat/?{query}")

    assert response.status_code == 400
    assert words in str(error_of(response))


def test_a_metric_not_kept_for_the_subject_is_a_400_that_says_which_are(manager):
    account = AccountFactory()

    response = api(manager).get(f"/api/v1/metrics/backlog/?{PERIOD}&account={account.pk}")

    assert response.status_code == 400
    assert "not kept for an account" in error_of(response)["message"]


def test_an_unknown_metric_is_a_404(manager):
    response = api(manager).get(f"/api/v1/metrics/happiness/?{PERIOD}")

    assert response.status_code == 404
    assert "nps" in error_of(response)["message"]


def test_an_unknown_team_or_account_is_a_404(manager):
    client = api(manager)

    assert client.get(f"/api/v1/metrics/csat/?{PERIOD}&team=999999").status_code == 404
    assert client.get(f"/api/v1/metrics/csat/?{PERIOD}&account=999999").status_code == 404


# --- who may read what --------------------------------------------------------------------


def test_anonymous_callers_get_401():
    assert_not_authenticated(APIClient().get(f"/api/v1/metrics/csat/?{PERIOD}"))


def test_a_token_without_metrics_read_gets_403(admin):
    response = api(admin, scopes_except("metrics:read")).get(f"/api/v1/metrics/csat/?{PERIOD}")

    assert_scope_missing(response, "metrics:read")


def test_customers_get_403(make_user):
    response = api(make_user(Role.CUSTOMER)).get(f"/api/v1/metrics/csat/?{PERIOD}")

    assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_read_every_subject(role, make_user):
    team = TeamFactory()
    client = api(make_user(role))

    for query in ("", f"&team={team.pk}", "&tier=growth", f"&account={AccountFactory().pk}"):
        assert client.get(f"/api/v1/metrics/csat/?{PERIOD}{query}").status_code == 200


def test_an_agent_reads_their_own_numbers_by_default_and_their_teams(agent, make_user):
    team, other_team = TeamFactory(), TeamFactory()
    agent.teams.add(team)
    snap("csat", START, {"numerator": 1, "denominator": 2}, SubjectKind.AGENT, agent.pk)
    snap("csat", START, {"numerator": 2, "denominator": 2})
    client = api(agent)

    own = client.get(f"/api/v1/metrics/csat/?{PERIOD}")

    assert own.json()["value"] == 50.0
    assert client.get(f"/api/v1/metrics/csat/?{PERIOD}&team={team.pk}").status_code == 200
    for query in (
        f"&team={other_team.pk}",
        f"&agent={make_user(Role.AGENT).pk}",
        "&tier=growth",
        f"&account={AccountFactory().pk}",
    ):
        response = client.get(f"/api/v1/metrics/csat/?{PERIOD}{query}")
        assert response.status_code == 403, query
        assert error_of(response)["code"] == "permission_denied"


def test_an_agent_cannot_read_the_success_metrics(agent):
    for name in ("nps", "grr", "license_utilization"):
        response = api(agent).get(f"/api/v1/metrics/{name}/?{PERIOD}")
        assert response.status_code == 403, name


def test_a_csm_reads_their_portfolio_and_its_accounts_only(csm, make_user):
    own = AccountFactory(csm=csm)
    other_csm = make_user(Role.CSM)
    foreign = AccountFactory(csm=other_csm)
    snap("nps", START, {"promoters": 1, "detractors": 0, "responses": 1}, SubjectKind.CSM, csm.pk)
    snap("nps", START, {"promoters": 0, "detractors": 1, "responses": 1})
    snap("csat", START, {"numerator": 1, "denominator": 1}, SubjectKind.ACCOUNT, own.pk)
    client = api(csm)

    mine = client.get(f"/api/v1/metrics/nps/?{PERIOD}")
    account = client.get(f"/api/v1/metrics/csat/?{PERIOD}&account={own.pk}")
    foreign_account = client.get(f"/api/v1/metrics/csat/?{PERIOD}&account={foreign.pk}")
    other_portfolio = client.get(f"/api/v1/metrics/nps/?{PERIOD}&csm={other_csm.pk}")
    company_wide = client.get(f"/api/v1/metrics/nps/?{PERIOD}&tier=growth")

    assert mine.json()["value"] == 100.0
    assert account.json()["value"] == 100.0
    assert foreign_account.status_code == 404
    assert error_of(foreign_account)["code"] == "not_found"
    assert other_portfolio.status_code == 403
    assert company_wide.status_code == 403


def test_a_csm_gets_retention_of_their_portfolio(csm):
    mine, theirs = AccountFactory(csm=csm), AccountFactory()
    before = START - datetime.timedelta(days=30)
    for account in (mine, theirs):
        RevenueEvent.objects.create(account=account, kind="new", date=before, mrr_delta=100)
    RevenueEvent.objects.create(
        account=theirs, kind="churn", date=START, mrr_delta=-100, reason="budget"
    )

    body = api(csm).get(f"/api/v1/metrics/logo_churn/?{PERIOD}").json()

    assert (body["value"], body["n"]) == (0.0, 1)


# --- queries ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["csat", "first_response_time", "backlog", "grr"])
def test_a_metric_call_takes_a_fixed_number_of_queries(
    name, manager, django_assert_max_num_queries
):
    client = api(manager)
    fill_support_days(2)
    with django_assert_max_num_queries(6) as few:
        assert client.get(f"/api/v1/metrics/{name}/?{PERIOD}").status_code == 200
    MetricSnapshot.objects.all().delete()
    fill_support_days(14)  # more days: the same queries
    for account in AccountFactory.create_batch(5):
        RevenueEvent.objects.create(account=account, kind="new", date=START, mrr_delta=10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/api/v1/metrics/{name}/?{PERIOD}").status_code == 200


def test_company_subject_uses_the_company_rows(manager):
    snap("csat", START, {"numerator": 1, "denominator": 1}, SubjectKind.COMPANY, COMPANY_ID)
    snap("first_response_time", START, durations(2))

    body = api(manager).get(f"/api/v1/metrics/csat/?{PERIOD}").json()

    assert body["subject"] == "Whole company"
    assert body["value"] == 100.0


@pytest.mark.parametrize("query", ["account=99999999999999999999", "team=99999999999999999999"])
def test_absurd_ids_are_a_4xx_not_a_500(manager, query):
    response = api(manager).get(f"/api/v1/metrics/csat/?{PERIOD}&{query}")

    assert response.status_code in (400, 404)
    error_of(response)
