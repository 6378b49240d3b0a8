"""The demo history of customer success (success.seed.seed_success_history): subscriptions,
revenue, lifecycle, usage, health and NPS that agree with each account's story."""

import datetime
import itertools
from collections import defaultdict
from decimal import Decimal
from io import StringIO
from statistics import mean

import pytest
from django.core.management import call_command
from django.db.models import Count, Max, Sum
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Account
from accounts.seed import seed_crm
from success.choices import RevenueEventKind, SubscriptionStatus
from success.health import DEFAULT_MODEL
from success.models import (
    HealthSnapshot,
    LifecycleChange,
    NpsResponse,
    PlanMilestone,
    RevenueEvent,
    Subscription,
    Touchpoint,
    UsageDaily,
)
from success.plans import check_in_cadence_days
from success.seed import (
    FEATURE_METRICS,
    HEALTH_WEEKS,
    USAGE_DAYS,
    seed_plan_templates,
    seed_success,
    seed_success_history,
)

pytestmark = pytest.mark.django_db

BAND_RANK = {"green": 2, "yellow": 1, "red": 0}


@pytest.fixture
def world():
    world = seed_crm(accounts=80, seed=5)
    seed_plan_templates()
    seed_success(world, seed=5)
    counts = seed_success_history(world, seed=5)
    world.counts = counts
    return world


def _stories(world) -> dict[int, str]:
    return {account.id: account.story for account in world.accounts}


def _churn_days() -> dict[int, datetime.date]:
    return dict(
        RevenueEvent.objects.filter(
            kind=RevenueEventKind.CHURN, account__lifecycle_stage=LifecycleStage.CHURNED
        )
        .values("account_id")
        .annotate(day=Max("date"))
        .values_list("account_id", "day")
    )


def test_the_world_has_every_story(world):
    assert set(_stories(world).values()) == {"healthy", "at_risk", "churned"}


def test_revenue_deltas_add_up_to_each_accounts_mrr_today(world):
    totals = dict(
        RevenueEvent.objects.values("account_id")
        .annotate(total=Sum("mrr_delta"))
        .values_list("account_id", "total")
    )
    mrr = dict(Account.objects.values_list("pk", "mrr"))
    assert set(totals) == set(mrr)
    for account_id, current in mrr.items():
        assert totals[account_id] == current, account_id
    churned = Account.objects.filter(lifecycle_stage=LifecycleStage.CHURNED)
    assert churned.exists()
    assert set(churned.values_list("mrr", flat=True)) == {Decimal(0)}


def test_revenue_events_obey_the_rules_of_the_service(world):
    events = list(RevenueEvent.objects.select_related("subscription"))
    for event in events:
        event.full_clean()  # sign matches kind, churn has a reason
        assert event.subscription is None or event.subscription.account_id == event.account_id
    first = {}
    for event in sorted(events, key=lambda e: (e.date, e.pk)):
        first.setdefault(event.account_id, event)
    assert {e.kind for e in first.values()} == {RevenueEventKind.NEW}
    assert not RevenueEvent.objects.filter(date__gt=timezone.localdate()).exists()
    kinds = set(RevenueEvent.objects.values_list("kind", flat=True))
    assert {"new", "expansion", "contraction", "churn"} <= kinds
    # Two years of history, and the expansions belong to the healthy accounts.
    stories = _stories(world)
    expansions = RevenueEvent.objects.filter(kind=RevenueEventKind.EXPANSION)
    healthy = sum(stories[e.account_id] == "healthy" for e in expansions)
    assert healthy > expansions.count() / 2
    contractions = RevenueEvent.objects.filter(kind=RevenueEventKind.CONTRACTION)
    at_risk = [a for a, story in stories.items() if story == "at_risk"]
    assert contractions.filter(account_id__in=at_risk).values("account_id").distinct().count() == (
        len(at_risk)
    )


def test_each_open_account_has_one_current_subscription_matching_the_account(world):
    for account in Account.objects.exclude(lifecycle_stage=LifecycleStage.CHURNED):
        active = list(account.subscriptions.filter(status=SubscriptionStatus.ACTIVE))
        assert len(active) == 1, account.pk
        (subscription,) = active
        assert subscription.mrr == account.mrr
        assert subscription.seats == account.seats
        assert subscription.end_date == account.renewal_date
    # Earlier contracts ended the day the next began.
    assert Subscription.objects.filter(status=SubscriptionStatus.EXPIRED).exists()
    for subscription in Subscription.objects.exclude(end_date=None):
        assert subscription.end_date >= subscription.start_date


def test_churned_accounts_have_a_churn_with_a_reason_and_nothing_after_it(world):
    churn_days = _churn_days()
    churned = set(
        Account.objects.filter(lifecycle_stage=LifecycleStage.CHURNED).values_list("pk", flat=True)
    )
    assert set(churn_days) == churned
    today = timezone.localdate()
    for account_id, day in churn_days.items():
        churn = RevenueEvent.objects.get(account_id=account_id, date=day)
        assert churn.reason
        assert today - datetime.timedelta(days=310) <= day < today
        assert not RevenueEvent.objects.filter(account_id=account_id, date__gt=day).exists()
        assert not UsageDaily.objects.filter(account_id=account_id, day__gte=day).exists()
        assert not HealthSnapshot.objects.filter(account_id=account_id, day__gte=day).exists()
        assert not Subscription.objects.filter(
            account_id=account_id, status=SubscriptionStatus.ACTIVE
        ).exists()
        assert Subscription.objects.get(
            account_id=account_id, status=SubscriptionStatus.CANCELLED, end_date=day
        )
        last = LifecycleChange.objects.filter(account_id=account_id).latest("changed_at")
        assert last.to_stage == LifecycleStage.CHURNED
        assert timezone.localtime(last.changed_at).date() == day
    assert Account.objects.filter(pk__in=churned, health_score__isnull=False).count() == 0


def test_lifecycle_history_leads_from_onboarding_to_todays_stage(world):
    changes = defaultdict(list)
    for change in LifecycleChange.objects.order_by("changed_at", "pk"):
        changes[change.account_id].append(change)
    now = timezone.now()
    for account in Account.objects.all():
        history = changes[account.pk]
        if account.lifecycle_stage != LifecycleStage.ONBOARDING:
            assert history, account.pk
        if not history:
            continue
        assert history[0].from_stage == LifecycleStage.ONBOARDING
        assert history[-1].to_stage == account.lifecycle_stage
        for before, after in itertools.pairwise(history):
            assert before.to_stage == after.from_stage
            assert before.changed_at < after.changed_at
        assert account.created_at < history[0].changed_at <= now


def test_usage_covers_the_last_90_days_with_four_metrics_and_falls_for_at_risk(world):
    today = timezone.localdate()
    first = today - datetime.timedelta(days=USAGE_DAYS)
    assert set(UsageDaily.objects.values_list("metric", flat=True)) == {
        "active_users",
        *FEATURE_METRICS,
    }
    assert not UsageDaily.objects.filter(day__lt=first).exists()
    assert not UsageDaily.objects.filter(day__gte=today).exists()
    seats = dict(Account.objects.values_list("pk", "seats"))
    stories = _stories(world)
    share = defaultdict(lambda: defaultdict(list))  # story -> early/late -> active share
    for account_id, day, value in UsageDaily.objects.filter(metric="active_users").values_list(
        "account_id", "day", "value"
    ):
        assert value <= seats[account_id]
        period = "early" if day < first + datetime.timedelta(days=14) else None
        period = "late" if day >= today - datetime.timedelta(days=14) else period
        if period:
            share[stories[account_id]][period].append(value / seats[account_id])
    assert 0.55 < mean(share["healthy"]["late"]) < 0.95
    assert mean(share["at_risk"]["early"]) > 0.45
    assert mean(share["at_risk"]["late"]) < 0.35
    # Every day since the account started (at most 90 days back) until yesterday.
    started = {
        account.pk: max(first, timezone.localtime(account.created_at).date())
        for account in Account.objects.exclude(lifecycle_stage=LifecycleStage.CHURNED)
    }
    for metric in ("active_users", *FEATURE_METRICS):
        days = dict(
            UsageDaily.objects.filter(account_id__in=started, metric=metric)
            .values("account_id")
            .annotate(n=Count("day"))
            .values_list("account_id", "n")
        )
        assert days == {account_id: (today - day).days for account_id, day in started.items()}


def test_health_snapshots_weekly_at_risk_worse_than_healthy_and_on_the_account(world):
    today = timezone.localdate()
    stories = _stories(world)
    latest = {}
    for account_id, day, score, band in HealthSnapshot.objects.order_by("day").values_list(
        "account_id", "day", "score", "band"
    ):
        assert day > today - datetime.timedelta(weeks=HEALTH_WEEKS + 1)
        assert (today - day).days % 7 == 0
        latest[account_id] = (day, score, band)
    open_accounts = [a for a, story in stories.items() if story != "churned"]
    created = {
        account.pk: timezone.localtime(account.created_at).date()
        for account in Account.objects.all()
    }
    for account_id in open_accounts:
        assert latest[account_id][0] == today
        weeks_old = min(HEALTH_WEEKS, (today - created[account_id]).days // 7)
        assert HealthSnapshot.objects.filter(account_id=account_id).count() == weeks_old + 1
    assert not any(
        HealthSnapshot.objects.filter(account_id=a, day__lt=day).exists()
        for a, day in created.items()
    )
    healthy = [latest[a] for a, s in stories.items() if s == "healthy"]
    at_risk = [latest[a] for a, s in stories.items() if s == "at_risk"]
    assert mean(BAND_RANK[band] for _d, _s, band in at_risk) < mean(
        BAND_RANK[band] for _d, _s, band in healthy
    )
    assert 70 <= mean(score for _d, score, _b in healthy) <= 95
    assert mean(score for _d, score, _b in at_risk) < 40
    # At-risk accounts slide: their first snapshot is better than their last.
    firsts = dict(
        HealthSnapshot.objects.filter(
            account_id__in=[a for a, s in stories.items() if s == "at_risk"],
            day=today - datetime.timedelta(weeks=HEALTH_WEEKS),
        ).values_list("account_id", "score")
    )
    assert mean(firsts.values()) > mean(score for _d, score, _b in at_risk) + 20
    # Stored as health_snapshot_store stores them: every component with its input.
    snapshot = HealthSnapshot.objects.filter(day=today).first()
    assert [c["key"] for c in snapshot.components] == [
        "product_usage",
        "support_experience",
        "sentiment",
        "engagement",
        "plan_progress",
    ]
    assert snapshot.components[0]["raw"]["utilisation_pct"] is not None
    # Today's snapshot is on the account.
    for account in Account.objects.filter(pk__in=open_accounts):
        assert account.health_score == latest[account.pk][1]
        assert account.health_band == latest[account.pk][2]
        assert account.health_updated_at is not None


def test_nps_answers_come_from_the_accounts_contacts_and_follow_the_story(world):
    stories = _stories(world)
    answers = list(NpsResponse.objects.select_related("contact"))
    assert answers
    accounts = {answer.account_id for answer in answers}
    assert 0.2 * len(stories) <= len(accounts) <= 0.6 * len(stories)
    year_ago = timezone.now() - datetime.timedelta(days=366)
    for answer in answers:
        assert answer.contact.account_id == answer.account_id
        assert year_ago <= answer.responded_at <= timezone.now()
        assert answer.reason
    healthy = [a.score for a in answers if stories[a.account_id] == "healthy"]
    unhappy = [a.score for a in answers if stories[a.account_id] != "healthy"]
    assert mean(healthy) >= 8
    assert mean(unhappy) <= 6


def test_a_second_run_writes_nothing(world):
    assert world.counts["usage"] > 0
    before = (
        RevenueEvent.objects.count(),
        UsageDaily.objects.count(),
        HealthSnapshot.objects.count(),
        Subscription.objects.count(),
        LifecycleChange.objects.count(),
        NpsResponse.objects.count(),
    )
    again = seed_success_history(world, seed=5)
    assert set(again.values()) == {0}
    assert before == (
        RevenueEvent.objects.count(),
        UsageDaily.objects.count(),
        HealthSnapshot.objects.count(),
        Subscription.objects.count(),
        LifecycleChange.objects.count(),
        NpsResponse.objects.count(),
    )


def test_seed_demo_writes_the_success_history():
    out = StringIO()
    call_command("seed_demo", accounts=15, tickets=20, seed=3, stdout=out)
    assert "revenue events" in out.getvalue()
    assert RevenueEvent.objects.filter(kind=RevenueEventKind.NEW).count() == 15
    assert UsageDaily.objects.exists()
    assert Account.objects.filter(health_updated_at__isnull=False).exists()


def _raw(snapshot: HealthSnapshot, key: str) -> dict | None:
    (component,) = [c for c in snapshot.components if c["key"] == key]
    return component["raw"]


def test_engagement_counts_the_days_since_the_latest_touchpoint_on_record(world):
    today = timezone.localdate()
    touched = defaultdict(list)
    for account_id, at in Touchpoint.objects.values_list("account_id", "happened_at"):
        touched[account_id].append(timezone.localtime(at).date())
    counted = 0
    for snapshot in HealthSnapshot.objects.all():
        before = [day for day in touched[snapshot.account_id] if day <= snapshot.day]
        expected = (snapshot.day - max(before)).days if before else None
        assert _raw(snapshot, "engagement")["days_since_last_touchpoint"] == expected
        counted += expected is not None
    assert counted > HealthSnapshot.objects.count() / 2
    # At-risk accounts have gone longer without one, in multiples of their tier's cadence.
    tiers = dict(Account.objects.values_list("pk", "tier"))
    stories = _stories(world)
    overdue = defaultdict(list)
    for account_id, days in touched.items():
        if not days:
            continue
        cadences = (today - max(days)).days / check_in_cadence_days(tiers[account_id])
        overdue[stories[account_id]].append(cadences)
    assert mean(overdue["healthy"]) <= 1.2
    assert mean(overdue["at_risk"]) >= 1.5


def test_sentiment_is_the_nps_of_the_answers_in_the_window_and_no_csat(world):
    window = datetime.timedelta(days=DEFAULT_MODEL.sentiment.nps_days)
    answers = defaultdict(list)
    for account_id, at, score in NpsResponse.objects.values_list(
        "account_id", "responded_at", "score"
    ):
        answers[account_id].append((timezone.localtime(at).date(), score))
    without = 0
    for snapshot in HealthSnapshot.objects.all():
        raw = _raw(snapshot, "sentiment")
        assert raw["csat"] is None  # support's ratings: left to the nightly job
        scores = [
            score
            for day, score in answers[snapshot.account_id]
            if snapshot.day - window <= day <= snapshot.day
        ]
        if not scores:
            without += 1
            assert raw["nps"] is None
            sentiment = next(c for c in snapshot.components if c["key"] == "sentiment")
            assert sentiment["score"] is None
            continue
        promoters = sum(score >= 9 for score in scores)
        detractors = sum(score <= 6 for score in scores)
        assert raw["nps"] == pytest.approx(100 * (promoters - detractors) / len(scores))
    assert 0 < without < HealthSnapshot.objects.count()


def test_no_snapshot_claims_an_open_escalation(world):
    snapshots = list(HealthSnapshot.objects.all())
    assert snapshots
    for snapshot in snapshots:
        assert not _raw(snapshot, "support_experience")["open_escalations"]


def test_product_usage_is_the_last_days_active_users_over_the_seats(world):
    today = timezone.localdate()
    yesterday = today - datetime.timedelta(days=1)
    active = dict(
        UsageDaily.objects.filter(metric="active_users", day=yesterday).values_list(
            "account_id", "value"
        )
    )
    seats = dict(Account.objects.values_list("pk", "seats"))
    snapshots = list(HealthSnapshot.objects.filter(day=today))
    assert snapshots
    for snapshot in snapshots:
        raw = _raw(snapshot, "product_usage")
        if snapshot.account_id not in active:  # started today
            assert raw is None
            continue
        users = active[snapshot.account_id]
        assert raw["utilisation_pct"] == round(100 * users / seats[snapshot.account_id], 1)
        assert raw["evidence"][0].startswith(f"{users} of {seats[snapshot.account_id]} seats")


def test_plan_progress_counts_the_active_plans_milestones(world):
    today = timezone.localdate()
    due = defaultdict(lambda: [0, 0])
    for account_id, due_date, status, done_at in PlanMilestone.objects.filter(
        due_date__lt=today
    ).values_list("plan__account_id", "due_date", "status", "done_at"):
        due[account_id][0] += 1
        due[account_id][1] += status == "done" and done_at <= due_date
    for snapshot in HealthSnapshot.objects.filter(day=today, account_id__in=due):
        raw = _raw(snapshot, "plan_progress")
        expected = due[snapshot.account_id]
        assert [raw["due_milestones"], raw["done_on_time"]] == expected
