"""Inbound mail → tickets: threading, idempotency, loops, the agent-spoofing guard, limits,
the quarantine, the webhook and the IMAP poller (with a fake IMAP server)."""

import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core import mail as outbox
from django.core.management import call_command
from django.urls import reverse

from accounts.choices import Role
from accounts.models import Contact
from support import services
from support.choices import Channel, Status
from support.models import Attachment, EmailThreadId, InboundEmail, Message, Ticket
from support.services import email as email_services
from support.services.email import email_ingest, reply_address, reply_token
from tests.factories import AccountFactory, ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db

DATA = Path("/work/shared/data/email")
SECRET = "s3cret-for-tests"


@pytest.fixture(autouse=True)
def email_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CX_SUPPORT_EMAIL = "support@cx.test"
    settings.CX_INBOUND_EMAIL_SECRET = SECRET
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


def make_mail(
    *,
    sender="Jane Roe <jane@acme.test>",
    to="support@cx.test",
    subject="Printer on fire",
    body="It is on fire.",
    message_id=None,
    headers=None,
    attachments=(),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id or uuid.uuid4().hex}@mail.acme.test>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content in attachments:
        message.add_attachment(
            content, maintype="application", subtype="octet-stream", filename=filename
        )
    return message.as_bytes()


@pytest.fixture
def acme():
    return AccountFactory(name="Acme", domains=["acme.test"])


# --- new tickets and contacts -------------------------------------------------------------


def test_new_mail_from_unknown_sender_opens_ticket_and_creates_contact(acme):
    inbound = email_ingest(raw=make_mail(message_id="first"), source="test")

    assert inbound.status == InboundEmail.Status.PROCESSED
    ticket = inbound.ticket
    assert (ticket.subject, ticket.channel) == ("Printer on fire", Channel.EMAIL)
    contact = Contact.objects.get(email="jane@acme.test")
    assert (contact.name, contact.account) == ("Jane Roe", acme)
    assert (ticket.requester, ticket.account) == (contact, acme)
    assert inbound.ticket_message.body == "It is on fire."
    assert inbound.ticket_message.author_contact == contact
    assert EmailThreadId.objects.filter(message_id="first@mail.acme.test", ticket=ticket).exists()
    assert bytes(inbound.raw).startswith(b"From:")  # the original is kept


def test_same_message_id_twice_creates_one_ticket(acme):
    raw = make_mail(message_id="dup")
    first = email_ingest(raw=raw, source="imap")
    second = email_ingest(raw=raw, source="webhook")

    assert second.pk == first.pk
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    assert InboundEmail.objects.count() == 1


def test_mail_without_message_id_is_deduplicated_by_its_bytes():
    raw = (DATA / "mail_test_18.eml").read_bytes()
    assert email_ingest(raw=raw, source="test").pk == email_ingest(raw=raw, source="test").pk
    assert Ticket.objects.count() == 1


# --- threading ----------------------------------------------------------------------------


def test_reply_threads_by_in_reply_to_and_strips_the_quote(acme):
    ticket = email_ingest(raw=make_mail(message_id="orig"), source="test").ticket
    reply = make_mail(
        subject="Re: Printer on fire",
        body="Still burning.\n\nOn Mon, Support <support@cx.test> wrote:\n> It is on fire.",
        headers={"In-Reply-To": "<orig@mail.acme.test>"},
    )

    inbound = email_ingest(raw=reply, source="test")

    assert inbound.ticket == ticket
    assert inbound.reason == "reply by thread headers"
    assert inbound.ticket_message.body == "Still burning."
    assert Ticket.objects.count() == 1


def test_reply_threads_by_references_to_a_message_we_sent(acme, agent):
    ticket = email_ingest(raw=make_mail(), source="test").ticket
    message = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="On it")
    email_services.email_reply_send(message_id=message.pk)
    ours = EmailThreadId.objects.get(ticket_message=message, outbound=True).message_id
    # A client that drops the Reply-To and In-Reply-To still sends References.
    reply = make_mail(body="Thanks", headers={"References": f"<x@elsewhere> <{ours}>"})

    inbound = email_ingest(raw=reply, source="test")

    assert inbound.ticket == ticket


def test_subject_tag_threads_for_the_requester_and_colleagues(acme):
    ticket = TicketFactory(requester=ContactFactory(account=acme, email="jane@acme.test"))
    colleague = make_mail(sender="bob@acme.test", subject=f"Re: thing [#{ticket.pk}]")

    inbound = email_ingest(raw=colleague, source="test")

    assert inbound.ticket == ticket
    assert inbound.reason == "reply by subject tag"


def test_subject_tag_from_a_stranger_opens_a_new_ticket(acme):
    ticket = TicketFactory(requester=ContactFactory(account=acme, email="jane@acme.test"))
    stranger = make_mail(sender="eve@evil.test", subject=f"Re: [#{ticket.pk}] pay me")

    inbound = email_ingest(raw=stranger, source="test")

    assert inbound.ticket != ticket
    assert inbound.ticket.subject == "Re: pay me"
    assert not ticket.messages.exists()


def test_reply_to_a_closed_ticket_opens_a_follow_up(acme):
    first = email_ingest(raw=make_mail(message_id="c1"), source="test").ticket
    Ticket.objects.filter(pk=first.pk).update(status=Status.CLOSED)

    reply = email_ingest(
        raw=make_mail(body="Again", headers={"In-Reply-To": "<c1@mail.acme.test>"}), source="test"
    )

    assert reply.ticket.follow_up_of_id == first.pk


# --- automatic mail and loops ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "Out of office"},
        {"Precedence": "bulk"},
    ],
)
def test_auto_replies_are_ignored_and_never_answered(acme, headers):
    inbound = email_ingest(raw=make_mail(subject="Out of office", headers=headers), source="t")

    assert inbound.status == InboundEmail.Status.IGNORED
    assert inbound.reason.startswith("Automatic message")
    assert not Ticket.objects.exists()
    assert outbox.outbox == []


@pytest.mark.parametrize("name", ["mail_malformed_2.eml", "mail_test_16.eml", "mail_test_5.eml"])
def test_real_bounces_and_bulk_mail_are_ignored(name):
    inbound = email_ingest(raw=(DATA / name).read_bytes(), source="test")
    assert inbound.status == InboundEmail.Status.IGNORED
    assert not Ticket.objects.exists()


def test_mail_from_our_own_address_is_ignored():
    inbound = email_ingest(raw=make_mail(sender="support@cx.test"), source="test")
    assert inbound.status == InboundEmail.Status.IGNORED
    assert "mail loop" in inbound.reason


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.eml")))
def test_every_real_message_is_ingested_without_error(name):
    inbound = email_ingest(raw=(DATA / name).read_bytes(), source="test")
    assert inbound.status in {InboundEmail.Status.PROCESSED, InboundEmail.Status.IGNORED}
    assert (inbound.ticket_id is not None) == (inbound.status == InboundEmail.Status.PROCESSED)


# --- agents ---------------------------------------------------------------------------------


@pytest.fixture
def customer_ticket(acme):
    return email_ingest(raw=make_mail(message_id="t1"), source="test").ticket


def test_mail_from_an_agent_without_token_is_not_posted_as_the_agent(customer_ticket, agent):
    spoof = make_mail(
        sender=agent.email,
        subject=f"Re: [#{customer_ticket.pk}] refund approved",
        headers={"In-Reply-To": "<t1@mail.acme.test>"},
    )

    inbound = email_ingest(raw=spoof, source="test")

    assert inbound.status == InboundEmail.Status.QUARANTINED
    assert "without a valid reply token" in inbound.reason
    assert not customer_ticket.messages.filter(author_user=agent).exists()


def test_forged_token_is_refused(customer_ticket, agent):
    forged = f"support+{customer_ticket.pk}-{'0' * 24}@cx.test"
    inbound = email_ingest(raw=make_mail(sender=agent.email, to=forged), source="test")

    assert inbound.status == InboundEmail.Status.QUARANTINED
    assert not customer_ticket.messages.filter(author_user=agent).exists()


def test_the_token_not_the_headers_decides_the_agents_ticket(customer_ticket, agent):
    other = TicketFactory()
    inbound = email_ingest(
        raw=make_mail(
            sender=agent.email,
            to=reply_address(other.pk),
            headers={"In-Reply-To": "<t1@mail.acme.test>"},
        ),
        source="test",
    )
    # The token names the other ticket, so the mail lands there, posted as the agent only
    # because the token is genuine for that ticket.
    assert inbound.ticket == other
    assert not customer_ticket.messages.filter(author_user=agent).exists()


def test_agent_reply_with_valid_token_is_posted_as_the_agent(customer_ticket, agent):
    inbound = email_ingest(
        raw=make_mail(
            sender=f"Alex <{agent.email.upper()}>",
            to=reply_address(customer_ticket.pk),
            body="Fixed it.\n\n-- \nAlex",
        ),
        source="test",
    )

    assert inbound.status == InboundEmail.Status.PROCESSED
    message = inbound.ticket_message
    assert (message.ticket, message.author_user, message.body) == (
        customer_ticket,
        agent,
        "Fixed it.",
    )


def test_reply_token_verifies_only_its_own_ticket():
    token = reply_token(7)
    assert email_services.reply_token_ticket_id(token) == 7
    assert email_services.reply_token_ticket_id(token.replace("7-", "8-", 1)) is None
    assert email_services.reply_token_ticket_id("7-not-a-token") is None


# --- limits and the quarantine ----------------------------------------------------------------


def test_oversized_attachment_is_dropped_with_a_note(settings, acme):
    settings.CX_ATTACHMENT_MAX_BYTES = 100
    raw = make_mail(attachments=[("small.txt", b"ok"), ("huge.bin", b"x" * 500)])

    inbound = email_ingest(raw=raw, source="test")

    assert inbound.status == InboundEmail.Status.PROCESSED
    assert list(Attachment.objects.values_list("filename", flat=True)) == ["small.txt"]
    assert "[Attachment huge.bin (500 bytes) was not stored" in inbound.ticket_message.body


def test_message_over_the_size_limit_is_kept_without_attachments(settings, acme):
    settings.CX_INBOUND_EMAIL_MAX_BYTES = 1000
    raw = make_mail(attachments=[("big.bin", b"x" * 2000)])

    inbound = email_ingest(raw=raw, source="test")

    assert inbound.status == InboundEmail.Status.PROCESSED
    assert not Attachment.objects.exists()
    assert "were not stored" in inbound.ticket_message.body
    assert inbound.ticket_message.body.startswith("It is on fire.")


def test_unparseable_mail_is_quarantined_and_the_next_one_still_runs(acme):
    bad = email_ingest(raw=b"this is not an email", source="test")
    no_sender = email_ingest(raw=b"Subject: who?\r\nMessage-ID: <ns@x>\r\n\r\nhi", source="t")
    good = email_ingest(raw=make_mail(), source="test")

    assert bad.status == InboundEmail.Status.QUARANTINED
    assert "not an email" in bad.reason
    assert no_sender.status == InboundEmail.Status.QUARANTINED
    assert "no sender" in no_sender.reason
    assert good.status == InboundEmail.Status.PROCESSED


def test_failure_while_processing_quarantines_then_rerun_processes(monkeypatch, acme):
    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(email_services, "ticket_create", broken)
    inbound = email_ingest(raw=make_mail(), source="test")
    assert inbound.status == InboundEmail.Status.QUARANTINED
    assert "database hiccup" in inbound.reason
    assert not Contact.objects.filter(email="jane@acme.test").exists()  # rolled back

    monkeypatch.undo()
    rerun = email_services.inbound_email_reprocess(inbound_email_id=inbound.pk)

    assert rerun.status == InboundEmail.Status.PROCESSED
    assert (rerun.attempts, rerun.ticket.subject) == (2, "Printer on fire")


def test_admin_rerun_action(client_for, make_user, monkeypatch, acme):
    admin_user = make_user(Role.ADMIN)
    monkeypatch.setattr(email_services, "ticket_create", lambda **kw: 1 / 0)
    inbound = email_ingest(raw=make_mail(), source="test")
    monkeypatch.undo()
    client = client_for(admin_user)
    changelist = reverse("admin:support_inboundemail_changelist")

    assert client.get(changelist + "?status__exact=quarantined").status_code == 200
    assert (
        client.get(reverse("admin:support_inboundemail_change", args=[inbound.pk])).status_code
        == 200
    )
    response = client.post(
        changelist, {"action": "rerun", "_selected_action": [inbound.pk]}, follow=True
    )

    assert response.status_code == 200
    inbound.refresh_from_db()
    assert inbound.status == InboundEmail.Status.PROCESSED


# --- the webhook ------------------------------------------------------------------------------


URL = "/inbound/email/"


def post(client, raw, secret=SECRET):
    headers = {"HTTP_X_INBOUND_SECRET": secret} if secret is not None else {}
    return client.post(URL, data=raw, content_type="message/rfc822", **headers)


def test_webhook_accepts_raw_mime_and_is_idempotent(client, acme, django_assert_max_num_queries):
    raw = make_mail(message_id="hook")
    with django_assert_max_num_queries(40):
        response = post(client, raw)
    again = post(client, raw)

    assert response.status_code == 202
    assert response.json()["status"] == "processed"
    assert again.status_code == 202
    assert again.json()["id"] == response.json()["id"]
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("secret", [None, "", "wrong"])
def test_webhook_refuses_a_wrong_secret(client, secret):
    assert post(client, make_mail(), secret=secret).status_code == 403
    assert not InboundEmail.objects.exists()


def test_webhook_is_off_without_a_configured_secret(client, settings):
    settings.CX_INBOUND_EMAIL_SECRET = ""
    assert post(client, make_mail(), secret="").status_code == 403


def test_webhook_refuses_too_large_and_empty_bodies(client, settings):
    settings.CX_INBOUND_EMAIL_MAX_BYTES = 500
    assert post(client, make_mail(body="x" * 1000)).status_code == 413
    assert post(client, b"").status_code == 400
    assert client.get(URL).status_code == 405
    assert not InboundEmail.objects.exists()


def test_webhook_quarantines_garbage_with_202(client):
    response = post(client, b"garbage without headers")
    assert response.status_code == 202
    assert response.json()["status"] == "quarantined"


# --- IMAP -------------------------------------------------------------------------------------


class FakeImap:
    """Just enough of imaplib.IMAP4 for the poller: UID SEARCH/FETCH/STORE."""

    def __init__(self, messages: dict[bytes, bytes | Exception]) -> None:
        self.messages = messages
        self.seen: list[bytes] = []
        self.selected = None
        self.logged_out = False

    def select(self, mailbox):
        self.selected = mailbox
        return "OK", [b"3"]

    def uid(self, command, *args):
        if command == "SEARCH":
            unseen = [u for u in self.messages if u not in self.seen]
            return "OK", [b" ".join(unseen)]
        if command == "FETCH":
            content = self.messages[args[0]]
            if isinstance(content, Exception):
                raise content
            return "OK", [(b"1 (UID " + args[0] + b" BODY[] {n}", content), b")"]
        if command == "STORE":
            self.seen.append(args[0])
            return "OK", []
        raise AssertionError(command)

    def logout(self):
        self.logged_out = True


def test_fetch_mail_ingests_unseen_and_one_bad_message_blocks_nothing(settings, monkeypatch, acme):
    settings.CX_IMAP_URL = "imaps://support%40cx.test:pw@imap.cx.test/Support"
    server = FakeImap(
        {
            b"1": make_mail(message_id="imap-1"),
            b"2": OSError("connection reset while fetching"),
            b"3": b"not mail at all",
            b"4": make_mail(message_id="imap-4", subject="Second problem"),
        }
    )
    urls = []
    monkeypatch.setattr(email_services, "_imap_connect", lambda url: urls.append(url) or server)

    call_command("fetch_mail")

    assert server.selected == "Support"
    assert server.seen == [b"1", b"3", b"4"]  # the failed fetch stays unseen for next time
    assert server.logged_out
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "Printer on fire",
        "Second problem",
    ]
    assert InboundEmail.objects.filter(status=InboundEmail.Status.QUARANTINED).count() == 1

    # A second, overlapping run that sees the same messages creates nothing new.
    server.seen = []
    server.messages[b"2"] = make_mail(message_id="imap-2", subject="Third")
    result = email_services.mailbox_fetch()
    assert (result.fetched, result.failed) == (4, 0)
    assert Ticket.objects.count() == 3


def test_fetch_mail_without_a_mailbox_is_a_clear_error(settings):
    settings.CX_IMAP_URL = ""
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="CX_IMAP_URL"):
        call_command("fetch_mail")
    assert email_services.mailbox_fetch().fetched == 0
