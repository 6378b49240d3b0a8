"""The Account 360 forms (htmx): success plans (from a template, objectives, milestones,
milestone status), touchpoints, health override and lifecycle stage. Each answers an htmx
request with its refreshed section, a refusal with the section showing the errors inline
and what was typed, a plain browser post with a redirect; only people who can see the
account may post, and only with a CSRF token."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Role
from success.choices import MilestoneStatus, PlanStatus, TouchpointKind
from success.models import (
    HealthOverride,
    LifecycleChange,
    PlanMilestone,
    PlanObjective,
    SuccessPlan,
    Touchpoint,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    PlanMilestoneFactory,
    PlanTemplateFactory,
    PlanTemplateMilestoneFactory,
    SuccessPlanFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true"}
# Session, user, account, the plan (or milestone), the service's reads and writes, and the
# plans section again (owners, templates, plans, objectives, milestones), with savepoints.
PLANS_MAX_QUERIES = 15
TOUCHPOINTS_MAX_QUERIES = 13
# The header answer carries the health section too (health model, snapshots, usage, NPS).
HEADER_MAX_QUERIES = 18


def _today() -> datetime.date:
    return timezone.localdate()


def _days(n: int) -> datetime.date:
    return _today() + datetime.timedelta(days=n)


def _url(name: str, account, *args) -> str:
    return reverse(f"success:{name}", args=[account.pk, *args])


def _post(client, url, data, *, htmx=True):
    return client.post(url, data, **(HTMX if htmx else {}))


@pytest.fixture
def account(csm):
    return AccountFactory(name="Acme", csm=csm, health_band=HealthBand.GREEN, health_score=75)


@pytest.fixture
def template():
    template = PlanTemplateFactory(name="Onboarding basics")
    PlanTemplateMilestoneFactory(template=template, title="Kick-off call", day_offset=0)
    PlanTemplateMilestoneFactory(template=template, title="First report", day_offset=14)
    return template


# Success plan from a template


def test_plan_from_template_returns_the_plans_section(client_for, csm, account, template):
    response = _post(
        client_for(csm),
        _url("plan-create", account),
        {
            "plan-template": template.pk,
            "plan-start_date": _today().isoformat(),
            "plan-owner": csm.pk,
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith("{% partialdef") is False
    assert '<section class="card" id="plans"' in page
    assert "<html" not in page
    assert "Plan “Onboarding basics” started." in page
    assert "Kick-off call" in page
    plan = SuccessPlan.objects.get(account=account)
    assert plan.created_by == csm
    assert list(plan.milestones.values_list("owner", flat=True)) == [csm.pk, csm.pk]


def test_plan_from_template_refused_keeps_what_was_typed(client_for, csm, account, template):
    response = _post(
        client_for(csm),
        _url("plan-create", account),
        {"plan-template": "", "plan-start_date": "2031-02-30"},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert "Enter a valid date." in page
    assert 'value="2031-02-30"' in page
    assert '<details class="cx-inline-form" open>' in page
    assert not SuccessPlan.objects.exists()


def test_plan_start_far_away_is_refused(client_for, csm, account, template):
    response = _post(
        client_for(csm),
        _url("plan-create", account),
        {"plan-template": template.pk, "plan-start_date": _days(400).isoformat()},
    )
    assert response.status_code == 400
    assert "Start the plan within a year of today." in response.content.decode()


def test_plan_from_unknown_template_is_refused(client_for, csm, account, template):
    response = _post(
        client_for(csm),
        _url("plan-create", account),
        {"plan-template": 999999, "plan-start_date": _today().isoformat()},
    )
    assert response.status_code == 400
    assert "That template no longer exists; pick another." in response.content.decode()


def test_without_htmx_success_redirects_with_a_message(client_for, csm, account, template):
    client = client_for(csm)
    response = _post(
        client,
        _url("plan-create", account),
        {"plan-template": template.pk, "plan-start_date": _today().isoformat()},
        htmx=False,
    )
    assert response.status_code == 302
    assert response["Location"] == _url("account-detail", account) + "#plans"
    assert "Plan “Onboarding basics” started." in client.get(response["Location"]).content.decode()


def test_without_htmx_refusal_shows_the_whole_page(client_for, csm, account, template):
    response = _post(
        client_for(csm),
        _url("plan-create", account),
        {"plan-template": "", "plan-start_date": ""},
        htmx=False,
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "<html" in page
    assert "This field is required." in page


# Objectives


def test_objective_added(client_for, csm, account):
    plan = SuccessPlanFactory(account=account, title="Adoption")
    prefix = f"objective-{plan.pk}"

    response = _post(
        client_for(csm),
        _url("objective-create", account, plan.pk),
        {
            f"{prefix}-what": "Daily use by the support team",
            f"{prefix}-why": "Renewal depends on it",
            f"{prefix}-success_measure": "40 weekly active users",
            f"{prefix}-target_date": _days(60).isoformat(),
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Daily use by the support team" in page
    assert "Measured by: 40 weekly active users" in page
    assert PlanObjective.objects.get(plan=plan).why == "Renewal depends on it"


def test_objective_refused_keeps_the_why(client_for, csm, account):
    plan = SuccessPlanFactory(account=account)
    prefix = f"objective-{plan.pk}"

    response = _post(
        client_for(csm),
        _url("objective-create", account, plan.pk),
        {f"{prefix}-what": "", f"{prefix}-why": "Because <the board> asked"},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert "Because &lt;the board&gt; asked</textarea>" in page
    assert 'aria-invalid="true"' in page
    assert not PlanObjective.objects.exists()


def test_objective_on_a_completed_plan_is_refused(client_for, csm, account):
    plan = SuccessPlanFactory(account=account, status=PlanStatus.COMPLETED)
    response = _post(
        client_for(csm),
        _url("objective-create", account, plan.pk),
        {f"objective-{plan.pk}-what": "More"},
    )
    assert response.status_code == 400
    assert "completed: it can no longer be changed" in response.content.decode()


def test_objective_on_another_accounts_plan_is_404(client_for, csm, account):
    plan = SuccessPlanFactory(account=AccountFactory(csm=csm))
    response = _post(
        client_for(csm),
        _url("objective-create", account, plan.pk),
        {f"objective-{plan.pk}-what": "More"},
    )
    assert response.status_code == 404


# Milestones


def test_milestone_added_with_an_owner(client_for, csm, account, make_user):
    plan = SuccessPlanFactory(account=account)
    colleague = make_user(Role.AGENT, full_name="Sam Support")
    prefix = f"milestone-{plan.pk}"

    response = _post(
        client_for(csm),
        _url("milestone-create", account, plan.pk),
        {
            f"{prefix}-title": "Train the admins",
            f"{prefix}-owner": colleague.pk,
            f"{prefix}-due_date": _days(5).isoformat(),
        },
    )

    assert response.status_code == 200
    assert "Train the admins" in response.content.decode()
    milestone = PlanMilestone.objects.get(plan=plan)
    assert (milestone.owner, milestone.due_date) == (colleague, _days(5))


def test_milestone_owner_must_be_staff(client_for, csm, account, make_user):
    plan = SuccessPlanFactory(account=account)
    customer = make_user(Role.CUSTOMER)
    prefix = f"milestone-{plan.pk}"

    response = _post(
        client_for(csm),
        _url("milestone-create", account, plan.pk),
        {
            f"{prefix}-title": "Train the admins",
            f"{prefix}-owner": customer.pk,
            f"{prefix}-due_date": _days(5).isoformat(),
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Pick someone from the list." in page
    assert 'value="Train the admins"' in page
    assert not PlanMilestone.objects.exists()


# Milestone status


def test_milestone_status_changed_in_place_with_undo(client_for, csm, account):
    milestone = PlanMilestoneFactory(plan=SuccessPlanFactory(account=account), title="Go-live")

    response = _post(
        client_for(csm),
        _url("milestone-status", account, milestone.pk),
        {"status": "done", "expected_status": "todo"},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "“Go-live” set to done." in page
    assert "Undo</button>" in page
    assert '<input type="hidden" name="status" value="todo">' in page
    milestone.refresh_from_db()
    assert (milestone.status, milestone.completed_by) == (MilestoneStatus.DONE, csm)


def test_milestone_changed_by_someone_else_meanwhile_is_409(client_for, csm, account):
    milestone = PlanMilestoneFactory(plan=SuccessPlanFactory(account=account), title="Go-live")
    PlanMilestone.objects.filter(pk=milestone.pk).update(status=MilestoneStatus.SKIPPED)

    response = _post(
        client_for(csm),
        _url("milestone-status", account, milestone.pk),
        {"status": "done", "expected_status": "todo"},
    )

    assert response.status_code == 409
    assert "Someone else set “Go-live” to skipped meanwhile" in response.content.decode()
    assert PlanMilestone.objects.get(pk=milestone.pk).status == MilestoneStatus.SKIPPED


def test_unknown_milestone_status_is_400(client_for, csm, account):
    milestone = PlanMilestoneFactory(plan=SuccessPlanFactory(account=account))
    response = _post(
        client_for(csm),
        _url("milestone-status", account, milestone.pk),
        {"status": "in_progress"},
    )
    assert response.status_code == 400
    assert "“in_progress” is not a milestone status." in response.content.decode()


def test_milestone_of_another_account_is_404(client_for, csm, account):
    milestone = PlanMilestoneFactory(plan=SuccessPlanFactory(account=AccountFactory(csm=csm)))
    response = _post(
        client_for(csm), _url("milestone-status", account, milestone.pk), {"status": "done"}
    )
    assert response.status_code == 404


def test_skipped_milestones_are_counted_not_listed(client_for, csm, account):
    plan = SuccessPlanFactory(account=account)
    milestone = PlanMilestoneFactory(plan=plan, title="Optional training")
    response = _post(
        client_for(csm),
        _url("milestone-status", account, milestone.pk),
        {"status": "skipped", "expected_status": "todo"},
    )
    section = response.content.decode()
    assert "1 skipped milestone, not shown." in section


# Touchpoints


def _touchpoint_data(**overrides):
    data = {
        "touchpoint-kind": TouchpointKind.CALL,
        "touchpoint-happened_at": (timezone.localtime() - datetime.timedelta(hours=2)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
        "touchpoint-summary": "Talked about the rollout",
        "touchpoint-next_steps": "Send the training deck",
    }
    return data | overrides


def test_touchpoint_logged_with_participants(client_for, csm, account):
    pat = ContactFactory(account=account, name="Pat Buyer")
    ContactFactory(account=account, name="Lee Admin")

    response = _post(
        client_for(csm),
        _url("touchpoint-create", account),
        _touchpoint_data(**{"touchpoint-participants": [pat.pk]}),
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Touchpoint logged." in page
    assert "Talked about the rollout" in page
    assert "with Pat Buyer</span>" in page
    assert "Within cadence" in page
    touchpoint = Touchpoint.objects.get(account=account)
    assert touchpoint.logged_by == csm
    assert list(touchpoint.participants.all()) == [pat]


def test_touchpoint_time_is_read_in_the_persons_zone(client_for, make_user):
    csm = make_user(Role.CSM, time_zone="Asia/Tokyo")
    account = AccountFactory(csm=csm)

    _post(
        client_for(csm),
        _url("touchpoint-create", account),
        _touchpoint_data(**{"touchpoint-happened_at": "2024-03-01T09:30"}),
    )

    happened_at = Touchpoint.objects.get().happened_at
    assert happened_at == datetime.datetime(2024, 3, 1, 0, 30, tzinfo=datetime.UTC)


def test_touchpoint_in_the_future_is_refused_keeping_the_summary(client_for, csm, account):
    future = (timezone.localtime() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    response = _post(
        client_for(csm),
        _url("touchpoint-create", account),
        _touchpoint_data(
            **{"touchpoint-happened_at": future, "touchpoint-summary": "Typed with care"}
        ),
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "A touchpoint cannot be logged in the future" in page
    assert "Typed with care</textarea>" in page
    assert "Send the training deck</textarea>" in page
    assert not Touchpoint.objects.exists()


def test_touchpoint_needs_summary_and_a_known_kind(client_for, csm, account):
    response = _post(
        client_for(csm),
        _url("touchpoint-create", account),
        _touchpoint_data(**{"touchpoint-kind": "telepathy", "touchpoint-summary": " "}),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Select a valid choice. telepathy is not one of the available choices." in page
    assert "This field is required." in page


def test_touchpoint_participant_from_another_account_is_refused(client_for, csm, account):
    stranger = ContactFactory(account=AccountFactory(), name="Someone Else")

    response = _post(
        client_for(csm),
        _url("touchpoint-create", account),
        _touchpoint_data(**{"touchpoint-participants": [stranger.pk]}),
    )

    assert response.status_code == 400
    assert "Only the account&#x27;s own contacts can take part." in response.content.decode()
    assert not Touchpoint.objects.exists()


# Health override and lifecycle stage (the header)


def test_health_override_set_shows_in_the_header(client_for, csm, account):
    response = _post(
        client_for(csm),
        _url("health-override-set", account),
        {
            "override-band": HealthBand.RED,
            "override-reason": "Champion left last week",
            "override-expires_on": _days(30).isoformat(),
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<header id="account-header"')
    assert "cx-badge-red" in page
    assert "Champion left last week" in page
    assert "Clear override</button>" in page
    # The health section shows the override too: it comes along, swapped out of band.
    assert (
        '<section class="card" id="health" aria-labelledby="health-heading" hx-swap-oob="true">'
        in page
    )
    account.refresh_from_db()
    assert account.health_band == HealthBand.RED


@pytest.mark.parametrize(
    ("days", "message"),
    [(91, "An override lasts at most 90 days"), (-1, "cannot expire in the past")],
)
def test_health_override_expiry_is_checked_keeping_the_reason(
    client_for, csm, account, days, message
):
    response = _post(
        client_for(csm),
        _url("health-override-set", account),
        {
            "override-band": HealthBand.RED,
            "override-reason": "Champion left",
            "override-expires_on": _days(days).isoformat(),
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Champion left</textarea>" in page
    assert not HealthOverride.objects.exists()


def test_health_override_needs_a_reason(client_for, csm, account):
    response = _post(
        client_for(csm),
        _url("health-override-set", account),
        {"override-band": "red", "override-reason": "   ", "override-expires_on": _days(5)},
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_health_override_cleared(client_for, csm, account):
    client = client_for(csm)
    _post(
        client,
        _url("health-override-set", account),
        {"override-band": "red", "override-reason": "Why", "override-expires_on": _days(5)},
    )

    response = _post(client, _url("health-override-clear", account), {})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Override cleared" in page
    assert "Clear override</button>" not in page
    assert HealthOverride.objects.get().cleared_by == csm


def test_lifecycle_stage_changed_with_a_note(client_for, csm, account):
    response = _post(
        client_for(csm),
        _url("lifecycle-stage-change", account),
        {"lifecycle-to_stage": LifecycleStage.ADOPTION, "lifecycle-note": "Went live"},
    )

    assert response.status_code == 200
    assert "Moved to Adoption." in response.content.decode()
    change = LifecycleChange.objects.get(account=account)
    assert (change.to_stage, change.note, change.actor) == ("adoption", "Went live", csm)


def test_lifecycle_unknown_stage_keeps_the_note(client_for, csm, account):
    response = _post(
        client_for(csm),
        _url("lifecycle-stage-change", account),
        {"lifecycle-to_stage": "zombie", "lifecycle-note": "Typed note"},
    )
    assert response.status_code == 400
    assert "Typed note</textarea>" in response.content.decode()


# Who may post


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("plan-create", {}),
        ("touchpoint-create", {}),
        ("health-override-set", {}),
        ("health-override-clear", {}),
        ("lifecycle-stage-change", {}),
    ],
)
def test_another_csm_gets_404_and_agents_and_customers_403(client_for, make_user, name, data):
    account = AccountFactory(csm=make_user(Role.CSM))
    assert client_for(make_user(Role.CSM)).post(_url(name, account), data).status_code == 404
    for role in (Role.AGENT, Role.CUSTOMER):
        assert client_for(make_user(role)).post(_url(name, account), data).status_code == 403


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_may_edit_any_account(client_for, make_user, role):
    account = AccountFactory(csm=make_user(Role.CSM))
    response = _post(
        client_for(make_user(role)), _url("touchpoint-create", account), _touchpoint_data()
    )
    assert response.status_code == 200
    assert Touchpoint.objects.filter(account=account).exists()


def test_writes_are_post_only(client_for, csm, account):
    assert client_for(csm).get(_url("touchpoint-create", account)).status_code == 405


def test_csrf_is_enforced_and_the_pages_token_works(csm, account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm)
    url = _url("lifecycle-stage-change", account)
    data = {"lifecycle-to_stage": LifecycleStage.ADOPTION}

    assert client.post(url, data, **HTMX).status_code == 403

    page = client.get(_url("account-detail", account)).content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)  # what htmx sends
    assert client.post(url, data, HTTP_X_CSRFTOKEN=token, **HTMX).status_code == 200
    assert 'name="csrfmiddlewaretoken"' in page


# Queries


@pytest.mark.parametrize("size", [1, 10])
def test_form_answers_run_a_fixed_number_of_queries(
    client_for, csm, account, template, django_assert_max_num_queries, size
):
    people = [ContactFactory(account=account) for _ in range(size)]
    plans = [SuccessPlanFactory(account=account) for _ in range(size)]
    for plan in plans:
        for _ in range(3):
            PlanMilestoneFactory(plan=plan, owner=csm)
    client = client_for(csm)
    milestone = plans[0].milestones.first()

    with django_assert_max_num_queries(PLANS_MAX_QUERIES):
        response = _post(
            client,
            _url("milestone-status", account, milestone.pk),
            {"status": "done", "expected_status": "todo"},
        )
    assert response.status_code == 200
    with django_assert_max_num_queries(PLANS_MAX_QUERIES):
        response = _post(
            client,
            _url("objective-create", account, plans[0].pk),
            {f"objective-{plans[0].pk}-what": ""},
        )
    assert response.status_code == 400
    with django_assert_max_num_queries(TOUCHPOINTS_MAX_QUERIES):
        response = _post(
            client,
            _url("touchpoint-create", account),
            _touchpoint_data(**{"touchpoint-participants": [p.pk for p in people]}),
        )
    assert response.status_code == 200
    with django_assert_max_num_queries(HEADER_MAX_QUERIES):
        response = _post(
            client,
            _url("health-override-set", account),
            {"override-band": "red", "override-reason": "Why", "override-expires_on": _days(5)},
        )
    assert response.status_code == 200
