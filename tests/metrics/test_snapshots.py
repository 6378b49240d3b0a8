"""Daily metric snapshots: each family's numbers on hand-built rows (the METRICS.md worked
examples where they fit), self-consistency with catalogue.pool, idempotency, "no data"
days, backfill equality and the advisory lock."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.choices import Tier
from metrics import catalogue
from metrics.catalogue import BAND_IDS, CHANNEL_IDS, COMPANY_ID, TIER_IDS
from metrics.models import MetricSnapshot, SubjectKind
from metrics.services import snapshots
from metrics.services.snapshots import day_window, snapshots_compute_day, snapshots_nightly
from success.models import HealthSnapshot, RevenueEvent, UsageDaily
from support.choices import Channel, EventKind, Status
from support.models import CsatResponse, Message, SlaAlert, Ticket, TicketEvent
from tests.factories import (
    AccountFactory,
    ContactFactory,
    NpsResponseFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 10)  # a Tuesday
HOUR = dt.timedelta(hours=1)


def at(hours: float, day: dt.date = DAY) -> dt.datetime:
    """`hours` after the start of `day` (platform time zone)."""
    return day_window(day).start + dt.timedelta(hours=hours)


AFTER = at(24 + 0.5)  # "now" of the nightly run: just after the day


def compute(day: dt.date = DAY, **kwargs) -> int:
    return snapshots_compute_day(day=day, now=kwargs.pop("now", AFTER), **kwargs)


def row(metric, kind=SubjectKind.COMPANY, subject_id=COMPANY_ID, day=DAY):
    return MetricSnapshot.objects.get(
        day=day, metric=metric, subject_kind=kind, subject_id=subject_id
    )


def value(metric, kind=SubjectKind.COMPANY, subject_id=COMPANY_ID, day=DAY):
    return row(metric, kind, subject_id, day).value


def rows_of(day: dt.date = DAY) -> list[tuple]:
    return sorted(
        MetricSnapshot.objects.filter(day=day).values_list(
            "subject_kind", "subject_id", "metric", "value", "parts", "sample_size"
        )
    )


class World:
    """One account (growth tier, a CSM), a team, an agent, and bulk tickets."""

    def __init__(self):
        self.csm = UserFactory(role="csm")
        self.account = AccountFactory(tier=Tier.GROWTH, csm=self.csm, seats=60)
        self.contact = ContactFactory(account=self.account)
        self.team = TeamFactory()
        self.agent = UserFactory()

    def tickets(self, n: int, **fields) -> list[Ticket]:
        defaults = {
            "requester": self.contact,
            "account": self.account,
            "team": self.team,
            "assignee": self.agent,
            "channel": Channel.EMAIL,
            "created_at": at(1),
            "subject": "Broken",
        }
        defaults |= fields
        defaults.setdefault("updated_at", defaults["created_at"])
        return Ticket.objects.bulk_create(Ticket(**defaults) for _ in range(n))

    def events(self, tickets, kind, when, **fields):
        TicketEvent.objects.bulk_create(
            TicketEvent(ticket=t, kind=kind, created_at=when, **fields) for t in tickets
        )

    def solve_events(self, tickets, when):
        self.events(
            tickets, EventKind.CHANGED, when, field="status", old_value="open", new_value="solved"
        )


@pytest.fixture
def world():
    return World()


# --- volume -----------------------------------------------------------------------------


def test_volume_counts_created_solved_and_reopened_per_subject(world):
    created = world.tickets(3)
    world.tickets(1, created_at=at(-2))  # the day before
    world.solve_events(created[:2], at(5))
    world.events(created[:1], EventKind.REOPENED, at(6))

    assert compute() > 0

    assert value("tickets_created") == 3
    assert value("tickets_solved") == 2
    assert value("tickets_reopened") == 1
    assert value("reopen_rate") == 50.0
    for kind, subject in [
        (SubjectKind.TEAM, world.team.pk),
        (SubjectKind.AGENT, world.agent.pk),
        (SubjectKind.CHANNEL, CHANNEL_IDS["email"]),
        (SubjectKind.TIER, TIER_IDS["growth"]),
        (SubjectKind.ACCOUNT, world.account.pk),
        (SubjectKind.BAND, BAND_IDS[""]),  # no health snapshot that day
    ]:
        assert value("tickets_created", kind, subject) == 3
        assert value("tickets_solved", kind, subject) == 2
    # CSM portfolios keep tickets created (the catalogue), not solves.
    assert value("tickets_created", SubjectKind.CSM, world.csm.pk) == 3
    assert not MetricSnapshot.objects.filter(metric="tickets_solved", subject_kind="csm").exists()


def test_reopen_rate_worked_example(world):
    solved = world.tickets(360, created_at=at(-48))
    world.solve_events(solved, at(3))
    world.events(solved[:25], EventKind.REOPENED, at(8))
    compute()
    assert value("reopen_rate") == pytest.approx(100 * 25 / 360)
    assert round(value("reopen_rate"), 1) == 6.9
    assert row("reopen_rate").sample_size == 360


def test_an_active_subject_with_nothing_created_has_zero_not_no_data(world):
    old = world.tickets(1, created_at=at(-48))
    world.solve_events(old, at(2))
    compute()
    assert value("tickets_created") == 0
    assert value("tickets_created", SubjectKind.TEAM, world.team.pk) == 0
    assert value("reopen_rate") == 0.0


# --- backlog ----------------------------------------------------------------------------


def test_backlog_at_the_end_of_the_day(world):
    world.tickets(2, status=Status.OPEN, created_at=at(-24))
    world.tickets(1, status=Status.PENDING, created_at=at(-24 * 40))  # aged
    world.tickets(1, status=Status.SOLVED, created_at=at(-24), solved_at=at(30))  # after
    world.tickets(1, status=Status.CLOSED, created_at=at(-24), solved_at=at(5), closed_at=at(6))
    world.tickets(1, status=Status.OPEN, created_at=at(25))  # the next day
    quiet = TeamFactory()
    world.tickets(1, status=Status.SOLVED, team=quiet, created_at=at(-24), solved_at=at(4))

    compute()

    assert value("backlog") == 4
    assert value("backlog_aged") == 1
    assert value("backlog", SubjectKind.TEAM, world.team.pk) == 4
    # A team whose last ticket was solved that day has an empty backlog: 0, not "no data".
    assert value("backlog", SubjectKind.TEAM, quiet.pk) == 0
    # The catalogue keeps no backlog per account or band.
    assert not MetricSnapshot.objects.filter(metric="backlog", subject_kind="account").exists()


# --- durations --------------------------------------------------------------------------


def test_resolution_time_median_and_mean_worked_example(world):
    for hours in (1, 2, 2, 3, 40):
        world.tickets(
            1,
            status=Status.SOLVED,
            created_at=at(20) - hours * HOUR,
            solved_at=at(20),
            resolution_business_seconds=int(hours * 3600),
        )
    compute()
    for metric in ("resolution_time", "resolution_time_calendar"):
        pooled = catalogue.pool(metric, [row(metric).parts])
        assert row(metric).value == pytest.approx(pooled.value)
        assert pooled.median == pytest.approx(2 * 3600, rel=0.1)  # within its bucket
        assert pooled.mean == pytest.approx(9.6 * 3600)
        assert row(metric).sample_size == 5


def test_first_response_business_and_calendar_worked_example(world):
    # Created Fri 16:00, answered Mon 10:00: calendar 66 h, business 2 h (Mon-Fri 9-17).
    monday = dt.date(2026, 3, 9)
    world.tickets(
        1,
        created_at=at(-56, monday),
        first_response_at=at(10, monday),
        first_response_business_seconds=2 * 3600,
    )
    world.tickets(1, created_at=at(-56, monday), first_response_at=at(10, monday))  # no SLA
    compute(monday)
    business = catalogue.pool("first_response_time", [row("first_response_time", day=monday).parts])
    calendar = catalogue.pool(
        "first_response_time_calendar", [row("first_response_time_calendar", day=monday).parts]
    )
    assert business.mean == 2 * 3600
    assert business.sample_size == 1  # the ticket without an SLA target is left out
    assert calendar.mean == 66 * 3600
    assert calendar.sample_size == 2
    assert business.median == pytest.approx(2 * 3600, rel=0.1)


# --- SLA --------------------------------------------------------------------------------


def test_sla_first_response_compliance_worked_example(world):
    world.tickets(92, first_response_at=at(9), first_response_business_seconds=600)
    breached = world.tickets(6, created_at=at(-3), first_response_at=at(12))
    SlaAlert.objects.bulk_create(
        SlaAlert(ticket=t, metric="first_response", kind="breach", due_at=at(2), at=at(2))
        for t in breached
    )
    running = world.tickets(2)  # not answered, due the next day: left out
    SlaAlert.objects.bulk_create(
        SlaAlert(ticket=t, metric="first_response", kind="breach", due_at=at(30), at=at(30))
        for t in running
    )
    compute()
    assert value("sla_first_response") == pytest.approx(100 * 92 / 98)
    assert round(value("sla_first_response"), 1) == 93.9
    assert row("sla_first_response").parts == {"numerator": 92, "denominator": 98}


def test_sla_resolution_and_per_ticket_compliance(world):
    solved = dict(status=Status.SOLVED, created_at=at(-30), solved_at=at(10))
    ok = world.tickets(3, resolution_business_seconds=3600, **solved)
    late = world.tickets(1, resolution_business_seconds=99_000, **solved)
    slow_reply = world.tickets(1, resolution_business_seconds=3600, **solved)
    world.tickets(1, **solved)  # no SLA policy: not counted
    SlaAlert.objects.create(
        ticket=late[0], metric="resolution", kind="breach", due_at=at(8), at=at(8)
    )
    SlaAlert.objects.create(
        ticket=slow_reply[0], metric="next_response", kind="breach", due_at=at(-5), at=at(-5)
    )
    compute()
    # 4 met on the day + 1 breached on the day.
    assert row("sla_resolution").parts == {"numerator": 4, "denominator": 5}
    # Per ticket: 3 of the 5 solved tickets with targets met every target.
    assert row("sla_tickets").parts == {"numerator": 3, "denominator": 5}
    assert ok


# --- surveys ----------------------------------------------------------------------------


def _ratings(world, ratings, ces=()):
    tickets = world.tickets(len(ratings), status=Status.SOLVED, solved_at=at(2))
    ces = list(ces) + [None] * (len(ratings) - len(ces))
    CsatResponse.objects.bulk_create(
        CsatResponse(ticket=t, account=world.account, rating=r, ces=c, responded_at=at(12))
        for t, r, c in zip(tickets, ratings, ces, strict=True)
    )


def test_csat_and_ces_worked_examples(world):
    ratings = [5] * 42 + [4] * 32 + [3] * 10 + [2] * 9 + [1] * 14
    _ratings(world, ratings, ces=[7, 6, 5, 4, 2])
    compute()
    assert round(value("csat"), 1) == 69.2
    assert row("csat").sample_size == 107
    assert value("ces") == pytest.approx(4.8)
    assert value("ces_easy") == pytest.approx(60.0)
    assert value("csat", SubjectKind.CSM, world.csm.pk) == pytest.approx(100 * 74 / 107)
    assert value("csat", SubjectKind.AGENT, world.agent.pk) == pytest.approx(100 * 74 / 107)


def test_ratings_without_ces_answers_have_no_ces(world):
    _ratings(world, [5, 1])
    compute()
    assert value("csat") == 50.0
    assert value("ces") is None  # "no data", never 0
    assert row("ces").sample_size == 0


def test_fcr_worked_example(world):
    tickets = world.tickets(50, created_at=at(-30))
    world.solve_events(tickets, at(10))
    # 10 needed two public agent replies, 5 were reopened within 7 days: 35 of 50.
    Message.objects.bulk_create(
        Message(
            ticket=t,
            author_user=world.agent,
            public=True,
            body="x",
            body_html="x",
            created_at=at(n),
        )
        for t in tickets[:10]
        for n in (1, 2)
    )
    world.events(tickets[10:15], EventKind.REOPENED, at(24 * 3))
    world.events(tickets[15:17], EventKind.REOPENED, at(24 * 9))  # too late to count
    Message.objects.bulk_create(  # internal notes do not count
        Message(
            ticket=t,
            author_user=world.agent,
            public=False,
            body="x",
            body_html="x",
            created_at=at(3),
        )
        for t in tickets[20:30]
    )
    compute()
    assert value("fcr") == 70.0
    assert row("fcr").sample_size == 50


# --- success ----------------------------------------------------------------------------


def test_nps_worked_example(world):
    for score in (5, 6, 7, 8, 9, 10, 10):
        NpsResponseFactory(account=world.account, score=score, responded_at=at(9))
    compute()
    assert round(value("nps"), 1) == 14.3
    assert row("nps").parts == {"promoters": 3, "detractors": 2, "responses": 7}
    assert value("nps", SubjectKind.ACCOUNT, world.account.pk) == pytest.approx(100 / 7 * 1)
    assert not MetricSnapshot.objects.filter(metric="nps", subject_kind="team").exists()


def test_licence_utilisation_revenue_and_health(world):
    UsageDaily.objects.create(account=world.account, day=DAY, metric="active_users", value=45)
    churned = AccountFactory(tier=Tier.ENTERPRISE)
    RevenueEvent.objects.create(
        account=world.account, kind="new", date=DAY - dt.timedelta(days=10), mrr_delta=1000
    )
    RevenueEvent.objects.create(account=churned, kind="new", date=DAY, mrr_delta=500)
    RevenueEvent.objects.create(
        account=churned, kind="churn", date=DAY, mrr_delta=-500, reason="Budget"
    )
    RevenueEvent.objects.create(  # after the day: not yet
        account=world.account, kind="expansion", date=DAY + dt.timedelta(days=1), mrr_delta=200
    )
    other = AccountFactory(tier=Tier.GROWTH, csm=world.csm)
    HealthSnapshot.objects.create(account=world.account, day=DAY, score=Decimal("80"), band="green")
    HealthSnapshot.objects.create(account=other, day=DAY, score=Decimal("50"), band="yellow")
    HealthSnapshot.objects.create(account=churned, day=DAY, score=None, band="")

    compute()

    assert value("licence_utilisation") == 75.0
    assert value("accounts_active") == 1
    assert value("mrr") == 1000
    assert value("mrr", SubjectKind.ACCOUNT, world.account.pk) == 1000
    assert value("mrr", SubjectKind.ACCOUNT, churned.pk) == 0  # a true 0
    assert value("accounts_active", SubjectKind.TIER, TIER_IDS["enterprise"]) == 0
    assert value("health_score") == 65.0
    assert value("health_score", SubjectKind.CSM, world.csm.pk) == 65.0
    assert value("accounts_green") == 1
    assert value("accounts_yellow") == 1
    assert value("accounts_red") == 0
    assert value("accounts_unscored") == 1


def test_tickets_of_an_account_count_in_its_band_of_that_day(world):
    HealthSnapshot.objects.create(account=world.account, day=DAY, score=Decimal("30"), band="red")
    world.tickets(2)
    compute()
    assert value("tickets_created", SubjectKind.BAND, BAND_IDS["red"]) == 2


# --- the job ----------------------------------------------------------------------------


def _busy_day(world):
    tickets = world.tickets(4, status=Status.OPEN)
    world.solve_events(tickets[:2], at(5))
    world.tickets(
        2,
        status=Status.SOLVED,
        created_at=at(-5),
        solved_at=at(7),
        resolution_business_seconds=5000,
        first_response_at=at(2),
        first_response_business_seconds=100,
    )
    _ratings(world, [5, 4, 2], ces=[6, 3])
    NpsResponseFactory(account=world.account, score=10, responded_at=at(9))
    HealthSnapshot.objects.create(account=world.account, day=DAY, score=Decimal("71"), band="green")
    RevenueEvent.objects.create(account=world.account, kind="new", date=DAY, mrr_delta=300)
    UsageDaily.objects.create(account=world.account, day=DAY, metric="active_users", value=30)


def test_every_row_is_what_pool_gives_for_that_one_day(world):
    _busy_day(world)
    compute()
    written = list(MetricSnapshot.objects.filter(day=DAY))
    assert {r.metric for r in written} == set(catalogue.METRICS)
    for r in written:
        assert r.subject_kind in catalogue.metric(r.metric).subjects, r
        pooled = catalogue.pool(r.metric, [r.parts])
        assert r.sample_size == pooled.sample_size, r
        if pooled.value is None:
            assert r.value is None, r
        else:
            assert r.value == pytest.approx(pooled.value), r


def test_running_a_day_twice_changes_nothing(world):
    _busy_day(world)
    first = compute()
    before = list(MetricSnapshot.objects.filter(day=DAY).values_list("pk", "computed_at"))
    snapshot = rows_of()
    assert first == len(snapshot)
    assert compute() == 0
    assert rows_of() == snapshot
    assert list(MetricSnapshot.objects.filter(day=DAY).values_list("pk", "computed_at")) == before


def test_a_rerun_replaces_and_removes_rows_the_data_no_longer_gives(world):
    _busy_day(world)
    compute()
    CsatResponse.objects.all().delete()
    Ticket.objects.filter(status=Status.OPEN).update(team=None)
    assert compute() > 0
    assert not MetricSnapshot.objects.filter(day=DAY, metric="csat").exists()
    assert value("tickets_created", SubjectKind.TEAM, world.team.pk) == 3  # 7 before


def test_a_day_without_data_writes_no_rows(world):
    assert compute() == 0
    assert not MetricSnapshot.objects.exists()


def test_only_the_metrics_asked_for(world):
    _busy_day(world)
    compute(metrics=["csat", "backlog"])
    assert set(MetricSnapshot.objects.values_list("metric", flat=True)) == {"csat", "backlog"}
    with pytest.raises(catalogue.UnknownMetric):
        compute(metrics=["happiness"])


def test_backfill_of_a_day_equals_the_live_snapshot_of_that_day(world):
    _busy_day(world)
    snapshots_nightly(today=DAY + dt.timedelta(days=1))  # the live run, just after the day
    live = rows_of()
    # Life goes on: the next day's tickets, ratings and revenue.
    next_day = DAY + dt.timedelta(days=1)
    world.tickets(3, created_at=at(3, next_day))
    RevenueEvent.objects.create(
        account=world.account, kind="expansion", date=next_day, mrr_delta=50
    )
    MetricSnapshot.objects.all().delete()

    call_command("metrics_backfill", "--from", DAY.isoformat(), "--to", next_day.isoformat())

    assert rows_of() == live
    assert value("tickets_created", day=next_day) == 3


@pytest.mark.django_db(transaction=True)  # threads: their own connections, committed data
def test_a_second_concurrent_run_of_the_same_day_does_nothing(world, monkeypatch):
    _busy_day(world)
    inside, release = threading.Event(), threading.Event()
    real = snapshots._statement
    results = {}

    def slow_statement(family, names):
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(10)
        return real(family, names)

    monkeypatch.setattr(snapshots, "_statement", slow_statement)

    def first():
        try:
            results["first"] = compute()
        finally:
            connection.close()

    thread = threading.Thread(target=first, name="first")
    thread.start()
    assert inside.wait(10)
    try:
        results["second"] = compute()  # the first run holds the day's lock
    finally:
        release.set()
        thread.join(20)
    assert results["second"] == 0
    assert results["first"] > 0
    assert rows_of()


# --- backfill command -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-03-10", "--to", "2026-03-01"], "is after --to"),
        (["--from", "2999-01-01"], "is after --to"),
        (["--from", "2026-01-01", "--to", "2999-01-01"], "in the future"),
        (["--from", "10000-01-01"], "is not a date"),
        (["--from", "yesterday"], "is not a date"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--metrics", "csat,bogus"], "bogus"),
    ],
)
def test_backfill_refuses_bad_input_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("metrics_backfill", *args)


def test_backfill_of_a_range_reports_what_it_did(world, capsys):
    world.tickets(2)
    call_command(
        "metrics_backfill",
        "--from",
        "2026-03-09",
        "--to",
        "2026-03-11",
        "--metrics",
        "tickets_created",
    )
    out = capsys.readouterr().out
    assert "3 day(s) 2026-03-09..2026-03-11" in out
    assert list(MetricSnapshot.objects.values_list("metric", flat=True).distinct()) == [
        "tickets_created"
    ]
    assert value("tickets_created") == 2
