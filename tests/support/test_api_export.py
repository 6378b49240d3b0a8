"""The incremental ticket export: /api/v1/export/tickets/ (start_time, cursor, safety margin)."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.utils import timezone

from accounts.choices import Role
from accounts.models import ApiScope
from support import services
from support.api import export
from support.models import Ticket
from tests.api_helpers import error_of
from tests.factories import TicketFactory

EXPORT = "/api/v1/export/tickets/"
# The page (1); the token is read (1) and its last use written at most once a minute.
EXPORT_PAGE_QUERIES = 2


@pytest.fixture
def api(token_client, agent):
    return token_client(agent, [ApiScope.TICKETS_READ])


def tickets_changed(*minutes_ago: int) -> list[Ticket]:
    now = timezone.now()
    tickets = []
    for minutes in minutes_ago:
        at = now - timedelta(minutes=minutes)
        tickets.append(TicketFactory(created_at=at, updated_at=at))
    return tickets


def forged_cursor() -> str:
    """A position of the client's choosing under a real cursor's signature."""
    real = export.cursor_encode(timezone.now(), 1)
    forged = signing.b64_encode(b'["2000-01-01T00:00:00+00:00",1]').decode()
    return f"{forged}:{real.rsplit(':', 1)[1]}"


def drain(api, start_time: str) -> tuple[list[dict], dict]:
    response = api.get(EXPORT, {"start_time": start_time})
    results = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        results += body["results"]
        if body["end_of_stream"]:
            return results, body
        response = api.get(EXPORT, {"cursor": body["next_cursor"]})


@pytest.mark.django_db
def test_export_pages_changed_tickets_oldest_first_and_ends_the_stream(api, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_PAGE_SIZE", 2)
    old, a, b, c = tickets_changed(100, 30, 20, 10)
    start = (timezone.now() - timedelta(minutes=40)).isoformat()

    first = api.get(EXPORT, {"start_time": start}).json()
    assert [t["number"] for t in first["results"]] == [a.pk, b.pk]
    assert first["end_of_stream"] is False
    assert first["next"].endswith(f"?cursor={first['next_cursor']}") or "cursor=" in first["next"]
    second = api.get(EXPORT, {"cursor": first["next_cursor"]}).json()
    assert [t["number"] for t in second["results"]] == [c.pk]
    assert second["end_of_stream"] is True
    # Rendered as the tickets API renders a ticket.
    assert set(second["results"][0]) >= {"number", "subject", "status", "updated_at"}

    # Nothing new: the same position again, an empty page; a later change follows it.
    third = api.get(EXPORT, {"cursor": second["next_cursor"]}).json()
    assert third["results"] == []
    assert third["end_of_stream"] is True
    Ticket.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    fourth = api.get(EXPORT, {"cursor": third["next_cursor"]}).json()
    assert [t["number"] for t in fourth["results"]] == [old.pk]


@pytest.mark.django_db
def test_start_time_accepts_unix_seconds_and_is_inclusive(api):
    (ticket,) = tickets_changed(10)
    body = api.get(EXPORT, {"start_time": str(ticket.updated_at.timestamp())}).json()
    assert [t["number"] for t in body["results"]] == [ticket.pk]


@pytest.mark.django_db
def test_changes_inside_the_safety_margin_wait_for_a_later_request(api, settings):
    settings.CX_EXPORT_SAFETY_SECONDS = 60
    (settled,) = tickets_changed(5)
    TicketFactory()  # changed just now: a transaction of the same moment may not be in yet
    results, _ = drain(api, (timezone.now() - timedelta(hours=1)).isoformat())
    assert [t["number"] for t in results] == [settled.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "garbage"},
        {"cursor": export.cursor_encode(timezone.now(), 1)[:-2] + "xx"},  # signature broken
        {"cursor": forged_cursor()},
        {"start_time": "yesterday"},
        {"start_time": "2026-13-45T00:00:00Z"},
        {"start_time": "1e400"},
        {},
        {"start_time": "2026-01-01T00:00:00Z", "cursor": "x"},
    ],
)
def test_tampered_cursor_or_bad_start_time_is_a_400(api, params):
    response = api.get(EXPORT, params)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


@pytest.mark.django_db
def test_export_is_for_staff_with_the_tickets_read_scope(token_client, make_user):
    start = {"start_time": "2026-01-01T00:00:00Z"}
    wrong_scope = token_client(make_user(Role.AGENT), [ApiScope.IMPORT])
    assert wrong_scope.get(EXPORT, start).status_code == 403
    customer = token_client(make_user(Role.CUSTOMER), [ApiScope.TICKETS_READ])
    assert customer.get(EXPORT, start).status_code == 403
    csm = token_client(make_user(Role.CSM), [ApiScope.TICKETS_READ])
    assert csm.get(EXPORT, start).status_code == 200


@pytest.mark.django_db
def test_a_page_is_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    start = {"start_time": (timezone.now() - timedelta(days=1)).isoformat()}
    tickets_changed(50)
    api.get(EXPORT, start)  # the token's last-use write
    with django_assert_max_num_queries(EXPORT_PAGE_QUERIES):
        assert len(api.get(EXPORT, start).json()["results"]) == 1
    tickets_changed(*range(40, 70))
    with django_assert_max_num_queries(EXPORT_PAGE_QUERIES):
        assert len(api.get(EXPORT, start).json()["results"]) == 31


@pytest.mark.django_db(transaction=True)
def test_no_change_is_missed_while_tickets_change_during_paging(
    token_client, agent, settings, monkeypatch
):
    """A writer thread changes tickets while the client pages, 5 at a time: when the
    stream is drained after the writes (and the margin), every ticket's final state is in
    what the client collected (the last occurrence of each number wins)."""
    settings.CX_EXPORT_SAFETY_SECONDS = 0.5
    monkeypatch.setattr(export, "EXPORT_PAGE_SIZE", 5)
    api = token_client(agent, [ApiScope.TICKETS_READ])
    start = (timezone.now() - timedelta(hours=1)).isoformat()
    tickets = tickets_changed(*range(30, 70))
    stop = threading.Event()

    def writer():
        try:
            round_ = 0
            while not stop.is_set() and round_ < 4:
                for ticket in tickets[round_::3]:
                    services.ticket_update(
                        ticket_id=ticket.pk,
                        acting_user=agent,
                        expected_version=None,
                        subject=f"Round {round_} of #{ticket.pk}",
                    )
                round_ += 1
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    seen: dict[int, dict] = {}
    response = api.get(EXPORT, {"start_time": start})
    thread.start()
    while True:
        body = response.json()
        for row in body["results"]:
            seen[row["number"]] = row
        if body["end_of_stream"] and not thread.is_alive():
            break
        if body["end_of_stream"]:
            time.sleep(0.05)
        response = api.get(EXPORT, {"cursor": body["next_cursor"]})
    stop.set()
    thread.join()
    time.sleep(settings.CX_EXPORT_SAFETY_SECONDS + 0.1)
    response = api.get(EXPORT, {"cursor": body["next_cursor"]})
    while True:
        body = response.json()
        for row in body["results"]:
            seen[row["number"]] = row
        if body["end_of_stream"]:
            break
        response = api.get(EXPORT, {"cursor": body["next_cursor"]})

    final = {t.pk: (t.subject, t.version) for t in Ticket.objects.all()}
    assert {number: (row["subject"], row["version"]) for number, row in seen.items()} == final
    assert any(subject.startswith("Round") for subject, _ in final.values())
