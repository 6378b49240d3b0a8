"""A ticket's id in the system it was imported from (`Ticket.external_id`): kept by the
history import, each id imported once (overlapping export files, two imports at once), CSAT
lines naming their ticket by it, and the tickets API reading it and setting it on an import's
create only."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ApiScope
from support.models import CsatResponse, ImportRun, Ticket
from support.services import imports
from support.services.imports import ImportRejected, ticket_import
from support.services.surveys import csat_history_import
from tests.api_helpers import error_of

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
IMPORTER_SCOPES = [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE, ApiScope.IMPORT]
WRITER_SCOPES = [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE]


def at(day: int, hour: int) -> str:
    return datetime(2026, 3, day, hour, tzinfo=UTC).isoformat()


def ticket(external_id: str, requester: str, **fields) -> dict:
    return {
        "external_id": external_id,
        "subject": f"Problem {external_id}",
        "requester": requester,
        "created_at": at(2, 9),
        "description": "It broke.",
        **fields,
    }


def csat(external_id: str, score: int, **fields) -> dict:
    return {
        "kind": "csat",
        "ticket_external_id": external_id,
        "score": score,
        "submitted_at": at(3, 10),
        **fields,
    }


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


def import_file(path: str, capsys) -> dict[int, str]:
    """Run `manage.py import_history` and return its rejections: {line: reason}."""
    call_command("import_history", path, "--no-progress")
    err = capsys.readouterr().err
    return {
        int(line.split(":")[0].removeprefix("line ")): line.split("rejected: ", 1)[1]
        for line in err.splitlines()
    }


def test_csat_lines_name_the_tickets_imported_from_the_same_file(tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "export.jsonl",
        [
            ticket("ZD-1", "dana@acme.example"),
            ticket("ZD-2", "eli@acme.example"),
            csat("ZD-2", 2, comment="Slow"),
            csat("ZD-1", 5, ces=6),
        ],
    )

    assert import_file(path, capsys) == {}

    first, second = Ticket.objects.get(external_id="ZD-1"), Ticket.objects.get(external_id="ZD-2")
    answers = {
        answer.ticket_id: (answer.rating, answer.ces, answer.comment, answer.contact.email)
        for answer in CsatResponse.objects.select_related("contact")
    }
    assert answers == {
        first.pk: (5, 6, "", "dana@acme.example"),
        second.pk: (2, None, "Slow", "eli@acme.example"),
    }


def test_a_ticket_already_imported_from_another_file_is_rejected_and_the_rest_go_in(
    tmp_path, capsys
):
    first_file = write_jsonl(
        tmp_path / "january.jsonl",
        [ticket("ZD-1", "dana@acme.example"), ticket("ZD-2", "eli@acme.example")],
    )
    assert import_file(first_file, capsys) == {}
    already = Ticket.objects.get(external_id="ZD-2")
    # The next export overlaps the first by one ticket.
    second_file = write_jsonl(
        tmp_path / "february.jsonl",
        [
            ticket("ZD-2", "eli@acme.example"),
            ticket("ZD-3", "fay@acme.example"),
            csat("ZD-2", 4),  # the rating still finds the ticket the first file imported
        ],
    )

    rejected = import_file(second_file, capsys)

    assert rejected == {1: f"external_id: already imported as ticket #{already.pk}."}
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == ["ZD-1", "ZD-2", "ZD-3"]
    assert CsatResponse.objects.get().ticket_id == already.pk
    run = ImportRun.objects.get(filename=second_file)
    assert (run.imported, run.rejected_count) == (2, 1)


def test_the_same_id_twice_in_one_file_imports_the_first(tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "export.jsonl",
        [ticket("ZD-7", "dana@acme.example"), ticket("ZD-7", "dana@acme.example")],
    )

    rejected = import_file(path, capsys)

    kept = Ticket.objects.get()
    assert rejected == {2: f"external_id: already imported as ticket #{kept.pk}."}


def test_an_import_racing_past_the_check_is_refused_by_the_unique_index(monkeypatch):
    """Two imports of the same ticket at once both pass the check (neither has committed);
    the unique index refuses the second, with the same reason, and leaves nothing of it."""
    kept = ticket_import(record=ticket("ZD-9", "dana@acme.example"))
    real_lookup = imports.ticket_number_by_external_id
    calls = []

    def blind_first_lookup(external_id):
        calls.append(external_id)
        return None if len(calls) == 1 else real_lookup(external_id)

    monkeypatch.setattr(imports, "ticket_number_by_external_id", blind_first_lookup)

    with pytest.raises(ImportRejected) as rejected:
        ticket_import(record=ticket("ZD-9", "dana@acme.example", subject="Second copy"))

    assert str(rejected.value) == f"external_id: already imported as ticket #{kept.pk}."
    assert calls == ["ZD-9", "ZD-9"]
    assert list(Ticket.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize(
    ("external_id", "reason"),
    [
        ("", "external_id: a non-empty string of at most 100 characters (got '')."),
        ("   ", "external_id: a non-empty string of at most 100 characters (got '   ')."),
        (48213, "external_id: a non-empty string of at most 100 characters (got 48213)."),
        (
            "x" * 101,
            f"external_id: a non-empty string of at most 100 characters (got {'x' * 101!r}).",
        ),
    ],
)
def test_bad_external_ids_are_rejected(external_id, reason):
    with pytest.raises(ImportRejected) as rejected:
        ticket_import(record=ticket("", "dana@acme.example") | {"external_id": external_id})

    assert str(rejected.value) == reason
    assert not Ticket.objects.exists()


def test_a_ticket_without_an_external_id_keeps_it_empty():
    record = ticket("", "dana@acme.example")
    del record["external_id"]

    assert ticket_import(record=record).external_id == ""
    assert ticket_import(record=record).external_id == ""  # "" is not an id: no uniqueness


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (
            {"ticket": 1, "ticket_external_id": "ZD-1"},
            "Name the ticket by exactly one of ticket (its number here) and "
            "ticket_external_id (its id in the system it was imported from).",
        ),
        (
            {},
            "Name the ticket by exactly one of ticket (its number here) and "
            "ticket_external_id (its id in the system it was imported from).",
        ),
        (
            {"ticket_external_id": "ZD-404"},
            "ticket_external_id: no ticket was imported with the id 'ZD-404'.",
        ),
        (
            {"ticket_external_id": 12},
            "ticket_external_id: required, a non-empty string.",
        ),
    ],
)
def test_a_csat_answer_must_name_one_known_ticket(names, reason):
    ticket_import(record=ticket("ZD-1", "dana@acme.example"))

    with pytest.raises(ImportRejected) as rejected:
        csat_history_import(record={"score": 4, "submitted_at": at(3, 10), **names})

    assert str(rejected.value) == reason
    assert not CsatResponse.objects.exists()


# --- the tickets API ----------------------------------------------------------------------


def ago(**delta) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


BODY = {"subject": "Old problem", "description": "It broke.", "requester": "dana@acme.example"}


@pytest.fixture
def importer(token_client, manager):
    return token_client(manager, IMPORTER_SCOPES)


def test_an_import_create_keeps_the_external_id_and_refuses_it_twice(importer):
    response = importer.post(
        TICKETS, BODY | {"created_at": ago(days=3), "external_id": "ZD-48213"}, format="json"
    )

    assert response.status_code == 201, response.json()
    number = response.json()["number"]
    assert response.json()["external_id"] == "ZD-48213"
    assert Ticket.objects.get(pk=number).external_id == "ZD-48213"

    again = importer.post(
        TICKETS, BODY | {"created_at": ago(days=2), "external_id": "ZD-48213"}, format="json"
    )

    assert again.status_code == 400
    assert error_of(again)["fields"] == {"external_id": [f"Already imported as ticket #{number}."]}
    assert Ticket.objects.count() == 1


def test_the_ticket_shows_its_external_id(importer):
    imported = ticket_import(record=ticket("ZD-5", "dana@acme.example"))
    opened_here = ticket_import(record=ticket("", "eli@acme.example") | {"external_id": None})

    assert importer.get(f"{TICKETS}{imported.pk}/").json()["external_id"] == "ZD-5"
    assert importer.get(f"{TICKETS}{opened_here.pk}/").json()["external_id"] == ""
    listed = {row["number"]: row["external_id"] for row in importer.get(TICKETS).json()["results"]}
    assert listed == {imported.pk: "ZD-5", opened_here.pk: ""}


def test_an_external_id_needs_created_at(importer):
    response = importer.post(TICKETS, BODY | {"external_id": "ZD-1"}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "external_id": ["Give created_at too: when the imported ticket was opened."]
    }
    assert not Ticket.objects.exists()


def test_an_external_id_needs_the_import_scope(token_client, manager):
    writer = token_client(manager, WRITER_SCOPES)

    response = writer.post(
        TICKETS, BODY | {"created_at": ago(days=3), "external_id": "ZD-1"}, format="json"
    )

    assert response.status_code == 403
    assert "external_id" in error_of(response)["message"]
    assert not Ticket.objects.exists()


def test_the_external_id_is_never_changed(importer):
    imported = ticket_import(record=ticket("ZD-5", "dana@acme.example"))

    response = importer.patch(f"{TICKETS}{imported.pk}/", {"external_id": "ZD-6"}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "external_id": ["Can only be given when creating a ticket."]
    }
    imported.refresh_from_db()
    assert imported.external_id == "ZD-5"


def test_the_import_endpoint_refuses_a_ticket_imported_before(importer):
    record = ticket("ZD-8", "dana@acme.example")
    first = importer.post("/api/v1/import/tickets/", record, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["external_id"] == "ZD-8"

    again = importer.post("/api/v1/import/tickets/", record, format="json")

    assert again.status_code == 400
    assert error_of(again)["message"] == (
        f"external_id: already imported as ticket #{first.json()['number']}."
    )
