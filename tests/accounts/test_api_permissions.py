"""Who may call what: every route of the accounts-level API (and the SLA settings built on
the same foundation) against anonymous callers, tokens without the scope, and each role
with a session and with a token that has the scope."""

import itertools

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from tests.api_helpers import (
    ADMINS,
    MANAGERS,
    STAFF,
    SUCCESS_STAFF,
    Route,
    assert_not_authenticated,
    assert_role_decides,
    assert_scope_missing,
    call,
    error_of,
    scopes_except,
)
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

_unique = itertools.count()


ROUTES = {
    "accounts list": Route("get", lambda o: "/api/v1/accounts/", "accounts:read", STAFF),
    "account create": Route(
        "post",
        lambda o: "/api/v1/accounts/",
        "accounts:write",
        SUCCESS_STAFF,
        lambda o: {"name": f"New {next(_unique)}"},
        201,
    ),
    "account retrieve": Route(
        "get", lambda o: f"/api/v1/accounts/{o['account'].pk}/", "accounts:read", STAFF
    ),
    "account update": Route(
        "patch",
        lambda o: f"/api/v1/accounts/{o['account'].pk}/",
        "accounts:write",
        SUCCESS_STAFF,
        lambda o: {"segment": "Retail"},
    ),
    "contacts list": Route("get", lambda o: "/api/v1/contacts/", "accounts:read", STAFF),
    "contact create": Route(
        "post",
        lambda o: "/api/v1/contacts/",
        "accounts:write",
        STAFF,
        lambda o: {"name": "Pat", "email": f"pat{next(_unique)}@example.test"},
        201,
    ),
    "contact retrieve": Route(
        "get", lambda o: f"/api/v1/contacts/{o['contact'].pk}/", "accounts:read", STAFF
    ),
    "contact update": Route(
        "patch",
        lambda o: f"/api/v1/contacts/{o['contact'].pk}/",
        "accounts:write",
        STAFF,
        lambda o: {"title": "CTO"},
    ),
    "users list": Route("get", lambda o: "/api/v1/users/", "admin", ADMINS),
    "user create": Route(
        "post",
        lambda o: "/api/v1/users/",
        "admin",
        ADMINS,
        lambda o: {"email": f"new{next(_unique)}@cx.test", "name": "New Agent", "role": "agent"},
        201,
    ),
    "user retrieve": Route("get", lambda o: f"/api/v1/users/{o['user'].pk}/", "admin", ADMINS),
    "user update": Route(
        "patch",
        lambda o: f"/api/v1/users/{o['user'].pk}/",
        "admin",
        ADMINS,
        lambda o: {"name": "Renamed"},
    ),
    "sla calendars list": Route("get", lambda o: "/api/v1/sla/calendars/", "tickets:read", STAFF),
    "sla policy create": Route(
        "post",
        lambda o: "/api/v1/sla/policies/",
        "admin",
        MANAGERS,
        lambda o: {"name": f"Policy {next(_unique)}", "position": next(_unique)},
        201,
    ),
}


@pytest.fixture
def objects(make_user):
    account = AccountFactory()
    return {
        "account": account,
        "contact": ContactFactory(account=account),
        "user": make_user(Role.AGENT),
    }


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_anonymous_callers_get_401(route, objects):
    assert_not_authenticated(call(APIClient(), route, objects))


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_token_without_the_scope_gets_403_even_for_an_admin(
    route, objects, make_user, token_client
):
    client = token_client(make_user(Role.ADMIN), scopes=scopes_except(route.scope))

    assert_scope_missing(call(client, route, objects), route.scope)


@pytest.mark.parametrize("auth", ["session", "token"])
@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT, Role.CSM, Role.MANAGER, Role.ADMIN])
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_role_decides_once_the_scope_is_there(
    route, role, auth, objects, make_user, token_client, session_client
):
    user = make_user(role)
    client = session_client(user) if auth == "session" else token_client(user, [route.scope])

    assert_role_decides(call(client, route, objects), route, role)


def test_session_writes_need_the_csrf_token(session_client, csm):
    client = session_client(csm, enforce_csrf_checks=True)

    response = client.post("/api/v1/accounts/", {"name": "Acme"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]


def test_token_writes_need_no_csrf_token(token_client, csm):
    client = token_client(csm, ["accounts:write"])
    client.handler.enforce_csrf_checks = True

    assert client.post("/api/v1/accounts/", {"name": "Acme"}, format="json").status_code == 201
