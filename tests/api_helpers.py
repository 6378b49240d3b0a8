"""What the REST API's permission tests share: token clients, the role sets the tests expect,
a `Route` row for table-driven tests, and the checks of the three ways a call is refused.

The role sets are written here rather than imported from accounts.permissions, so the tests
compare the code against a statement of the rules that does not move when the code does.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import ApiScope
from accounts.services import api_token_create

STAFF = frozenset({Role.ADMIN, Role.MANAGER, Role.AGENT, Role.CSM})
SUCCESS_STAFF = frozenset({Role.ADMIN, Role.MANAGER, Role.CSM})
MANAGERS = frozenset({Role.ADMIN, Role.MANAGER})
ADMINS = frozenset({Role.ADMIN})


def error_of(response) -> dict:
    """The `error` object of an API error response, after checking the shape."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]


def bearer_client(user, scopes: Iterable[str] = tuple(ApiScope.values), **fields) -> APIClient:
    """An API client authenticated with a new bearer token of `user` with `scopes`; the
    token row and its secret ride along as `client.api_token` and `client.secret`."""
    api_token, secret = api_token_create(user=user, name="test", scopes=list(scopes), **fields)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.api_token = api_token
    client.secret = secret
    return client


def scopes_except(scope: str) -> list[str]:
    """Every scope but `scope`: a token that may do anything except what a route needs."""
    return [other for other in ApiScope.values if other != scope]


@dataclass(frozen=True)
class Route:
    """One API operation in a permission table: its path and body, built from the test's
    objects; the token scope it needs; the roles it serves; and its status for them."""

    method: str
    path: Callable[[dict], str]
    scope: str
    roles: frozenset[str]
    body: Callable[[dict], object] | None = None
    ok: int = 200


def send(client: APIClient, method: str, path: str, body: object = None):
    """One JSON request (for a GET, `body` is the query string)."""
    return getattr(client, method.lower())(path, body, format="json")


def call(client: APIClient, route: Route, objects: dict):
    body = route.body(objects) if route.body else None
    return send(client, route.method, route.path(objects), body)


def assert_not_authenticated(response) -> None:
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def assert_scope_missing(response, scope: str) -> None:
    """Refused for the token's scopes, and the message names the scope to add."""
    assert response.status_code == 403
    assert scope in error_of(response)["message"]


def assert_role_decides(response, route: Route, role: str) -> None:
    """With the scope there, a role the route serves gets `route.ok`; any other a 403."""
    if role in route.roles:
        assert response.status_code == route.ok, response.json()
    else:
        assert response.status_code == 403, response.json()
        assert error_of(response)["code"] == "permission_denied"
