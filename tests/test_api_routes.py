"""Every route under /api/v1/, table-driven: who may not call it.

The table is built from the URL resolver (every list, detail and command route of every
app), so a route added later is checked without editing this file. For each route and
method: anonymous → 401, a token without any scope → 403, a customer with every scope →
403 or 404 (except the routes customers may read, listed below); every answer is JSON in
the error shape, never an HTML page.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import ApiScope, ApiToken
from accounts.services import api_token_create
from tests.accounts.conftest import error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PREFIX = "api/v1/"
# The contract itself is public: it holds no data.
PUBLIC = {"/api/v1/schema/", "/api/v1/docs/"}
# What a customer may do: read the knowledge base's public articles.
CUSTOMER_MAY = {("GET", "/api/v1/kb/articles/"), ("GET", "/api/v1/kb/articles/1/")}
METHODS = ("get", "post", "put", "patch", "delete")
# Path parameters: an id that might exist; a metric's name.
SAMPLE = {"name": "nps"}


def _route_of(pattern) -> str:
    route = str(pattern.pattern)
    route = re.sub(r"\^|\$|\\Z", "", route)  # router regexes
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", route)
    return route.replace("\\.", ".")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + _route_of(pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _methods(callback) -> list[str]:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return []
    allowed = set(view_class.http_method_names)
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset's route: the methods it maps to actions
        return [m.upper() for m in actions if m in METHODS and m in allowed]
    return [m.upper() for m in METHODS if m in allowed and hasattr(view_class, m)]


def api_routes() -> list[tuple[str, str]]:
    cases = set()
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith(PREFIX) or "<format>" in route or "format_suffix" in route:
            continue
        path = "/" + re.sub(r"<(\w+)>", lambda m: SAMPLE.get(m.group(1), "1"), route)
        if path in PUBLIC:
            continue
        for method in _methods(callback):
            cases.add((method, path))
    return sorted(cases, key=lambda case: (case[1], case[0]))


ROUTES = api_routes()


def test_the_table_covers_every_resource():
    paths = {path for _, path in ROUTES}
    for expected in (
        "/api/v1/accounts/",
        "/api/v1/tickets/1/claim/",
        "/api/v1/kb/articles/",
        "/api/v1/surveys/csat/",
        "/api/v1/escalations/1/resolve/",
        "/api/v1/metrics/nps/",
        "/api/v1/usage/",
    ):
        assert expected in paths, sorted(paths)
    assert len(ROUTES) > 40


@pytest.fixture(scope="module")
def callers(django_db_setup, django_db_blocker):
    """One anonymous client, one token with no scope (an admin's), one customer with every
    scope; built once for the module and removed after it."""
    with django_db_blocker.unblock():
        admin = UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True)
        customer = UserFactory(role=Role.CUSTOMER)
        # The service refuses a token without scopes; strip one's to stand for any token
        # whose scopes do not include what a route needs.
        token, no_scope = api_token_create(user=admin, name="none", scopes=[ApiScope.IMPORT])
        ApiToken.objects.filter(pk=token.pk).update(scopes=[])
        _, all_scopes = api_token_create(user=customer, name="all", scopes=list(ApiScope.values))
    clients = {"anonymous": APIClient()}
    for name, secret in (("no_scope", no_scope), ("customer", all_scopes)):
        clients[name] = APIClient()
        clients[name].credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    yield clients
    with django_db_blocker.unblock():
        admin.delete()
        customer.delete()


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.CX_API_RATE_LIMIT = 1_000_000


def call(client: APIClient, method: str, path: str):
    return getattr(client, method.lower())(path, {}, format="json")


def assert_json_error(response, status: set[int]) -> None:
    assert response.status_code in status, (response.status_code, response.content[:300])
    assert "html" not in response["Content-Type"]
    error_of(response)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_is_401(callers, method, path):
    response = call(callers["anonymous"], method, path)
    assert_json_error(response, {401})
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_token_without_scope_is_403(callers, method, path):
    assert_json_error(call(callers["no_scope"], method, path), {403})


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_customer_is_refused(callers, method, path):
    response = call(callers["customer"], method, path)
    if (method, path) in CUSTOMER_MAY:
        assert response.status_code in {200, 404}
        assert response["Content-Type"].startswith("application/json")
    else:
        assert_json_error(response, {403, 404})


def test_unknown_api_path_is_json_not_html(callers):
    response = callers["customer"].get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert "html" not in response.get("Content-Type", "")
