"""Fixtures for the REST API tests (tests/accounts/test_api_*.py)."""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def token_client():
    """An API client authenticated with a new bearer token of `user` with `scopes` (every
    scope unless told): tests.api_helpers.bearer_client, as a fixture."""

    from tests.api_helpers import bearer_client  # it imports error_of from here

    return bearer_client


@pytest.fixture
def session_client():
    """An API client signed in through the session, as the browsable API is."""

    def make(user, **kwargs) -> APIClient:
        client = APIClient(**kwargs)
        client.force_login(user)
        return client

    return make


def error_of(response) -> dict:
    """The `error` object of an API error response, after checking the shape."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]
