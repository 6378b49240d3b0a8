"""The same Message-ID ingested at the same moment on two real database connections: the
unique constraint decides, exactly one ticket is created. Two workers sending the same
status notification at once send one mail."""

import uuid

import pytest
from django.core import mail as outbox

from support import services
from support.choices import Status
from support.models import EmailThreadId, InboundEmail, Message, Ticket, TicketEvent
from support.services.email import email_ingest, ticket_status_email_send
from tests.factories import AccountFactory, UserFactory
from tests.support.test_concurrency import run_together
from tests.support.test_email_ingest import make_mail


@pytest.fixture(autouse=True)
def email_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CX_SUPPORT_EMAIL = "support@cx.test"


@pytest.mark.django_db(transaction=True)
def test_two_connections_ingesting_the_same_message_id_make_one_ticket():
    AccountFactory(domains=["acme.test"])
    for round_number in range(5):  # a few rounds, so the race really happens
        raw = make_mail(message_id=f"race-{round_number}-{uuid.uuid4().hex}")

        outcomes = run_together(
            lambda raw=raw: email_ingest(raw=raw, source="imap"),
            lambda raw=raw: email_ingest(raw=raw, source="webhook"),
        )

        assert all(isinstance(o, InboundEmail) for o in outcomes), outcomes
        assert outcomes[0].pk == outcomes[1].pk
        assert {o.status for o in outcomes} == {InboundEmail.Status.PROCESSED}
    assert Ticket.objects.count() == 5
    assert Message.objects.count() == 5
    assert InboundEmail.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_two_connections_replying_by_the_same_message_id_add_one_message():
    AccountFactory(domains=["acme.test"])
    ticket = email_ingest(raw=make_mail(message_id="root"), source="imap").ticket
    raw = make_mail(message_id="reply", headers={"In-Reply-To": "<root@mail.acme.test>"})

    outcomes = run_together(
        lambda: email_ingest(raw=raw, source="imap"),
        lambda: email_ingest(raw=raw, source="imap"),
    )

    assert outcomes[0].pk == outcomes[1].pk, outcomes
    assert ticket.messages.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_status_notification_send_one_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    AccountFactory(domains=["acme.test"])
    agent = UserFactory(role="agent")
    for round_number in range(3):
        ticket = email_ingest(raw=make_mail(message_id=f"s{round_number}"), source="imap").ticket
        services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.PENDING
        )
        event = TicketEvent.objects.filter(ticket=ticket, field="status").latest("pk")
        outbox.outbox = []

        outcomes = run_together(
            lambda event=event: ticket_status_email_send(event_id=event.pk),
            lambda event=event: ticket_status_email_send(event_id=event.pk),
        )

        assert sorted(outcomes) == [False, True], outcomes
        assert len(outbox.outbox) == 1
        assert EmailThreadId.objects.filter(ticket=ticket, outbound=True).count() == 1
