"""History import and the SLA minute job: the warnings and breaches of an imported history
are recorded at import, each at its own moment, as the minute job would have recorded them
live (events, recorded breach alerts, the metrics), but nobody is notified, and the minute
job does not record them again as new."""

import datetime as dt
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Notification
from metrics.catalogue import COMPANY_ID
from metrics.models import MetricSnapshot, SubjectKind
from metrics.selectors.health import sla_breach_counts
from metrics.services.snapshots import snapshots_compute_day
from support import services
from support.choices import EventKind, SlaAlertKind
from support.models import SlaAlert, Ticket, TicketEvent
from support.services.imports import ticket_import
from tests.factories import AccountFactory
from tests.support.test_sla_services import make_policy

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
MON = dt.date(2026, 3, 9)


def at(hour: float) -> datetime:
    return datetime(2026, 3, 9, tzinfo=UTC) + timedelta(hours=hour)


def record(subject: str, agent, created: datetime, reply: datetime, solved: datetime) -> dict:
    """A ticket answered by `agent` at `reply` and solved at `solved`."""
    return {
        "subject": subject,
        "requester": "dana@acme.example",
        "created_at": created.isoformat(),
        "description": "It broke.",
        "assignee": agent.email,
        "history": [
            {"author": agent.email, "body": "Fixed.", "created_at": reply.isoformat()},
            {"status": "solved", "at": solved.isoformat()},
        ],
    }


def sla_events(ticket: Ticket) -> list[tuple[str, str, datetime]]:
    return list(
        TicketEvent.objects.filter(
            ticket=ticket, kind__in=[EventKind.SLA_WARNING, EventKind.SLA_BREACH]
        )
        .order_by("created_at")
        .values_list("kind", "field", "created_at")
    )


def snapshot_value(metric: str) -> float | None:
    return (
        MetricSnapshot.objects.filter(
            day=MON, metric=metric, subject_kind=SubjectKind.COMPANY, subject_id=COMPANY_ID
        )
        .values_list("value", flat=True)
        .get()
    )


@pytest.fixture
def imported(agent):
    """24/7 policy (first response 60 min, resolution 480 min, warnings at 75 %). On time:
    answered after 30 min. Late: answered after 90 min (warned at 10:45, breached at 11:00).
    Both solved well within their resolution target."""
    make_policy()
    account = AccountFactory(domains=["acme.example"])
    on_time = ticket_import(record=record("On time", agent, at(9), at(9.5), at(10)))
    late = ticket_import(record=record("Late", agent, at(10), at(11.5), at(12)))
    return account, on_time, late


def test_imported_breaches_are_recorded_at_their_moment_without_notifying(imported):
    _account, on_time, late = imported

    # The late ticket's warning and breach, at the moments the minute job would have
    # recorded them live (the warning before the reply that stopped its clock).
    assert sla_events(late) == [
        (EventKind.SLA_WARNING, "first_response", at(10.75)),
        (EventKind.SLA_BREACH, "first_response", at(11)),
    ]
    breach = SlaAlert.objects.get(ticket=late, kind=SlaAlertKind.BREACH)
    assert (breach.metric, breach.at, breach.recorded_at) == ("first_response", at(11), at(11))
    assert sla_events(on_time) == []
    assert not SlaAlert.objects.filter(recorded_at__isnull=True).exists()
    assert not Notification.objects.exists()


def test_the_minute_job_does_not_record_imported_moments_again(imported):
    _account, _on_time, late = imported
    events_before = TicketEvent.objects.count()

    assert services.sla_alerts_record() == 0

    assert TicketEvent.objects.count() == events_before
    assert not Notification.objects.exists()
    assert len(sla_events(late)) == 2


def test_metrics_count_the_imported_breach_as_hand_computed(imported):
    account, _on_time, _late = imported

    snapshots_compute_day(day=MON, now=datetime(2026, 3, 12, tzinfo=UTC))

    # First response: one met (30 min), one missed (90 min > 60) -> 50 %. Resolution: both
    # met. Tickets meeting every target: one of two.
    assert snapshot_value("sla_first_response") == 50.0
    assert snapshot_value("sla_resolution") == 100.0
    assert snapshot_value("sla_tickets") == 50.0
    # The health score's breach count (recorded breaches only) sees it too.
    assert sla_breach_counts(account_ids=[account.pk], day=MON) == {account.pk: 1}


def test_an_imported_open_ticket_is_warned_silently_and_breaches_live_later(agent):
    """At import the warning moment (45 min) has passed, the breach (60 min) not yet."""
    make_policy()
    now = datetime(2026, 3, 9, 12, tzinfo=UTC)
    created = now - 50 * MINUTE
    ticket = ticket_import(
        record={
            "subject": "Still open",
            "requester": "eli@acme.example",
            "created_at": created.isoformat(),
            "description": "Help.",
            "assignee": agent.email,
        },
        now=now,
    )

    assert sla_events(ticket) == [(EventKind.SLA_WARNING, "first_response", created + 45 * MINUTE)]
    assert services.sla_alerts_record(now=now + MINUTE) == 0
    assert not Notification.objects.exists()

    # The breach comes after the import: news, recorded by the minute job as live.
    assert services.sla_alerts_record(now=created + 61 * MINUTE) == 1
    assert sla_events(ticket)[-1] == (
        EventKind.SLA_BREACH,
        "first_response",
        created + 61 * MINUTE,
    )
