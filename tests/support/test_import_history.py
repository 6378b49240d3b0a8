"""History import: the services' `at=`, `manage.py import_history` (rejections, resuming),
`POST /api/v1/import/tickets/`, and the equality test (metrics after an import equal the
hand-computed ones)."""

import datetime as dt
import json
from datetime import UTC, datetime, time

import pytest
from django.core.management import call_command

from accounts.choices import Role
from accounts.models import ApiScope
from metrics.catalogue import COMPANY_ID, pool
from metrics.models import MetricSnapshot, SubjectKind
from metrics.services.history import IMPORTERS
from metrics.services.snapshots import snapshots_compute_day
from support.choices import EventKind, Status
from support.models import (
    BusinessCalendar,
    ImportRun,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketEvent,
    WorkingInterval,
)
from tests.api_helpers import error_of

pytestmark = pytest.mark.django_db

HOUR = 3600
FRI = dt.date(2026, 3, 6)
MON = dt.date(2026, 3, 9)
TUE = dt.date(2026, 3, 10)


def at(day: dt.date, hour: float) -> str:
    minutes = round(hour * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=UTC).isoformat()


def office_policy() -> SlaPolicy:
    """Mon-Fri 09:00-17:00 UTC; first response 8 h, resolution 40 h (normal priority)."""
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="UTC")
    WorkingInterval.objects.bulk_create(
        WorkingInterval(calendar=calendar, weekday=day, start=time(9), end=time(17))
        for day in range(5)
    )
    policy = SlaPolicy.objects.create(name="Standard", position=1, calendar=calendar)
    SlaTarget.objects.bulk_create(
        SlaTarget(policy=policy, priority="normal", metric=metric, minutes=minutes)
        for metric, minutes in [("first_response", 480), ("resolution", 2400)]
    )
    return policy


@pytest.fixture
def history(agent):
    """Three tickets with replies at known business-hour moments, solves and a reopen."""
    office_policy()
    a = agent.email
    return [
        {  # answered after 2 business hours, solved the same day
            "subject": "A: cannot log in",
            "requester": "dana@acme.example",
            "created_at": at(MON, 9),
            "description": "Login fails.",
            "history": [
                {"author": a, "body": "Try resetting.", "created_at": at(MON, 11)},
                {"status": "solved", "at": at(MON, 15), "by": a},
            ],
        },
        {  # Friday 16:00 -> Monday 10:00: 2 business hours; solved, reopened, solved again
            "subject": "B: export broken",
            "requester": "eli@acme.example",
            "created_at": at(FRI, 16),
            "description": "Export is empty.",
            "assignee": a,
            "history": [
                {"author": a, "body": "Fixed.", "created_at": at(MON, 10)},
                {"status": "solved", "at": at(MON, 12)},
                {"author": "eli@acme.example", "body": "Still empty.", "created_at": at(MON, 13)},
                {"author": a, "body": "Now fixed.", "created_at": at(MON, 14)},
                {"status": "solved", "at": at(MON, 16)},
            ],
        },
        {  # an internal note does not stop the clock: Mon 10:00 -> Tue 10:00 = 8 business h
            "subject": "C: invoice question",
            "requester": "fay@acme.example",
            "created_at": at(MON, 10),
            "description": "Which invoice?",
            "assignee": a,
            "history": [
                {"author": a, "body": "Checking.", "public": False, "created_at": at(MON, 10.5)},
                {"author": a, "body": "The March one.", "created_at": at(TUE, 10)},
            ],
            "solved_at": at(TUE, 11),
        },
    ]


def write_jsonl(tmp_path, lines) -> str:
    path = tmp_path / "history.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return str(path)


def snapshot(metric: str, day: dt.date) -> MetricSnapshot:
    return MetricSnapshot.objects.get(
        day=day, metric=metric, subject_kind=SubjectKind.COMPANY, subject_id=COMPANY_ID
    )


# --- the equality test ------------------------------------------------------------------


def test_imported_history_gives_the_hand_computed_ticket_fields_and_daily_metrics(
    history, tmp_path
):
    call_command("import_history", write_jsonl(tmp_path, history), "--no-progress")
    a, b, c = Ticket.objects.order_by("subject")

    assert a.first_response_at.isoformat() == at(MON, 11)
    assert a.solved_at.isoformat() == at(MON, 15)
    assert a.first_response_business_seconds == 2 * HOUR
    assert (a.status, a.reopen_count) == (Status.SOLVED, 0)
    assert a.created_at.isoformat() == at(MON, 9)

    assert b.first_response_at.isoformat() == at(MON, 10)
    assert b.first_response_business_seconds == 2 * HOUR  # Fri 16-17 + Mon 9-10
    assert b.solved_at.isoformat() == at(MON, 16)  # the last solve
    assert (b.status, b.reopen_count) == (Status.SOLVED, 1)

    assert c.first_response_at.isoformat() == at(TUE, 10)
    assert c.first_response_business_seconds == 8 * HOUR  # Mon 10-17 + Tue 9-10
    assert c.solved_at.isoformat() == at(TUE, 11)

    # The event log as live use writes it, each event at its historical moment.
    events = list(
        TicketEvent.objects.filter(ticket=b)
        .exclude(kind=EventKind.SLA)
        .order_by("created_at", "id")
        .values_list("kind", "field", "new_value", "created_at")
    )
    kinds = [(kind, field, new if field == "status" else "") for kind, field, new, _ in events]
    assert kinds == [
        (EventKind.CREATED, "", ""),
        (EventKind.REPLIED, "", ""),
        (EventKind.CHANGED, "status", Status.OPEN),  # the first reply opens it
        (EventKind.CHANGED, "status", Status.SOLVED),
        (EventKind.CUSTOMER_REPLIED, "", ""),
        (EventKind.REOPENED, "", ""),
        (EventKind.CHANGED, "status", Status.OPEN),
        (EventKind.REPLIED, "", ""),
        (EventKind.CHANGED, "status", Status.SOLVED),
    ]
    assert max(created for *_, created in events).isoformat() == at(MON, 16)

    for day in (FRI, MON, TUE):
        snapshots_compute_day(day=day, now=datetime(2026, 3, 12, tzinfo=UTC))
    # Monday: first responses of A and B (2 h each); solves A, B, B again; B reopened once.
    frt = pool("first_response_time", [snapshot("first_response_time", MON).parts])
    assert (frt.sample_size, frt.mean) == (2, 2 * HOUR)
    assert frt.median == pytest.approx(2 * HOUR, rel=0.1)  # within its bucket
    assert snapshot("tickets_solved", MON).value == 3
    assert snapshot("reopen_rate", MON).value == pytest.approx(100 / 3)
    # Tuesday: C answered after 8 business hours and solved; nothing reopened.
    frt = pool("first_response_time", [snapshot("first_response_time", TUE).parts])
    assert (frt.sample_size, frt.mean) == (1, 8 * HOUR)
    assert snapshot("tickets_solved", TUE).value == 1
    assert snapshot("reopen_rate", TUE).value == 0.0
    assert snapshot("tickets_created", FRI).value == 1
    # Full resolution (creation to the final solve, business hours, the resolution clock's
    # stopped time left out: pending, and the time a ticket lay solved before a reopen), in
    # the period of the solve: Monday A 6 h (Mon 9-15) and B 7 h (Fri 16-17 + Mon 9-12 +
    # Mon 13-16: solved 12-13); Tuesday C 9 h (Mon 10-17 + Tue 9-11).
    resolution = pool("resolution_time", [snapshot("resolution_time", MON).parts])
    assert (resolution.sample_size, resolution.mean) == (2, 6.5 * HOUR)
    resolution = pool("resolution_time", [snapshot("resolution_time", TUE).parts])
    assert (resolution.sample_size, resolution.mean) == (1, 9 * HOUR)


# --- manage.py import_history -----------------------------------------------------------


def test_bad_rows_are_reported_with_line_and_reason_and_the_rest_imported(
    history, tmp_path, capsys
):
    lines = [
        history[0],
        "{not json",
        {**history[1], "created_at": "2999-01-01T00:00:00Z"},
        {**history[1], "history": [{"author": "nobody", "body": "x", "created_at": at(MON, 1)}]},
        {**history[1], "colour": "red"},
        "",
        history[2],
    ]
    call_command("import_history", write_jsonl(tmp_path, lines), "--no-progress")
    out, err = capsys.readouterr()
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "A: cannot log in",
        "C: invoice question",
    ]
    assert "line 2: rejected: Not valid JSON" in err
    assert "line 3: rejected: created_at" in err
    assert "in the future" in err
    assert "line 4: rejected: history[1].author" in err
    assert "line 5: rejected: unknown fields: colour" in err
    assert "7 line(s) done, 2 record(s) imported, 4 rejected" in out
    assert "line 3: created_at" in out  # the summary lists them again
    # A rejected row leaves nothing behind (its contact's ticket, events, messages).
    assert not Ticket.objects.filter(subject="B: export broken").exists()


def test_an_interrupted_import_resumes_after_the_last_line_done(history, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path, history)
    real = IMPORTERS["ticket"]
    calls = []

    def crash_on_second(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(**kwargs)

    monkeypatch.setitem(IMPORTERS, "ticket", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        call_command("import_history", path, "--no-progress")
    assert Ticket.objects.count() == 1
    assert ImportRun.objects.get().last_line == 1

    monkeypatch.setitem(IMPORTERS, "ticket", real)
    call_command("import_history", path, "--no-progress")
    call_command("import_history", path, "--no-progress")  # done: nothing again
    assert Ticket.objects.count() == 3
    run = ImportRun.objects.get()
    assert (run.last_line, run.imported, run.rejected_count) == (3, 3, 0)
    assert run.finished_at is not None


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="Cannot read"):
        call_command("import_history", str(tmp_path / "nope.jsonl"), "--no-progress")


# --- the API ----------------------------------------------------------------------------

IMPORT = "/api/v1/import/tickets/"


def test_an_import_token_sets_historical_timestamps(token_client, manager, history):
    api = token_client(manager, [ApiScope.IMPORT])
    response = api.post(IMPORT, history[1], format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created_at"].startswith("2026-03-06T16:00:00")
    assert body["first_response_at"].startswith("2026-03-09T10:00:00")
    assert body["solved_at"].startswith("2026-03-09T16:00:00")


def test_a_rejected_import_is_a_400_with_the_reason(token_client, manager, history):
    api = token_client(manager, [ApiScope.IMPORT])
    response = api.post(IMPORT, {**history[0], "created_at": "soon"}, format="json")
    assert response.status_code == 400
    assert "created_at" in error_of(response)["message"]
    assert not Ticket.objects.exists()


def test_timestamps_need_the_import_scope_and_a_manager(token_client, make_user, history):
    write_only = token_client(make_user(Role.MANAGER), [ApiScope.TICKETS_WRITE])
    assert write_only.post(IMPORT, history[0], format="json").status_code == 403
    agent = token_client(make_user(Role.AGENT), [ApiScope.IMPORT])
    assert agent.post(IMPORT, history[0], format="json").status_code == 403
    # So does the tickets API's create: without the scope a timestamp is a 403.
    response = write_only.post(
        "/api/v1/tickets/",
        {
            "subject": "Hi",
            "description": "x",
            "requester": "dana@acme.example",
            "created_at": at(MON, 9),
        },
        format="json",
    )
    assert response.status_code == 403
    assert "import" in error_of(response)["message"]
    assert not Ticket.objects.exists()
