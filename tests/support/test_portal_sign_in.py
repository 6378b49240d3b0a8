"""Portal sign-in: magic links (single use, expiry, tampering), rate limits on real Redis,
the same answer for every address, password sign-in."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from support.models import PortalLoginToken
from support.services import portal as portal_services
from support.tasks import portal_login_link_send_task
from tests.factories import ContactFactory, UserFactory

SIGN_IN = reverse("support:portal-sign-in")
HOME = reverse("support:portal-home")
LINK = re.compile(r"https?://[^\s]+/portal/sign-in/([A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def _fresh_limits(db):
    cache.clear()  # this test run's own Redis database: the rate-limit counters start at zero
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _tasks_run_inline(monkeypatch):
    """The link task runs in-process (it is queued after commit, as in production)."""
    monkeypatch.setattr(
        portal_login_link_send_task,
        "delay",
        lambda contact_id: portal_login_link_send_task.apply(args=[contact_id]).get(),
    )


def ask_for_link(client, email, django_capture_on_commit_callbacks, **extra):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(SIGN_IN, {"email": email}, **extra)


def make_token(contact, *, raw="a" * 43, expires_in=timedelta(minutes=15), used=False):
    now = timezone.now()
    PortalLoginToken.objects.create(
        contact=contact,
        token_hash=portal_services.token_hash(raw),
        expires_at=now + expires_in,
        used_at=now if used else None,
    )
    return raw


def link_url(raw):
    return reverse("support:portal-sign-in-link", args=[raw])


def test_magic_link_signs_a_contact_in_and_makes_their_login(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    contact = ContactFactory(email="dana@customer.test", name="Dana Scully")
    response = ask_for_link(client, "Dana@Customer.test", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "If that address belongs to a contact, we sent a link" in response.content.decode()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["dana@customer.test"]
    raw = LINK.search(mailoutbox[0].body).group(1)
    # Only the hash is stored.
    stored = PortalLoginToken.objects.get(contact=contact)
    assert stored.token_hash == portal_services.token_hash(raw)
    assert raw not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(minutes=15)

    # GET (what a mail scanner does) shows a button and spends nothing.
    page = client.get(link_url(raw))
    assert page.status_code == 200
    assert "dana@customer.test" in page.content.decode()
    stored.refresh_from_db()
    assert stored.used_at is None

    response = client.post(link_url(raw))
    assert response.status_code == 302
    assert response["Location"] == HOME
    contact.refresh_from_db()
    assert contact.user.role == Role.CUSTOMER
    assert not contact.user.has_usable_password()
    assert client.get(HOME).status_code == 200


def test_magic_link_works_once(client):
    contact = ContactFactory()
    raw = make_token(contact)
    assert client.post(link_url(raw)).status_code == 302
    other = Client()
    response = other.post(link_url(raw))
    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert "Send a new link" in response.content.decode()
    assert other.get(HOME).status_code == 302  # still signed out


def test_signing_in_voids_the_contacts_other_links(client):
    contact = ContactFactory()
    first = make_token(contact, raw="first-" + "x" * 40)
    second = make_token(contact, raw="second-" + "y" * 40)
    assert client.post(link_url(second)).status_code == 302
    assert Client().post(link_url(first)).status_code == 410


def test_expired_link_is_refused_with_a_way_to_get_a_new_one(client):
    contact = ContactFactory()
    raw = make_token(contact, expires_in=timedelta(seconds=-1))
    for response in (client.get(link_url(raw)), client.post(link_url(raw))):
        assert response.status_code == 410
        assert "expired" in response.content.decode()
        assert "Send a new link" in response.content.decode()
    assert client.get(HOME).status_code == 302
    assert not PortalLoginToken.objects.filter(used_at__isnull=False).exists()


@pytest.mark.parametrize("tampered", ["b" * 43, "a" * 42, "a" * 44, "x", "%00" * 3, "a" * 500])
def test_tampered_link_is_refused_not_a_server_error(client, tampered):
    make_token(ContactFactory())
    for response in (client.get(link_url(tampered)), client.post(link_url(tampered))):
        assert response.status_code == 400
        assert "not valid" in response.content.decode()


def test_unknown_address_gets_the_same_answer_and_no_mail(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    ContactFactory(email="known@customer.test")
    known = ask_for_link(client, "known@customer.test", django_capture_on_commit_callbacks)
    unknown = ask_for_link(Client(), "nobody@customer.test", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 200
    assert _same_text(known, unknown)
    assert len(mailoutbox) == 1


def _same_text(a, b) -> bool:
    strip = re.compile(rb'value="[^"]*"|"X-CSRFToken": "[^"]*"')
    return strip.sub(b"", a.content) == strip.sub(b"", b.content)


def test_staff_address_on_a_contact_never_signs_in_as_staff(client):
    agent = UserFactory(role=Role.AGENT, email="sam@customer.test")
    contact = ContactFactory(email="sam@customer.test")
    response = client.post(link_url(make_token(contact)))
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.user is None
    assert "_auth_user_id" not in client.session
    assert agent.role == Role.AGENT


def test_link_requests_are_limited_per_address(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    ContactFactory(email="flood@customer.test")
    limit = portal_services.SIGN_IN_LIMIT_PER_EMAIL
    for n in range(limit):
        response = ask_for_link(
            client,
            "flood@customer.test",
            django_capture_on_commit_callbacks,
            REMOTE_ADDR=f"10.0.0.{n}",
        )
        assert response.status_code == 200
    response = ask_for_link(
        client, "FLOOD@customer.test", django_capture_on_commit_callbacks, REMOTE_ADDR="10.0.1.1"
    )
    assert response.status_code == 429
    assert "Too many sign-in links" in response.content.decode()
    assert response["Retry-After"]
    assert len(mailoutbox) == limit
    # Another address is not affected.
    response = ask_for_link(client, "other@customer.test", django_capture_on_commit_callbacks)
    assert response.status_code == 200


def test_link_requests_are_limited_per_client_address(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    limit = portal_services.SIGN_IN_LIMIT_PER_IP
    for n in range(limit):
        response = ask_for_link(
            client,
            f"p{n}@customer.test",
            django_capture_on_commit_callbacks,
            REMOTE_ADDR="10.9.9.9",
        )
        assert response.status_code == 200
    response = ask_for_link(
        client, "last@customer.test", django_capture_on_commit_callbacks, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 429
    # Unknown addresses are counted too: the limit does not reveal who is a contact.
    assert cache.get("portal-sign-in:ip:10.9.9.9") == limit + 1


def test_bad_email_keeps_what_was_typed(client):
    response = client.post(SIGN_IN, {"email": "not-an-address"})
    assert response.status_code == 400
    assert 'value="not-an-address"' in response.content.decode()
    assert "Enter a valid email address." in response.content.decode()


def test_password_sign_in_after_setting_one(client):
    contact = ContactFactory(email="pat@customer.test")
    client.post(link_url(make_token(contact)))
    response = client.post(
        reverse("support:portal-password"),
        {"new_password1": "a-long-pass-phrase-42", "new_password2": "a-long-pass-phrase-42"},
    )
    assert response.status_code == 302
    assert client.get(HOME).status_code == 200  # still signed in after the change

    other = Client()
    wrong = other.post(
        reverse("support:portal-sign-in-password"),
        {"email": "pat@customer.test", "password": "nope"},
    )
    assert wrong.status_code == 400
    assert "do not match" in wrong.content.decode()
    assert 'value="pat@customer.test"' in wrong.content.decode()
    right = other.post(
        reverse("support:portal-sign-in-password"),
        {"email": "pat@customer.test", "password": "a-long-pass-phrase-42"},
    )
    assert right.status_code == 302
    assert other.get(HOME).status_code == 200


def test_staff_cannot_use_the_portal_password_form(client):
    UserFactory(role=Role.AGENT, email="staff@cx.test")
    response = client.post(
        reverse("support:portal-sign-in-password"),
        {"email": "staff@cx.test", "password": "pw-for-tests-123"},
    )
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_signed_out_visitors_are_sent_to_the_portal_sign_in(client):
    response = client.get(reverse("support:portal-ticket", args=[1]))
    assert response.status_code == 302
    assert response["Location"].startswith(SIGN_IN)


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_sign_in_once():
    from tests.support.test_concurrency import run_together

    contact = ContactFactory()
    raw = make_token(contact)
    outcomes = run_together(
        lambda: portal_services.portal_login_token_redeem(raw_token=raw),
        lambda: portal_services.portal_login_token_redeem(raw_token=raw),
    )
    signed_in = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, portal_services.LoginLinkSpent)]
    assert len(signed_in) == 1
    assert len(refused) == 1


def test_old_links_are_purged():
    contact = ContactFactory()
    make_token(contact, raw="old" * 15, expires_in=timedelta(days=-2))
    make_token(contact, raw="new" * 15)
    assert portal_services.portal_login_tokens_purge() == 1
    assert portal_services.portal_login_tokens_purge() == 0
    assert PortalLoginToken.objects.count() == 1
