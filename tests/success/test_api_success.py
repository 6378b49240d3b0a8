"""The success resources of the REST API: usage batches, subscriptions, revenue events,
success plans, touchpoints and NPS answers; who may use them; the error shape; queries."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.choices import Role
from success.models import NpsResponse, RevenueEvent, Subscription, Touchpoint, UsageDaily
from tests.api_helpers import (
    SUCCESS_STAFF,
    Route,
    assert_not_authenticated,
    assert_role_decides,
    assert_scope_missing,
    bearer_client,
    call,
    error_of,
    scopes_except,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    NpsResponseFactory,
    PlanTemplateFactory,
    PlanTemplateMilestoneFactory,
    SuccessPlanFactory,
)

pytestmark = pytest.mark.django_db

_unique = itertools.count()


def api(user, scopes=("success:read", "success:write")) -> APIClient:
    """A token client with the success scopes unless told otherwise."""
    return bearer_client(user, scopes)


@pytest.fixture
def own(csm):
    """An account in the CSM's portfolio, with a contact."""
    account = AccountFactory(csm=csm)
    return {"account": account, "contact": ContactFactory(account=account)}


@pytest.fixture
def other(make_user):
    """Another CSM's account."""
    account = AccountFactory(csm=make_user(Role.CSM))
    return {"account": account, "contact": ContactFactory(account=account)}


def yesterday() -> str:
    return (timezone.localdate() - datetime.timedelta(days=1)).isoformat()


# --- usage --------------------------------------------------------------------------------


def test_usage_batch_is_stored_and_sending_it_again_replaces_not_adds(manager, own):
    client = api(manager)
    account = own["account"].pk
    batch = [
        {"account": account, "date": yesterday(), "metric": "active_users", "value": 40},
        {"account": account, "date": yesterday(), "metric": "seats", "value": 50},
    ]

    first = client.post("/api/v1/usage/", batch, format="json")
    again = client.post("/api/v1/usage/", batch, format="json")

    assert first.status_code == 200, first.json()
    assert first.json() == {"stored": 2}
    assert again.json() == {"stored": 2}
    assert UsageDaily.objects.count() == 2
    assert UsageDaily.objects.get(metric="active_users").value == 40


def test_usage_batch_is_all_or_nothing_and_lists_each_bad_row(manager, own):
    client = api(manager)
    account = own["account"].pk
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    batch = [
        {"account": account, "date": yesterday(), "metric": "active_users", "value": 40},
        {"account": account, "date": future, "metric": "seats", "value": 5},
        {"account": 999_999, "date": yesterday(), "metric": "seats", "value": 5},
        {"account": account, "date": "yesterday", "metric": "Bad Name", "value": -1},
    ]

    response = client.post("/api/v1/usage/", batch, format="json")

    assert response.status_code == 400
    rows = error_of(response)["fields"]["rows"]
    assert any(m.startswith("Row 2:") and "future" in m for m in rows)
    assert any(m.startswith("Row 3:") and "unknown account" in m for m in rows)
    assert any(m.startswith("Row 4:") and "date" in m for m in rows)
    assert any(m.startswith("Row 4:") and "negative" in m for m in rows)
    assert not any(m.startswith("Row 1:") for m in rows)
    assert not UsageDaily.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"account": 1}, "list"),
        ([], "empty"),
        ([["x"]], "Row 1: expected an object"),
        ([{"account": 1, "date": "2026-01-01", "metric": "a", "value": 1, "x": 1}], "unknown"),
        ([{"account": 1}], "missing date, metric, value"),
    ],
)
def test_usage_batch_of_the_wrong_shape_is_a_400(manager, body, message):
    response = api(manager).post("/api/v1/usage/", body, format="json")

    assert response.status_code == 400
    assert message in str(error_of(response))


def test_a_csm_cannot_send_usage_for_another_portfolio(csm, own, other):
    batch = [
        {"account": own["account"].pk, "date": yesterday(), "metric": "seats", "value": 5},
        {"account": other["account"].pk, "date": yesterday(), "metric": "seats", "value": 5},
    ]

    response = api(csm).post("/api/v1/usage/", batch, format="json")

    assert response.status_code == 400
    rows = error_of(response)["fields"]["rows"]
    assert rows == [f"Row 2: unknown account id {other['account'].pk}."]
    assert not UsageDaily.objects.exists()


# --- subscriptions ------------------------------------------------------------------------


def test_subscription_is_created_read_back_and_changed(csm, own):
    client = api(csm)
    body = {
        "account": own["account"].pk,
        "plan_name": "Pro",
        "seats": 20,
        "mrr": "1500.00",
        "start_date": "2026-01-01",
        "end_date": "2027-01-01",
    }

    created = client.post("/api/v1/subscriptions/", body, format="json")
    url = f"/api/v1/subscriptions/{created.json()['id']}/"
    read = client.get(url)
    changed = client.patch(url, {"seats": 25}, format="json", HTTP_IF_MATCH=read["ETag"])

    assert created.status_code == 201, created.json()
    assert read.json()["plan_name"] == "Pro"
    assert read.json()["status"] == "active"
    assert changed.status_code == 200, changed.json()
    assert Subscription.objects.get().seats == 25
    assert Subscription.objects.get().mrr == Decimal("1500.00")


def test_subscription_rules_are_the_services_400(manager, own):
    body = {
        "account": own["account"].pk,
        "plan_name": "Pro",
        "start_date": "2026-02-01",
        "end_date": "2026-01-01",
    }

    response = api(manager).post("/api/v1/subscriptions/", body, format="json")

    assert response.status_code == 400
    assert "before the start" in str(error_of(response)["fields"])


# --- revenue events -----------------------------------------------------------------------


def test_revenue_event_is_recorded_through_the_service_and_read_back(manager, own):
    client = api(manager)
    today = timezone.localdate()
    body = {
        "account": own["account"].pk,
        "kind": "expansion",
        "mrr_delta": "250.00",
        "effective_date": today.isoformat(),
        "reason": "More seats",
    }

    created = client.post("/api/v1/revenue-events/", body, format="json")
    read = client.get(f"/api/v1/revenue-events/{created.json()['id']}/")

    assert created.status_code == 201, created.json()
    assert read.json()["effective_date"] == today.isoformat()
    assert read.json()["mrr_delta"] == "250.00"
    assert read.json()["recorded_by"] == manager.email
    assert RevenueEvent.objects.get().date == today


def test_a_past_effective_date_needs_the_import_scope(manager, own):
    """Backdating a revenue event rewrites past retention figures: it is a history import."""
    body = {
        "account": own["account"].pk,
        "kind": "expansion",
        "mrr_delta": "250.00",
        "effective_date": "2026-03-01",
        "reason": "More seats",
    }

    refused = api(manager).post("/api/v1/revenue-events/", body, format="json")
    assert refused.status_code == 403
    assert "'import' scope" in error_of(refused)["message"]
    assert not RevenueEvent.objects.exists()

    importer = api(manager, ("success:read", "success:write", "import"))
    created = importer.post("/api/v1/revenue-events/", body, format="json")
    assert created.status_code == 201, created.json()
    assert RevenueEvent.objects.get().date == datetime.date(2026, 3, 1)


@pytest.mark.parametrize(
    ("kind", "delta", "reason", "field"),
    [
        ("expansion", "-10.00", "", "mrr_delta"),  # the sign must match the kind
        ("churn", "-10.00", "", "reason"),  # a churn needs a reason
        ("upsell", "10.00", "", "kind"),
    ],
)
def test_revenue_event_rules_are_400s_with_the_field(manager, own, kind, delta, reason, field):
    body = {
        "account": own["account"].pk,
        "kind": kind,
        "mrr_delta": delta,
        "effective_date": timezone.localdate().isoformat(),
        "reason": reason,
    }

    response = api(manager).post("/api/v1/revenue-events/", body, format="json")

    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert not RevenueEvent.objects.exists()


# --- success plans ------------------------------------------------------------------------


def test_success_plan_starts_from_a_template_with_its_milestones(csm, own):
    template = PlanTemplateFactory(name="Onboarding")
    PlanTemplateMilestoneFactory(template=template, title="Kick-off", day_offset=0, position=0)
    PlanTemplateMilestoneFactory(template=template, title="Go live", day_offset=30, position=1)
    client = api(csm)

    created = client.post(
        "/api/v1/success-plans/",
        {
            "account": own["account"].pk,
            "template": template.pk,
            "start_date": "2026-04-01",
            "owner": csm.email,
        },
        format="json",
    )
    read = client.get(f"/api/v1/success-plans/{created.json()['id']}/")

    assert created.status_code == 201, created.json()
    plan = read.json()
    assert plan["title"] == "Onboarding"
    assert [(m["title"], m["due_date"], m["owner"]) for m in plan["milestones"]] == [
        ("Kick-off", "2026-04-01", csm.email),
        ("Go live", "2026-05-01", csm.email),
    ]


# --- touchpoints --------------------------------------------------------------------------


def test_touchpoint_is_logged_with_its_participants(csm, own):
    happened = (timezone.now() - datetime.timedelta(hours=2)).isoformat()
    client = api(csm)

    created = client.post(
        "/api/v1/touchpoints/",
        {
            "account": own["account"].pk,
            "kind": "call",
            "happened_at": happened,
            "summary": "Talked renewal",
            "participants": [own["contact"].pk],
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["participants"] == [own["contact"].pk]
    assert created.json()["logged_by"] == csm.email
    assert Touchpoint.objects.get().summary == "Talked renewal"


def test_touchpoint_in_the_future_is_a_400(manager, own):
    response = api(manager).post(
        "/api/v1/touchpoints/",
        {
            "account": own["account"].pk,
            "kind": "call",
            "happened_at": (timezone.now() + datetime.timedelta(days=1)).isoformat(),
            "summary": "Soon",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "happened_at" in error_of(response)["fields"]


# --- NPS ----------------------------------------------------------------------------------


def test_nps_answer_is_recorded_for_the_contacts_account(manager, own):
    client = api(manager)

    created = client.post(
        "/api/v1/surveys/nps/",
        {"contact": own["contact"].email.upper(), "score": 9, "comment": "Great"},
        format="json",
    )

    assert created.status_code == 201, created.json()
    answer = NpsResponse.objects.get()
    assert (answer.account, answer.contact, answer.score, answer.reason) == (
        own["account"],
        own["contact"],
        9,
        "Great",
    )
    assert created.json()["contact"] == own["contact"].email


def test_setting_submitted_at_needs_the_import_scope(manager, own):
    body = {"contact": own["contact"].email, "score": 3, "submitted_at": "2026-01-05T10:00:00Z"}

    refused = api(manager).post("/api/v1/surveys/nps/", body, format="json")
    imported = api(manager, ["success:write", "import"]).post(
        "/api/v1/surveys/nps/", body, format="json"
    )

    assert refused.status_code == 403
    assert "import" in error_of(refused)["message"]
    assert imported.status_code == 201, imported.json()
    assert NpsResponse.objects.get().responded_at == datetime.datetime(
        2026, 1, 5, 10, tzinfo=datetime.UTC
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"score": 11}, "score"),
        ({"score": "nine"}, "score"),
        ({"score": 5, "contact": "nobody@nowhere.test"}, "contact"),
        ({"score": 5, "colour": "red"}, "colour"),
    ],
)
def test_bad_nps_bodies_are_400s_naming_the_field(manager, own, body, field):
    body.setdefault("contact", own["contact"].email)

    response = api(manager).post("/api/v1/surveys/nps/", body, format="json")

    assert response.status_code == 400
    assert field in error_of(response)["fields"]


# --- who may do what ----------------------------------------------------------------------


ROUTES = {
    "usage": Route(
        "post",
        lambda o: "/api/v1/usage/",
        "success:write",
        SUCCESS_STAFF,
        lambda o: [
            {"account": o["account"].pk, "date": yesterday(), "metric": "seats", "value": 1}
        ],
    ),
    "subscriptions list": Route(
        "get", lambda o: "/api/v1/subscriptions/", "success:read", SUCCESS_STAFF
    ),
    "subscription create": Route(
        "post",
        lambda o: "/api/v1/subscriptions/",
        "success:write",
        SUCCESS_STAFF,
        lambda o: {"account": o["account"].pk, "plan_name": "P", "start_date": "2026-01-01"},
        201,
    ),
    "subscription retrieve": Route(
        "get",
        lambda o: f"/api/v1/subscriptions/{o['subscription'].pk}/",
        "success:read",
        SUCCESS_STAFF,
    ),
    "subscription update": Route(
        "patch",
        lambda o: f"/api/v1/subscriptions/{o['subscription'].pk}/",
        "success:write",
        SUCCESS_STAFF,
        lambda o: {"seats": 3},
    ),
    "revenue events list": Route(
        "get", lambda o: "/api/v1/revenue-events/", "success:read", SUCCESS_STAFF
    ),
    "revenue event create": Route(
        "post",
        lambda o: "/api/v1/revenue-events/",
        "success:write",
        SUCCESS_STAFF,
        lambda o: {
            "account": o["account"].pk,
            "kind": "new",
            "mrr_delta": "10.00",
            "effective_date": timezone.localdate().isoformat(),
        },
        201,
    ),
    "revenue event retrieve": Route(
        "get", lambda o: f"/api/v1/revenue-events/{o['event'].pk}/", "success:read", SUCCESS_STAFF
    ),
    "success plans list": Route(
        "get", lambda o: "/api/v1/success-plans/", "success:read", SUCCESS_STAFF
    ),
    "success plan retrieve": Route(
        "get", lambda o: f"/api/v1/success-plans/{o['plan'].pk}/", "success:read", SUCCESS_STAFF
    ),
    "success plan create": Route(
        "post",
        lambda o: "/api/v1/success-plans/",
        "success:write",
        SUCCESS_STAFF,
        lambda o: {
            "account": o["account"].pk,
            "template": o["template"].pk,
            "start_date": "2026-01-01",
        },
        201,
    ),
    "touchpoints list": Route(
        "get", lambda o: "/api/v1/touchpoints/", "success:read", SUCCESS_STAFF
    ),
    "touchpoint create": Route(
        "post",
        lambda o: "/api/v1/touchpoints/",
        "success:write",
        SUCCESS_STAFF,
        lambda o: {
            "account": o["account"].pk,
            "kind": "email",
            "happened_at": "2026-01-01T10:00:00Z",
            "summary": f"Note {next(_unique)}",
        },
        201,
    ),
    "nps list": Route("get", lambda o: "/api/v1/surveys/nps/", "success:read", SUCCESS_STAFF),
    "nps create": Route(
        "post",
        lambda o: "/api/v1/surveys/nps/",
        "success:write",
        SUCCESS_STAFF,
        lambda o: {"contact": o["contact"].email, "score": 8},
        201,
    ),
}


def _objects(account):
    contact = ContactFactory(account=account)
    return {
        "account": account,
        "contact": contact,
        "subscription": Subscription.objects.create(
            account=account, plan_name="Basic", start_date=datetime.date(2026, 1, 1)
        ),
        "event": RevenueEvent.objects.create(
            account=account, kind="new", date=datetime.date(2026, 1, 1), mrr_delta=100
        ),
        "plan": SuccessPlanFactory(account=account),
        "template": PlanTemplateFactory(),
    }


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_anonymous_callers_get_401(route, make_user):
    assert_not_authenticated(call(APIClient(), route, _objects(AccountFactory())))


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_a_token_without_the_scope_gets_403(route, make_user):
    client = api(make_user(Role.ADMIN), scopes_except(route.scope))

    assert_scope_missing(call(client, route, _objects(AccountFactory())), route.scope)


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT, Role.CSM, Role.MANAGER, Role.ADMIN])
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_role_decides_once_the_scope_is_there(route, role, make_user):
    user = make_user(role)
    account = AccountFactory(csm=user if role == Role.CSM else None)

    response = call(api(user, [route.scope]), route, _objects(account))

    assert_role_decides(response, route, role)


@pytest.mark.parametrize(
    "name",
    [
        "subscription retrieve",
        "subscription update",
        "revenue event retrieve",
        "success plan retrieve",
    ],
)
def test_another_portfolios_row_is_a_404_as_if_it_did_not_exist(name, csm, other):
    route = ROUTES[name]

    response = call(api(csm), route, _objects(other["account"]))

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "name",
    [
        "subscription create",
        "revenue event create",
        "success plan create",
        "touchpoint create",
        "nps create",
    ],
)
def test_another_portfolios_account_in_a_body_does_not_exist(name, csm, other):
    route = ROUTES[name]

    response = call(api(csm), route, _objects(other["account"]))

    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert set(fields) <= {"account", "contact"}
    assert (
        "does not exist" in str(fields)
        or "No contact" in str(fields)
        or "no account" in str(fields)
    )


def test_a_csm_lists_only_their_portfolio(csm, own, other):
    NpsResponseFactory(account=own["account"], contact=own["contact"])
    NpsResponseFactory(account=other["account"], contact=other["contact"])

    response = api(csm).get("/api/v1/surveys/nps/")

    assert [row["account"] for row in response.json()["results"]] == [own["account"].pk]


def test_lists_filter_by_account_and_updated_since(manager, own, other):
    for account in (own["account"], other["account"]):
        Subscription.objects.create(
            account=account, plan_name="Basic", start_date=datetime.date(2026, 1, 1)
        )
    client = api(manager)

    by_account = client.get(f"/api/v1/subscriptions/?account={own['account'].pk}")
    future = client.get("/api/v1/subscriptions/?updated_since=2999-01-01T00:00:00Z")
    bad = client.get("/api/v1/subscriptions/?updated_since=yesterday")

    assert [row["account"] for row in by_account.json()["results"]] == [own["account"].pk]
    assert future.json()["results"] == []
    assert bad.status_code == 400
    error_of(bad)


# --- queries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/subscriptions/",
        "/api/v1/revenue-events/",
        "/api/v1/success-plans/",
        "/api/v1/touchpoints/",
        "/api/v1/surveys/nps/",
    ],
)
@pytest.mark.parametrize("role", [Role.MANAGER, Role.CSM])
def test_list_queries_do_not_grow_with_rows(path, role, make_user, django_assert_max_num_queries):
    user = make_user(role)
    client = api(user)
    owner = make_user(Role.CSM)

    def add(count: int) -> None:
        for _ in range(count):
            account = AccountFactory(csm=user if role == Role.CSM else owner)
            objects = _objects(account)
            NpsResponseFactory(account=account, contact=objects["contact"])
            template = PlanTemplateFactory()
            PlanTemplateMilestoneFactory(template=template)
            Touchpoint.objects.create(
                account=account, kind="call", happened_at=timezone.now(), summary="x"
            ).participants.set([objects["contact"]])
            plan = objects["plan"]
            plan.milestones.create(title="m", due_date=timezone.localdate(), owner=owner)

    add(2)
    with django_assert_max_num_queries(9) as small:
        assert client.get(path).status_code == 200
    add(8)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(path)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 10


def test_absurd_account_ids_in_a_usage_batch_are_row_errors(manager):
    batch = [{"account": 10**20, "date": yesterday(), "metric": "seats", "value": 1}]

    response = api(manager).post("/api/v1/usage/", batch, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"]["rows"] == [f"Row 1: unknown account id {10**20}."]


def test_usage_retried_with_the_same_idempotency_key_returns_the_first_answer(manager, own):
    client = api(manager)
    batch = [{"account": own["account"].pk, "date": yesterday(), "metric": "seats", "value": 9}]

    first = client.post("/api/v1/usage/", batch, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/usage/", batch, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    batch[0]["value"] = 10
    changed = client.post("/api/v1/usage/", batch, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"stored": 1}
    assert changed.status_code == 409
    assert error_of(changed)["code"] == "idempotency_key_reused"
    assert UsageDaily.objects.get().value == 9


def test_a_stale_if_match_on_a_subscription_is_a_412(manager, own):
    client = api(manager)
    subscription = Subscription.objects.create(
        account=own["account"], plan_name="Basic", start_date=datetime.date(2026, 1, 1)
    )
    url = f"/api/v1/subscriptions/{subscription.pk}/"
    etag = client.get(url)["ETag"]
    client.patch(url, {"seats": 4}, format="json")

    response = client.patch(url, {"seats": 5}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 412
    assert Subscription.objects.get().seats == 4
