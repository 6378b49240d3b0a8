"""Agent replies go out by email after commit, threaded for the customer's mail client."""

import pytest
from django.core import mail as outbox

from support import services, tasks
from support.models import EmailThreadId
from support.services.email import email_ingest, email_reply_send, reply_address
from tests.factories import AccountFactory
from tests.support.test_email_ingest import make_mail

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def email_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CX_SUPPORT_EMAIL = "support@cx.test"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def run_tasks_inline(monkeypatch):
    """The task runs in this process when queued (its body, not a broker round trip)."""
    queued = []

    def delay(message_id):
        queued.append(message_id)
        return tasks.email_reply_send_task(message_id)

    monkeypatch.setattr(tasks.email_reply_send_task, "delay", delay)
    return queued


@pytest.fixture
def ticket():
    AccountFactory(domains=["acme.test"])
    return email_ingest(raw=make_mail(message_id="c1"), source="test").ticket


def reply(ticket, agent, body, *, public=True, capture):
    with capture(execute=True):
        return services.ticket_reply(
            ticket_id=ticket.pk, acting_user=agent, body=body, public=public
        )


def test_public_reply_is_emailed_after_commit_with_threading_headers(
    ticket, agent, run_tasks_inline, django_capture_on_commit_callbacks
):
    message = reply(ticket, agent, "We are **on it**.", capture=django_capture_on_commit_callbacks)

    assert run_tasks_inline == [message.pk]
    (sent,) = outbox.outbox
    stored = EmailThreadId.objects.get(ticket_message=message, outbound=True)
    assert stored.sent_at is not None
    headers = sent.message()
    assert headers["Message-ID"] == f"<{stored.message_id}>"
    assert headers["In-Reply-To"] == "<c1@mail.acme.test>"
    assert headers["References"] == "<c1@mail.acme.test>"
    assert headers["Subject"] == f"Re: Printer on fire [#{ticket.pk}]"
    assert headers["Reply-To"] == reply_address(ticket.pk)
    assert headers["Reply-To"].startswith(f"support+{ticket.pk}-")
    assert headers["X-Auto-Response-Suppress"] == "All"
    assert "Auto-Submitted" not in headers  # a person wrote it
    assert sent.to == ["Jane Roe <jane@acme.test>"]
    assert sent.body == "We are **on it**."
    assert "<strong>on it</strong>" in sent.alternatives[0][0]


def test_internal_note_is_not_emailed(
    ticket, agent, run_tasks_inline, django_capture_on_commit_callbacks
):
    reply(
        ticket,
        agent,
        "Customer seems upset",
        public=False,
        capture=django_capture_on_commit_callbacks,
    )

    assert run_tasks_inline == []
    assert outbox.outbox == []


def test_rolled_back_reply_sends_nothing(ticket, agent, run_tasks_inline):
    # Without the commit (the test's transaction never commits), nothing is queued.
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="draft")
    assert run_tasks_inline == []


def test_sending_twice_sends_once(ticket, agent):
    message = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Once")

    assert email_reply_send(message_id=message.pk) is True
    assert email_reply_send(message_id=message.pk) is False
    assert len(outbox.outbox) == 1


def test_later_replies_reference_the_whole_thread(ticket, agent):
    first = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="One")
    email_reply_send(message_id=first.pk)
    first_id = EmailThreadId.objects.get(ticket_message=first).message_id
    customer = email_ingest(
        raw=make_mail(message_id="c2", body="More info", headers={"In-Reply-To": f"<{first_id}>"}),
        source="test",
    )
    assert customer.ticket == ticket
    second = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Two")
    email_reply_send(message_id=second.pk)

    headers = outbox.outbox[-1].message()
    assert headers["In-Reply-To"] == "<c2@mail.acme.test>"
    assert headers["References"] == f"<c1@mail.acme.test> <{first_id}> <c2@mail.acme.test>"


def test_customer_answer_to_the_reply_to_address_threads_by_token(ticket, agent):
    # A client that keeps no threading headers at all: the Reply-To token still finds it.
    inbound = email_ingest(
        raw=make_mail(to=reply_address(ticket.pk), subject="different subject"), source="test"
    )
    assert inbound.ticket == ticket
    assert inbound.reason == "reply by reply token"


def test_failed_send_is_retried_with_the_same_message_id(ticket, agent, settings, monkeypatch):
    message = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Retry me")
    from django.core.mail.backends.locmem import EmailBackend

    def down(self, messages):
        raise OSError("SMTP server down")

    monkeypatch.setattr(EmailBackend, "send_messages", down)
    with pytest.raises(OSError, match="SMTP server down"):
        email_reply_send(message_id=message.pk)
    assert not EmailThreadId.objects.filter(ticket_message=message).exists()
    monkeypatch.undo()

    assert email_reply_send(message_id=message.pk) is True
    assert outbox.outbox[0].message()["Message-ID"].startswith(f"<cx-{message.pk}-{ticket.pk}-")
