"""The tickets REST API: /api/v1/tickets/ (by number), its messages, claim and merge."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import ApiScope, Contact
from support import services
from support.models import Message, Ticket, TicketEvent
from tests.api_helpers import (
    STAFF,
    Route,
    assert_not_authenticated,
    assert_role_decides,
    assert_scope_missing,
    call,
    error_of,
    scopes_except,
)
from tests.factories import AccountFactory, ContactFactory, TeamFactory, TicketFactory

pytestmark = pytest.mark.django_db


TICKETS = "/api/v1/tickets/"
# The token (1) and the page or the row (1); each test calls once first, so the token's
# last-use write (at most once a minute) is not counted.
TICKET_LIST_QUERIES = 2
TICKET_DETAIL_QUERIES = 2
MESSAGE_LIST_QUERIES = 3  # and the ticket (1)
_unique = itertools.count()


def ticket_url(number: int, suffix: str = "") -> str:
    return f"{TICKETS}{number}/{suffix}"


@pytest.fixture
def api(token_client, agent) -> APIClient:
    return token_client(agent, [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE])


@pytest.fixture
def customer_account():
    return AccountFactory(name="Acme", domains=["acme.example"])


def open_ticket(**fields) -> Ticket:
    """A ticket opened through the service, as a customer would (its first message too)."""
    requester = fields.pop("requester", None) or ContactFactory()
    return services.ticket_create(
        requester=requester,
        subject=fields.pop("subject", f"Problem {next(_unique)}"),
        body=fields.pop("body", "It broke."),
        **fields,
    )


# --- create and read back ---------------------------------------------------------------


def test_create_opens_a_ticket_and_reads_it_back(api, agent, customer_account):
    team = TeamFactory(name="Tier 1")
    contact = ContactFactory(email="dana@acme.example", account=customer_account)

    response = api.post(
        TICKETS,
        {
            "subject": "Export fails",
            "description": "The CSV export stops at 10%.",
            "requester": "Dana@Acme.example",
            "priority": "high",
            "type": "problem",
            "channel": "email",
            "tags": ["Export", "csv"],
            "assignee": agent.email.upper(),
            "team": team.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["ETag"]
    ticket = Ticket.objects.get(pk=body["number"])
    assert ticket.requester == contact
    assert body["requester"] == "dana@acme.example"
    assert body["account"] == customer_account.pk
    assert body["status"] == "new"
    assert (body["priority"], body["type"], body["channel"]) == ("high", "problem", "email")
    assert body["tags"] == ["export", "csv"]
    assert body["assignee"] == agent.email
    assert body["team"] == team.pk
    assert body["first_response_at"] is None
    assert body["solved_at"] is None
    assert "description" not in body
    first = ticket.messages.get()
    assert (first.body, first.public, first.author_contact) == (
        "The CSV export stops at 10%.",
        True,
        contact,
    )
    assert first.author_user is None

    again = api.get(ticket_url(ticket.pk))

    assert again.status_code == 200
    assert again.json() == body
    assert again["ETag"] == response["ETag"]


def test_unknown_requester_becomes_a_contact_of_the_account_with_their_domain(
    api, customer_account
):
    response = api.post(
        TICKETS,
        {"subject": "Hi", "description": "Question.", "requester": "new.person@acme.example"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(email="new.person@acme.example")
    assert contact.account == customer_account
    assert response.json()["account"] == customer_account.pk
    assert response.json()["channel"] == "api"


def test_create_refused_by_the_rules_leaves_no_new_contact(api):
    response = api.post(
        TICKETS,
        {"subject": "Hi", "description": "   ", "requester": "ghost@nowhere.example"},
        format="json",
    )

    assert response.status_code == 400
    assert "description" in error_of(response)["fields"]
    assert not Contact.objects.filter(email="ghost@nowhere.example").exists()


VALID = {"subject": "x", "description": "x", "requester": "a@b.example"}


def without(name: str) -> dict:
    return {key: value for key, value in VALID.items() if key != name}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (without("subject"), "subject"),
        (without("description"), "description"),
        (without("requester"), "requester"),
        (VALID | {"requester": "not an email"}, "requester"),
        (VALID | {"status": "open"}, "status"),
        (VALID | {"version": 1}, "version"),
        (VALID | {"priority": "asap"}, "priority"),
        (VALID | {"assignee": "no@one.example"}, "assignee"),
        (VALID | {"team": 999999}, "team"),
        (VALID | {"account": 1}, "account"),
        (VALID | {"colour": "red"}, "colour"),
        (VALID | {"tags": "a"}, "tags"),
        (VALID | {"subject": "y" * 300}, "subject"),
    ],
)
def test_bad_create_bodies_are_400_naming_the_field(api, body, field):
    response = api.post(TICKETS, body, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert not Ticket.objects.exists()


def test_same_idempotency_key_creates_one_ticket(api):
    body = {"subject": "Once", "description": "Only once.", "requester": "x@y.example"}
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-ticket-1"}

    first = api.post(TICKETS, body, format="json", **headers)
    second = api.post(TICKETS, body, format="json", **headers)

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Ticket.objects.count() == 1
    other = api.post(TICKETS, {**body, "subject": "Twice"}, format="json", **headers)
    assert other.status_code == 409
    assert error_of(other)["code"] == "idempotency_key_reused"


# --- update, ETag, versions -------------------------------------------------------------


def test_patch_changes_properties_through_the_service(api, agent):
    ticket = open_ticket()
    team = TeamFactory()

    response = api.patch(
        ticket_url(ticket.pk),
        {"status": "pending", "priority": "urgent", "tags": ["Billing"], "assignee": agent.email}
        | {"team": team.pk, "type": "incident"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.type) == ("pending", "urgent", "incident")
    assert (ticket.tags, ticket.assignee, ticket.team) == (["billing"], agent, team)
    assert response.json()["version"] == ticket.version
    changed = set(
        TicketEvent.objects.filter(ticket=ticket, actor=agent).values_list("field", flat=True)
    )
    assert {"status", "priority", "type", "tags", "assignee", "team"} <= changed


def test_patch_solved_sets_solved_at(api):
    ticket = open_ticket()

    body = api.patch(ticket_url(ticket.pk), {"status": "solved"}, format="json").json()

    assert body["status"] == "solved"
    assert body["solved_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"description": "again"}, "description"),
        ({"requester": "a@b.example"}, "requester"),
        ({"updated_at": "2026-01-01T00:00:00Z"}, "updated_at"),
        ({"version": "abc"}, "version"),
    ],
)
def test_bad_updates_are_400_naming_the_field(api, body, field):
    ticket = open_ticket()

    response = api.patch(ticket_url(ticket.pk), body, format="json")

    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_put_is_not_offered(api):
    ticket = open_ticket()

    response = api.put(ticket_url(ticket.pk), {"priority": "low"}, format="json")

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_stale_if_match_is_412_and_changes_nothing(api):
    ticket = open_ticket()
    etag = api.get(ticket_url(ticket.pk))["ETag"]
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=None, expected_version=None, priority="low"
    )

    response = api.patch(
        ticket_url(ticket.pk), {"priority": "urgent"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 412
    assert error_of(response)["code"] == "precondition_failed"
    ticket.refresh_from_db()
    assert ticket.priority == "low"


def test_current_if_match_passes_and_returns_the_new_etag(api):
    ticket = open_ticket()
    etag = api.get(ticket_url(ticket.pk))["ETag"]

    response = api.patch(
        ticket_url(ticket.pk), {"priority": "urgent"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert response["ETag"] == api.get(ticket_url(ticket.pk))["ETag"]


def test_stale_version_in_the_body_is_a_409_conflict(api):
    ticket = open_ticket()
    version = ticket.version
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=None, expected_version=None, priority="low"
    )

    response = api.patch(
        ticket_url(ticket.pk), {"priority": "urgent", "version": version}, format="json"
    )

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "stale_version"
    assert "changed by someone else" in error["message"]


def test_changing_a_closed_ticket_is_a_409(api):
    ticket = open_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")

    response = api.patch(ticket_url(ticket.pk), {"priority": "low"}, format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "ticket_closed"


@pytest.mark.parametrize("number", ["999999", "0", "12345678901234567890", "abc"])
def test_unknown_numbers_are_404_in_the_error_shape(api, number):
    for response in (
        api.get(f"{TICKETS}{number}/"),
        api.patch(f"{TICKETS}{number}/", {"priority": "low"}, format="json"),
        api.get(f"{TICKETS}{number}/messages/"),
        api.post(f"{TICKETS}{number}/claim/"),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


# --- list, filters, pagination ----------------------------------------------------------


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["number"] for row in response.json()["results"]]


def test_list_filters_through_the_queue_filterset(api, agent):
    team = TeamFactory()
    urgent = open_ticket(priority="urgent", tags=["vip"])
    mine = open_ticket(assignee=agent, team=team)
    other = open_ticket()

    assert numbers(api.get(TICKETS, {"priority": "urgent"})) == [urgent.pk]
    assert numbers(api.get(TICKETS, {"tag": "VIP"})) == [urgent.pk]
    assert numbers(api.get(TICKETS, {"assignee": agent.pk})) == [mine.pk]
    assert numbers(api.get(TICKETS, {"assignee": "none"})) == [urgent.pk, other.pk]
    assert numbers(api.get(TICKETS, {"team": team.pk})) == [mine.pk]
    assert numbers(api.get(TICKETS, {"account": other.account_id})) == [other.pk]
    assert numbers(api.get(TICKETS, {"status": ["new", "open"]})) == [urgent.pk, mine.pk, other.pk]


def test_bad_filter_values_are_400(api):
    response = api.get(TICKETS, {"priority": "asap"})

    assert response.status_code == 400
    assert "priority" in error_of(response)["fields"]


def test_updated_since_returns_tickets_changed_at_or_after(api):
    now = timezone.now()
    old = TicketFactory(updated_at=now - timedelta(days=3))
    recent = TicketFactory(updated_at=now - timedelta(hours=1))
    services.ticket_update(
        ticket_id=old.pk, acting_user=None, expected_version=None, priority="high"
    )  # a change today brings the old ticket back

    since = (now - timedelta(days=1)).isoformat()
    # Oldest change first: the ticket changed an hour ago, then the one changed just now.
    assert numbers(api.get(TICKETS, {"updated_since": since})) == [recent.pk, old.pk]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert numbers(api.get(TICKETS, {"updated_since": later})) == []
    assert api.get(TICKETS, {"updated_since": "yesterday"}).status_code == 400


def test_cursor_pages_cover_every_ticket_once_even_with_inserts(api):
    tickets = TicketFactory.create_batch(5)

    first = api.get(TICKETS, {"page_size": 2}).json()
    TicketFactory()  # lands after the cursor: nothing shifts
    seen = [row["number"] for row in first["results"]]
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [row["number"] for row in page["results"]]

    assert seen[:5] == [t.pk for t in tickets]
    assert len(seen) == len(set(seen)) == 6
    assert first["previous"] is None


def test_page_size_over_100_is_400(api):
    response = api.get(TICKETS, {"page_size": 101})

    assert response.status_code == 400
    assert "page_size" in error_of(response)["fields"]


@pytest.mark.parametrize("count", [1, 30])
def test_ticket_list_query_count_is_fixed(api, agent, django_assert_max_num_queries, count):
    api.get(TICKETS)  # records the token's last use (once a minute)
    team = TeamFactory()
    TicketFactory.create_batch(count, assignee=agent, team=team)

    with django_assert_max_num_queries(TICKET_LIST_QUERIES):
        response = api.get(TICKETS, {"page_size": 100, "status": "new"})

    assert len(response.json()["results"]) == count


def test_ticket_detail_query_count_is_fixed(api, agent, django_assert_max_num_queries):
    ticket = TicketFactory(assignee=agent, team=TeamFactory())
    api.get(TICKETS)

    with django_assert_max_num_queries(TICKET_DETAIL_QUERIES):
        response = api.get(ticket_url(ticket.pk))

    assert response.status_code == 200


# --- messages ---------------------------------------------------------------------------


def test_messages_lists_replies_and_internal_notes_with_their_authors(api, agent):
    ticket = open_ticket()
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="On it.")
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Tricky.", public=False)

    response = api.get(ticket_url(ticket.pk, "messages/"))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(m["body"], m["public"], m["author"]) for m in rows] == [
        ("It broke.", True, ticket.requester.email),
        ("On it.", True, agent.email),
        ("Tricky.", False, agent.email),
    ]
    assert set(rows[0]) == {"id", "body", "public", "author", "created_at"}


def test_agent_adds_a_public_reply_through_the_service(api, agent):
    ticket = open_ticket()

    response = api.post(ticket_url(ticket.pk, "messages/"), {"body": "Fixed now."}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["body"], body["public"], body["author"]) == ("Fixed now.", True, agent.email)
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None  # the first agent reply stops the clock
    assert ticket.status == "open"


def test_agent_adds_an_internal_note(api, agent):
    ticket = open_ticket()

    response = api.post(
        ticket_url(ticket.pk, "messages/"), {"body": "Check logs.", "public": False}, format="json"
    )

    assert response.status_code == 201
    note = Message.objects.get(pk=response.json()["id"])
    assert (note.public, note.author_user) == (False, agent)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"body": ""}, "body"), ({"body": "   "}, "body"), ({}, "body"), ({"author": "x"}, "author")],
)
def test_bad_messages_are_400(api, body, field):
    ticket = open_ticket()

    response = api.post(ticket_url(ticket.pk, "messages/"), body, format="json")

    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_replying_on_a_closed_ticket_is_a_409(api):
    ticket = open_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")

    response = api.post(ticket_url(ticket.pk, "messages/"), {"body": "Hello?"}, format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "ticket_closed"
    assert ticket.messages.count() == 1


def test_messages_come_in_cursor_pages_oldest_first(api, agent):
    ticket = open_ticket()
    for n in range(4):
        services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body=f"Reply {n}")

    first = api.get(ticket_url(ticket.pk, "messages/"), {"page_size": 3}).json()
    second = api.get(first["next"]).json()

    bodies = [m["body"] for m in first["results"] + second["results"]]
    assert bodies == ["It broke.", "Reply 0", "Reply 1", "Reply 2", "Reply 3"]
    assert second["next"] is None


def test_customers_cannot_read_messages_even_of_their_own_ticket(token_client, make_user):
    contact = ContactFactory()
    customer = make_user(Role.CUSTOMER, email=contact.email)
    contact.user = customer
    contact.save()
    ticket = open_ticket(requester=contact)
    services.ticket_reply(
        ticket_id=ticket.pk, acting_user=make_user(Role.AGENT), body="Secret.", public=False
    )
    client = token_client(customer, [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE])

    for response in (client.get(ticket_url(ticket.pk, "messages/")), client.get(TICKETS)):
        assert response.status_code == 403
        assert "Secret." not in response.content.decode()
        assert "portal" in error_of(response)["message"]


def test_message_list_query_count_is_fixed(api, agent, django_assert_max_num_queries):
    ticket = open_ticket()
    for n in range(10):
        services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body=f"Reply {n}")
    api.get(TICKETS)

    with django_assert_max_num_queries(MESSAGE_LIST_QUERIES):
        response = api.get(ticket_url(ticket.pk, "messages/"))

    assert len(response.json()["results"]) == 11


# --- claim and merge --------------------------------------------------------------------


def test_claim_assigns_the_caller(api, agent):
    ticket = open_ticket()

    response = api.post(ticket_url(ticket.pk, "claim/"))

    assert response.status_code == 200
    assert response.json()["assignee"] == agent.email
    assert response["ETag"]
    ticket.refresh_from_db()
    assert ticket.assignee == agent


def test_claiming_a_ticket_someone_has_is_a_409_naming_them(api, make_user):
    other = make_user(Role.AGENT, full_name="Sam Other")
    ticket = open_ticket(assignee=other)

    response = api.post(ticket_url(ticket.pk, "claim/"))

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "already_claimed"
    ticket.refresh_from_db()
    assert ticket.assignee == other


def test_merge_moves_the_thread_and_closes_the_source(api):
    source = open_ticket(body="First problem.")
    target = open_ticket(body="Same problem.")

    response = api.post(ticket_url(source.pk, "merge/"), {"into": target.pk}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["number"] == target.pk
    source.refresh_from_db()
    assert (source.status, source.merged_into) == ("closed", target)
    assert target.messages.filter(body="First problem.").exists()
    assert api.get(ticket_url(source.pk)).json()["merged_into"] == target.pk


@pytest.mark.parametrize(
    ("into", "field"),
    [(None, "into"), ("x", "into"), (999999, "into"), ("self", "non_field_errors")],
)
def test_bad_merges_are_400(api, into, field):
    source = open_ticket()
    body = {} if into is None else {"into": source.pk if into == "self" else into}

    response = api.post(ticket_url(source.pk, "merge/"), body, format="json")

    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    source.refresh_from_db()
    assert source.status == "new"


def test_merging_a_closed_ticket_is_a_409(api):
    source = open_ticket()
    target = open_ticket()
    Ticket.objects.filter(pk=target.pk).update(status="closed")

    response = api.post(ticket_url(source.pk, "merge/"), {"into": target.pk}, format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "ticket_closed"


# --- who may call what ------------------------------------------------------------------

READERS = STAFF
WRITERS = READERS  # as on the ticket pages


ROUTES = {
    "tickets list": Route("get", lambda o: TICKETS, "tickets:read", READERS),
    "ticket create": Route(
        "post",
        lambda o: TICKETS,
        "tickets:write",
        WRITERS,
        lambda o: {"subject": "New", "description": "Help.", "requester": "p@q.example"},
        201,
    ),
    "ticket retrieve": Route("get", lambda o: ticket_url(o["ticket"].pk), "tickets:read", READERS),
    "ticket update": Route(
        "patch",
        lambda o: ticket_url(o["ticket"].pk),
        "tickets:write",
        WRITERS,
        lambda o: {"priority": "high"},
    ),
    "messages list": Route(
        "get", lambda o: ticket_url(o["ticket"].pk, "messages/"), "tickets:read", READERS
    ),
    "message create": Route(
        "post",
        lambda o: ticket_url(o["ticket"].pk, "messages/"),
        "tickets:write",
        WRITERS,
        lambda o: {"body": "Reply.", "public": False},
        201,
    ),
    "ticket claim": Route(
        "post", lambda o: ticket_url(o["ticket"].pk, "claim/"), "tickets:write", WRITERS
    ),
    "ticket merge": Route(
        "post",
        lambda o: ticket_url(o["ticket"].pk, "merge/"),
        "tickets:write",
        WRITERS,
        lambda o: {"into": o["target"].pk},
    ),
}


@pytest.fixture
def objects():
    return {"ticket": open_ticket(), "target": open_ticket()}


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_anonymous_callers_get_401(route, objects):
    assert_not_authenticated(call(APIClient(), route, objects))


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_token_without_the_scope_gets_403(route, objects, make_user, token_client):
    client = token_client(make_user(Role.ADMIN), scopes=scopes_except(route.scope))

    assert_scope_missing(call(client, route, objects), route.scope)


@pytest.mark.parametrize("auth", ["session", "token"])
@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT, Role.CSM, Role.MANAGER, Role.ADMIN])
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_role_decides_once_the_scope_is_there(
    route, role, auth, objects, make_user, token_client, session_client
):
    user = make_user(role)
    client = session_client(user) if auth == "session" else token_client(user, [route.scope])

    assert_role_decides(call(client, route, objects), route, role)
