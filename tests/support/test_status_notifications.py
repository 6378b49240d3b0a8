"""Status notifications: an agent setting a ticket to pending or solved emails the requester
once per transition, after commit, threaded with the ticket's mail; a public reply in the
same action carries the status instead (one mail per action); the first solve asks the
CSAT question (no separate CSAT mail)."""

import pytest
from django.core import mail as outbox
from django.db import connection

from support import services, tasks
from support.choices import EventKind, Priority, Status
from support.models import CsatRequest, EmailThreadId, InboundEmail, TicketEvent
from support.services.email import (
    email_ingest,
    email_reply_send,
    reply_address,
    ticket_status_email_send,
)
from tests.factories import AccountFactory, ContactFactory, TicketFactory
from tests.support.test_email_ingest import make_mail

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def email_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CX_SUPPORT_EMAIL = "support@cx.test"
    settings.CX_BASE_URL = "https://cx.example"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def queued(monkeypatch):
    """What was queued after commit, by task; the tasks run in this process."""
    found = {"status": [], "reply": []}

    def status_delay(event_id):
        found["status"].append(event_id)
        return tasks.ticket_status_email_task(event_id)

    def reply_delay(message_id):
        found["reply"].append(message_id)
        return tasks.email_reply_send_task(message_id)

    monkeypatch.setattr(tasks.ticket_status_email_task, "delay", status_delay)
    monkeypatch.setattr(tasks.email_reply_send_task, "delay", reply_delay)
    return found


@pytest.fixture
def ticket():
    AccountFactory(domains=["acme.test"])
    return email_ingest(raw=make_mail(message_id="c1"), source="test").ticket


def set_status(ticket, agent, status, capture):
    with capture(execute=True):
        return services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=status
        )


def status_event(ticket, status):
    return TicketEvent.objects.filter(ticket=ticket, field="status", new_value=status).latest("pk")


# --- headers and threading --------------------------------------------------------------


def test_pending_emails_the_requester_after_commit_with_threading_headers(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket_id=ticket.pk, acting_user=agent, body="Which model is it?", public=True
        )
    outbox.outbox.clear()
    reply_id = EmailThreadId.objects.get(ticket=ticket, outbound=True).message_id

    set_status(ticket, agent, Status.PENDING, django_capture_on_commit_callbacks)

    event = status_event(ticket, Status.PENDING)
    assert queued["status"] == [event.pk]
    (sent,) = outbox.outbox
    headers = sent.message()
    stored = EmailThreadId.objects.get(message_id__startswith=f"cx-status-{event.pk}-")
    assert stored.outbound
    assert stored.sent_at is not None
    assert stored.ticket == ticket
    assert headers["Message-ID"] == f"<{stored.message_id}>"
    assert stored.message_id.startswith(f"cx-status-{event.pk}-{ticket.pk}-")
    assert stored.message_id.endswith("@cx.test")
    assert headers["In-Reply-To"] == f"<{reply_id}>"
    assert headers["References"] == f"<c1@mail.acme.test> <{reply_id}>"
    assert headers["Subject"] == f"Re: Printer on fire [#{ticket.pk}]"
    assert headers["Reply-To"] == reply_address(ticket.pk)
    assert headers["Auto-Submitted"] == "auto-generated"
    assert headers["X-Auto-Response-Suppress"] == "All"
    assert sent.to == ["Jane Roe <jane@acme.test>"]
    assert "We are waiting on you" in sent.body
    assert f"https://cx.example/support/portal/tickets/{ticket.pk}/" in sent.body
    assert "> Which model is it?" in sent.body


def test_solved_email_asks_the_csat_question_once(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    set_status(ticket, agent, Status.SOLVED, django_capture_on_commit_callbacks)

    (sent,) = outbox.outbox
    assert sent.message()["Subject"] == f"Re: Printer on fire [#{ticket.pk}]"
    assert sent.message()["In-Reply-To"] == "<c1@mail.acme.test>"
    assert "is solved" in sent.body
    assert "How would you rate the support you received?" in sent.body
    assert sent.body.count("/surveys/csat/") == 5
    assert CsatRequest.objects.filter(ticket=ticket).count() == 1


def test_customer_answer_to_the_notification_lands_on_the_ticket(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    set_status(ticket, agent, Status.PENDING, django_capture_on_commit_callbacks)
    notification_id = outbox.outbox[0].message()["Message-ID"].strip("<>")

    answer = email_ingest(
        raw=make_mail(
            message_id="c2",
            subject="Re: something else",
            body="It is the X200.",
            headers={"In-Reply-To": f"<{notification_id}>"},
        ),
        source="test",
    )

    assert answer.ticket == ticket
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN  # the customer's answer puts it back to the team
    # And the next agent reply references the notification too.
    message = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Thanks")
    email_reply_send(message_id=message.pk)
    references = outbox.outbox[-1].message()["References"]
    assert f"<{notification_id}>" in references
    assert references.endswith("<c2@mail.acme.test>")


def test_notification_threads_by_its_reply_token_even_without_known_ids(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    set_status(ticket, agent, Status.PENDING, django_capture_on_commit_callbacks)
    notification_id = outbox.outbox[0].message()["Message-ID"].strip("<>")
    # The id row is gone (say, the thread table was pruned): the token in it still counts.
    EmailThreadId.objects.filter(message_id=notification_id).delete()

    answer = email_ingest(
        raw=make_mail(message_id="c3", headers={"References": f"<{notification_id}>"}),
        source="test",
    )
    assert (answer.ticket, answer.reason) == (ticket, "reply by reply token")


# --- once per transition ----------------------------------------------------------------


def test_sending_twice_sends_once(ticket, agent):
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.PENDING
    )
    event = status_event(ticket, Status.PENDING)

    assert ticket_status_email_send(event_id=event.pk) is True
    assert ticket_status_email_send(event_id=event.pk) is False
    assert tasks.ticket_status_email_task(event.pk) is False  # a retried task
    assert len(outbox.outbox) == 1


def test_a_failed_send_is_retried_with_the_same_message_id(ticket, agent, monkeypatch):
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.PENDING
    )
    event = status_event(ticket, Status.PENDING)
    from django.core.mail.backends.locmem import EmailBackend

    def down(self, messages):
        raise OSError("SMTP server down")

    monkeypatch.setattr(EmailBackend, "send_messages", down)
    with pytest.raises(OSError, match="SMTP server down"):
        ticket_status_email_send(event_id=event.pk)
    assert not EmailThreadId.objects.filter(message_id__startswith="cx-status-").exists()
    monkeypatch.undo()

    assert ticket_status_email_send(event_id=event.pk) is True
    assert outbox.outbox[0].message()["Message-ID"].startswith(f"<cx-status-{event.pk}-")


def test_each_transition_is_notified_once(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    set_status(ticket, agent, Status.PENDING, django_capture_on_commit_callbacks)
    set_status(ticket, agent, Status.PENDING, django_capture_on_commit_callbacks)  # no change
    set_status(ticket, agent, Status.OPEN, django_capture_on_commit_callbacks)
    set_status(ticket, agent, Status.PENDING, django_capture_on_commit_callbacks)

    assert len(queued["status"]) == 2
    ids = {m.message()["Message-ID"] for m in outbox.outbox}
    assert len(outbox.outbox) == 2
    assert len(ids) == 2


def test_a_status_that_moved_on_before_the_task_ran_is_not_notified(ticket, agent):
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.PENDING
    )
    event = status_event(ticket, Status.PENDING)
    services.ticket_customer_reply(ticket_id=ticket.pk, contact=ticket.requester, body="Here")

    assert ticket_status_email_send(event_id=event.pk) is False
    assert outbox.outbox == []


def test_nothing_is_queued_when_the_change_rolls_back(ticket, agent, queued):
    # Without the commit (the test's transaction never commits), nothing is queued.
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.SOLVED
    )
    assert queued["status"] == []
    assert outbox.outbox == []


# --- one mail per action ----------------------------------------------------------------


def test_public_reply_that_sets_pending_is_one_mail_with_the_status(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.ticket_reply(
            ticket_id=ticket.pk, acting_user=agent, body="Send us a photo?", status="pending"
        )

    assert queued == {"status": [], "reply": [message.pk]}
    (sent,) = outbox.outbox
    assert sent.body.startswith("Send us a photo?")
    assert "We are waiting on you" in sent.body
    assert "We are waiting on you" in sent.alternatives[0][0]
    assert "Auto-Submitted" not in sent.message()  # a person wrote it


def test_public_reply_that_solves_carries_the_csat_question(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket_id=ticket.pk, acting_user=agent, body="Fixed it.", status="solved"
        )

    (sent,) = outbox.outbox
    assert "is solved" in sent.body
    assert "How would you rate the support you received?" in sent.body
    assert CsatRequest.objects.filter(ticket=ticket).count() == 1


def test_bulk_change_notifies_each_requester(agent, queued, django_capture_on_commit_callbacks):
    first, second = TicketFactory(status=Status.OPEN), TicketFactory(status=Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        services.tickets_bulk_update(
            ticket_ids=[first.pk, second.pk], acting_user=agent, status=Status.PENDING
        )

    assert sorted(m.to[0].split("<")[1].rstrip(">") for m in outbox.outbox) == sorted(
        [first.requester.email, second.requester.email]
    )


# --- no mail ----------------------------------------------------------------------------


def test_internal_only_changes_send_no_mail(
    ticket, agent, manager, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket_id=ticket.pk, acting_user=agent, body="Internal thoughts", public=False
        )
        services.ticket_update(
            ticket_id=ticket.pk,
            acting_user=agent,
            expected_version=None,
            priority=Priority.HIGH,
            assignee=manager,
            tags=["vip"],
        )
        services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.ON_HOLD
        )

    assert queued == {"status": [], "reply": []}
    assert outbox.outbox == []


def test_internal_note_that_sets_pending_sends_the_status_but_never_the_note(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket_id=ticket.pk,
            acting_user=agent,
            body="Secret: customer is on the churn list",
            public=False,
            status="pending",
        )

    (sent,) = outbox.outbox
    assert "We are waiting on you" in sent.body
    assert "churn" not in sent.body


def test_no_mail_to_a_requester_without_email(agent, queued, django_capture_on_commit_callbacks):
    ticket = TicketFactory(status=Status.OPEN, requester=ContactFactory(email=""))
    set_status(ticket, agent, Status.SOLVED, django_capture_on_commit_callbacks)

    assert len(queued["status"]) == 1
    assert outbox.outbox == []
    assert not CsatRequest.objects.exists()


def test_no_mail_to_a_daemon_address(agent, queued, django_capture_on_commit_callbacks):
    ticket = TicketFactory(
        status=Status.OPEN, requester=ContactFactory(email="mailer-daemon@customer.test")
    )
    set_status(ticket, agent, Status.PENDING, django_capture_on_commit_callbacks)
    assert outbox.outbox == []


def test_no_mail_for_a_ticket_that_came_from_an_auto_reply(
    agent, queued, django_capture_on_commit_callbacks
):
    # The parser never opens such tickets; a row let through anyway still gets no answer.
    contact = ContactFactory(email="jane@acme.test")
    ticket = services.ticket_create(
        requester=contact, subject="Out of office", body="I am away", channel="email"
    )
    InboundEmail.objects.create(
        message_id="ooo@mail.acme.test",
        source="test",
        raw=make_mail(message_id="ooo", headers={"Auto-Submitted": "auto-replied"}),
        status=InboundEmail.Status.PROCESSED,
        ticket=ticket,
    )
    set_status(ticket, agent, Status.SOLVED, django_capture_on_commit_callbacks)

    assert outbox.outbox == []
    assert not EmailThreadId.objects.filter(outbound=True).exists()


def test_auto_close_and_merge_send_no_status_mail(
    ticket, agent, queued, django_capture_on_commit_callbacks
):
    other = TicketFactory(status=Status.OPEN, requester=ticket.requester)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_merge(source_id=other.pk, target_id=ticket.pk, acting_user=agent)
    assert queued["status"] == []
    with connection.cursor() as cursor:  # solved long ago, without a notification
        cursor.execute(
            "UPDATE support_ticket SET status = 'solved', solved_at = now() - interval '30 days'"
            " WHERE id = %s",
            [ticket.pk],
        )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.close_solved_tickets() == 1
    assert queued["status"] == []
    assert outbox.outbox == []
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CHANGED).exists()
