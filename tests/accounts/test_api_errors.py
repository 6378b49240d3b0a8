"""One error shape for every failure under /api/, and never an HTML page or a 500 for bad
input."""

from unittest import mock

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from tests.api_helpers import error_of
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"


@pytest.fixture
def api(token_client, csm):
    return token_client(csm)


def test_400_names_each_invalid_field(api):
    response = api.post(ACCOUNTS, {"name": "", "mrr": "lots", "tier": "platinum"}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"name", "mrr", "tier"}
    assert "platinum" in error["fields"]["tier"][0]
    assert "Allowed values: enterprise, growth, starter" in error["fields"]["tier"][0]
    assert error["message"].startswith("Invalid fields:")


def test_unknown_field_is_rejected_not_ignored(api):
    response = api.post(ACCOUNTS, {"name": "Acme", "colour": "blue"}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"colour": ["Unknown field."]}


def test_read_only_field_is_rejected(api):
    account = AccountFactory()

    response = api.patch(f"{ACCOUNTS}{account.pk}/", {"health_score": 99}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"health_score": ["This field is read-only."]}


@pytest.mark.parametrize(
    "body",
    [
        ["a", "list"],
        "a string",
        42,
        {"name": ["not", "a", "string"]},
        {"name": {"nested": 1}},
        {"name": "Acme", "domains": "acme.test"},
        {"name": "Acme", "domains": [1, 2]},
        {"name": "Acme", "seats": "many"},
        {"name": "Acme", "seats": -1},
        {"name": "Acme", "renewal_date": "next year"},
        {"name": "Acme", "csm": 12},
        {"name": "Acme", "csm": "nobody@cx.test"},
        {"name": "Acme", "mrr": -5},
        {"name": "Acme", "mrr": "1e400"},
        {"name": "x" * 1000},
        {"name": "Acme\u0000"},
    ],
)
def test_wrong_types_are_400_never_500(api, body):
    response = api.post(ACCOUNTS, body, format="json")

    assert response.status_code == 400, response.content
    error_of(response)


def test_malformed_json_is_400(api):
    response = api.post(ACCOUNTS, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_401_403_404_405_in_the_error_shape(api, token_client, make_user):
    anonymous = APIClient().get(ACCOUNTS)
    wrong_scope = token_client(make_user(Role.CSM), ["tickets:read"]).get(ACCOUNTS)
    missing = api.get(f"{ACCOUNTS}999999999/")
    not_a_number = api.get(f"{ACCOUNTS}abc/")
    method = api.delete(f"{ACCOUNTS}{AccountFactory().pk}/")

    assert (anonymous.status_code, error_of(anonymous)["code"]) == (401, "not_authenticated")
    assert (wrong_scope.status_code, error_of(wrong_scope)["code"]) == (403, "permission_denied")
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")
    assert not_a_number.status_code == 404
    error_of(not_a_number)
    assert (method.status_code, error_of(method)["code"]) == (405, "method_not_allowed")


def test_unknown_api_url_is_a_json_404_not_an_html_page(api):
    for path in ("/api/v1/nothing-here/", "/api/v2/accounts/", "/api/"):
        response = api.get(path)

        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


def test_unsupported_media_type_is_415(api):
    response = api.post(ACCOUNTS, "name=Acme", content_type="text/plain")

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_body_over_the_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = api.post(ACCOUNTS, {"name": "x" * 500}, format="json")

    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_crash_is_a_logged_json_500_without_details(api, caplog):
    with mock.patch(
        "accounts.api.views.services.account_create", side_effect=RuntimeError("secret detail")
    ):
        response = api.post(ACCOUNTS, {"name": "Acme"}, format="json")

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "secret detail" not in response.content.decode()
    assert any("API error on POST /api/v1/accounts/" in r.getMessage() for r in caplog.records)


def test_validation_error_raised_by_a_service_is_400_on_its_field(api):
    first = api.post("/api/v1/contacts/", {"name": "Pat", "email": "pat@x.test"}, format="json")
    assert first.status_code == 201

    again = api.post("/api/v1/contacts/", {"name": "Pat", "email": "PAT@x.test"}, format="json")

    assert again.status_code == 400
    assert error_of(again)["fields"] == {"email": ["A contact with this email already exists."]}


def test_pages_outside_the_api_keep_their_html_errors(client_for, csm):
    response = client_for(csm).get("/no-such-page/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
