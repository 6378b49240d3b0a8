"""The health inputs read from real rows (metrics.selectors.health), component by component,
against hand-computed figures; and the worked example of METRICS.md end to end."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.choices import Tier
from metrics.selectors.health import HealthAccount, health_inputs
from success.choices import MilestoneStatus, PlanStatus
from success.health import DEFAULT_MODEL, Band, health_score
from success.models import Touchpoint, UsageDaily
from support.choices import Priority, SlaAlertKind, SlaMetric
from support.models import SlaAlert
from tests.factories import (
    AccountFactory,
    ContactFactory,
    CsatResponseFactory,
    NpsResponseFactory,
    PlanMilestoneFactory,
    SuccessPlanFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def account():
    return AccountFactory(tier=Tier.GROWTH, seats=20)


def _at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _inputs(account, day):
    row = HealthAccount(id=account.pk, tier=account.tier, seats=account.seats)
    return health_inputs(accounts=[row], day=day, model=DEFAULT_MODEL)[account.pk]


def _days(day, n):
    return day - datetime.timedelta(days=n)


def _usage(account, day, value, metric="active_users"):
    return UsageDaily.objects.create(account=account, day=day, metric=metric, value=value)


def _breach(ticket, at, *, recorded=True, kind=SlaAlertKind.BREACH):
    return SlaAlert.objects.create(
        ticket=ticket,
        metric=SlaMetric.RESOLUTION,
        kind=kind,
        due_at=at,
        at=at,
        recorded_at=at if recorded else None,
    )


# --- product usage -----------------------------------------------------------------------


def test_usage_is_the_busiest_day_of_the_last_30_over_the_seats(account, today):
    _usage(account, today, 10)
    _usage(account, _days(today, 12), 16)
    _usage(account, _days(today, 29), 12)  # the window's first day
    _usage(account, _days(today, 30), 20)  # one day too old
    usage = _inputs(account, today).product_usage
    assert usage.utilisation_pct == 80.0  # 16 / 20
    assert score_of(account, today, "product_usage") == 100.0


def test_usage_without_active_users_in_the_window_is_no_data(account, today):
    _usage(account, _days(today, 31), 20)
    assert _inputs(account, today).product_usage.utilisation_pct is None
    assert score_of(account, today, "product_usage") is None


def test_usage_takes_the_latest_seats_row_when_the_account_has_no_seats(today):
    account = AccountFactory(seats=None)
    _usage(account, _days(today, 1), 6)
    _usage(account, _days(today, 9), 40, metric="seats")
    _usage(account, _days(today, 2), 30, metric="seats")
    assert _inputs(account, today).product_usage.utilisation_pct == 20.0  # 6 / 30


def test_usage_with_unknown_seats_is_no_data(today):
    account = AccountFactory(seats=None)
    _usage(account, today, 6)
    assert _inputs(account, today).product_usage.utilisation_pct is None


# --- support experience ------------------------------------------------------------------


def test_support_counts_tickets_urgent_tickets_and_breaches_of_the_last_30_days(account, today):
    contact = ContactFactory(account=account)
    TicketFactory(requester=contact, created_at=_at(today, 1))
    TicketFactory(requester=contact, created_at=_at(_days(today, 10)), priority=Priority.URGENT)
    TicketFactory(requester=contact, created_at=_at(_days(today, 29), 0))
    first = TicketFactory(requester=contact, created_at=_at(today, 2))
    TicketFactory(requester=contact, created_at=_at(today, 3), merged_into=first)  # duplicate
    old = TicketFactory(
        requester=contact, created_at=_at(_days(today, 45)), priority=Priority.URGENT
    )
    _breach(old, _at(_days(today, 3)))  # an old ticket's target missed this month: counts
    _breach(old, _at(_days(today, 5)), kind=SlaAlertKind.WARNING)  # not a breach
    _breach(old, _at(_days(today, 31)))  # too old
    _breach(first, timezone.now() + datetime.timedelta(hours=1), recorded=False)  # pending

    support = _inputs(account, today).support_experience
    assert support.sla_breaches == 1
    assert support.urgent_tickets == 1
    assert support.tickets_per_10_seats == 2.0  # 4 tickets / 20 seats x 10
    assert support.open_escalations == 0
    # 100 - 20 (breach) - 10 (urgent) - 10 x (2 - 1)
    assert score_of(account, today, "support_experience") == 60.0


def test_support_without_any_contact_is_no_data(account, today):
    TicketFactory(requester=ContactFactory(account=account), created_at=_at(_days(today, 40)))
    support = _inputs(account, today).support_experience
    assert not support.has_data
    assert score_of(account, today, "support_experience") is None


def test_support_ticket_rate_is_skipped_when_seats_are_unknown(today):
    account = AccountFactory(seats=None)
    TicketFactory(requester=ContactFactory(account=account), created_at=_at(today, 1))
    support = _inputs(account, today).support_experience
    assert support.tickets_per_10_seats is None
    assert score_of(account, today, "support_experience") == 100.0


def test_support_ticket_rate_uses_the_seats_of_the_usage_rows_when_the_account_has_none(today):
    account = AccountFactory(seats=None)
    _usage(account, _days(today, 1), 4, metric="seats")
    contact = ContactFactory(account=account)
    TicketFactory.create_batch(2, requester=contact, created_at=_at(today, 1))
    assert _inputs(account, today).support_experience.tickets_per_10_seats == 5.0  # 2 / 4 x 10


def test_support_counts_unresolved_support_to_success_escalations(account, today):
    from metrics.models import EscalationFlag, EscalationRule

    def rule(code):
        return EscalationRule.objects.get_or_create(
            code=code, defaults={"name": code, "direction": "support_to_success"}
        )[0]

    now = timezone.now()
    EscalationFlag.objects.create(
        account=account, rule=rule("ticket_spike"), direction="support_to_success"
    )
    EscalationFlag.objects.create(
        account=account,
        rule=rule("repeated_complaint"),
        direction="support_to_success",
        state="acknowledged",
        acknowledged_at=now,
    )
    EscalationFlag.objects.create(
        account=account,
        rule=rule("unhappy_customer"),
        direction="support_to_success",
        state="resolved",
        resolved_at=now,
    )
    EscalationFlag.objects.create(
        account=account, rule=rule("at_risk_account"), direction="success_to_support"
    )
    support = _inputs(account, today).support_experience
    assert support.open_escalations == 2
    assert score_of(account, today, "support_experience") == 50.0  # 100 - 2 x 25


# --- sentiment ---------------------------------------------------------------------------


def test_sentiment_pools_nps_of_180_days_and_csat_of_90(account, today):
    for score in (10, 9, 7, 3):
        NpsResponseFactory(account=account, score=score, responded_at=_at(_days(today, 10)))
    NpsResponseFactory(account=account, score=0, responded_at=_at(_days(today, 180)))  # too old
    ticket_account = {"ticket__requester__account": account, "account": account}
    for rating in (5, 4, 3, 1):
        CsatResponseFactory(rating=rating, responded_at=_at(_days(today, 89)), **ticket_account)
    CsatResponseFactory(rating=1, responded_at=_at(_days(today, 90)), **ticket_account)  # too old

    sentiment = _inputs(account, today).sentiment
    assert sentiment.nps == 25.0  # (2 promoters - 1 detractor) / 4
    assert sentiment.csat == 50.0  # 2 of 4 satisfied
    assert score_of(account, today, "sentiment") == pytest.approx((62.5 + 50) / 2)


def test_sentiment_with_only_csat_uses_csat(account, today):
    CsatResponseFactory(
        ticket__requester__account=account, account=account, rating=4, responded_at=_at(today)
    )
    sentiment = _inputs(account, today).sentiment
    assert sentiment.nps is None
    assert score_of(account, today, "sentiment") == 100.0


def test_sentiment_without_answers_is_no_data(account, today):
    assert score_of(account, today, "sentiment") is None


# --- engagement --------------------------------------------------------------------------


def _touchpoint(account, at):
    return Touchpoint.objects.create(account=account, kind="call", happened_at=at, summary="x")


def test_engagement_counts_days_since_the_latest_touchpoint_against_the_tier(account, today):
    _touchpoint(account, _at(_days(today, 80)))
    _touchpoint(account, _at(_days(today, 45), 23))
    engagement = _inputs(account, today).engagement
    assert engagement.days_since_last_touchpoint == 45
    assert engagement.cadence_days == 30  # growth
    assert score_of(account, today, "engagement") == 75.0  # 1.5 cadences


def test_engagement_of_a_past_day_ignores_later_touchpoints(account, today):
    _touchpoint(account, _at(_days(today, 70)))
    _touchpoint(account, _at(_days(today, 1)))
    assert _inputs(account, _days(today, 10)).engagement.days_since_last_touchpoint == 60


def test_engagement_never_touched_is_no_data(account, today):
    assert score_of(account, today, "engagement") is None


# --- plan progress -----------------------------------------------------------------------


def test_plan_progress_is_the_share_of_due_milestones_done_on_time(account, today):
    plan = SuccessPlanFactory(account=account)
    due = _days(today, 5)
    PlanMilestoneFactory(plan=plan, due_date=due, status=MilestoneStatus.DONE, done_at=due)
    PlanMilestoneFactory(
        plan=plan, due_date=due, status=MilestoneStatus.DONE, done_at=_days(today, 2)
    )  # late
    PlanMilestoneFactory(plan=plan, due_date=_days(today, 1))  # overdue
    PlanMilestoneFactory(plan=plan, due_date=due, status=MilestoneStatus.SKIPPED)
    PlanMilestoneFactory(plan=plan, due_date=today)  # not due yet
    old = SuccessPlanFactory(account=account, status=PlanStatus.COMPLETED)
    PlanMilestoneFactory(plan=old, due_date=due)

    plan_progress = _inputs(account, today).plan_progress
    assert (plan_progress.due_milestones, plan_progress.done_on_time) == (3, 1)
    assert score_of(account, today, "plan_progress") == pytest.approx(100 / 3)


def test_plan_progress_without_an_active_plan_or_a_due_milestone_is_no_data(account, today):
    assert _inputs(account, today).plan_progress.due_milestones is None
    PlanMilestoneFactory(plan=SuccessPlanFactory(account=account), due_date=today)
    assert _inputs(account, today).plan_progress.due_milestones == 0
    assert score_of(account, today, "plan_progress") is None


# --- all together ------------------------------------------------------------------------


def score_of(account, day, key):
    return health_score(_inputs(account, day), DEFAULT_MODEL).component(key).score


def test_metrics_worked_example_from_real_rows(account, today):
    """METRICS.md: usage 75 % -> 91.7; 1 breach + 1 urgent -> 70; NPS +20 and CSAT 80 -> 70;
    within cadence -> 100; no plan -> no data; total 82.2, green."""
    _usage(account, _days(today, 3), 15)  # 15 of 20 seats
    contact = ContactFactory(account=account)
    urgent = TicketFactory(requester=contact, priority=Priority.URGENT, created_at=_at(today, 1))
    TicketFactory(requester=contact, created_at=_at(_days(today, 4)))  # 1 per 10 seats
    _breach(urgent, _at(today, 2))
    for score in (10, 9, 8, 7, 2):  # P=2, D=1, n=5: +20
        NpsResponseFactory(account=account, contact=contact, score=score)
    for rating in (5, 5, 4, 4, 2):  # 4 of 5: 80, on tickets of last quarter
        CsatResponseFactory(
            ticket__requester=contact,
            ticket__created_at=_at(_days(today, 60)),
            account=account,
            rating=rating,
        )
    _touchpoint(account, _at(_days(today, 3)))

    result = health_score(_inputs(account, today), DEFAULT_MODEL)
    assert result.component("product_usage").score == pytest.approx(91.667, abs=0.001)
    assert result.component("support_experience").score == 70.0
    assert result.component("sentiment").score == 70.0
    assert result.component("engagement").score == 100.0
    assert result.component("plan_progress").score is None
    assert result.score == 82.2
    assert result.band == Band.GREEN


def test_an_account_without_any_data_has_no_score(account, today):
    result = health_score(_inputs(account, today), DEFAULT_MODEL)
    assert result.score is None
    assert result.band is None


def test_inputs_take_one_query_per_family_however_many_accounts(today):
    def queries(accounts):
        rows = [HealthAccount(id=a.pk, tier=a.tier, seats=a.seats) for a in accounts]
        with CaptureQueriesContext(connection) as captured:
            health_inputs(accounts=rows, day=today, model=DEFAULT_MODEL)
        return len(captured)

    one = [AccountFactory(seats=10)]
    many = AccountFactory.create_batch(12, seats=10)
    for account in many:
        contact = ContactFactory(account=account)
        TicketFactory.create_batch(2, requester=contact)
        NpsResponseFactory(account=account, contact=contact)
        CsatResponseFactory(ticket__requester=contact, account=account)
        _usage(account, today, 5)
        _touchpoint(account, _at(_days(today, 2)))
        PlanMilestoneFactory(plan=SuccessPlanFactory(account=account), due_date=_days(today, 1))
    assert queries(one) == queries(many) == 8
