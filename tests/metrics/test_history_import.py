"""`manage.py import_history` with every kind of record (metrics/services/history.py):
tickets, CSAT and NPS answers and revenue events keep their historical moments, bad lines
are reported with their reasons, a re-run imports nothing twice, and the CSAT and NPS of the
imported period equal the hand-computed ones."""

import datetime as dt
import json
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from metrics.catalogue import COMPANY_ID, pool
from metrics.models import MetricSnapshot, SubjectKind
from metrics.services.snapshots import snapshots_compute_day
from success.models import NpsResponse, RevenueEvent
from support.models import CsatResponse, ImportRun, Ticket
from support.services.surveys import csat_response_record
from tests.factories import AccountFactory, ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db

FRI = dt.date(2026, 3, 6)
MON = dt.date(2026, 3, 9)
TUE = dt.date(2026, 3, 10)
WED = dt.date(2026, 3, 11)
FUTURE = "2999-01-01T00:00:00Z"


def at(day: dt.date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=UTC).isoformat()


def write_jsonl(tmp_path, lines) -> str:
    path = tmp_path / "history.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return str(path)


def csat(ticket: int, score: int, when: str, **fields) -> dict:
    return {"kind": "csat", "ticket": ticket, "score": score, "submitted_at": when, **fields}


def nps(email: str, score: int, when: str, **fields) -> dict:
    return {"kind": "nps", "contact": email, "score": score, "submitted_at": when, **fields}


def revenue(account_id: int, event: str, delta: object, day: str, **fields) -> dict:
    return {
        "kind": "revenue_event",
        "account": account_id,
        "event": event,
        "mrr_delta": delta,
        "effective_date": day,
        **fields,
    }


@pytest.fixture
def account():
    return AccountFactory()


@pytest.fixture
def contacts(account):
    return [ContactFactory(account=account, email=f"{name}@acme.example") for name in "abcde"]


@pytest.fixture
def tickets(contacts):
    return [TicketFactory(requester=contact, status="solved") for contact in contacts]


def test_a_mixed_file_imports_every_kind_at_its_historical_moment(
    agent, account, contacts, tickets, tmp_path, capsys
):
    lines = [
        {  # no kind: a ticket, today's format
            "subject": "Cannot log in",
            "requester": contacts[0].email,
            "created_at": at(MON, 9),
            "description": "Login fails.",
        },
        {
            "kind": "ticket",
            "subject": "Export broken",
            "requester": contacts[1].email,
            "created_at": at(MON, 10),
            "description": "Export is empty.",
            "solved_at": at(TUE, 9),
            "assignee": agent.email,
        },
        csat(tickets[0].pk, 4, at(MON, 11), ces=6, comment=" Quick "),
        nps(contacts[2].email.upper(), 9, at(MON, 12), comment="Great"),
        revenue(account.pk, "expansion", "250.00", "2026-03-01", reason="10 more seats"),
        revenue(account.pk, "churn", "-99.50", "2026-03-05", reason="Budget cut"),
    ]
    call_command("import_history", write_jsonl(tmp_path, lines), "--no-progress")
    out, err = capsys.readouterr()
    assert err == ""
    assert "6 line(s) done, 6 record(s) imported, 0 rejected" in out

    login, export = Ticket.objects.filter(subject__in=["Cannot log in", "Export broken"]).order_by(
        "subject"
    )
    assert login.created_at.isoformat() == at(MON, 9)
    assert export.solved_at.isoformat() == at(TUE, 9)

    answer = CsatResponse.objects.get()
    assert answer.responded_at.isoformat() == at(MON, 11)
    assert (answer.ticket_id, answer.rating, answer.ces, answer.comment) == (
        tickets[0].pk,
        4,
        6,
        "Quick",
    )
    assert (answer.contact_id, answer.account_id) == (contacts[0].pk, account.pk)

    promoter = NpsResponse.objects.get()
    assert promoter.responded_at.isoformat() == at(MON, 12)
    assert (promoter.contact_id, promoter.account_id, promoter.score, promoter.reason) == (
        contacts[2].pk,
        account.pk,
        9,
        "Great",
    )
    assert promoter.campaign_id is None

    events = list(
        RevenueEvent.objects.order_by("date").values_list(
            "account_id", "kind", "date", "mrr_delta", "reason", "recorded_by"
        )
    )
    assert events == [
        (account.pk, "expansion", dt.date(2026, 3, 1), Decimal("250.00"), "10 more seats", None),
        (account.pk, "churn", dt.date(2026, 3, 5), Decimal("-99.50"), "Budget cut", None),
    ]


def test_bad_lines_are_rejected_with_their_reasons_and_the_others_go_in(
    account, contacts, tickets, tmp_path, capsys
):
    loner = ContactFactory(account=None, email="loner@elsewhere.example")
    lines = [
        csat(tickets[0].pk, 5, at(MON, 9)),  # 1: fine
        {"kind": "survey", "ticket": tickets[1].pk},  # 2
        csat(tickets[1].pk, 5, at(MON, 9), colour="red"),  # 3
        csat(tickets[1].pk, 5, FUTURE),  # 4
        csat(987654321, 5, at(MON, 9)),  # 5
        csat(tickets[1].pk, 6, at(MON, 9)),  # 6
        csat(tickets[1].pk, 5, "last tuesday"),  # 7
        nps(contacts[0].email, 10, at(MON, 9)),  # 8: fine
        nps("nobody@acme.example", 9, at(MON, 9)),  # 9
        nps(contacts[1].email, 11, at(MON, 9)),  # 10
        nps(contacts[1].email, 9, FUTURE),  # 11
        nps(loner.email, 9, at(MON, 9)),  # 12
        revenue(account.pk, "new", "100", "2026-03-02"),  # 13: fine
        revenue(987654321, "new", "100", "2026-03-02"),  # 14
        revenue(account.pk, "new", "100", "2999-01-01"),  # 15
        revenue(account.pk, "upsell", "100", "2026-03-02"),  # 16
        revenue(account.pk, "churn", "-100", "2026-03-02"),  # 17: a churn needs a reason
        revenue(account.pk, "contraction", "100", "2026-03-02"),  # 18: wrong sign
        revenue(account.pk, "new", 12.5, "2026-03-02"),  # 19: money is not a float
        revenue(account.pk, "new", "100", "2026-03-02", kind_of="x"),  # 20
        "[1, 2]",  # 21
        {  # 22: well formed but impossible
            "subject": "Cannot log in",
            "requester": contacts[0].email,
            "created_at": "2026-13-01T09:00:00Z",
            "description": "Login fails.",
        },
        csat(tickets[1].pk, 5, "2026-02-30T09:00:00Z"),  # 23
    ]
    call_command("import_history", write_jsonl(tmp_path, lines), "--no-progress")
    out, err = capsys.readouterr()
    reasons = {
        int(line.split(":")[0].removeprefix("line ")): line.split("rejected: ", 1)[1]
        for line in err.splitlines()
    }
    assert reasons == {
        2: "kind: 'survey' is not one of ticket, csat, nps, revenue_event.",
        3: "unknown fields: colour.",
        4: f"submitted_at: {FUTURE} is in the future.",
        5: "ticket: no ticket has the number 987654321.",
        6: "score: a whole number from 1 to 5 (got 6).",
        7: "submitted_at: give an ISO 8601 date-time (got 'last tuesday').",
        9: "contact: no contact has the email nobody@acme.example.",
        10: "score: a whole number from 0 to 10 (got 11).",
        11: f"submitted_at: {FUTURE} is in the future.",
        12: "contact: This person is not linked to a customer account.",
        14: "account: no account has the id 987654321.",
        15: "effective_date: 2999-01-01 is in the future.",
        16: "event: 'upsell' is not one of new, expansion, contraction, churn, reactivation.",
        17: "reason: A churn needs a reason.",
        18: "mrr_delta: A contraction event must lower MRR (got 100).",
        19: 'mrr_delta: give the amount as a string like "123.45" (got 12.5).',
        20: "unknown fields: kind_of.",
        21: "A record must be a JSON object.",
        22: "created_at: give an ISO 8601 date-time (got '2026-13-01T09:00:00Z').",
        23: "submitted_at: give an ISO 8601 date-time (got '2026-02-30T09:00:00Z').",
    }
    assert "23 line(s) done, 3 record(s) imported, 20 rejected" in out
    assert not Ticket.objects.filter(subject="Cannot log in").exists()
    assert list(CsatResponse.objects.values_list("ticket_id", flat=True)) == [tickets[0].pk]
    assert list(NpsResponse.objects.values_list("contact_id", flat=True)) == [contacts[0].pk]
    assert list(RevenueEvent.objects.values_list("kind", "mrr_delta")) == [("new", 100)]


def test_running_the_same_file_again_imports_nothing_twice(
    account, contacts, tickets, tmp_path, capsys
):
    path = write_jsonl(
        tmp_path,
        [
            {
                "subject": "Cannot log in",
                "requester": contacts[0].email,
                "created_at": at(MON, 9),
                "description": "Login fails.",
            },
            csat(tickets[0].pk, 4, at(MON, 11)),
            nps(contacts[2].email, 9, at(MON, 12)),
            revenue(account.pk, "expansion", "250.00", "2026-03-01"),
        ],
    )
    call_command("import_history", path, "--no-progress")
    before = Ticket.objects.count()
    call_command("import_history", path, "--no-progress")
    assert Ticket.objects.count() == before
    assert (CsatResponse.objects.count(), NpsResponse.objects.count()) == (1, 1)
    assert RevenueEvent.objects.count() == 1
    run = ImportRun.objects.get()
    assert (run.last_line, run.imported, run.rejected_count) == (4, 4, 0)
    assert "4 line(s) done, 4 record(s) imported, 0 rejected" in capsys.readouterr().out


def snapshot_parts(metric: str, day: dt.date) -> dict | None:
    row = MetricSnapshot.objects.filter(
        day=day, metric=metric, subject_kind=SubjectKind.COMPANY, subject_id=COMPANY_ID
    ).first()
    return None if row is None else row.parts


def test_csat_and_nps_of_the_imported_period_equal_the_hand_computed_values(
    contacts, tickets, tmp_path
):
    emails = [contact.email for contact in contacts]
    lines = [
        csat(tickets[0].pk, 2, at(FRI, 10)),  # replaced on Tuesday: the latest answer counts
        csat(tickets[1].pk, 1, at(FRI, 11)),  # before the period
        csat(tickets[2].pk, 5, at(MON, 10)),
        csat(tickets[3].pk, 3, at(MON, 11)),
        csat(tickets[0].pk, 4, at(TUE, 10)),
        csat(tickets[4].pk, 5, at(WED, 10)),  # after the period
        nps(emails[0], 10, at(FRI, 12)),  # before the period
        nps(emails[0], 10, at(MON, 12)),
        nps(emails[1], 9, at(MON, 13)),
        nps(emails[2], 7, at(TUE, 12)),
        nps(emails[3], 3, at(TUE, 13)),
        nps(emails[4], 9, at(TUE, 14)),
        nps(emails[4], 0, at(WED, 12)),  # after the period
    ]
    call_command("import_history", write_jsonl(tmp_path, lines), "--no-progress")
    for day in (FRI, MON, TUE, WED):
        snapshots_compute_day(day=day, now=datetime(2026, 3, 12, tzinfo=UTC))

    period = [snapshot_parts("csat", day) for day in (MON, TUE)]
    # Monday 5 and 3, Tuesday 4 (ticket 0's re-rating): 2 satisfied (4-5) of 3.
    assert pool("csat", period).value == pytest.approx(100 * 2 / 3)
    assert pool("csat", period).sample_size == 3

    period = [snapshot_parts("nps", day) for day in (MON, TUE)]
    # 10, 9, 7, 3, 9: 3 promoters (9-10), 1 detractor (0-6) of 5 answers.
    assert pool("nps", period).value == pytest.approx(100 * (3 - 1) / 5)
    assert pool("nps", period).sample_size == 5


def test_the_csat_service_keeps_a_past_moment_and_refuses_a_future_or_naive_one(tickets):
    ticket = tickets[0]
    past = datetime(2026, 3, 9, 10, tzinfo=UTC)
    answer = csat_response_record(
        ticket_id=ticket.pk, contact_id=None, rating=4, ces=None, comment="", responded_at=past
    )
    assert CsatResponse.objects.get(pk=answer.pk).responded_at == past
    for moment, message in [
        (datetime(2999, 1, 1, tzinfo=UTC), "in the future"),
        (datetime(2026, 3, 9, 10), "time zone"),  # noqa: DTZ001 - the naive time refused
    ]:
        with pytest.raises(ValidationError, match=message):
            csat_response_record(
                ticket_id=ticket.pk,
                contact_id=None,
                rating=1,
                ces=None,
                comment="",
                responded_at=moment,
            )
    assert CsatResponse.objects.get().rating == 4
