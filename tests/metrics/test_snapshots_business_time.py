"""The business-hours durations the snapshots read: stored on the ticket by the SLA refresh
when a clock stops, and filled the same way by the demo seed."""

from datetime import UTC, datetime, time

import pytest

from support import selectors, services
from support.choices import EventKind, Status
from support.models import (
    BusinessCalendar,
    Message,
    SlaAlert,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketEvent,
    WorkingInterval,
)
from support.seed import seed_sla_clocks
from tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

FRI_16 = datetime(2026, 3, 6, 16, tzinfo=UTC)
MON = datetime(2026, 3, 9, tzinfo=UTC)


def office_policy() -> SlaPolicy:
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


def status(ticket, old, new, when):
    TicketEvent.objects.create(
        ticket=ticket,
        kind=EventKind.CHANGED,
        field="status",
        old_value=old,
        new_value=new,
        created_at=when,
    )


def test_stopped_clocks_store_their_business_seconds_pending_excluded():
    office_policy()
    agent = UserFactory()
    # METRICS.md: created Fri 16:00, first reply Mon 10:00 -> business 2 h.
    ticket = TicketFactory(created_at=FRI_16, first_response_at=MON.replace(hour=10))
    Message.objects.create(
        ticket=ticket,
        author_user=agent,
        public=True,
        body="Hi",
        body_html="Hi",
        created_at=MON.replace(hour=10),
    )
    status(ticket, "new", "open", MON.replace(hour=10))
    status(ticket, "open", "pending", MON.replace(hour=12))
    status(ticket, "pending", "open", MON.replace(hour=14))
    status(ticket, "open", "solved", MON.replace(day=10, hour=10))
    ticket.status = Status.OPEN
    services.ticket_sla_refresh(ticket=ticket, now=MON.replace(hour=15))
    ticket.refresh_from_db()
    assert ticket.first_response_business_seconds == 2 * 3600
    assert ticket.resolution_business_seconds is None  # still running

    ticket.status = Status.SOLVED
    services.ticket_sla_refresh(ticket=ticket, now=MON.replace(day=11))
    ticket.refresh_from_db()
    # Fri 16-17, Mon 9-12 and 14-17 (pending 12-14 left out), Tue 9-10: 8 h.
    assert ticket.resolution_business_seconds == 8 * 3600


def test_a_ticket_without_an_sla_policy_keeps_no_business_durations():
    ticket = TicketFactory(created_at=FRI_16, first_response_at=MON, status=Status.SOLVED)
    services.ticket_sla_refresh(ticket=ticket, now=MON.replace(day=11))
    ticket.refresh_from_db()
    assert ticket.first_response_business_seconds is None
    assert ticket.resolution_business_seconds is None


def _built_ticket() -> Ticket:
    agent = UserFactory()
    ticket = TicketFactory(created_at=FRI_16, first_response_at=MON.replace(hour=10))
    Message.objects.create(
        ticket=ticket,
        author_user=agent,
        public=True,
        body="Hi",
        body_html="Hi",
        created_at=MON.replace(hour=10),
    )
    status(ticket, "new", "open", MON.replace(hour=10))
    status(ticket, "open", "pending", MON.replace(hour=12))
    status(ticket, "pending", "open", MON.replace(hour=14))
    status(ticket, "open", "solved", MON.replace(day=10, hour=10))
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.SOLVED)
    return ticket


def _stored():
    return sorted(
        Ticket.objects.values_list(
            "pk",
            "sla_policy_id",
            "first_response_business_seconds",
            "resolution_business_seconds",
            "sla_due_at",
        )
    )


def test_the_seed_fills_business_durations_and_past_breaches_as_the_sla_refresh_would():
    office_policy()
    SlaTarget.objects.filter(metric="first_response").update(minutes=60)  # breached: 2 h
    solved = _built_ticket()
    unanswered = TicketFactory(created_at=FRI_16)
    now = MON.replace(day=11)
    policies = selectors.sla_policies()
    for ticket in Ticket.objects.all():
        services.ticket_sla_refresh(ticket=ticket, policies=policies, now=now)
    live = _stored()
    live_alerts = sorted(
        SlaAlert.objects.values_list("ticket_id", "metric", "kind", "due_at", "at")
    )
    assert (solved.pk, "first_response", "breach") in [a[:3] for a in live_alerts]
    Ticket.objects.update(
        sla_policy=None,
        first_response_business_seconds=None,
        resolution_business_seconds=None,
        sla_due_at=None,
        first_response_due_at=None,
        resolution_due_at=None,
        sla_warn_at=None,
    )
    SlaAlert.objects.all().delete()

    seed_sla_clocks(now=now)

    assert _stored() == live
    seeded = SlaAlert.objects.values_list("ticket_id", "metric", "kind", "due_at", "at")
    assert sorted(seeded) == live_alerts
    # Past moments are recorded, as if the minute job had run all along.
    assert not SlaAlert.objects.filter(at__lte=now, recorded_at__isnull=True).exists()
    assert unanswered.pk in {a[0] for a in live_alerts}
