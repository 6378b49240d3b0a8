"""Two agents at once, on two real database connections: the row lock and the version
number decide, never the last writer."""

import threading

import pytest
from django.db import connection

from accounts.choices import Role
from support import services
from support.choices import Priority, Status
from support.models import Ticket, TicketEvent
from tests.factories import MessageFactory, TicketFactory, UserFactory


def run_together(*calls):
    """Run each call in its own thread (so its own DB connection), released together by a
    barrier. Returns each call's result or the exception it raised, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_agents_claiming_at_once_exactly_one_wins_and_the_other_is_told_who():
    alex = UserFactory(role=Role.AGENT, full_name="Alex Agent")
    sam = UserFactory(role=Role.AGENT, full_name="Sam Support")
    ticket = TicketFactory()

    for _ in range(5):  # a few rounds, so the race really happens in both orders
        Ticket.objects.filter(pk=ticket.pk).update(assignee=None)
        outcomes = run_together(
            lambda: services.ticket_claim(ticket_id=ticket.pk, acting_user=alex),
            lambda: services.ticket_claim(ticket_id=ticket.pk, acting_user=sam),
        )
        winners = [o for o in outcomes if isinstance(o, Ticket)]
        losers = [o for o in outcomes if isinstance(o, services.AlreadyClaimed)]
        assert len(winners) == 1, outcomes
        assert len(losers) == 1, outcomes
        winner = winners[0].assignee_id
        assert Ticket.objects.get(pk=ticket.pk).assignee_id == winner
        winner_name = "Alex Agent" if winner == alex.pk else "Sam Support"
        assert str(losers[0]) == f"{winner_name} has ticket #{ticket.pk}."

    # Every round wrote exactly one assignment event (for its winner), never two.
    assert TicketEvent.objects.filter(ticket=ticket, field="assignee", old_value="").count() == 5


@pytest.mark.django_db(transaction=True)
def test_two_agents_updating_from_the_same_version_only_the_first_is_saved():
    alex = UserFactory(role=Role.AGENT)
    sam = UserFactory(role=Role.AGENT)
    ticket = TicketFactory(status=Status.OPEN)
    seen = ticket.version

    outcomes = run_together(
        lambda: services.ticket_update(
            ticket_id=ticket.pk, acting_user=alex, expected_version=seen, priority=Priority.URGENT
        ),
        lambda: services.ticket_update(
            ticket_id=ticket.pk, acting_user=sam, expected_version=seen, priority=Priority.LOW
        ),
    )

    saved = [o for o in outcomes if isinstance(o, Ticket)]
    refused = [o for o in outcomes if isinstance(o, services.StaleTicket)]
    assert (len(saved), len(refused)) == (1, 1), outcomes
    ticket.refresh_from_db()
    assert ticket.priority == saved[0].priority
    assert ticket.version == seen + 1
    assert TicketEvent.objects.filter(ticket=ticket, field="priority").count() == 1


@pytest.mark.django_db(transaction=True)
def test_stale_version_is_refused_and_nothing_is_overwritten():
    alex = UserFactory(role=Role.AGENT)
    ticket = TicketFactory(status=Status.OPEN, tags=["original"])
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=alex, expected_version=1, status=Status.PENDING
    )

    with pytest.raises(services.StaleTicket) as error:
        services.ticket_update(
            ticket_id=ticket.pk,
            acting_user=alex,
            expected_version=1,
            status=Status.SOLVED,
            tags=["mine"],
        )

    assert error.value.ticket.version == 2
    ticket.refresh_from_db()
    assert (ticket.status, ticket.tags, ticket.version) == (Status.PENDING, ["original"], 2)
    assert TicketEvent.objects.filter(ticket=ticket).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_agents_replying_to_the_same_customer_message_only_the_first_goes_out():
    alex = UserFactory(role=Role.AGENT)
    sam = UserFactory(role=Role.AGENT)
    ticket = TicketFactory(status=Status.OPEN)
    seen = MessageFactory(ticket=ticket).pk

    outcomes = run_together(
        lambda: services.ticket_reply(
            ticket_id=ticket.pk, acting_user=alex, body="A", seen_message_id=seen
        ),
        lambda: services.ticket_reply(
            ticket_id=ticket.pk, acting_user=sam, body="B", seen_message_id=seen
        ),
    )

    assert sum(isinstance(o, services.NewerReplyExists) for o in outcomes) == 1, outcomes
    assert ticket.messages.filter(author_user__isnull=False).count() == 1
