"""The tickets API's create with historical `created_at` and `solved_at` (a history import):
only with the `import` scope (admins and managers), replayed through the history import, and
checked like it: not in the future, not solved before opened. Never changed on PATCH."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import ApiScope, Notification
from support import services
from support.choices import EventKind, SlaAlertKind, Status
from support.models import SlaAlert, Ticket, TicketEvent
from tests.api_helpers import error_of
from tests.support.test_sla_services import make_policy

pytestmark = pytest.mark.django_db


TICKETS = "/api/v1/tickets/"
IMPORTER_SCOPES = [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE, ApiScope.IMPORT]
WRITER_SCOPES = [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE]
BODY = {"subject": "Old problem", "description": "It broke.", "requester": "dana@acme.example"}


def ago(**delta) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


def moment(text: str):
    return parse_datetime(text)


@pytest.fixture
def importer(token_client, manager):
    return token_client(manager, IMPORTER_SCOPES)


def test_an_import_token_creates_a_ticket_with_its_history(importer, agent):
    created, solved = ago(days=3), ago(days=2)

    response = importer.post(
        TICKETS,
        BODY | {"created_at": created, "solved_at": solved, "assignee": agent.email},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert moment(body["created_at"]) == moment(created)
    assert moment(body["solved_at"]) == moment(solved)
    assert body["status"] == Status.SOLVED
    assert body["first_response_at"] is None  # no agent reply in this history, as live
    ticket = Ticket.objects.get(pk=body["number"])
    assert (ticket.created_at, ticket.solved_at) == (moment(created), moment(solved))
    # The event log as live use writes it, each event at its historical moment; the solve
    # is the assignee's.
    events = list(
        TicketEvent.objects.filter(ticket=ticket)
        .exclude(kind=EventKind.SLA)
        .order_by("created_at", "id")
        .values_list("kind", "new_value", "actor", "created_at")
    )
    assert events == [
        (EventKind.CREATED, "", None, moment(created)),
        (EventKind.CHANGED, Status.SOLVED, agent.pk, moment(solved)),
    ]
    assert ticket.messages.get().created_at == moment(created)


def test_without_an_assignee_the_caller_solves_it(importer, manager):
    response = importer.post(
        TICKETS, BODY | {"created_at": ago(hours=5), "solved_at": ago(hours=4)}, format="json"
    )

    assert response.status_code == 201, response.json()
    solve = TicketEvent.objects.get(field="status", new_value=Status.SOLVED)
    assert solve.actor == manager


def test_created_at_alone_opens_an_unsolved_ticket_then(importer):
    created = ago(hours=2)

    body = importer.post(TICKETS, BODY | {"created_at": created}, format="json").json()

    assert moment(body["created_at"]) == moment(created)
    assert (body["status"], body["solved_at"]) == (Status.NEW, None)


def test_a_manager_session_may_import_too(session_client, manager):
    response = session_client(manager).post(
        TICKETS, BODY | {"created_at": ago(hours=2)}, format="json"
    )

    assert response.status_code == 201, response.json()


def test_past_sla_moments_are_recorded_silently(importer, agent):
    """First response due 60 min after opening; solved after 2 h without a reply."""
    make_policy()
    response = importer.post(
        TICKETS,
        BODY | {"created_at": ago(hours=3), "solved_at": ago(hours=1), "assignee": agent.email},
        format="json",
    )
    ticket = Ticket.objects.get(pk=response.json()["number"])

    breach = SlaAlert.objects.get(ticket=ticket, kind=SlaAlertKind.BREACH)
    assert breach.recorded_at == breach.at == ticket.created_at + timedelta(hours=1)
    assert services.sla_alerts_record() == 0
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACH).count() == 1
    assert not Notification.objects.exists()


# --- who may ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["created_at", "solved_at"])
def test_a_token_without_the_import_scope_gets_403(token_client, manager, field):
    writer = token_client(manager, WRITER_SCOPES)

    response = writer.post(TICKETS, BODY | {field: ago(hours=1)}, format="json")

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "permission_denied"
    assert "'import' scope" in error["message"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("auth", ["session", "token"])
def test_agents_may_not_import_even_with_the_scope(token_client, session_client, agent, auth):
    client = session_client(agent) if auth == "session" else token_client(agent, IMPORTER_SCOPES)

    response = client.post(TICKETS, BODY | {"created_at": ago(hours=1)}, format="json")

    assert response.status_code == 403
    assert "Only admins and managers" in error_of(response)["message"]
    assert not Ticket.objects.exists()


def test_without_timestamps_the_scope_is_not_needed(token_client, agent):
    response = token_client(agent, WRITER_SCOPES).post(TICKETS, BODY, format="json")

    assert response.status_code == 201, response.json()


# --- bad moments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "field", "message"),
    [
        ({"created_at": "in-future"}, "created_at", "future"),
        ({"created_at": "past", "solved_at": "in-future"}, "solved_at", "future"),
        ({"created_at": "past", "solved_at": "before"}, "solved_at", "before it was opened"),
        ({"solved_at": "past"}, "solved_at", "created_at too"),
        ({"created_at": "yesterday-ish"}, "created_at", "format"),
    ],
)
def test_bad_moments_are_400_naming_the_field(importer, times, field, message):
    values = {
        "in-future": (timezone.now() + timedelta(hours=1)).isoformat(),
        "past": ago(hours=2),
        "before": ago(hours=3),
        "yesterday-ish": "yesterday-ish",
    }

    response = importer.post(
        TICKETS, BODY | {name: values[value] for name, value in times.items()}, format="json"
    )

    assert response.status_code == 400
    error = error_of(response)
    assert list(error["fields"]) == [field]
    assert message in " ".join(error["fields"][field])
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("field", ["created_at", "solved_at"])
def test_patch_cannot_change_the_timestamps(importer, field):
    number = importer.post(TICKETS, BODY, format="json").json()["number"]

    response = importer.patch(f"{TICKETS}{number}/", {field: ago(days=1)}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"][field] == ["Can only be given when creating a ticket."]
