"""API tokens: creation, hashing, bearer authentication, revocation, expiry, last-used time,
the profile page and `manage.py api_token`."""

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke, api_token_touch
from tests.api_helpers import error_of

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


# --- the service ---------------------------------------------------------------------------


def test_token_is_stored_only_as_its_sha256(csm):
    api_token, secret = api_token_create(user=csm, name="Billing sync", scopes=["accounts:read"])

    assert secret.startswith(f"cx_{api_token.prefix}_")
    assert len(secret) > 40  # 256 random bits after the prefix
    stored = ApiToken.objects.get()
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.scopes == ["accounts:read"]
    assert stored.user == csm


def test_two_tokens_get_different_secrets_and_prefixes(csm):
    first = api_token_create(user=csm, name="a", scopes=["accounts:read"])
    second = api_token_create(user=csm, name="b", scopes=["accounts:read"])

    assert first[1] != second[1]
    assert first[0].prefix != second[0].prefix


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [
        ("", ["accounts:read"], "Give the token a name."),
        ("x", [], "Choose at least one scope."),
        ("x", ["accounts:read", "everything"], "Unknown scopes: everything."),
    ],
)
def test_bad_token_requests_are_refused_with_the_reason(csm, name, scopes, message):
    with pytest.raises(ValidationError) as raised:
        api_token_create(user=csm, name=name, scopes=scopes)

    assert any(message in m for m in raised.value.messages)
    assert not ApiToken.objects.exists()


# --- bearer authentication ------------------------------------------------------------------


def test_valid_token_authenticates_as_its_user(csm):
    _, secret = api_token_create(user=csm, name="x", scopes=["accounts:read"])

    response = bearer(secret).get(ACCOUNTS)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cx_deadbeef_not-the-secret",
        "Bearer nonsense",
        "Bearer",
        "Bearer a b",
        "Bearer cx__",
    ],
)
def test_wrong_or_malformed_token_is_401_in_the_error_shape(csm, header):
    api_token_create(user=csm, name="x", scopes=["accounts:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(ACCOUNTS)

    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_with_the_right_prefix_but_wrong_secret_is_refused(csm):
    api_token, _secret = api_token_create(user=csm, name="x", scopes=["accounts:read"])
    forged = f"cx_{api_token.prefix}_{'A' * 43}"

    assert bearer(forged).get(ACCOUNTS).status_code == 401


def test_revoked_token_is_401(csm):
    api_token, secret = api_token_create(user=csm, name="x", scopes=["accounts:read"])

    assert api_token_revoke(api_token=api_token) is True
    assert api_token_revoke(api_token=api_token) is False  # already revoked
    response = bearer(secret).get(ACCOUNTS)

    assert response.status_code == 401
    assert error_of(response)["message"] == "This token has been revoked."


def test_expired_token_is_401(csm):
    _, secret = api_token_create(
        user=csm,
        name="x",
        scopes=["accounts:read"],
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    response = bearer(secret).get(ACCOUNTS)

    assert response.status_code == 401
    assert error_of(response)["message"] == "This token has expired."


def test_token_not_yet_expired_works(csm):
    _, secret = api_token_create(
        user=csm, name="x", scopes=["accounts:read"], expires_at=timezone.now() + timedelta(days=1)
    )

    assert bearer(secret).get(ACCOUNTS).status_code == 200


def test_token_of_an_inactive_user_is_401(csm):
    _, secret = api_token_create(user=csm, name="x", scopes=["accounts:read"])
    csm.is_active = False
    csm.save()

    response = bearer(secret).get(ACCOUNTS)

    assert response.status_code == 401
    assert error_of(response)["message"] == "The token's user is inactive."


def test_anonymous_request_is_401_with_a_bearer_challenge():
    response = APIClient().get(ACCOUNTS)

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# --- last used -----------------------------------------------------------------------------


def test_last_used_is_recorded_at_most_once_a_minute(csm, django_assert_num_queries):
    _api_token, secret = api_token_create(user=csm, name="x", scopes=["accounts:read"])
    client = bearer(secret)

    client.get(ACCOUNTS)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    # The second call within the minute reads the token and the page, and writes nothing.
    with django_assert_num_queries(2):
        client.get(ACCOUNTS)
    assert ApiToken.objects.get().last_used_at == first


def test_last_used_moves_on_after_a_minute(csm):
    api_token, _ = api_token_create(user=csm, name="x", scopes=["accounts:read"])
    start = timezone.now()

    api_token_touch(api_token=api_token, now=start)
    api_token_touch(api_token=ApiToken.objects.get(), now=start + timedelta(seconds=30))
    assert ApiToken.objects.get().last_used_at == start
    api_token_touch(api_token=ApiToken.objects.get(), now=start + timedelta(seconds=61))
    assert ApiToken.objects.get().last_used_at == start + timedelta(seconds=61)


# --- the profile page ----------------------------------------------------------------------

PAGE = "/profile/api-tokens/"


def test_profile_page_creates_a_token_and_shows_the_secret_once(client_for, csm):
    client = client_for(csm)

    response = client.post(PAGE, {"name": "Warehouse", "scopes": ["accounts:read", "metrics:read"]})

    assert response.status_code == 200
    api_token = ApiToken.objects.get()
    secret = response.context["secret"]
    assert secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert api_token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_token.scopes == ["accounts:read", "metrics:read"]
    # Shown once: the list afterwards has the prefix only.
    again = client.get(PAGE).content.decode()
    assert secret not in again
    assert f"cx_{api_token.prefix}_" in again
    assert "Warehouse" in again


def test_profile_page_lists_only_my_tokens_with_scopes_and_last_use(client_for, csm, agent):
    mine, _ = api_token_create(user=csm, name="Mine", scopes=["accounts:read"])
    api_token_create(user=agent, name="Theirs", scopes=["tickets:read"])
    ApiToken.objects.filter(pk=mine.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))

    page = client_for(csm).get(PAGE).content.decode()

    assert "Mine" in page
    assert "Theirs" not in page
    assert "accounts:read" in page
    assert "5\xa0minutes ago" in page  # last used, relative


def test_profile_page_shows_errors_inline_and_keeps_the_input(client_for, csm):
    response = client_for(csm).post(PAGE, {"name": "Keep me", "scopes": []})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose at least one scope." in page
    assert 'value="Keep me"' in page
    assert not ApiToken.objects.exists()


def test_profile_page_revokes_a_token(client_for, csm):
    api_token, secret = api_token_create(user=csm, name="Old", scopes=["accounts:read"])

    response = client_for(csm).post(f"{PAGE}{api_token.pk}/revoke/", follow=True)

    assert response.status_code == 200
    assert "Revoked the token" in response.content.decode()
    assert ApiToken.objects.get().revoked_at is not None
    assert bearer(secret).get(ACCOUNTS).status_code == 401


def test_nobody_revokes_another_persons_token(client_for, csm, agent):
    api_token, _ = api_token_create(user=agent, name="Theirs", scopes=["tickets:read"])

    response = client_for(csm).post(f"{PAGE}{api_token.pk}/revoke/")

    assert response.status_code == 404
    assert ApiToken.objects.get().revoked_at is None


def test_profile_page_forms_need_the_csrf_token(csm):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(csm)

    response = client.post(PAGE, {"name": "x", "scopes": ["accounts:read"]})

    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_customers_have_no_token_page(client_for, make_user):
    assert client_for(make_user(Role.CUSTOMER)).get(PAGE).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_profile_page_query_count(client_for, csm, django_assert_max_num_queries):
    for n in range(10):
        api_token_create(user=csm, name=f"t{n}", scopes=["accounts:read"])
    client = client_for(csm)

    with django_assert_max_num_queries(6):
        assert client.get(PAGE).status_code == 200


# --- manage.py api_token -------------------------------------------------------------------


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_creates_a_token_and_prints_it_once(csm):
    out, err = run(
        "create", "--user", csm.email.upper(), "--name", "CLI", "--scopes", "accounts:read,import"
    )

    secret = out.strip()
    api_token = ApiToken.objects.get()
    assert api_token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_token.scopes == ["accounts:read", "import"]
    assert "shown only now" in err
    assert bearer(secret).get(ACCOUNTS).status_code == 200


def test_command_lists_tokens_without_secrets_and_revokes_by_prefix(csm):
    api_token, secret = api_token_create(user=csm, name="CLI", scopes=["accounts:read"])

    listed, _ = run("list")
    assert api_token.prefix in listed
    assert "active" in listed
    assert secret not in listed

    out, _ = run("revoke", api_token.prefix)
    assert "Revoked" in out
    assert "revoked" in run("list", "--user", csm.email)[0]
    assert bearer(secret).get(ACCOUNTS).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--user", "nobody@cx.test", "--name", "x", "--scopes", "import"), "No user"),
        (("create", "--user", "{csm}", "--name", "x", "--scopes", "root"), "Unknown scopes: root"),
        (("revoke", "ffffffff"), "No token has the prefix"),
    ],
)
def test_command_errors_are_one_clear_line(csm, args, message):
    args = [arg.replace("{csm}", csm.email) for arg in args]

    with pytest.raises(CommandError, match=message):
        run(*args)
