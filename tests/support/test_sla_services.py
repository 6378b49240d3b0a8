"""SLA services: which policy applies, the stored due times, re-evaluation, pauses from the
event log, and the minute job that records warnings and breaches exactly once."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail
from django.db import connection

from accounts import services as account_services
from accounts.choices import Role, Tier
from accounts.models import Notification
from accounts.signals import account_tier_changed
from support import business_hours, selectors, services, sla
from support.choices import Channel, EventKind, Priority, Status, TicketType
from support.models import (
    BusinessCalendar,
    SlaAlert,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketEvent,
    WorkingInterval,
)
from tests.factories import AccountFactory, ContactFactory, TeamFactory, UserFactory
from tests.support.test_concurrency import run_together

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def make_policy(position=1, *, targets=None, calendar=None, **conditions) -> SlaPolicy:
    """A policy with targets {(priority, metric): minutes}; default: every priority gets
    first response 60 min, next response 120 min, resolution 480 min."""
    policy = SlaPolicy.objects.create(
        name=f"Policy {position}", position=position, calendar=calendar, **conditions
    )
    if targets is None:
        targets = {
            (priority, metric): minutes
            for priority in Priority.values
            for metric, minutes in [
                ("first_response", 60),
                ("next_response", 120),
                ("resolution", 480),
            ]
        }
    SlaTarget.objects.bulk_create(
        SlaTarget(policy=policy, priority=priority, metric=metric, minutes=minutes)
        for (priority, metric), minutes in targets.items()
    )
    return policy


def new_ticket(*, tier=Tier.GROWTH, priority=Priority.NORMAL, **fields) -> Ticket:
    contact = ContactFactory(account=AccountFactory(tier=tier))
    return services.ticket_create(
        requester=contact, subject="Cannot log in", body="Help", priority=priority, **fields
    )


def pending_alerts(ticket):
    return sorted(
        (a.metric, a.kind, a.at - ticket.created_at)
        for a in SlaAlert.objects.filter(ticket=ticket, recorded_at__isnull=True)
    )


# --- which policy applies ---------------------------------------------------------------


def test_no_policy_means_no_due_times():
    ticket = new_ticket()
    assert ticket.sla_policy_id is None
    assert ticket.sla_due_at is None
    assert ticket.sla_warn_at is None
    assert not SlaAlert.objects.exists()


def test_the_first_matching_policy_by_position_applies():
    make_policy(1, tiers=[Tier.ENTERPRISE], targets={(Priority.NORMAL, "first_response"): 30})
    general = make_policy(2)
    make_policy(3, targets={(Priority.NORMAL, "first_response"): 5})
    ticket = new_ticket(tier=Tier.GROWTH)
    assert ticket.sla_policy_id == general.pk
    assert ticket.first_response_due_at == ticket.created_at + 60 * MINUTE


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        ({"priorities": [Priority.URGENT]}, {"priority": Priority.URGENT}, {}),
        ({"tiers": [Tier.ENTERPRISE]}, {"tier": Tier.ENTERPRISE}, {}),
        ({"types": [TicketType.INCIDENT]}, {"type": TicketType.INCIDENT}, {}),
        ({"channels": [Channel.EMAIL]}, {"channel": Channel.EMAIL}, {}),
    ],
)
def test_each_condition_narrows_a_policy(condition, matching, other):
    special = make_policy(1, **condition)
    fallback = make_policy(2)
    assert new_ticket(**matching).sla_policy_id == special.pk
    assert new_ticket(**other).sla_policy_id == fallback.pk


def test_a_team_condition_matches_tickets_of_that_team():
    billing = TeamFactory(name="Billing")
    special = make_policy(1)
    special.teams.add(billing)
    fallback = make_policy(2)
    assert new_ticket(team=billing).sla_policy_id == special.pk
    assert new_ticket().sla_policy_id == fallback.pk


def test_inactive_policies_are_skipped():
    make_policy(1, active=False)
    fallback = make_policy(2)
    assert new_ticket().sla_policy_id == fallback.pk


# --- due times stored on the ticket -----------------------------------------------------


def test_a_new_ticket_gets_its_due_times_and_pending_alerts():
    make_policy()
    ticket = new_ticket()
    assert ticket.first_response_due_at == ticket.created_at + 60 * MINUTE
    assert ticket.next_response_due_at is None  # no customer message awaits a reply yet
    assert ticket.resolution_due_at == ticket.created_at + 480 * MINUTE
    assert ticket.sla_due_at == ticket.first_response_due_at
    assert ticket.sla_warn_at == ticket.created_at + 45 * MINUTE  # 25 % of 60 min left
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.sla_due_at == ticket.sla_due_at
    assert stored.sla_sort_at == ticket.sla_due_at
    assert pending_alerts(ticket) == [
        ("first_response", "breach", 60 * MINUTE),
        ("first_response", "warning", 45 * MINUTE),
        ("resolution", "breach", 480 * MINUTE),
        ("resolution", "warning", 360 * MINUTE),
    ]


def test_a_ticket_without_a_running_target_sorts_last():
    ticket = new_ticket()
    assert Ticket.objects.get(pk=ticket.pk).sla_sort_at == datetime(9999, 12, 31, tzinfo=UTC)


def test_the_first_public_reply_stops_first_response_but_a_note_does_not(agent):
    make_policy()
    ticket = new_ticket()
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Looking", public=False)
    ticket.refresh_from_db()
    assert ticket.first_response_due_at is not None
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Try this")
    ticket.refresh_from_db()
    assert ticket.first_response_due_at is None
    assert ticket.sla_due_at == ticket.resolution_due_at
    assert [a[0] for a in pending_alerts(ticket)] == ["resolution", "resolution"]


def test_a_customer_message_after_the_reply_starts_next_response(agent):
    make_policy()
    ticket = new_ticket()
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Try this")
    message = services.ticket_customer_reply(
        ticket_id=ticket.pk, contact=ticket.requester, body="Still broken"
    )
    ticket.refresh_from_db()
    assert ticket.next_response_due_at == message.created_at + 120 * MINUTE
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Fixed now")
    ticket.refresh_from_db()
    assert ticket.next_response_due_at is None


def test_pending_pauses_resolution_and_the_customer_reply_resumes_it(agent):
    make_policy()
    ticket = new_ticket()
    services.ticket_reply(
        ticket_id=ticket.pk, acting_user=agent, body="Which browser?", status=Status.PENDING
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.resolution_due_at is None
    assert ticket.sla_due_at is None
    assert pending_alerts(ticket) == []

    message = services.ticket_customer_reply(
        ticket_id=ticket.pk, contact=ticket.requester, body="Firefox"
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    # Resumed: the time used before the pause counts, the pause does not.
    clocks = selectors.ticket_sla_clocks(ticket, now=message.created_at).clocks
    resolution = next(c for c in clocks if c.metric == sla.RESOLUTION)
    assert ticket.resolution_due_at == message.created_at + (480 * MINUTE - resolution.elapsed)
    assert resolution.elapsed < MINUTE


def test_on_hold_pauses_only_when_the_policy_says_so(agent):
    make_policy(pause_on_hold=False)
    ticket = new_ticket()
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.ON_HOLD
    )
    ticket.refresh_from_db()
    assert ticket.resolution_due_at == ticket.created_at + 480 * MINUTE

    SlaPolicy.objects.update(pause_on_hold=True)
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, priority=Priority.HIGH
    )
    ticket.refresh_from_db()
    assert ticket.resolution_due_at is None


def test_solving_stops_every_clock_and_clears_pending_alerts(agent):
    make_policy()
    ticket = new_ticket()
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Done", status=Status.SOLVED)
    ticket.refresh_from_db()
    assert (ticket.first_response_due_at, ticket.resolution_due_at, ticket.sla_due_at) == (
        None,
        None,
        None,
    )
    assert pending_alerts(ticket) == []


def test_recomputing_from_the_event_log_gives_the_same_due_times(agent):
    make_policy()
    ticket = new_ticket()
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Hi", status="pending")
    services.ticket_customer_reply(ticket_id=ticket.pk, contact=ticket.requester, body="Hey")
    ticket.refresh_from_db()
    live = (ticket.next_response_due_at, ticket.resolution_due_at, ticket.sla_warn_at)
    events_before = TicketEvent.objects.filter(ticket=ticket).count()

    fresh = Ticket.objects.get(pk=ticket.pk)
    services.ticket_sla_refresh(ticket=fresh)
    fresh.refresh_from_db()
    assert (fresh.next_response_due_at, fresh.resolution_due_at, fresh.sla_warn_at) == live
    assert TicketEvent.objects.filter(ticket=ticket).count() == events_before  # nothing moved


def test_business_hours_policies_count_working_time_only():
    calendar = BusinessCalendar.objects.create(name="Berlin office", time_zone="Europe/Berlin")
    WorkingInterval.objects.bulk_create(
        WorkingInterval(calendar=calendar, weekday=day, start=time(9), end=time(17))
        for day in range(5)
    )
    make_policy(calendar=calendar)
    ticket = new_ticket()
    pure = business_hours.Calendar(
        "Europe/Berlin",
        [business_hours.Interval(day, time(9), time(17)) for day in range(5)],
    )
    assert ticket.first_response_due_at == business_hours.add_business_time(
        pure, ticket.created_at, 60 * MINUTE
    )
    assert ticket.resolution_due_at == business_hours.add_business_time(
        pure, ticket.created_at, 480 * MINUTE
    )


# --- re-evaluation ----------------------------------------------------------------------


def test_a_priority_change_moves_the_due_times_and_logs_it(agent):
    make_policy(
        targets={
            (Priority.NORMAL, "first_response"): 240,
            (Priority.URGENT, "first_response"): 30,
        }
    )
    ticket = new_ticket()
    before = ticket.first_response_due_at
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, priority=Priority.URGENT
    )
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == ticket.created_at + 30 * MINUTE
    moved = TicketEvent.objects.get(
        ticket=ticket, kind=EventKind.SLA, field="first_response_due_at"
    )
    assert moved.field == "first_response_due_at"
    assert moved.old_value == before.isoformat()
    assert moved.new_value == ticket.first_response_due_at.isoformat()
    assert moved.actor == agent
    # The pending alerts follow the new due time.
    assert pending_alerts(ticket) == [
        ("first_response", "breach", 30 * MINUTE),
        ("first_response", "warning", 22 * MINUTE + 30 * timedelta(seconds=1)),
    ]


def test_a_team_change_can_switch_the_policy(agent):
    billing = TeamFactory(name="Billing")
    fast = make_policy(1, targets={(Priority.NORMAL, "first_response"): 15})
    fast.teams.add(billing)
    general = make_policy(2)
    ticket = new_ticket()
    assert ticket.sla_policy_id == general.pk
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, team=billing
    )
    ticket.refresh_from_db()
    assert ticket.sla_policy_id == fast.pk
    assert ticket.first_response_due_at == ticket.created_at + 15 * MINUTE
    assert TicketEvent.objects.filter(
        ticket=ticket, kind=EventKind.SLA, field="sla_policy", new_value=str(fast.pk)
    ).exists()
    assert ticket.resolution_due_at is None  # the fast policy has no resolution target


def test_an_account_tier_change_re_evaluates_its_open_tickets(django_capture_on_commit_callbacks):
    make_policy(1, tiers=[Tier.ENTERPRISE], targets={(Priority.NORMAL, "first_response"): 20})
    make_policy(2)
    ticket = new_ticket(tier=Tier.GROWTH)
    account = ticket.account
    heard = []

    def listener(sender, *, account_id, **kwargs):
        heard.append(account_id)

    account_tier_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            account_services.account_update(account=account, tier=Tier.ENTERPRISE)
        # Only the announcement's callback: run it without the Celery task the app sends.
        account_tier_changed.disconnect(dispatch_uid="support-sla-tier")
        for callback in callbacks:
            callback()
    finally:
        account_tier_changed.disconnect(listener)
        from support.apps import _tier_changed

        account_tier_changed.connect(_tier_changed, dispatch_uid="support-sla-tier")
    assert heard == [account.pk]

    assert services.account_tickets_sla_refresh(account_id=account.pk) == 1
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == ticket.created_at + 20 * MINUTE


def test_an_unchanged_tier_is_not_announced(django_capture_on_commit_callbacks):
    account = AccountFactory(tier=Tier.GROWTH)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        account_services.account_update(account=account, name="Renamed")
    assert callbacks == []


# --- the minute job ---------------------------------------------------------------------


def test_the_job_records_the_warning_once_and_notifies_the_assignee(agent):
    make_policy()
    ticket = new_ticket(assignee=agent)
    at = ticket.created_at
    assert services.sla_alerts_record(now=at + 10 * MINUTE) == 0

    assert services.sla_alerts_record(now=at + 46 * MINUTE) == 1
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.SLA_WARNING)
    assert event.field == "first_response"
    assert event.actor_label == "SLA"
    note = Notification.objects.get(user=agent)
    assert note.kind == "sla_warning"
    assert note.title == f"#{ticket.pk} at risk: Cannot log in"
    assert note.body.startswith("First response is due ")
    assert note.url == ticket.get_absolute_url()

    # Communicated once, not every minute.
    assert services.sla_alerts_record(now=at + 47 * MINUTE) == 0
    assert services.sla_alerts_record(now=at + 48 * MINUTE) == 0
    assert Notification.objects.count() == 1

    assert services.sla_alerts_record(now=at + 61 * MINUTE) == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACH).count() == 1
    assert Notification.objects.count() == 1  # breaches are not notified (the view shows them)


def test_an_unassigned_ticket_at_risk_notifies_the_team_managers():
    support = TeamFactory(name="Support")
    lead = UserFactory(role=Role.MANAGER)
    lead.teams.add(support)
    outsider = UserFactory(role=Role.MANAGER)
    member = UserFactory(role=Role.AGENT)
    member.teams.add(support)
    make_policy()
    ticket = new_ticket(team=support)
    services.sla_alerts_record(now=ticket.created_at + 50 * MINUTE)
    assert list(Notification.objects.values_list("user_id", flat=True)) == [lead.pk]
    assert not outsider.notifications.exists()


def test_a_job_that_ran_late_records_the_breach_and_skips_the_stale_warning(agent):
    make_policy()
    ticket = new_ticket(assignee=agent)
    assert services.sla_alerts_record(now=ticket.created_at + 90 * MINUTE) == 1
    kinds = TicketEvent.objects.filter(
        ticket=ticket, kind__in=[EventKind.SLA_WARNING, EventKind.SLA_BREACH]
    ).values_list("kind", flat=True)
    assert list(kinds) == [EventKind.SLA_BREACH]
    assert not Notification.objects.exists()
    assert not SlaAlert.objects.filter(
        ticket=ticket, metric="first_response", recorded_at__isnull=True
    ).exists()


def test_a_recorded_moment_is_not_queued_again_when_the_ticket_changes(agent):
    make_policy()
    ticket = new_ticket(assignee=agent)
    services.sla_alerts_record(now=ticket.created_at + 50 * MINUTE)
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Note", public=False)
    assert services.sla_alerts_record(now=ticket.created_at + 55 * MINUTE) == 0
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_WARNING).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_jobs_at_once_record_each_moment_exactly_once():
    make_policy()
    agent = UserFactory(role=Role.AGENT)
    tickets = [new_ticket(assignee=agent) for _ in range(30)]
    later = max(t.created_at for t in tickets) + 50 * MINUTE

    for _ in range(3):  # the same minute, run again and again by racing workers
        outcomes = run_together(
            lambda: services.sla_alerts_record(now=later, batch_size=7),
            lambda: services.sla_alerts_record(now=later, batch_size=7),
        )
        assert all(isinstance(o, int) for o in outcomes), outcomes
    assert TicketEvent.objects.filter(kind=EventKind.SLA_WARNING).count() == 30
    assert Notification.objects.count() == 30
    assert SlaAlert.objects.filter(recorded_at__isnull=False).count() == 30


def test_the_job_finds_due_alerts_through_the_partial_index():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM support_slaalert "
            "WHERE recorded_at IS NULL AND at <= now() ORDER BY at LIMIT 5000"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "sla_alert_pending" in plan


# --- email ------------------------------------------------------------------------------


def test_notifications_are_emailed_once(agent, django_capture_on_commit_callbacks):
    make_policy()
    ticket = new_ticket(assignee=agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.sla_alerts_record(now=ticket.created_at + 50 * MINUTE)
    assert len(callbacks) == 1  # the email task is queued after commit
    ids = list(Notification.objects.values_list("pk", flat=True))

    assert account_services.notifications_email(notification_ids=ids) == 1
    assert account_services.notifications_email(notification_ids=ids) == 0
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [agent.email]
    assert sent.subject == f"#{ticket.pk} at risk: Cannot log in"
    assert ticket.get_absolute_url() in sent.body


def test_alerts_wanted_include_a_breach_that_happened_before_the_clock_stopped():
    ticket = Ticket(pk=1)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    late = sla.Clock(
        sla.FIRST_RESPONSE,
        sla.BREACHED,
        timedelta(hours=1),
        start,
        timedelta(hours=2),
        due_at=start + timedelta(hours=1),
        stopped_at=start + timedelta(hours=2),
    )
    met = sla.Clock(
        sla.RESOLUTION, sla.MET, timedelta(hours=8), start, timedelta(hours=3), stopped_at=start
    )
    wanted = services.sla_alerts_wanted(ticket, {"a": late, "b": met})
    assert [(a.metric, a.kind, a.at) for a in wanted] == [
        ("first_response", "breach", start + timedelta(hours=1))
    ]


def test_changing_a_policy_re_evaluates_the_open_tickets():
    policy = make_policy()
    ticket = new_ticket()
    solved = new_ticket()
    Ticket.objects.filter(pk=solved.pk).update(status=Status.SOLVED)
    SlaTarget.objects.filter(
        policy=policy, priority=Priority.NORMAL, metric="first_response"
    ).update(minutes=30)

    assert services.unsolved_tickets_sla_refresh(batch_size=1) == 1
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == ticket.created_at + 30 * MINUTE
    assert TicketEvent.objects.filter(
        ticket=ticket, kind=EventKind.SLA, field="first_response_due_at"
    ).exists()


def test_saving_sla_settings_queues_the_re_evaluation_after_commit(
    client_for, make_user, django_capture_on_commit_callbacks
):
    policy = make_policy()
    client = client_for(make_user(Role.ADMIN))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            f"/admin/support/slapolicy/{policy.pk}/change/",
            {
                "name": "Renamed",
                "position": "1",
                "active": "on",
                "pause_on_hold": "on",
                "warning_margin_percent": "20",
                "targets-TOTAL_FORMS": "0",
                "targets-INITIAL_FORMS": "0",
                "targets-MIN_NUM_FORMS": "0",
                "targets-MAX_NUM_FORMS": "1000",
            },
        )
    assert response.status_code == 302
    assert [c.__name__ for c in callbacks] == ["delay"]
