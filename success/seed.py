"""Starter plan templates, one per lifecycle stage a CSM plans for (safe to run again:
existing templates and milestones, matched by name and title, are left as they are), and
the demo data of customer success: plans, touchpoints and, following each account's story,
24 months of subscriptions and revenue, lifecycle history, usage, health and NPS."""

import json
import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.bulk import bulk_load, copy_rows, reset_sequence
from accounts.choices import LifecycleStage, Tier
from accounts.models import Account

from .choices import (
    MilestoneStatus,
    PlanStatus,
    RevenueEventKind,
    SubscriptionStatus,
    TouchpointKind,
    UsageMetric,
)
from .health import (
    DEFAULT_MODEL,
    EngagementInputs,
    HealthInputs,
    HealthModel,
    PlanProgressInputs,
    ProductUsageInputs,
    SentimentInputs,
    SupportExperienceInputs,
    health_score,
    nps_from_counts,
)
from .models import (
    HealthModelSettings,
    HealthOverride,
    HealthSnapshot,
    LifecycleChange,
    NpsResponse,
    PlanMilestone,
    PlanTemplate,
    PlanTemplateMilestone,
    RevenueEvent,
    Subscription,
    SuccessPlan,
    Touchpoint,
    UsageDaily,
)
from .plans import check_in_cadence_days, milestone_due_date
from .services import health_components_json

# name: (lifecycle stage, description, [(milestone title, day offset), ...])
PLAN_TEMPLATES: dict[str, tuple[str, str, list[tuple[str, int]]]] = {
    "Onboarding": (
        LifecycleStage.ONBOARDING,
        "From signature to a customer who gets value on their own.",
        [
            ("Kickoff", 0),
            ("Technical setup", 14),
            ("First value", 30),
            ("Training", 45),
            ("Handoff", 60),
        ],
    ),
    "Adoption": (
        LifecycleStage.ADOPTION,
        "Widen and deepen use of the product across the customer's teams.",
        [
            ("Adoption review", 0),
            ("Key feature rollout", 30),
            ("Usage health check", 60),
            ("Executive business review", 90),
        ],
    ),
    "Renewal": (
        LifecycleStage.RENEWAL,
        "Start about 120 days before the renewal date.",
        [
            ("Renewal kickoff", 0),
            ("Value review", 30),
            ("Renewal proposal", 60),
            ("Renewal signed", 90),
        ],
    ),
}


@transaction.atomic
def seed_plan_templates() -> list[PlanTemplate]:
    """Create the starter templates and their milestones where missing."""
    templates = []
    for name, (stage, description, steps) in PLAN_TEMPLATES.items():
        template, _ = PlanTemplate.objects.get_or_create(
            name=name, defaults={"lifecycle_stage": stage, "description": description}
        )
        for position, (title, day_offset) in enumerate(steps):
            PlanTemplateMilestone.objects.get_or_create(
                template=template,
                title=title,
                defaults={"day_offset": day_offset, "position": position},
            )
        templates.append(template)
    return templates


# --- demo data ----------------------------------------------------------------------------

_TOUCHPOINT_SUMMARIES = [
    ("Monthly check-in: the team is happy with the new reports.", "Share the export guide."),
    (
        "Call about the integration rollout; two teams still on the old workflow.",
        "Book a training session for the second team.",
    ),
    (
        "QBR with the sponsor: renewal looks likely, they want SSO next quarter.",
        "Send the SSO roadmap.",
    ),
    ("Email follow-up on the slow dashboard ticket.", ""),
    ("Onboarding sync: data import finished, users invited.", "Check activation in two weeks."),
]
_PLANNED_STAGES = {LifecycleStage.ONBOARDING: "Onboarding", LifecycleStage.ADOPTION: "Adoption"}


# How far back the demo touchpoints reach: past the oldest weekly health snapshot, so every
# snapshot's engagement counts from a real touchpoint (see _health_rows).
_TOUCHPOINT_REACH_DAYS = 7 * 13
# Share of the milestones due so far that were done (on their due day), by story.
_MILESTONES_DONE = {"healthy": 0.85, "at_risk": 0.4}


def _touchpoint_days_ago(rng: random.Random, story: str, tier: str, age_days: int) -> list[int]:
    """Days ago of an account's touchpoints, newest first, following its story: a healthy
    account is touched about once per its tier's cadence (the latest within it, now and
    then a little late); an at-risk one was too, until its CSM lost touch 1.5 to 3 cadences
    ago. Never on or before the day the account started."""
    cadence = check_in_cadence_days(tier)
    if story == "at_risk":
        ago = round(cadence * rng.uniform(1.5, 3.0))
    else:
        ago = rng.randint(1, round(cadence * 1.2))
    days = []
    while ago < age_days - 1:  # after the day it started, whatever the hour
        days.append(ago)
        if ago > _TOUCHPOINT_REACH_DAYS:
            break
        ago += max(2, round(cadence * rng.uniform(0.6, 1.1)))
    return days


def seed_success(world, *, seed: int, today: date | None = None) -> dict[str, int]:
    """Demo success data in bulk: a plan from its stage's template for onboarding and adoption
    accounts (earlier milestones mostly done, less so when at risk), and touchpoints that
    follow each account's story (see _touchpoint_days_ago), so the CSM home's panels have
    something to show and the seeded health's engagement (seed_success_history) reads them."""
    rng = random.Random(seed * 104_729 + 3)
    today = today or timezone.localdate()
    now = timezone.now()
    facts = {
        pk: (csm_id, (today - timezone.localtime(created).date()).days)
        for pk, csm_id, created in Account.objects.filter(
            pk__in=[a.id for a in world.accounts]
        ).values_list("pk", "csm_id", "created_at")
    }
    templates = {
        t.name: t for t in PlanTemplate.objects.prefetch_related("milestones").order_by("pk")
    }
    plans, plan_milestones, touchpoints, participants = [], [], [], []
    for account in world.accounts:
        if account.stage == LifecycleStage.CHURNED:
            continue
        csm_id, age_days = facts.get(account.id, (None, 0))
        template = templates.get(_PLANNED_STAGES.get(account.stage, ""))
        if template is not None:
            start = today - timedelta(days=rng.randint(0, min(75, max(0, age_days - 1))))
            plans.append(
                SuccessPlan(
                    account_id=account.id,
                    title=f"{template.name} plan",
                    start_date=start,
                    template=template,
                    created_by_id=csm_id,
                )
            )
            plan_milestones.append(
                [
                    (milestone, milestone_due_date(start, milestone.day_offset))
                    for milestone in template.milestones.all()
                ]
            )
        for ago in _touchpoint_days_ago(rng, account.story, account.tier, age_days):
            summary, next_steps = rng.choice(_TOUCHPOINT_SUMMARIES)
            touchpoints.append(
                Touchpoint(
                    account_id=account.id,
                    kind=rng.choice(TouchpointKind.values),
                    happened_at=now - timedelta(days=ago, hours=rng.randint(0, 8)),
                    summary=summary,
                    next_steps=next_steps,
                    logged_by_id=csm_id,
                )
            )
            participants.append(rng.choice(account.contact_ids) if account.contact_ids else None)
    stories = {account.id: account.story for account in world.accounts}
    with transaction.atomic():
        SuccessPlan.objects.bulk_create(plans, batch_size=2000)
        milestones = []
        for plan, dated in zip(plans, plan_milestones, strict=True):
            for position, (milestone, due) in enumerate(dated):
                done = due < today and rng.random() < _MILESTONES_DONE.get(
                    stories[plan.account_id], 0.75
                )
                milestones.append(
                    PlanMilestone(
                        plan=plan,
                        title=milestone.title,
                        owner_id=plan.created_by_id,
                        due_date=due,
                        status=MilestoneStatus.DONE if done else MilestoneStatus.TODO,
                        done_at=due if done else None,
                        completed_by_id=plan.created_by_id if done else None,
                        position=position,
                    )
                )
        PlanMilestone.objects.bulk_create(milestones, batch_size=5000)
        Touchpoint.objects.bulk_create(touchpoints, batch_size=5000)
        Through = Touchpoint.participants.through
        Through.objects.bulk_create(
            [
                Through(touchpoint_id=touchpoint.pk, contact_id=contact_id)
                for touchpoint, contact_id in zip(touchpoints, participants, strict=True)
                if contact_id is not None
            ],
            batch_size=5000,
        )
    return {"plans": len(plans), "milestones": len(milestones), "touchpoints": len(touchpoints)}


# --- demo history: subscriptions, revenue, lifecycle, usage, health, NPS -------------------

HISTORY_DAYS = 730  # revenue and lifecycle events over the last 24 months
USAGE_DAYS = 90
HEALTH_WEEKS = 13
ACTIVE_USERS = UsageMetric.ACTIVE_USERS.value
FEATURE_METRICS = ("feature_reports", "feature_integrations", "feature_automations")
# Share of a day's active users who use each key feature at a healthy account (low, high).
_FEATURE_SHARES = ((0.35, 0.6), (0.1, 0.3), (0.15, 0.4))
# Pre-churn MRR of a churned account by tier (theirs is 0 now).
_CHURNED_MRR = {Tier.ENTERPRISE: (8000, 40000), Tier.GROWTH: (1500, 8000), Tier.STARTER: (99, 1500)}
# The churn and comeback of a reactivated account, between which nothing else changes.
_GAP_KINDS = frozenset({RevenueEventKind.CHURN, RevenueEventKind.REACTIVATION})
_PLAN_NAMES = {Tier.ENTERPRISE: "Enterprise", Tier.GROWTH: "Growth", Tier.STARTER: "Starter"}
_CHURN_REASONS = [
    "Budget cut: the team was downsized.",
    "Moved to a competitor with a lower price.",
    "Low adoption after onboarding; the product never became part of their workflow.",
    "Our champion left the company and nobody took over.",
    "Acquired; the parent company standardised on another tool.",
    "Missing integration with their ERP.",
    "Repeated outages and slow support responses.",
]
_REACTIVATION_REASONS = [
    "Came back after the new pricing.",
    "New sponsor brought the product back in.",
    "The integration they missed has shipped.",
]
_NPS_REASONS = {
    "promoter": [
        "Reports save us hours every week.",
        "Support answers fast and knows the product.",
        "The automations just work.",
        "Easy to roll out to new teams.",
    ],
    "passive": [
        "Good product, but the dashboards are slow.",
        "Does the job; setup took longer than expected.",
        "Fine, though pricing went up.",
    ],
    "detractor": [
        "Too many outages lately.",
        "Tickets take days to get an answer.",
        "Hard to use; most of the team stopped logging in.",
        "Too expensive for what we use.",
        "The integration keeps breaking.",
    ],
}


@dataclass
class _AccountHistory:
    """One account's demo history as drawn, before it becomes rows."""

    id: int
    tier: str
    stage: str
    story: str
    csm_id: int | None
    seats: int
    mrr: int
    created: datetime
    renewal: date | None
    contact_ids: list[int]
    churn_day: date | None = None
    # (day, kind, MRR delta, reason), in date order; their deltas add up to `mrr`.
    events: list[tuple[date, str, int, str]] = field(default_factory=list)
    usage_from: float = 0.0  # share of seats active per day 90 days ago ...
    usage_to: float = 0.0  # ... and on the last day with usage
    feature_shares: tuple[float, ...] = ()
    feature_fade: float = 0.0  # how far feature use falls over the 90 days (at risk)
    risk_from: float = 0.0  # 0 = all well, 1 = about to leave; drives the support inputs
    risk_to: float = 0.0
    # What the seeded rows say, for the health inputs (see _health_inputs):
    active_users: list[int | None] = field(default_factory=list)  # per usage day, as written
    touched: list[date] = field(default_factory=list)  # touchpoint days, in order
    nps: list[tuple[date, int]] = field(default_factory=list)  # (day answered, score)
    milestones: list[tuple[date, bool]] = field(default_factory=list)  # (due, done on time)

    @property
    def created_day(self) -> date:
        return timezone.localtime(self.created).date()

    def trend(self, day: date, first: date) -> float:
        """0 at `first` (90 days ago), 1 on the last day the account had (yesterday, or the
        day before it churned)."""
        last = (self.churn_day or first + timedelta(days=USAGE_DAYS)) - timedelta(days=1)
        span = max(1, (last - first).days)
        return min(1.0, max(0.0, (day - first).days / span))


def _day_between(rng: random.Random, low: date, high: date) -> date:
    return low + timedelta(days=rng.randint(0, max(0, (high - low).days)))


def _aware(day: date, rng: random.Random, hour: int = 9) -> datetime:
    naive = datetime.combine(day, time(hour)) + timedelta(minutes=rng.randint(0, 8 * 60))
    return timezone.make_aware(naive)


def _draw_revenue(rng: random.Random, history: _AccountHistory, today: date) -> None:
    """The MRR story: new at the account's start, then expansions (healthy), contractions
    (at risk), a churn (churned) and now and then a churn-and-come-back (reactivation).

    The amounts are drawn backwards from the MRR the account has now, so the deltas add up
    to it exactly."""
    start = history.created_day
    if history.story == "churned":
        desired = today - timedelta(days=rng.randint(30, 300))
        history.churn_day = min(max(desired, start + timedelta(days=14)), today - timedelta(days=1))
        high = history.churn_day - timedelta(days=1)
        final = rng.randint(*_CHURNED_MRR.get(history.tier, (99, 1500)))
    else:
        high = min(today - timedelta(days=1), history.renewal or today)
        final = history.mrr
    low = max(start + timedelta(days=14), today - timedelta(days=HISTORY_DAYS))

    planned: list[tuple[date, str]] = []
    gap: tuple[date, date] | None = None  # churned, then came back
    if low <= high:
        recent = max(low, high - timedelta(days=180))
        if history.story == "healthy":
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                planned.append((_day_between(rng, low, high), RevenueEventKind.EXPANSION))
            if history.stage == LifecycleStage.EXPANSION:
                last_year = max(low, today - timedelta(days=365))
                planned.append((_day_between(rng, last_year, high), RevenueEventKind.EXPANSION))
            if rng.random() < 0.1:
                planned.append((_day_between(rng, low, high), RevenueEventKind.CONTRACTION))
            if start < today - timedelta(days=400) and rng.random() < 0.05:
                churned_on = _day_between(rng, low, today - timedelta(days=200))
                back_on = churned_on + timedelta(days=rng.randint(30, 120))
                gap = (churned_on, back_on)
                planned.append((churned_on, RevenueEventKind.CHURN))
                planned.append((back_on, RevenueEventKind.REACTIVATION))
        else:
            if rng.random() < 0.4 and low < recent:
                planned.append((_day_between(rng, low, recent), RevenueEventKind.EXPANSION))
            contractions = rng.randint(1, 2) if history.story == "at_risk" else rng.randint(0, 2)
            for _ in range(contractions):
                planned.append((_day_between(rng, recent, high), RevenueEventKind.CONTRACTION))
    planned.sort()
    kept: list[tuple[date, str]] = []
    for day, kind in planned:
        if kept and kept[-1][0] == day:
            continue  # one change a day
        if gap and gap[0] <= day <= gap[1] and kind not in _GAP_KINDS:
            continue  # no amendments while they were gone
        kept.append((day, kind))

    events: list[tuple[date, str, int, str]] = []
    if history.churn_day is not None:
        events.append(
            (history.churn_day, RevenueEventKind.CHURN, -final, rng.choice(_CHURN_REASONS))
        )
    current = final
    came_back_with = 0
    for day, kind in reversed(kept):
        if kind == RevenueEventKind.EXPANSION:
            before = round(current / rng.uniform(1.1, 1.6))
            if not 1 <= before < current:
                continue
        elif kind == RevenueEventKind.CONTRACTION:
            before = max(current + 1, round(current * rng.uniform(1.15, 1.6)))
        elif kind == RevenueEventKind.REACTIVATION:
            came_back_with, before = current, 0
        else:  # the churn before a reactivation
            before = max(1, round(came_back_with * rng.uniform(0.7, 1.1)))
        reason = ""
        if kind == RevenueEventKind.CHURN:
            reason = rng.choice(_CHURN_REASONS)
        elif kind == RevenueEventKind.REACTIVATION:
            reason = rng.choice(_REACTIVATION_REASONS)
        events.append((day, kind, current - before, reason))
        current = before
    # The opening balance is the "new" event on the day the account started, even when
    # that is more than 24 months back: a "new" dated 24 months ago would count a
    # three-year-old customer as a new logo that month in retention and NRR.
    events.append((start, RevenueEventKind.NEW, current, ""))
    events.reverse()
    history.events = events


def _plan_name(mrr: int) -> str:
    if mrr >= 8000:
        return _PLAN_NAMES[Tier.ENTERPRISE]
    if mrr >= 1500:
        return _PLAN_NAMES[Tier.GROWTH]
    return _PLAN_NAMES[Tier.STARTER]


def _subscription_rows(
    history: _AccountHistory, next_id: int, now: datetime
) -> tuple[list[list], list[int | None]]:
    """The subscriptions the revenue events imply, and the subscription of each event.

    Every change of MRR amends the contract: the running subscription expires that day
    and a new one starts with the new MRR; a churn cancels the running one."""
    rows: list[list] = []
    of_event: list[int | None] = []
    running = 0
    totals = [0]
    for event in history.events:
        totals.append(totals[-1] + event[2])
    peak = max(1, *totals)  # seats follow MRR, up to the account's seats at its peak
    current: list | None = None
    for day, kind, delta, _reason in history.events:
        running += delta
        if kind == RevenueEventKind.CHURN:
            if current is not None:
                current[6], current[7] = day, SubscriptionStatus.CANCELLED
            of_event.append(current[0] if current else None)
            current = None
            continue
        if current is not None:
            current[6], current[7] = day, SubscriptionStatus.EXPIRED
        seats = max(1, round(history.seats * running / peak))
        current = [
            next_id + len(rows),
            history.id,
            _plan_name(running),
            seats,
            Decimal(running),
            day,
            None,
            SubscriptionStatus.ACTIVE,
            timezone.make_aware(datetime.combine(day, time(9))),
            now,
        ]
        rows.append(current)
        of_event.append(current[0])
    if current is not None:  # the contract running today is the account's own
        current[2] = _PLAN_NAMES.get(history.tier, current[2])
        current[3] = history.seats
        current[6] = history.renewal
    return rows, of_event


def _lifecycle_moves(
    rng: random.Random, history: _AccountHistory, today: date
) -> list[tuple[date, str]]:
    """(day, stage moved to) from onboarding to the account's stage today."""
    moves: list[tuple[date, str]] = []
    start = history.created_day
    if history.stage != LifecycleStage.ONBOARDING:
        moves.append((start + timedelta(days=rng.randint(20, 90)), LifecycleStage.ADOPTION))
    for day, kind, _delta, _reason in history.events:
        if kind == RevenueEventKind.CHURN and day != history.churn_day:
            moves.append((day, LifecycleStage.CHURNED))
        elif kind == RevenueEventKind.REACTIVATION:
            back_to = (
                LifecycleStage.ONBOARDING
                if history.stage == LifecycleStage.ONBOARDING
                else LifecycleStage.ADOPTION
            )
            moves.append((day, back_to))
    if history.stage == LifecycleStage.EXPANSION:
        recent = [
            day
            for day, kind, _d, _r in history.events
            if kind == RevenueEventKind.EXPANSION and day > today - timedelta(days=365)
        ]
        moves.append(
            (recent[0] if recent else today - timedelta(days=rng.randint(10, 120)), history.stage)
        )
    elif history.stage == LifecycleStage.RENEWAL and history.renewal is not None:
        moves.append((history.renewal - timedelta(days=rng.randint(90, 120)), history.stage))
    elif history.stage == LifecycleStage.CHURNED and history.churn_day is not None:
        moves.append((history.churn_day, history.stage))

    # Keep the order the story gives; squeeze the dates in between the start and today,
    # dropping a move only when there is no day left for it.
    last = history.churn_day or today - timedelta(days=1)  # today's hours are not over yet
    fixed: list[tuple[date, str]] = []
    for position, (day, stage) in enumerate(moves):
        later = len(moves) - position - 1
        day = min(max(day, start + timedelta(days=1)), last - timedelta(days=later))
        if fixed and day <= fixed[-1][0]:
            day = fixed[-1][0] + timedelta(days=1)
        if day > last or day <= start:
            continue
        fixed.append((day, stage))
    result = []
    stage_before = LifecycleStage.ONBOARDING
    for day, stage in fixed:
        if stage != stage_before:
            result.append((day, stage))
            stage_before = stage
    return result


def _draw_usage(rng: random.Random, history: _AccountHistory) -> None:
    if history.story == "healthy":
        history.usage_from = rng.uniform(0.6, 0.95)
        history.usage_to = min(0.95, max(0.6, history.usage_from + rng.uniform(-0.05, 0.05)))
        history.feature_fade = 0.0
        # Even happy customers have the odd SLA breach or urgent ticket.
        history.risk_from = history.risk_to = rng.uniform(0.1, 0.45)
    elif history.story == "at_risk":
        history.usage_from = rng.uniform(0.5, 0.65)
        history.usage_to = rng.uniform(0.2, 0.3)
        history.feature_fade = rng.uniform(0.4, 0.7)
        history.risk_from, history.risk_to = rng.uniform(0.0, 0.3), rng.uniform(0.55, 1.0)
    else:  # churned: the at-risk slide, all the way down
        history.usage_from = rng.uniform(0.35, 0.5)
        history.usage_to = rng.uniform(0.05, 0.15)
        history.feature_fade = rng.uniform(0.6, 0.9)
        history.risk_from, history.risk_to = rng.uniform(0.2, 0.5), 1.0
    scale = 1.0 if history.story == "healthy" else 0.6
    history.feature_shares = tuple(rng.uniform(low, high) * scale for low, high in _FEATURE_SHARES)


def _usage_rows(
    histories: list[_AccountHistory], *, seed: int, today: date, progress=None
) -> Iterator[tuple[int, date, str, int]]:
    """(account, day, metric, value) for the last 90 days (yesterday back), streamed; a
    churned account's stop the day before it left."""
    first = today - timedelta(days=USAGE_DAYS)
    days = [first + timedelta(days=n) for n in range(USAGE_DAYS)]
    for count, history in enumerate(histories, start=1):
        rng = random.Random(seed * 1_000_003 + history.id)
        start = max(first, history.created_day)
        end = history.churn_day or today
        seats = history.seats
        shares = history.feature_shares
        history.active_users = [None] * USAGE_DAYS
        for index, day in enumerate(days):
            if day < start or day >= end:
                continue
            t = history.trend(day, first)
            share = history.usage_from + (history.usage_to - history.usage_from) * t
            active = min(seats, max(0, round(seats * share * (1 + rng.uniform(-0.06, 0.06)))))
            history.active_users[index] = active
            yield (history.id, day, ACTIVE_USERS, active)
            fade = 1 - history.feature_fade * t
            for metric, feature_share in zip(FEATURE_METRICS, shares, strict=True):
                used = round(active * feature_share * fade * (1 + rng.uniform(-0.15, 0.15)))
                yield (history.id, day, metric, min(active, max(0, used)))
        if progress and count % 1000 == 0:
            progress("usage", 1000)
    if progress and len(histories) % 1000:
        progress("usage", len(histories) % 1000)


def _health_inputs(
    rng: random.Random, history: _AccountHistory, day: date, first: date, model: HealthModel
) -> HealthInputs:
    """The raw inputs on `day` (a snapshot taken that morning), read from the rows seeded for
    the account so that the Account 360's health facts agree with its other sections:

    - product usage: the active users of the day before (the last usage row, the one the
      usage panel shows) over the seats; no data before the usage rows start;
    - engagement: days since the latest touchpoint on or before `day`; none: no data;
    - sentiment: the NPS of the answers in the model's window up to `day`; none: no data.
      CSAT lives in support, which success may not import, so the seed leaves it out; the
      nightly health job scores it from the real ratings;
    - plan progress: the active plan's milestones due before `day` and those done on time;
    - support experience: synthetic (success cannot read tickets), worsening with the
      story's risk; no escalations (support -> success flags do not exist yet)."""
    t = history.trend(day, first)
    risk = history.risk_from + (history.risk_to - history.risk_from) * t

    usage = None
    index = (day - first).days - 1
    active = history.active_users[index] if 0 <= index < len(history.active_users) else None
    if active is not None:
        used_on = day - timedelta(days=1)
        usage = ProductUsageInputs(
            utilisation_pct=round(100 * active / history.seats, 1),
            evidence=(
                f"{active} of {history.seats} seats active on {used_on.day} {used_on:%b %Y}",
            ),
        )

    cadence = check_in_cadence_days(history.tier)
    touched = bisect_right(history.touched, day)
    engagement = EngagementInputs(
        days_since_last_touchpoint=(day - history.touched[touched - 1]).days if touched else None,
        cadence_days=cadence,
    )

    since = day - timedelta(days=model.sentiment.nps_days)
    scores = [score for answered, score in history.nps if since <= answered <= day]
    sentiment = SentimentInputs(
        nps=nps_from_counts(
            responses=len(scores),
            promoters=sum(score >= 9 for score in scores),
            detractors=sum(score <= 6 for score in scores),
        )
    )

    plan = None
    if history.milestones:
        due = [on_time for due_day, on_time in history.milestones if due_day < day]
        plan = PlanProgressInputs(due_milestones=len(due), done_on_time=sum(due))

    return HealthInputs(
        product_usage=usage,
        support_experience=SupportExperienceInputs(
            sla_breaches=round(3 * risk * rng.random()),
            urgent_tickets=round(2 * risk * rng.random() + 0.3),
            tickets_per_10_seats=round(rng.uniform(0.2, 1.1) + 2.5 * risk, 1),
            open_escalations=None,
        ),
        sentiment=sentiment,
        engagement=engagement,
        plan_progress=plan,
    )


def _health_rows(
    histories: list[_AccountHistory],
    *,
    seed: int,
    today: date,
    model: HealthModel,
    progress=None,
) -> Iterator[tuple]:
    """One snapshot a week over the last 13 weeks plus today's, scored by the real model and
    stored as health_snapshot_store stores them; none before the account started or from
    the day it churned."""
    first = today - timedelta(days=USAGE_DAYS)
    days = [today - timedelta(weeks=week) for week in range(HEALTH_WEEKS, -1, -1)]
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    tenth = Decimal("0.1")
    now = timezone.now()
    for count, history in enumerate(histories, start=1):
        rng = random.Random(seed * 2_000_029 + history.id)
        start = history.created_day
        for day in days:
            if day < start or (history.churn_day is not None and day >= history.churn_day):
                continue
            result = health_score(_health_inputs(rng, history, day, first, model), model)
            score = None if result.score is None else Decimal(str(result.score)).quantize(tenth)
            band = "" if result.band is None else str(result.band)
            yield (
                history.id,
                day,
                score,
                band,
                dumps(health_components_json(result)),
                min(now, timezone.make_aware(datetime.combine(day, time(6)))),
            )
        if progress and count % 1000 == 0:
            progress("health", 1000)
    if progress and len(histories) % 1000:
        progress("health", len(histories) % 1000)


def _nps_rows(
    rng: random.Random, history: _AccountHistory, now: datetime, today: date
) -> list[tuple]:
    """1-4 answers over the last 12 months from the account's contacts, for ~40% of
    accounts: mostly promoters when healthy, mostly detractors when at risk or churned."""
    if not history.contact_ids or rng.random() >= 0.4:
        return []
    low = max(history.created_day, today - timedelta(days=365))
    high = (history.churn_day or today) - timedelta(days=1)
    if high < low:
        return []
    rows = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if history.story == "healthy":
            score = (
                rng.randint(9, 10)
                if roll < 0.65
                else rng.randint(7, 8)
                if roll < 0.92
                else rng.randint(3, 6)
            )
        else:
            score = rng.randint(0, 6) if roll < 0.75 else rng.randint(7, 8) if roll < 0.95 else 9
        group = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        responded = _aware(_day_between(rng, low, high), rng)
        rows.append(
            (
                history.id,
                rng.choice(history.contact_ids),
                score,
                rng.choice(_NPS_REASONS[group]),
                min(responded, now),
            )
        )
    return rows


def seed_success_history(
    world, *, seed: int, today: date | None = None, progress=None
) -> dict[str, int]:
    """Demo history in bulk, following each account's story (healthy, at risk, churned):
    subscriptions and revenue events over 24 months whose MRR changes add up to the
    account's MRR today, lifecycle changes from onboarding to today's stage, 90 days of daily
    usage, weekly health snapshots (and today's, copied onto the account) and NPS answers.

    Safe to run twice: when the world's accounts already have revenue events or usage, it
    writes nothing and returns zero counts (a second set would double their MRR history).
    `progress(label, n)` is called as accounts are done (usage, then health) and per part.
    """
    today = today or timezone.localdate()
    now = timezone.now()
    ids = [account.id for account in world.accounts]
    empty = dict.fromkeys(
        ("subscriptions", "revenue_events", "lifecycle_changes", "usage", "health", "nps"), 0
    )
    if not ids or (
        RevenueEvent.objects.filter(account_id__in=ids).exists()
        or UsageDaily.objects.filter(account_id__in=ids).exists()
    ):
        return empty
    rng = random.Random(seed * 15_485_863 + 5)
    facts = {
        row[0]: row[1:]
        for row in Account.objects.filter(pk__in=ids).values_list(
            "pk", "csm_id", "seats", "mrr", "created_at", "renewal_date"
        )
    }
    histories = []
    for account in world.accounts:
        csm_id, seats, mrr, created, renewal = facts[account.id]
        story = "churned" if account.stage == LifecycleStage.CHURNED else account.story
        history = _AccountHistory(
            id=account.id,
            tier=account.tier,
            stage=account.stage,
            story=story,
            csm_id=csm_id,
            seats=seats or 1,
            mrr=int(mrr),
            created=created,
            renewal=renewal,
            contact_ids=list(account.contact_ids),
        )
        _draw_revenue(rng, history, today)
        _draw_usage(rng, history)
        histories.append(history)

    next_subscription = (
        Subscription.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ) + 1
    subscriptions, events, moves, answers = [], [], [], []
    for history in histories:
        rows, of_event = _subscription_rows(history, next_subscription + len(subscriptions), now)
        subscriptions.extend(rows)
        for (day, kind, delta, reason), subscription_id in zip(
            history.events, of_event, strict=True
        ):
            events.append(
                (
                    history.id,
                    subscription_id,
                    kind,
                    day,
                    Decimal(delta),
                    reason,
                    None,
                    timezone.make_aware(datetime.combine(day, time(10))),
                )
            )
        stage_before = LifecycleStage.ONBOARDING
        for day, stage in _lifecycle_moves(rng, history, today):
            moves.append((history.id, stage_before, stage, _aware(day, rng), history.csm_id, ""))
            stage_before = stage
        answered = _nps_rows(rng, history, now, today)
        history.nps = [(timezone.localtime(row[4]).date(), row[2]) for row in answered]
        answers.extend(answered)
    _read_seeded_rows(histories)
    settings_row = HealthModelSettings.objects.filter(pk=HealthModelSettings.SINGLETON_ID).first()
    model = settings_row.to_model() if settings_row else DEFAULT_MODEL

    tables = [
        Subscription._meta.db_table,
        RevenueEvent._meta.db_table,
        LifecycleChange._meta.db_table,
        UsageDaily._meta.db_table,
        HealthSnapshot._meta.db_table,
        NpsResponse._meta.db_table,
    ]
    counts = {}
    with transaction.atomic(), bulk_load(tables):
        counts["subscriptions"] = copy_rows(
            Subscription._meta.db_table,
            [
                "id",
                "account_id",
                "plan_name",
                "seats",
                "mrr",
                "start_date",
                "end_date",
                "status",
                "created_at",
                "updated_at",
            ],
            subscriptions,
        )
        reset_sequence(Subscription._meta.db_table)
        counts["revenue_events"] = copy_rows(
            RevenueEvent._meta.db_table,
            [
                "account_id",
                "subscription_id",
                "kind",
                "date",
                "mrr_delta",
                "reason",
                "recorded_by_id",
                "created_at",
            ],
            events,
        )
        counts["lifecycle_changes"] = copy_rows(
            LifecycleChange._meta.db_table,
            ["account_id", "from_stage", "to_stage", "changed_at", "actor_id", "note"],
            moves,
        )
        counts["nps"] = copy_rows(
            NpsResponse._meta.db_table,
            ["account_id", "contact_id", "score", "reason", "responded_at"],
            answers,
        )
        counts["usage"] = copy_rows(
            UsageDaily._meta.db_table,
            ["account_id", "day", "metric", "value"],
            _usage_rows(histories, seed=seed, today=today, progress=progress),
        )
        counts["health"] = copy_rows(
            HealthSnapshot._meta.db_table,
            ["account_id", "day", "score", "band", "components", "created_at"],
            _health_rows(histories, seed=seed, today=today, model=model, progress=progress),
        )
    _copy_health_onto_accounts(ids, today=today, now=now)
    return counts


def _read_seeded_rows(histories: list[_AccountHistory]) -> None:
    """The touchpoint days and active plans' milestones seed_success wrote for these
    accounts, onto their histories: two queries whatever the number of accounts."""
    by_id = {history.id: history for history in histories}
    for account_id, day in (
        Touchpoint.objects.filter(account_id__in=by_id)
        .annotate(day=TruncDate("happened_at"))
        .order_by("account_id", "happened_at")
        .values_list("account_id", "day")
    ):
        by_id[account_id].touched.append(day)
    for account_id, due, status, done_at in (
        PlanMilestone.objects.filter(plan__account_id__in=by_id, plan__status=PlanStatus.ACTIVE)
        .exclude(status=MilestoneStatus.SKIPPED)
        .values_list("plan__account_id", "due_date", "status", "done_at")
    ):
        on_time = status == MilestoneStatus.DONE and done_at is not None and done_at <= due
        by_id[account_id].milestones.append((due, on_time))


def _copy_health_onto_accounts(ids: list[int], *, today: date, now: datetime) -> int:
    """Today's snapshot onto each account in one statement, as health_snapshot_store does
    one at a time: the band stays an override's while one is in force."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Account._meta.db_table} AS a
            SET health_score = s.score,
                health_band = COALESCE(
                    (SELECT o.band FROM {HealthOverride._meta.db_table} AS o
                     WHERE o.account_id = a.id AND o.cleared_at IS NULL
                       AND o.expires_on >= %(today)s
                     LIMIT 1),
                    s.band),
                health_updated_at = %(now)s
            FROM {HealthSnapshot._meta.db_table} AS s
            WHERE s.account_id = a.id AND s.day = %(today)s AND a.id = ANY(%(ids)s)
            """,
            {"today": today, "now": now, "ids": ids},
        )
        return cursor.rowcount
