"""Health recomputation (metrics.services.health): the nightly run over every account, the
single-account recompute, overrides, idempotency, concurrent runs, the debounced recompute
an event queues (through the real Redis broker and cache), and the query counts."""

import base64
import datetime
import io
import json
import threading
import time

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage
from accounts.models import Account
from accounts.services import account_activity_announce
from accounts.signals import account_activity
from cxplatform.celery import app
from metrics.services import health as health_services
from metrics.services.health import (
    health_recompute_account,
    health_recompute_all,
    health_recompute_pending,
)
from metrics.tasks import health_recompute_account_task, health_recompute_all_task
from success import services as success_services
from success.models import HealthOverride, HealthSnapshot, Touchpoint, UsageDaily
from support import services as support_services
from support.choices import Priority, SlaAlertKind, SlaMetric, Status
from support.models import SlaAlert
from support.services import surveys as survey_services
from tests.factories import (
    AccountFactory,
    ContactFactory,
    CsatResponseFactory,
    NpsResponseFactory,
    PlanMilestoneFactory,
    SuccessPlanFactory,
    TicketFactory,
)

TASK = "metrics.tasks.health_recompute_account_task"


def _rich(account, today):
    """Rows in every input family."""
    contact = ContactFactory(account=account)
    TicketFactory.create_batch(3, requester=contact, priority=Priority.URGENT)
    NpsResponseFactory.create_batch(2, account=account, contact=contact, score=3)
    CsatResponseFactory(ticket__requester=contact, account=account, rating=2)
    UsageDaily.objects.create(account=account, day=today, metric="active_users", value=3)
    Touchpoint.objects.create(
        account=account, kind="call", happened_at=timezone.now(), summary="Check-in"
    )
    PlanMilestoneFactory(
        plan=SuccessPlanFactory(account=account), due_date=today - datetime.timedelta(days=1)
    )


def _snapshots():
    return list(
        HealthSnapshot.objects.order_by("account_id", "day").values_list(
            "id", "account_id", "day", "score", "band", "components", "created_at"
        )
    )


# --- the nightly run ---------------------------------------------------------------------


@pytest.mark.django_db
def test_recompute_all_scores_every_account_but_the_churned():
    today = timezone.localdate()
    scored = AccountFactory(seats=10)
    _rich(scored, today)
    silent = AccountFactory()
    churned = AccountFactory(lifecycle_stage=LifecycleStage.CHURNED)
    _rich(churned, today)

    assert health_recompute_all(chunk_size=1) == 2

    snapshot = HealthSnapshot.objects.get(account=scored, day=today)
    assert snapshot.score is not None
    assert {row["key"] for row in snapshot.components} >= {"product_usage", "sentiment"}
    scored.refresh_from_db()
    assert scored.health_score == snapshot.score
    assert scored.health_band == snapshot.band
    assert scored.health_updated_at is not None
    # Not enough data: an empty score and band, not red.
    assert HealthSnapshot.objects.filter(account=silent, day=today, score=None, band="").exists()
    assert not HealthSnapshot.objects.filter(account=churned).exists()


@pytest.mark.django_db
def test_recomputing_a_day_again_changes_nothing():
    today = timezone.localdate()
    for account in AccountFactory.create_batch(3, seats=10):
        _rich(account, today)
    health_recompute_all(chunk_size=2)
    before = _snapshots()

    health_recompute_all(chunk_size=2)

    assert _snapshots() == before
    assert len(before) == 3


@pytest.mark.django_db
def test_recompute_replaces_the_days_snapshot_when_the_rows_changed():
    today = timezone.localdate()
    account = AccountFactory(seats=10)
    UsageDaily.objects.create(account=account, day=today, metric="active_users", value=2)
    health_recompute_all()
    UsageDaily.objects.filter(account=account).update(value=8)

    health_recompute_all()

    snapshot = HealthSnapshot.objects.get(account=account)
    assert snapshot.score == 100
    assert snapshot.band == HealthBand.GREEN


@pytest.mark.django_db
def test_an_override_in_force_keeps_the_accounts_band(manager):
    today = timezone.localdate()
    account = AccountFactory(seats=10)
    UsageDaily.objects.create(account=account, day=today, metric="active_users", value=9)
    success_services.health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Champion left",
        expires_on=today + datetime.timedelta(days=7),
        acting_user=manager,
    )
    expired = AccountFactory(seats=10)
    UsageDaily.objects.create(account=expired, day=today, metric="active_users", value=9)
    HealthOverride.objects.create(
        account=expired,
        band=HealthBand.RED,
        reason="Old news",
        expires_on=today - datetime.timedelta(days=1),
        set_by=manager,
    )

    health_recompute_all()

    account.refresh_from_db()
    expired.refresh_from_db()
    assert account.health_score == 100
    assert account.health_band == HealthBand.RED  # the override's
    assert HealthSnapshot.objects.get(account=account).band == HealthBand.GREEN  # the model's
    assert expired.health_band == HealthBand.GREEN


@pytest.mark.django_db
def test_recomputing_a_past_day_leaves_the_accounts_current_health():
    today = timezone.localdate()
    account = AccountFactory(seats=10)
    UsageDaily.objects.create(account=account, day=today, metric="active_users", value=9)
    health_recompute_all()
    week_ago = today - datetime.timedelta(days=7)

    assert health_recompute_all(day=week_ago) == 1

    account.refresh_from_db()
    assert account.health_score == 100
    assert HealthSnapshot.objects.get(account=account, day=week_ago).score is None  # no usage


@pytest.mark.django_db
def test_recompute_all_takes_a_fixed_number_of_queries_per_chunk():
    today = timezone.localdate()

    def queries(accounts: int, rich: bool) -> int:
        Account.objects.all().delete()
        for account in AccountFactory.create_batch(accounts, seats=10):
            if rich:
                _rich(account, today)
        with CaptureQueriesContext(connection) as captured:
            assert health_recompute_all(chunk_size=2) == accounts
        return len(captured)

    two, four, six = queries(2, rich=False), queries(4, rich=False), queries(6, rich=True)
    per_chunk = four - two
    assert six - four == per_chunk  # rows in every family, and still the same per chunk
    # a page of accounts, eight input families, the lock and the store, and two savepoints
    # (SAVEPOINT + RELEASE each: the chunk's transaction and the store's, inside the test's)
    assert per_chunk == 15
    assert queries(6, rich=False) == six


# --- one account -------------------------------------------------------------------------


@pytest.mark.django_db
def test_recompute_account_scores_and_stores_one_account():
    today = timezone.localdate()
    account = AccountFactory(seats=10)
    other = AccountFactory(seats=10)
    UsageDaily.objects.create(account=account, day=today, metric="active_users", value=5)

    result = health_recompute_account(account_id=account.pk)

    assert result.score == 50.0  # 50 % utilisation
    assert HealthSnapshot.objects.get(account=account, day=today).score == 50
    assert not HealthSnapshot.objects.filter(account=other).exists()
    account.refresh_from_db()
    assert account.health_score == 50
    assert account.health_band == HealthBand.YELLOW


@pytest.mark.django_db
def test_recompute_account_skips_churned_and_unknown_accounts():
    churned = AccountFactory(lifecycle_stage=LifecycleStage.CHURNED)
    assert health_recompute_account(account_id=churned.pk) is None
    assert health_recompute_account(account_id=churned.pk + 1000) is None
    assert not HealthSnapshot.objects.exists()


# Reading the account and the model, eight input families, the lock and the store, and two
# savepoints (SAVEPOINT + RELEASE: the recompute's transaction and the store's, inside the
# test's). The escalation rules that run next are
# another service's, with their own pinned count.
ACCOUNT_RECOMPUTE_QUERIES = 16


@pytest.mark.django_db
def test_recompute_account_takes_a_fixed_number_of_queries(
    django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(health_services, "_escalations_evaluate", lambda account_id: None)
    today = timezone.localdate()
    sparse, rich = AccountFactory(), AccountFactory(seats=10)
    _rich(rich, today)
    counts = []
    for account in (sparse, rich):
        with CaptureQueriesContext(connection) as captured:
            health_recompute_account(account_id=account.pk)
        counts.append(len(captured))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(ACCOUNT_RECOMPUTE_QUERIES):
        health_recompute_account(account_id=rich.pk)


@pytest.mark.django_db
def test_recompute_account_then_evaluates_the_accounts_escalation_rules(monkeypatch):
    from metrics.services import escalations

    evaluated = []
    original = escalations.escalations_evaluate

    def spy(*, account_ids, **kwargs):
        evaluated.append(list(account_ids))
        # The fresh score is stored before the rules read it.
        assert HealthSnapshot.objects.filter(account_id__in=account_ids).exists()
        return original(account_ids=account_ids, **kwargs)

    monkeypatch.setattr(escalations, "escalations_evaluate", spy)
    account = AccountFactory()
    health_recompute_account(account_id=account.pk)
    assert evaluated == [[account.pk]]


# --- two runs at once --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_second_concurrent_run_does_no_work():
    for account in AccountFactory.create_batch(4, seats=10):
        UsageDaily.objects.create(
            account=account, day=timezone.localdate(), metric="active_users", value=5
        )
    first_chunk_done = threading.Event()
    go_on = threading.Event()
    outcome = {}

    def progress(_n):
        first_chunk_done.set()
        assert go_on.wait(30)

    def first_run():
        try:
            outcome["first"] = health_recompute_all(chunk_size=2, progress=progress)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert first_chunk_done.wait(30)
        # The first run holds the lock (on its own connection) and has stored one chunk.
        assert health_recompute_all(chunk_size=2) == 0
        assert HealthSnapshot.objects.count() == 2
    finally:
        go_on.set()
        thread.join(30)
    assert outcome["first"] == 4
    assert HealthSnapshot.objects.count() == 4
    # The lock is free again.
    assert health_recompute_all(chunk_size=2) == 4
    assert HealthSnapshot.objects.count() == 4


# --- the debounced recompute -------------------------------------------------------------


def _queued_recomputes() -> list[int]:
    """Account ids of the health recomputes waiting in the broker's queue."""
    with app.connection_for_write() as conn:
        messages = conn.default_channel.client.lrange("celery", 0, -1)
    ids = []
    for raw in reversed(messages):  # pushed on the left: oldest last
        message = json.loads(raw)
        if message["headers"]["task"] == TASK:
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.append(args[0])
    return ids


@pytest.fixture
def empty_queue():
    """No message in the test Redis's queue, and no pending mark, before and after."""

    def empty():
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete("celery")
        cache.clear()

    empty()
    yield
    empty()


@pytest.mark.django_db
def test_events_while_a_recompute_is_pending_queue_nothing_more(
    empty_queue, django_capture_on_commit_callbacks
):
    account = AccountFactory(seats=10)
    other = AccountFactory(seats=10)
    with django_capture_on_commit_callbacks(execute=True):
        account_activity_announce(account_id=account.pk, reason="ticket_created")
    assert _queued_recomputes() == [account.pk]
    assert health_recompute_pending(account_id=account.pk)

    with django_capture_on_commit_callbacks(execute=True):
        account_activity_announce(account_id=account.pk, reason="csat")
        account_activity_announce(account_id=account.pk, reason="touchpoint")
        account_activity_announce(account_id=other.pk, reason="usage")
    assert _queued_recomputes() == [account.pk, other.pk]

    # The queued task starts: it clears the mark, so the next event queues again.
    UsageDaily.objects.create(
        account=account, day=timezone.localdate(), metric="active_users", value=10
    )
    health_recompute_account_task.apply(args=[account.pk])
    assert not health_recompute_pending(account_id=account.pk)
    assert HealthSnapshot.objects.get(account=account).score == 100
    with django_capture_on_commit_callbacks(execute=True):
        account_activity_announce(account_id=account.pk, reason="nps")
    assert _queued_recomputes() == [account.pk, other.pk, account.pk]


@pytest.mark.django_db
def test_a_rolled_back_event_queues_nothing(empty_queue, django_capture_on_commit_callbacks):
    account = AccountFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        account_activity_announce(account_id=account.pk, reason="ticket_created")
    assert len(callbacks) == 1  # would run on commit; never ran
    assert _queued_recomputes() == []


@pytest.mark.django_db
def test_a_broken_redis_does_not_break_the_event(empty_queue, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(health_recompute_account_task, "apply_async", refuse)
    account = AccountFactory()
    assert health_services.health_recompute_schedule(account_id=account.pk) is False
    assert not health_recompute_pending(account_id=account.pk)  # the next event tries again
    assert "not queued" in caplog.text


# --- which services announce ------------------------------------------------------------


@pytest.fixture
def announced():
    """(account id, reason) of every account_activity sent, in order."""
    seen = []

    def listen(sender, *, account_id, reason, **kwargs):
        seen.append((account_id, reason))

    account_activity.connect(listen, dispatch_uid="test-health-announced")
    yield seen
    account_activity.disconnect(dispatch_uid="test-health-announced")


@pytest.mark.django_db
def test_support_events_announce_account_activity(
    announced, agent, empty_queue, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    account_id = contact.account_id
    with django_capture_on_commit_callbacks(execute=True):
        ticket = support_services.ticket_create(requester=contact, subject="Help", body="Please")
    with django_capture_on_commit_callbacks(execute=True):
        support_services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.SOLVED
        )
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.csat_response_record(
            ticket_id=ticket.pk, contact_id=contact.pk, rating=4, ces=None, comment=""
        )
    # Two breaches on two tickets of one account, recorded by one run: one announcement.
    now = timezone.now()
    second = TicketFactory(requester=contact)
    for breached in (ticket, second):
        SlaAlert.objects.create(
            ticket=breached,
            metric=SlaMetric.RESOLUTION,
            kind=SlaAlertKind.BREACH,
            due_at=now - datetime.timedelta(minutes=5),
            at=now - datetime.timedelta(minutes=5),
        )
    with django_capture_on_commit_callbacks(execute=True):
        support_services.sla_alerts_record(now=now)

    assert announced == [
        (account_id, "ticket_created"),
        (account_id, "ticket_solved"),
        (account_id, "csat"),
        (account_id, "sla_breach"),
    ]


@pytest.mark.django_db
def test_success_events_announce_account_activity(
    announced, csm, empty_queue, django_capture_on_commit_callbacks
):
    from success.models import NpsCampaign, NpsSurveyInvite

    today = timezone.localdate()
    first, second = AccountFactory(), AccountFactory()
    rows = [
        {"account_id": first.pk, "day": today, "metric": "active_users", "value": 3},
        {"account_id": first.pk, "day": today, "metric": "seats", "value": 9},
        {"account_id": second.pk, "day": today, "metric": "active_users", "value": 1},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        success_services.usage_ingest(rows=rows)
    with django_capture_on_commit_callbacks(execute=True):
        success_services.touchpoint_log(
            account=first,
            kind="call",
            happened_at=timezone.now(),
            summary="Call",
            acting_user=csm,
        )
    done, todo = PlanMilestoneFactory.create_batch(2, plan=SuccessPlanFactory(account=second))
    with django_capture_on_commit_callbacks(execute=True):
        success_services.milestone_complete(milestone=done, acting_user=csm)
    with django_capture_on_commit_callbacks(execute=True):
        success_services.milestone_complete(milestone=done, acting_user=csm)  # no change
    with django_capture_on_commit_callbacks(execute=True):
        success_services.milestone_set_status(milestone=todo, status="skipped", acting_user=csm)
    contact = ContactFactory(account=first)
    invite = NpsSurveyInvite.objects.create(
        campaign=NpsCampaign.objects.create(name="Q4"), contact=contact, account=first
    )
    with django_capture_on_commit_callbacks(execute=True):
        success_services.nps_response_record(invite=invite, score=9, reason="")

    assert announced == [
        (first.pk, "usage"),  # once per account of the batch
        (second.pk, "usage"),
        (first.pk, "touchpoint"),
        (second.pk, "milestone"),
        (second.pk, "milestone"),
        (first.pk, "nps"),
    ]


# --- a real worker -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_event_reaches_the_score_through_a_real_worker(
    celery_worker_process, empty_queue, settings
):
    settings.CX_HEALTH_RECOMPUTE_DELAY_SECONDS = 1
    today = timezone.localdate()
    contact = ContactFactory(account=AccountFactory(seats=10))
    account = contact.account
    UsageDaily.objects.create(account=account, day=today, metric="active_users", value=8)

    # The nightly path: beat's task on the worker, a second run of the same day adds nothing.
    assert health_recompute_all_task.delay(today.isoformat()).get(timeout=60) == 1
    assert HealthSnapshot.objects.get(account=account).score == 100

    # An urgent ticket moves the support experience: the worker recomputes within seconds.
    support_services.ticket_create(
        requester=contact, subject="Down", body="All down", priority=Priority.URGENT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snapshot = HealthSnapshot.objects.get(account=account, day=today)
        if snapshot.score != 100:
            break
        time.sleep(0.2)
    # usage 100 (weight 30), support 100 - 10 - 10 x (1 - 1) = 90 (weight 20)
    assert float(snapshot.score) == 96.0
    assert HealthSnapshot.objects.count() == 1
    account.refresh_from_db()
    assert float(account.health_score) == 96.0


# --- the management command --------------------------------------------------------------


@pytest.mark.django_db
def test_command_recomputes_a_day():
    account = AccountFactory(seats=10)
    week_ago = timezone.localdate() - datetime.timedelta(days=7)
    out = io.StringIO()
    call_command("health_recompute", "--day", week_ago.isoformat(), stdout=out)
    assert f"Scored 1 accounts for {week_ago.isoformat()}" in out.getvalue()
    assert HealthSnapshot.objects.filter(account=account, day=week_ago).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "message"),
    [("2026-13-01", "is not a date"), ("3000-01-01", "is in the future")],
)
def test_command_refuses_a_bad_day(day, message):
    with pytest.raises(CommandError, match=message):
        call_command("health_recompute", "--day", day, stdout=io.StringIO())
    assert not HealthSnapshot.objects.exists()
