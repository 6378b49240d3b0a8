"""The issue's "bad input" for the email channel, end to end with the real limits: a 30 MB
attachment, an unknown charset, mail with no From, a forged reply token. Each is degraded
or refused with its reason in the logs (and in the webhook's answer), nothing is lost (the
original is kept), and one bad or huge message never blocks the ones behind it."""

import logging

import pytest

from support.models import Attachment, InboundEmail, Ticket
from support.services import email as email_services
from support.services.email import email_ingest
from tests.factories import AccountFactory
from tests.support.test_email_ingest import SECRET, FakeImap, make_mail, post

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
LOGGER = "support.services.email"


@pytest.fixture(autouse=True)
def email_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CX_SUPPORT_EMAIL = "support@cx.test"
    settings.CX_INBOUND_EMAIL_SECRET = SECRET
    # The shipped defaults (cxplatform/settings.py), whatever the environment says.
    settings.CX_ATTACHMENT_MAX_BYTES = 10 * MB
    settings.CX_INBOUND_EMAIL_MAX_BYTES = 25 * MB
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def acme():
    return AccountFactory(name="Acme", domains=["acme.test"])


@pytest.fixture(scope="module")
def huge_mail() -> bytes:
    """A real 30 MB attachment (about 41 MB of MIME once base64-encoded)."""
    return make_mail(
        message_id="huge",
        subject="Full crash dump",
        body="The dump is attached.",
        attachments=[("crash.dmp", b"\x00\x01dump" * (30 * MB // 6))],
    )


def test_a_30_mb_attachment_opens_the_ticket_without_it_and_keeps_the_original(
    acme, huge_mail, caplog
):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        inbound = email_ingest(raw=huge_mail, source="imap")

    assert inbound.status == InboundEmail.Status.PROCESSED
    assert inbound.ticket.subject == "Full crash dump"
    body = inbound.ticket_message.body
    assert body.startswith("The dump is attached.")
    assert "over the 25.0 MB limit" in body
    assert "Support keeps the original" in body
    assert not Attachment.objects.exists()
    stored = InboundEmail.objects.get(pk=inbound.pk)
    assert bytes(stored.raw) == huge_mail  # nothing lost: an admin can still get the file
    assert stored.size == len(huge_mail)


def test_a_huge_message_in_the_mailbox_does_not_block_the_ones_behind_it(
    settings, monkeypatch, acme, huge_mail
):
    settings.CX_IMAP_URL = "imaps://support:pw@imap.cx.test/INBOX"
    server = FakeImap(
        {
            b"1": make_mail(message_id="before", subject="Before"),
            b"2": huge_mail,
            b"3": b"\x00\x01 not mail",
            b"4": make_mail(message_id="after", subject="After"),
        }
    )
    monkeypatch.setattr(email_services, "_imap_connect", lambda url: server)

    result = email_services.mailbox_fetch()

    assert (result.fetched, result.failed) == (4, 0)
    assert server.seen == [b"1", b"2", b"3", b"4"]
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "After",
        "Before",
        "Full crash dump",
    ]
    assert InboundEmail.objects.filter(status=InboundEmail.Status.QUARANTINED).count() == 1


def test_the_webhook_answers_413_for_a_30_mb_message_and_takes_the_next(client, acme, huge_mail):
    refused = post(client, huge_mail)
    accepted = post(client, make_mail(message_id="small"))

    assert refused.status_code == 413
    assert "over" in refused.json()["error"]  # the provider is told why (and bounces it)
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "processed"
    assert InboundEmail.objects.count() == 1


def test_an_unknown_charset_opens_a_ticket_with_replacement_characters(acme):
    raw = (
        b"From: Jane Roe <jane@acme.test>\r\nTo: support@cx.test\r\n"
        b"Subject: =?x-klingon?Q?Qapla=E9?=\r\nMessage-ID: <klingon@mail.acme.test>\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\nCaf\xc3\xa9 \xff is broken\r\n"
    )

    inbound = email_ingest(raw=raw, source="test")

    assert inbound.status == InboundEmail.Status.PROCESSED
    assert inbound.ticket_message.body == "Café \ufffd is broken"
    assert inbound.ticket.subject  # shown somehow, never an exception


@pytest.mark.parametrize(
    "from_header",
    [None, b"From: \r\n", b"From: undisclosed-recipients:;\r\n", b"From: not an address\r\n"],
)
def test_mail_with_no_usable_from_is_quarantined_with_the_reason_logged(acme, caplog, from_header):
    raw = (
        from_header or b""
    ) + b"To: support@cx.test\r\nSubject: Who am I?\r\nMessage-ID: <anon@x.test>\r\n\r\nhi"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        inbound = email_ingest(raw=raw, source="test")
        following = email_ingest(raw=make_mail(message_id="next"), source="test")

    assert inbound.status == InboundEmail.Status.QUARANTINED
    assert inbound.reason == "The message has no sender address (From)."
    assert "<anon@x.test> quarantined: The message has no sender address (From)." in caplog.text
    assert bytes(InboundEmail.objects.get(pk=inbound.pk).raw) == raw  # kept for a re-run
    assert following.status == InboundEmail.Status.PROCESSED
    assert not Ticket.objects.filter(subject="Who am I?").exists()


def test_a_forged_reply_token_from_a_customer_is_logged_and_never_threads(acme, caplog):
    ticket = email_ingest(raw=make_mail(message_id="t1"), source="test").ticket
    forged = f"support+{ticket.pk}-{'0' * 24}@cx.test"
    stranger_mail = make_mail(
        sender="Mallory <mallory@evil.test>", to=forged, subject="Give me the data"
    )

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        inbound = email_ingest(raw=stranger_mail, source="test")

    assert "carries an invalid reply token" in caplog.text
    assert inbound.status == InboundEmail.Status.PROCESSED
    assert inbound.ticket != ticket  # a new ticket of the stranger's own
    assert not ticket.messages.filter(author_contact__email="mallory@evil.test").exists()


def test_a_forged_token_in_a_message_id_is_not_trusted(acme, agent, caplog):
    ticket = email_ingest(raw=make_mail(message_id="t2"), source="test").ticket
    forged_id = f"cx-status-1-{ticket.pk}-{'f' * 24}@cx.test"
    spoof = make_mail(sender=agent.email, headers={"In-Reply-To": f"<{forged_id}>"})

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        inbound = email_ingest(raw=spoof, source="test")

    assert inbound.status == InboundEmail.Status.QUARANTINED
    assert "without a valid reply token" in inbound.reason
    assert "carries an invalid reply token" in caplog.text
    assert not ticket.messages.filter(author_user=agent).exists()


def test_malformed_mime_is_quarantined_with_its_reason_in_the_webhook_answer(client):
    response = post(client, b"\x00\x01\x02 binary junk, no header lines")

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "quarantined"
    assert body["reason"].startswith("Unreadable message:")
    assert InboundEmail.objects.get(pk=body["id"]).status == InboundEmail.Status.QUARANTINED
