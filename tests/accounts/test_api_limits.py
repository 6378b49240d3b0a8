"""Rate limits, idempotency keys and ETag / If-Match."""

import threading

import pytest
from django.db import connection

from accounts.models import Account, ApiIdempotencyKey, Contact
from tests.api_helpers import error_of
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"


@pytest.fixture
def api(token_client, csm):
    return token_client(csm, ["accounts:read", "accounts:write"])


# --- rate limits ---------------------------------------------------------------------------


def test_every_response_carries_the_rate_limit_headers(api, settings):
    settings.CX_API_RATE_LIMIT = 50

    ok = api.get(ACCOUNTS)
    missing = api.get(f"{ACCOUNTS}999999999/")
    invalid = api.post(ACCOUNTS, {"colour": "blue"}, format="json")

    assert ok["X-RateLimit-Limit"] == "50"
    assert ok["X-RateLimit-Remaining"] == "49"
    assert missing["X-RateLimit-Remaining"] == "48"
    assert invalid["X-RateLimit-Remaining"] == "47"
    assert 0 < int(ok["X-RateLimit-Reset"]) <= 60


def test_over_the_limit_is_429_with_retry_after(api, settings):
    settings.CX_API_RATE_LIMIT = 3

    statuses = [api.get(ACCOUNTS).status_code for _ in range(4)]
    refused = api.get(ACCOUNTS)

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Remaining"] == "0"
    assert refused["X-RateLimit-Limit"] == "3"


def test_limits_are_per_token(token_client, csm, settings):
    settings.CX_API_RATE_LIMIT = 2
    first, second = token_client(csm, ["accounts:read"]), token_client(csm, ["accounts:read"])

    assert [first.get(ACCOUNTS).status_code for _ in range(3)] == [200, 200, 429]
    assert second.get(ACCOUNTS).status_code == 200


def test_sessions_are_limited_per_user(session_client, csm, settings):
    settings.CX_API_RATE_LIMIT = 1
    client = session_client(csm)

    assert client.get(ACCOUNTS).status_code == 200
    assert client.get(ACCOUNTS).status_code == 429


def test_refused_requests_count_and_carry_headers_too(token_client, csm, settings):
    settings.CX_API_RATE_LIMIT = 10
    client = token_client(csm, ["tickets:read"])  # no accounts:read

    response = client.get(ACCOUNTS)

    assert response.status_code == 403
    assert response["X-RateLimit-Remaining"] == "9"


# --- idempotency keys ----------------------------------------------------------------------


def test_same_key_and_body_returns_the_first_response_and_creates_nothing(api):
    body = {"name": "Acme", "domains": ["acme.test"]}

    first = api.post(ACCOUNTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(ACCOUNTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert again["Idempotent-Replayed"] == "true"
    assert Account.objects.count() == 1
    assert ApiIdempotencyKey.objects.count() == 1


def test_same_key_with_another_body_is_409(api):
    api.post(ACCOUNTS, {"name": "Acme"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    response = api.post(ACCOUNTS, {"name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert list(Account.objects.values_list("name", flat=True)) == ["Acme"]


def test_keys_belong_to_their_token(token_client, csm):
    first = token_client(csm, ["accounts:write"])
    second = token_client(csm, ["accounts:write"])

    first.post(ACCOUNTS, {"name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = second.post(ACCOUNTS, {"name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Account.objects.count() == 2


def test_a_400_is_replayed_too(api):
    body = {"name": ""}

    first = api.post(ACCOUNTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    again = api.post(ACCOUNTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()


def test_key_in_progress_is_409(api, csm):
    # What a concurrent duplicate finds: the first request's claim, with no response yet.
    token = api.api_token
    ApiIdempotencyKey.objects.create(owner=f"token:{token.pk}", key="k-4", fingerprint="x")

    response = api.post(ACCOUNTS, {"name": "Acme"}, format="json", HTTP_IDEMPOTENCY_KEY="k-4")

    assert response.status_code == 409
    assert error_of(response)["code"] in ("idempotency_in_progress", "idempotency_key_reused")
    assert not Account.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_row(token_client, make_user):
    from accounts.choices import Role

    api = token_client(make_user(Role.CSM), ["accounts:write"])
    barrier = threading.Barrier(4)
    statuses = []

    def post():
        try:
            barrier.wait()
            response = api.post(
                "/api/v1/contacts/",
                {"name": "Pat", "email": "pat@race.test"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="race",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Contact.objects.count() == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}


def test_crash_releases_the_key_for_a_retry(api):
    from unittest import mock

    with mock.patch("accounts.api.views.services.account_create", side_effect=RuntimeError):
        crashed = api.post(ACCOUNTS, {"name": "Acme"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    retried = api.post(ACCOUNTS, {"name": "Acme"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")

    assert crashed.status_code == 500
    assert retried.status_code == 201
    assert Account.objects.count() == 1


def test_expired_key_is_as_good_as_new(api):
    from datetime import timedelta

    from django.utils import timezone

    api.post(ACCOUNTS, {"name": "Acme"}, format="json", HTTP_IDEMPOTENCY_KEY="k-6")
    ApiIdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = api.post(ACCOUNTS, {"name": "Acme"}, format="json", HTTP_IDEMPOTENCY_KEY="k-6")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Account.objects.count() == 2


def test_post_without_a_key_is_not_recorded(api):
    api.post(ACCOUNTS, {"name": "Acme"}, format="json")

    assert not ApiIdempotencyKey.objects.exists()


# --- ETag / If-Match -----------------------------------------------------------------------


def test_single_resources_carry_an_etag_that_changes_with_them(api):
    account = AccountFactory()
    url = f"{ACCOUNTS}{account.pk}/"

    first = api.get(url)
    same = api.get(url)
    updated = api.patch(url, {"segment": "Retail"}, format="json")

    assert first["ETag"].startswith('"')
    assert same["ETag"] == first["ETag"]
    assert updated["ETag"] != first["ETag"]
    assert api.get(url)["ETag"] == updated["ETag"]


def test_if_match_with_the_current_etag_updates(api):
    account = AccountFactory()
    url = f"{ACCOUNTS}{account.pk}/"
    etag = api.get(url)["ETag"]

    response = api.patch(url, {"segment": "Retail"}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.segment == "Retail"


def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(api):
    account = AccountFactory()
    url = f"{ACCOUNTS}{account.pk}/"
    stale = api.get(url)["ETag"]
    api.patch(url, {"segment": "Retail"}, format="json")

    response = api.patch(url, {"segment": "Finance"}, format="json", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert error_of(response)["code"] == "precondition_failed"
    account.refresh_from_db()
    assert account.segment == "Retail"


def test_if_match_star_matches_any_version(api):
    account = AccountFactory()

    response = api.patch(
        f"{ACCOUNTS}{account.pk}/", {"segment": "Retail"}, format="json", HTTP_IF_MATCH="*"
    )

    assert response.status_code == 200


def test_sla_settings_get_etags_too(session_client, manager):
    from tests.support.test_api_sla import make_calendar

    calendar = make_calendar()
    api = session_client(manager)
    url = f"/api/v1/sla/calendars/{calendar.pk}/"
    stale = api.get(url)["ETag"]
    api.patch(url, {"name": "Munich"}, format="json")

    response = api.patch(url, {"name": "Hamburg"}, format="json", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert api.delete(url, HTTP_IF_MATCH=stale).status_code == 412
