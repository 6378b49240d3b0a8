"""support.services: every status rule, and every service writing the events it should."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.choices import Role
from support import services
from support.choices import EventKind, Priority, Status
from support.models import Message, Ticket, TicketEvent
from tests.factories import (
    AgentStatusFactory,
    ContactFactory,
    MacroFactory,
    MessageFactory,
    TeamAssignmentFactory,
    TeamFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


def changed(ticket: Ticket, field: str | None = None) -> list[tuple[str, str, str]]:
    """(field, from, to) of the ticket's `changed` events, oldest first."""
    events = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CHANGED).order_by("pk")
    if field:
        events = events.filter(field=field)
    return [(e.field, e.old_value, e.new_value) for e in events]


def kinds(ticket: Ticket) -> list[str]:
    return list(
        TicketEvent.objects.filter(ticket=ticket).order_by("pk").values_list("kind", flat=True)
    )


def customer_ticket(**fields) -> Ticket:
    """A ticket as a customer opens it: status new, their first message in the thread."""
    ticket = TicketFactory(**fields)
    MessageFactory(ticket=ticket)
    return ticket


# --- first response and new → open ------------------------------------------------------


def test_first_public_agent_reply_sets_first_response_and_opens_new_ticket(agent):
    ticket = customer_ticket()

    message = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="On it.")

    ticket.refresh_from_db()
    assert ticket.first_response_at == message.created_at
    assert ticket.status == Status.OPEN
    assert ("status", "new", "open") in changed(ticket)
    assert EventKind.REPLIED in kinds(ticket)


def test_later_public_replies_keep_the_first_response_time(agent):
    ticket = customer_ticket()
    first = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="One")
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Two")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first.created_at


def test_internal_note_neither_stops_the_first_response_clock_nor_opens_the_ticket(agent):
    ticket = customer_ticket()

    message = services.ticket_reply(
        ticket_id=ticket.pk, acting_user=agent, body="Hmm", public=False
    )

    ticket.refresh_from_db()
    assert message.public is False
    assert ticket.first_response_at is None
    assert ticket.status == Status.NEW
    assert kinds(ticket)[-1] == EventKind.NOTED


def test_agent_created_ticket_stops_the_clock_at_the_agents_second_public_message(agent):
    requester = ContactFactory()
    ticket = services.ticket_create(
        requester=requester, subject="Phone call", body="Called.", acting_user=agent
    )
    assert ticket.created_by_agent is True
    assert ticket.messages.get().author_user == agent
    assert ticket.first_response_at is None

    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Note", public=False)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None

    second = services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Answer")
    ticket.refresh_from_db()
    assert ticket.first_response_at == second.created_at
    assert ticket.status == Status.OPEN


def test_customer_created_ticket_records_customer_as_first_author():
    requester = ContactFactory()
    ticket = services.ticket_create(requester=requester, subject="  Help   me ", body="Hi")
    assert ticket.subject == "Help me"
    assert ticket.created_by_agent is False
    assert ticket.account == requester.account
    message = ticket.messages.get()
    assert message.author_contact == requester
    assert TicketEvent.objects.get(ticket=ticket).actor_label == "customer"


# --- what an agent may set ---------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.OPEN])
def test_agent_can_set_settable_statuses(agent, status):
    ticket = customer_ticket(status=Status.OPEN if status != Status.OPEN else Status.PENDING)
    updated = services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=ticket.version, status=status
    )
    assert updated.status == status


@pytest.mark.parametrize("status", [Status.NEW, Status.CLOSED])
def test_agent_cannot_set_new_or_closed(agent, status):
    ticket = customer_ticket(status=Status.OPEN)
    with pytest.raises(ValidationError) as error:
        services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=status
        )
    assert "status" in error.value.message_dict
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_solving_sets_solved_at_and_reopening_by_hand_clears_it(agent):
    ticket = customer_ticket(status=Status.OPEN)
    ticket = services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.SOLVED
    )
    assert ticket.solved_at is not None
    ticket = services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.OPEN
    )
    assert ticket.solved_at is None


def test_reply_can_set_status_priority_and_add_tags_in_one_change(agent):
    ticket = customer_ticket(status=Status.OPEN, tags=["billing"])
    services.ticket_reply(
        ticket_id=ticket.pk,
        acting_user=agent,
        body="Done",
        status=Status.SOLVED,
        priority=Priority.HIGH,
        add_tags=["VIP", "billing"],
        expected_version=ticket.version,
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.tags) == (
        Status.SOLVED,
        "high",
        ["billing", "vip"],
    )
    assert ticket.version == 2  # one save for the reply and its changes


# --- the customer writes -------------------------------------------------------------------


def test_customer_reply_to_pending_opens_it_without_counting_a_reopen():
    ticket = customer_ticket(status=Status.PENDING)
    services.ticket_customer_reply(ticket_id=ticket.pk, contact=ticket.requester, body="Here")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.reopen_count == 0
    assert EventKind.REOPENED not in kinds(ticket)
    assert ("status", "pending", "open") in changed(ticket)


def test_customer_reply_reopens_solved_ticket_and_counts_the_reopen():
    ticket = customer_ticket(status=Status.SOLVED, solved_at=timezone.now())
    services.ticket_customer_reply(ticket_id=ticket.pk, contact=ticket.requester, body="Again")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.reopen_count == 1
    assert ticket.solved_at is None
    assert EventKind.REOPENED in kinds(ticket)
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.REOPENED)
    assert event.actor is None
    assert event.actor_label == "customer"


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.ON_HOLD])
def test_customer_reply_leaves_other_statuses_alone(status):
    ticket = customer_ticket(status=status)
    services.ticket_customer_reply(ticket_id=ticket.pk, contact=ticket.requester, body="More")
    ticket.refresh_from_db()
    assert ticket.status == status
    assert kinds(ticket) == [EventKind.CUSTOMER_REPLIED]


def test_customer_reply_to_closed_ticket_starts_a_linked_follow_up():
    ticket = customer_ticket(status=Status.CLOSED, subject="Printer", tags=["hw"])
    message = services.ticket_customer_reply(
        ticket_id=ticket.pk, contact=ticket.requester, body="It broke again"
    )
    follow_up = message.ticket
    assert follow_up.pk != ticket.pk
    assert follow_up.follow_up_of == ticket
    assert follow_up.subject == "Follow-up: Printer"
    assert follow_up.tags == ["hw"]
    assert follow_up.status == Status.NEW
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.messages.count() == 1


# --- closing solved tickets ----------------------------------------------------------------


def test_close_solved_tickets_closes_only_old_solved_tickets_once():
    now = timezone.now()
    old = customer_ticket(status=Status.SOLVED, solved_at=now - timedelta(days=5))
    recent = customer_ticket(status=Status.SOLVED, solved_at=now - timedelta(days=1))
    old_open = customer_ticket(status=Status.OPEN, created_at=now - timedelta(days=30))

    assert services.close_solved_tickets(now=now, days=4) == 1

    old.refresh_from_db()
    assert old.status == Status.CLOSED
    assert old.closed_at == now
    assert old.version == 2
    assert changed(old) == [("status", "solved", "closed")]
    assert TicketEvent.objects.get(ticket=old).actor_label == "auto-close"
    for untouched in (recent, old_open):
        untouched.refresh_from_db()
        assert untouched.status != Status.CLOSED
        assert not TicketEvent.objects.filter(ticket=untouched).exists()

    assert services.close_solved_tickets(now=now, days=4) == 0
    assert TicketEvent.objects.filter(ticket=old).count() == 1


# --- claim, update, versions ---------------------------------------------------------------


def test_claim_assigns_an_unassigned_ticket_and_writes_an_event(agent):
    ticket = customer_ticket()
    claimed = services.ticket_claim(ticket_id=ticket.pk, acting_user=agent)
    assert claimed.assignee_id == agent.pk
    assert changed(ticket) == [("assignee", "", str(agent.pk))]
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.actor == agent


def test_claim_of_someone_elses_ticket_names_them(agent, make_user):
    sam = make_user(Role.AGENT, full_name="Sam Support")
    ticket = customer_ticket(assignee=sam)
    with pytest.raises(services.AlreadyClaimed) as error:
        services.ticket_claim(ticket_id=ticket.pk, acting_user=agent)
    assert "Sam Support" in str(error.value)
    assert f"#{ticket.pk}" in str(error.value)
    ticket.refresh_from_db()
    assert ticket.assignee == sam


def test_claiming_your_own_ticket_again_changes_nothing(agent):
    ticket = customer_ticket(assignee=agent)
    services.ticket_claim(ticket_id=ticket.pk, acting_user=agent)
    ticket.refresh_from_db()
    assert ticket.version == 1
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


def test_closed_tickets_cannot_be_claimed_updated_or_replied_to(agent):
    ticket = customer_ticket(status=Status.CLOSED)
    with pytest.raises(services.TicketClosed):
        services.ticket_claim(ticket_id=ticket.pk, acting_user=agent)
    with pytest.raises(services.TicketClosed):
        services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, priority=Priority.HIGH
        )
    with pytest.raises(services.TicketClosed):
        services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Hello?")
    assert ticket.messages.count() == 1


def test_update_with_an_old_version_is_refused_and_changes_nothing(agent):
    ticket = customer_ticket(status=Status.OPEN)
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=1, priority=Priority.HIGH
    )
    with pytest.raises(services.StaleTicket) as error:
        services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=1, priority=Priority.LOW
        )
    assert "changed by someone else" in str(error.value)
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.version) == (Priority.HIGH, 2)


def test_reply_after_an_unseen_public_message_is_refused(agent):
    ticket = customer_ticket(status=Status.OPEN)
    seen = ticket.messages.get()
    newer = MessageFactory(ticket=ticket)
    with pytest.raises(services.NewerReplyExists) as error:
        services.ticket_reply(
            ticket_id=ticket.pk, acting_user=agent, body="Old news", seen_message_id=seen.pk
        )
    assert error.value.message == newer
    assert ticket.messages.count() == 2
    # A note does not answer the customer, so it is not held back.
    services.ticket_reply(
        ticket_id=ticket.pk, acting_user=agent, body="fyi", public=False, seen_message_id=seen.pk
    )
    # Having seen the newer message, the reply goes through.
    services.ticket_reply(
        ticket_id=ticket.pk, acting_user=agent, body="Now", seen_message_id=newer.pk
    )
    assert ticket.messages.count() == 4


def test_reply_with_an_old_version_is_refused(agent):
    ticket = customer_ticket(status=Status.OPEN)
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, priority=Priority.URGENT
    )
    with pytest.raises(services.StaleTicket):
        services.ticket_reply(
            ticket_id=ticket.pk,
            acting_user=agent,
            body="x",
            status=Status.SOLVED,
            expected_version=1,
        )
    assert ticket.messages.count() == 1


def test_every_change_writes_an_event_with_who_field_from_and_to(agent, make_user):
    team = TeamFactory(name="Tier 2")
    sam = make_user(Role.AGENT)
    ticket = customer_ticket(status=Status.OPEN, tags=["a"])
    services.ticket_update(
        ticket_id=ticket.pk,
        acting_user=agent,
        expected_version=1,
        status=Status.PENDING,
        priority=Priority.HIGH,
        type="incident",
        subject="New subject",
        tags=["b"],
        assignee=sam,
        team=team,
    )
    events = TicketEvent.objects.filter(ticket=ticket)
    assert {(e.field, e.old_value, e.new_value) for e in events} == {
        ("status", "open", "pending"),
        ("priority", "normal", "high"),
        ("type", "question", "incident"),
        ("subject", ticket.subject, "New subject"),
        ("tags", "a", "b"),
        ("assignee", "", str(sam.pk)),
        ("team", "", str(team.pk)),
    }
    assert {(e.kind, e.actor_id) for e in events} == {(EventKind.CHANGED, agent.pk)}
    ticket.refresh_from_db()
    assert ticket.version == 2


def test_an_update_that_changes_nothing_writes_nothing(agent):
    ticket = customer_ticket(status=Status.OPEN)
    services.ticket_update(
        ticket_id=ticket.pk,
        acting_user=agent,
        expected_version=1,
        status=Status.OPEN,
        priority=ticket.priority,
    )
    ticket.refresh_from_db()
    assert ticket.version == 1
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


def test_customers_and_inactive_staff_cannot_be_assigned(agent, make_user):
    ticket = customer_ticket()
    for user in (make_user(Role.CUSTOMER), make_user(Role.AGENT, is_active=False)):
        with pytest.raises(ValidationError):
            services.ticket_update(
                ticket_id=ticket.pk, acting_user=agent, expected_version=None, assignee=user
            )


def test_update_refuses_unknown_fields(agent):
    ticket = customer_ticket()
    with pytest.raises(ValidationError):
        services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, reopen_count=0
        )


def test_event_log_refuses_update():
    ticket = customer_ticket()
    services.ticket_customer_reply(ticket_id=ticket.pk, contact=ticket.requester, body="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        TicketEvent.objects.filter(ticket=ticket).update(new_value="rewritten")
    assert not TicketEvent.objects.filter(new_value="rewritten").exists()


# --- merge ---------------------------------------------------------------------------------


def test_merge_moves_messages_and_closes_the_source_with_a_pointer(agent):
    source = customer_ticket(status=Status.OPEN, tags=["dup"])
    MessageFactory(ticket=source, body="second")
    target = customer_ticket(status=Status.OPEN, tags=["main"])

    services.ticket_merge(source_id=source.pk, target_id=target.pk, acting_user=agent)

    source.refresh_from_db()
    target.refresh_from_db()
    assert source.messages.count() == 0
    # Two moved, the target's own, and a note saying what happened.
    assert target.messages.count() == 4
    note = target.messages.filter(public=False).get()
    assert f"#{source.pk}" in note.body
    assert "2 messages moved" in note.body
    assert source.status == Status.CLOSED
    assert source.merged_into == target
    assert source.closed_at is not None
    assert target.tags == ["main", "dup"]
    assert ("merged_into", "", str(target.pk)) in [
        (e.field, e.old_value, e.new_value)
        for e in TicketEvent.objects.filter(ticket=source, kind=EventKind.MERGED)
    ]
    assert TicketEvent.objects.filter(
        ticket=target, kind=EventKind.MERGED, field="merged_from", new_value=str(source.pk)
    ).exists()


def test_merge_refuses_itself_unknown_and_closed_tickets(agent):
    ticket = customer_ticket()
    closed = customer_ticket(status=Status.CLOSED)
    with pytest.raises(services.TicketError, match="itself"):
        services.ticket_merge(source_id=ticket.pk, target_id=ticket.pk, acting_user=agent)
    with pytest.raises(services.TicketError, match="does not exist"):
        services.ticket_merge(source_id=ticket.pk, target_id=ticket.pk + 10_000, acting_user=agent)
    with pytest.raises(services.TicketClosed):
        services.ticket_merge(source_id=ticket.pk, target_id=closed.pk, acting_user=agent)
    assert ticket.messages.count() == 1


# --- bulk ------------------------------------------------------------------------------------


def test_bulk_update_writes_the_same_events_as_single_updates(agent, make_user):
    sam = make_user(Role.AGENT)
    single = customer_ticket(status=Status.OPEN, tags=["a"])
    bulk = [customer_ticket(status=Status.OPEN, tags=["a"]) for _ in range(3)]

    services.ticket_update(
        ticket_id=single.pk,
        acting_user=agent,
        expected_version=None,
        assignee=sam,
        status=Status.PENDING,
        priority=Priority.HIGH,
        add_tags=["b"],
    )
    result = services.tickets_bulk_update(
        ticket_ids=[t.pk for t in bulk],
        acting_user=agent,
        assignee=sam,
        status=Status.PENDING,
        priority=Priority.HIGH,
        add_tags=["b"],
    )

    def shape(ticket):
        return sorted(
            (e.kind, e.actor_id, e.field, e.old_value, e.new_value)
            for e in TicketEvent.objects.filter(ticket=ticket)
        )

    assert sorted(result.changed) == sorted(t.pk for t in bulk)
    for ticket in bulk:
        assert shape(ticket) == shape(single)
        ticket.refresh_from_db()
        assert ticket.version == 2


def test_bulk_update_skips_closed_tickets_and_can_be_undone(agent, make_user):
    sam = make_user(Role.AGENT)
    open_ticket = customer_ticket(status=Status.OPEN)
    closed = customer_ticket(status=Status.CLOSED)
    result = services.tickets_bulk_update(
        ticket_ids=[open_ticket.pk, closed.pk],
        acting_user=agent,
        assignee=sam,
        status=Status.SOLVED,
    )
    assert result.changed == [open_ticket.pk]
    assert result.skipped == {closed.pk: "closed"}

    assert services.tickets_bulk_restore(previous=result.previous, acting_user=agent) == 1
    open_ticket.refresh_from_db()
    assert (open_ticket.assignee_id, open_ticket.status, open_ticket.solved_at) == (
        None,
        Status.OPEN,
        None,
    )


# --- macros ----------------------------------------------------------------------------------


def test_macro_render_fills_placeholders(agent):
    ticket = customer_ticket()
    ticket.requester.name = "Jamie Customer"
    macro = MacroFactory(
        body="Hi {{ requester.first_name }}, about #{{ ticket.number }}. "
        "{{ agent.first_name }} <3 & co"
    )
    text = services.macro_render_body(macro=macro, ticket=ticket, agent=agent)
    # Markdown source, not HTML: nothing is escaped here (it is sanitised when sent).
    assert text == f"Hi Jamie, about #{ticket.pk}. Alex <3 & co"


# --- automatic assignment --------------------------------------------------------------------


def test_round_robin_skips_unavailable_and_capped_agents_and_rotates(make_user):
    team = TeamFactory(name="Frontline")
    TeamAssignmentFactory(team=team)
    first, away, full, last = (make_user(Role.AGENT) for _ in range(4))
    for user in (first, away, full, last):
        user.teams.add(team)
    AgentStatusFactory(user=first)
    AgentStatusFactory(user=away, available=False)
    AgentStatusFactory(user=full, max_open_tickets=1)
    AgentStatusFactory(user=last)
    customer_ticket(assignee=full, status=Status.OPEN)  # `full` is at its cap
    no_status_row = make_user(Role.AGENT)  # never set available: not in the rotation
    no_status_row.teams.add(team)

    requester = ContactFactory()
    assignees = [
        services.ticket_create(requester=requester, subject=f"T{n}", body="b", team=team).assignee
        for n in range(3)
    ]

    assert assignees == [first, last, first]


def test_round_robin_leaves_the_ticket_unassigned_when_nobody_can_take_it(make_user):
    team = TeamFactory(name="Nightshift")
    TeamAssignmentFactory(team=team)
    agent = make_user(Role.AGENT)
    agent.teams.add(team)
    AgentStatusFactory(user=agent, available=False)
    ticket = services.ticket_create(requester=ContactFactory(), subject="s", body="b", team=team)
    assert ticket.assignee is None


def test_teams_without_auto_assign_are_not_assigned(make_user):
    team = TeamFactory(name="Manual")
    TeamAssignmentFactory(team=team, auto_assign=False)
    agent = make_user(Role.AGENT)
    agent.teams.add(team)
    AgentStatusFactory(user=agent)
    ticket = services.ticket_create(requester=ContactFactory(), subject="s", body="b", team=team)
    assert ticket.assignee is None


def test_auto_assignment_is_recorded_as_the_rule(make_user):
    team = TeamFactory(name="Robin")
    TeamAssignmentFactory(team=team)
    agent = make_user(Role.AGENT)
    agent.teams.add(team)
    AgentStatusFactory(user=agent)
    ticket = services.ticket_create(requester=ContactFactory(), subject="s", body="b", team=team)
    event = TicketEvent.objects.get(ticket=ticket, field="assignee")
    assert (event.actor, event.actor_label, event.new_value) == (None, "round-robin", str(agent.pk))


# --- validation ------------------------------------------------------------------------------


def test_create_refuses_empty_subject_and_body():
    requester = ContactFactory()
    with pytest.raises(ValidationError) as error:
        services.ticket_create(requester=requester, subject="   ", body="b")
    assert "subject" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.ticket_create(requester=requester, subject="s", body="  \n ")
    assert error.value.message_dict["body"] == ["Write a message first."]
    assert not Ticket.objects.exists()


def test_reply_refuses_too_long_body_and_bad_attachments(agent, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CX_ATTACHMENT_MAX_BYTES = 10
    ticket = customer_ticket()
    with pytest.raises(ValidationError) as error:
        services.ticket_reply(
            ticket_id=ticket.pk, acting_user=agent, body="x" * (services.BODY_MAX_LENGTH + 1)
        )
    assert "body" in error.value.message_dict
    for upload, says in [
        (SimpleUploadedFile("empty.txt", b""), "empty.txt is empty."),
        (SimpleUploadedFile("big.bin", b"x" * 11), "big.bin (11 bytes) is over the 10 bytes limit"),
    ]:
        with pytest.raises(ValidationError) as error:
            services.ticket_reply(
                ticket_id=ticket.pk, acting_user=agent, body="x", attachments=[upload]
            )
        assert error.value.message_dict["attachments"][0].startswith(says)
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_tags_are_normalised_and_deduplicated():
    assert services.clean_tags([" Big Customer ", "big-customer", "", "VIP"]) == [
        "big-customer",
        "vip",
    ]
    with pytest.raises(ValidationError):
        services.clean_tags(["x" * 51])


def test_reply_stores_attachments_with_their_names_and_sizes(agent, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket = customer_ticket()
    message = services.ticket_reply(
        ticket_id=ticket.pk,
        acting_user=agent,
        body="Logs attached",
        attachments=[SimpleUploadedFile("log.txt", b"line\n", content_type="text/plain")],
    )
    attachment = message.attachments.get()
    assert (attachment.filename, attachment.size, attachment.content_type) == (
        "log.txt",
        5,
        "text/plain",
    )
    assert attachment.file.read() == b"line\n"
