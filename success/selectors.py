"""Reads for the success team's pages."""

import dataclasses
import datetime
from typing import cast

from django.conf import settings
from django.core import signing
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.choices import LifecycleStage, Role
from accounts.models import Account, Contact, User

from .charts import health_trend_svg, usage_trend_svg
from .choices import MilestoneStatus, PlanStatus, UsageMetric
from .health import (
    DEFAULT_MODEL,
    HealthModel,
    HealthResult,
    explain_change,
    nps_from_counts,
    result_from_json,
)
from .models import (
    HealthModelSettings,
    HealthOverride,
    HealthSnapshot,
    NpsResponse,
    NpsSurveyInvite,
    PlanMilestone,
    PlanTemplate,
    RevenueEvent,
    Subscription,
    SuccessPlan,
    Touchpoint,
    UsageDaily,
)
from .plans import CHECK_IN_CADENCE_DAYS, DEFAULT_CHECK_IN_CADENCE_DAYS, check_in_overdue_before

PORTFOLIO_LIMIT = 500
# The portfolio's health trend compares today's score with the snapshot this many days ago.
PORTFOLIO_TREND_DAYS = 7
# Rows each home-page panel shows; the rest are counted as "more".
PANEL_LIMIT = 50
TASKS_AHEAD_DAYS = 6  # today through today + 6: this week
RENEWAL_WINDOWS_DAYS = (30, 60, 90)
# Rows of each history section on the account page (touchpoints, revenue events).
ACCOUNT_RECENT_LIMIT = 10


def portfolio(*, viewer: User) -> QuerySet[Account]:
    """The accounts a person looks after: a CSM's own; managers and admins see every one."""
    accounts = Account.objects.select_related("csm").order_by("name")
    if viewer.role == Role.CSM:
        accounts = accounts.filter(csm=viewer)
    return accounts


def portfolio_rows(*, viewer: User, today: datetime.date) -> QuerySet[Account]:
    """The viewer's portfolio for the home page's table, each account carrying:

    - `health_trend`: its health score minus the score of its latest snapshot on or before
      today - PORTFOLIO_TREND_DAYS (METRICS.md: "the trend compares with the snapshot 7 days
      earlier"); None when either score is missing;
    - `last_touchpoint_at`: when it was last touched; None when never.

    Both are correlated subqueries served by the (account, -day) and (account,
    -happened_at) indexes: one query for the whole portfolio. Filter and sort it with
    success.filters.PortfolioFilter.
    """
    week_ago_score = (
        HealthSnapshot.objects.filter(
            account=OuterRef("pk"), day__lte=today - datetime.timedelta(days=PORTFOLIO_TREND_DAYS)
        )
        .order_by("-day")
        .values("score")[:1]
    )
    last_touchpoint = (
        Touchpoint.objects.filter(account=OuterRef("pk"))
        .order_by("-happened_at")
        .values("happened_at")[:1]
    )
    return portfolio(viewer=viewer).annotate(
        health_trend=ExpressionWrapper(
            F("health_score") - Subquery(week_ago_score),
            output_field=DecimalField(max_digits=6, decimal_places=1),
        ),
        last_touchpoint_at=Subquery(last_touchpoint),
    )


def accounts_with_overdue_check_in(*, csm: User, today: datetime.date) -> QuerySet[Account]:
    """The CSM's accounts due a check-in on `today`: never touched, or last touched on a day
    before today minus their tier's cadence (success.plans). Churned accounts are left out.

    Each account carries `last_touchpoint_at` (None when never touched); never-touched
    accounts come first, then the longest silent. One query, however many accounts.
    """
    last_touchpoint = (
        Touchpoint.objects.filter(account=OuterRef("pk"))
        .order_by("-happened_at")
        .values("happened_at")[:1]
    )
    # A touchpoint before the start of this day (local time) is too old, per tier.
    overdue_before = Case(
        *(
            When(tier=tier, then=Value(_day_start(check_in_overdue_before(tier, today))))
            for tier in CHECK_IN_CADENCE_DAYS
        ),
        default=Value(_day_start(today - datetime.timedelta(days=DEFAULT_CHECK_IN_CADENCE_DAYS))),
        output_field=DateTimeField(),
    )
    return (
        Account.objects.filter(csm=csm)
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
        .annotate(last_touchpoint_at=Subquery(last_touchpoint), overdue_before=overdue_before)
        .filter(Q(last_touchpoint_at__isnull=True) | Q(last_touchpoint_at__lt=F("overdue_before")))
        .select_related("csm")
        .order_by(F("last_touchpoint_at").asc(nulls_first=True), "name")
    )


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def account_success_plans(*, account: Account) -> QuerySet[SuccessPlan]:
    """An account's success plans, newest first, with objectives and milestones (and the
    milestones' owners) loaded: three queries in all."""
    return (
        SuccessPlan.objects.filter(account=account)
        .select_related("account", "template", "created_by")
        .prefetch_related("objectives", Prefetch("milestones", queryset=_milestones()))
        .order_by("-start_date", "-id")
    )


def account_active_health_override(*, account: Account) -> HealthOverride | None:
    """The account's override that is not cleared (it may have expired), with who set it:
    one query."""
    return (
        HealthOverride.objects.filter(account=account, cleared_at__isnull=True)
        .select_related("set_by")
        .first()
    )


def plan_templates() -> QuerySet[PlanTemplate]:
    """Plan templates to start a plan from, by lifecycle stage then name: one query."""
    return PlanTemplate.objects.order_by("lifecycle_stage", "name")


def milestone_owners() -> QuerySet[User]:
    """The people a milestone can be given to: active staff of the success and support
    teams, by name: one query."""
    return User.objects.filter(
        is_active=True, role__in=[Role.CSM, Role.MANAGER, Role.ADMIN, Role.AGENT]
    ).order_by("full_name", "email")


def _milestones() -> QuerySet[PlanMilestone]:
    return PlanMilestone.objects.select_related("owner").order_by("position", "due_date", "id")


def milestones_due_this_week(*, csm: User, today: datetime.date) -> QuerySet[PlanMilestone]:
    """Open milestones of active plans that the CSM owns or that sit on the CSM's accounts,
    due by today + TASKS_AHEAD_DAYS, overdue ones included: oldest due date first.

    Each milestone carries `is_overdue` (due before today), its plan, account and owner
    loaded. One query, however many milestones.
    """
    return (
        PlanMilestone.objects.filter(
            Q(owner=csm) | Q(plan__account__csm=csm),
            status=MilestoneStatus.TODO,
            plan__status=PlanStatus.ACTIVE,
            due_date__lte=today + datetime.timedelta(days=TASKS_AHEAD_DAYS),
        )
        .annotate(is_overdue=ExpressionWrapper(Q(due_date__lt=today), output_field=BooleanField()))
        .select_related("plan__account", "owner")
        .order_by("due_date", "plan__account__name", "position", "id")
    )


def renewals_due(*, csm: User, today: datetime.date) -> QuerySet[Account]:
    """The CSM's accounts renewing from today through today + 90 days, soonest first;
    churned accounts are left out.

    Each account carries `renewal_window`: 30, 60 or 90, the first of RENEWAL_WINDOWS_DAYS
    its renewal date falls within. One query, however many accounts.
    """
    *nearer, furthest = RENEWAL_WINDOWS_DAYS
    window = Case(
        *(
            When(renewal_date__lte=today + datetime.timedelta(days=days), then=Value(days))
            for days in nearer
        ),
        default=Value(furthest),
    )
    return (
        Account.objects.filter(
            csm=csm,
            renewal_date__gte=today,
            renewal_date__lte=today + datetime.timedelta(days=furthest),
        )
        .exclude(lifecycle_stage=LifecycleStage.CHURNED)
        .annotate(renewal_window=window)
        .order_by("renewal_date", "name")
    )


def account_recent_touchpoints(*, account: Account) -> QuerySet[Touchpoint]:
    """An account's touchpoints, most recent first, with who logged them and their
    participants loaded: two queries, however many are taken (slice before iterating)."""
    return (
        Touchpoint.objects.filter(account=account)
        .select_related("logged_by")
        .prefetch_related(Prefetch("participants", queryset=Contact.objects.order_by("name")))
        .order_by("-happened_at", "-id")
    )


def account_subscriptions(*, account: Account) -> QuerySet[Subscription]:
    """An account's subscriptions, latest start first: one query."""
    return Subscription.objects.filter(account=account).order_by("-start_date", "-id")


def account_revenue_events(*, account: Account) -> QuerySet[RevenueEvent]:
    """An account's MRR changes, latest first, with their subscription loaded: one query."""
    return (
        RevenueEvent.objects.filter(account=account)
        .select_related("subscription")
        .order_by("-date", "-id")
    )


def account_contacts(*, account: Account) -> QuerySet[Contact]:
    """The people at an account, account admins first, then by name: one query."""
    return Contact.objects.filter(account=account).order_by("-is_account_admin", "name", "id")


# --- Account 360: health, usage and NPS panels ----------------------------------------------

HEALTH_TREND_DAYS = 90
# The explanation compares with the snapshot a week before the latest; a missed nightly run
# or two may push that snapshot back a few days, but no further.
HEALTH_COMPARE_DAYS = 7
HEALTH_COMPARE_SLACK_DAYS = 3
USAGE_TREND_DAYS = 90
USAGE_FEATURES_LIMIT = 12
NPS_RECENT_LIMIT = 5
NPS_PROMOTER_MIN = 9  # 9-10
NPS_DETRACTOR_MAX = 6  # 0-6
# Below this many responses an NPS is flagged as a small sample (as metrics.formulas does).
NPS_SMALL_SAMPLE = 30
_USAGE_TREND_METRICS = (UsageMetric.ACTIVE_USERS, UsageMetric.SEATS)
_FETCH = object()  # "not given: query it"


def health_model_current() -> HealthModel:
    """The health model in force: the admin's HealthModelSettings row, or the defaults of
    success.health when there is none. One query, not cached, so an admin's change applies
    at once; a caller needing it several times in one request keeps the result."""
    settings_row = HealthModelSettings.objects.first()
    return DEFAULT_MODEL if settings_row is None else settings_row.to_model()


@dataclasses.dataclass(frozen=True)
class HealthBreakdownRow:
    """One component of a stored health score, as the Account 360 shows it."""

    key: str
    label: str
    facts: tuple[str, ...]
    score: float | None  # None: no data
    weight: float
    effective_weight: float  # 0-1, renormalised over the components with data
    contribution: float | None  # points of the total; None: no data

    @property
    def has_data(self) -> bool:
        return self.score is not None

    @property
    def effective_percent(self) -> float:
        return 100 * self.effective_weight


@dataclasses.dataclass(frozen=True)
class HealthPanel:
    latest: HealthSnapshot | None  # None: never scored
    previous: HealthSnapshot | None  # about a week before the latest
    breakdown: list[HealthBreakdownRow]
    explanation: str  # "" without a snapshot a week earlier
    override: HealthOverride | None  # the active (not cleared) one, even when expired
    override_in_force: bool
    model: HealthModel
    start: datetime.date
    end: datetime.date
    scored_days: int
    chart: SafeString


@dataclasses.dataclass(frozen=True)
class UsageFeature:
    metric: str
    label: str
    value: int
    day: datetime.date


@dataclasses.dataclass(frozen=True)
class UsagePanel:
    start: datetime.date
    end: datetime.date
    days_with_data: int
    latest_day: datetime.date | None
    latest_active_users: int | None
    seats: int | None  # the account's, else the latest "seats" metric
    features: list[UsageFeature]
    chart: SafeString

    @property
    def has_data(self) -> bool:
        return self.days_with_data > 0 or bool(self.features)

    @property
    def utilisation_percent(self) -> float | None:
        if self.latest_active_users is None or not self.seats:
            return None
        return 100 * self.latest_active_users / self.seats


@dataclasses.dataclass(frozen=True)
class NpsPanel:
    recent: list[NpsResponse]
    window_days: int
    responses: int
    promoters: int
    detractors: int
    nps: float | None  # None: no response in the window

    @property
    def passives(self) -> int:
        return self.responses - self.promoters - self.detractors

    @property
    def small_sample(self) -> bool:
        return 0 < self.responses < NPS_SMALL_SAMPLE

    @property
    def nps_text(self) -> str:
        """ "+20", "-4", "0" (rounded to a whole number); "" without responses."""
        if self.nps is None:
            return ""
        value = round(self.nps)
        return f"+{value}" if value > 0 else str(value)


def _breakdown(result: HealthResult) -> list[HealthBreakdownRow]:
    return [
        HealthBreakdownRow(
            key=row.key,
            label=row.label,
            facts=row.raw.facts() if row.raw is not None else (),
            score=row.score,
            weight=row.weight,
            effective_weight=row.effective_weight,
            contribution=row.contribution,
        )
        for row in result.components
    ]


def _snapshot_result(snapshot: HealthSnapshot) -> HealthResult:
    return result_from_json(snapshot.score, snapshot.band, snapshot.components)


def account_health_panel(
    *,
    account: Account,
    today: datetime.date,
    model: HealthModel,
    override: HealthOverride | object | None = _FETCH,
) -> HealthPanel:
    """The latest health snapshot explained against the one a week before, its component
    breakdown, the active override and the 90-day trend chart: four queries, three when
    the caller passes the active override (see account_active_health_override)."""
    snapshots = HealthSnapshot.objects.filter(account=account)
    latest = snapshots.filter(day__lte=today).order_by("-day").first()
    previous = None
    if latest is not None:
        previous = (
            snapshots.filter(
                day__lte=latest.day - datetime.timedelta(days=HEALTH_COMPARE_DAYS),
                day__gte=latest.day
                - datetime.timedelta(days=HEALTH_COMPARE_DAYS + HEALTH_COMPARE_SLACK_DAYS),
            )
            .order_by("-day")
            .first()
        )
    start = today - datetime.timedelta(days=HEALTH_TREND_DAYS - 1)
    series = list(
        snapshots.filter(day__gte=start, day__lte=today).order_by("day").values_list("day", "score")
    )
    active = (
        account_active_health_override(account=account)
        if override is _FETCH
        else cast(HealthOverride | None, override)
    )
    breakdown: list[HealthBreakdownRow] = []
    explanation = ""
    if latest is not None:
        current = _snapshot_result(latest)
        breakdown = _breakdown(current)
        if previous is not None:
            explanation = explain_change(_snapshot_result(previous), current)
    points = [(day, None if score is None else float(score)) for day, score in series]
    chart = health_trend_svg(
        points,
        start=start,
        end=today,
        green_at=model.green_at,
        yellow_at=model.yellow_at,
        title=f"Health score of {account.name}, last {HEALTH_TREND_DAYS} days",
    )
    return HealthPanel(
        latest=latest,
        previous=previous,
        breakdown=breakdown,
        explanation=explanation,
        override=active,
        override_in_force=active is not None and active.is_in_force(today),
        model=model,
        start=start,
        end=today,
        scored_days=sum(1 for _, score in points if score is not None),
        # Our own markup; every text in it is escaped by success.charts.
        chart=mark_safe(chart),
    )


def _feature_label(metric: str) -> str:
    name = metric.removeprefix("feature_").replace("_", " ")
    return name[:1].upper() + name[1:]


def account_usage_panel(*, account: Account, today: datetime.date) -> UsagePanel:
    """Active users and seats per day over 90 days, and the latest value of every other
    usage metric (key features) in that time: two queries."""
    start = today - datetime.timedelta(days=USAGE_TREND_DAYS - 1)
    usage = UsageDaily.objects.filter(account=account, day__gte=start, day__lte=today)
    trend: dict[str, list[tuple[datetime.date, int]]] = {name: [] for name in _USAGE_TREND_METRICS}
    for metric, day, value in (
        usage.filter(metric__in=_USAGE_TREND_METRICS)
        .order_by("day")
        .values_list("metric", "day", "value")
    ):
        trend[metric].append((day, value))
    features = [
        UsageFeature(metric=metric, label=_feature_label(metric), value=value, day=day)
        for metric, day, value in usage.exclude(metric__in=_USAGE_TREND_METRICS)
        .order_by("metric", "-day")
        .distinct("metric")
        .values_list("metric", "day", "value")[:USAGE_FEATURES_LIMIT]
    ]
    active_users = trend[UsageMetric.ACTIVE_USERS]
    seats_series = trend[UsageMetric.SEATS]
    seats = account.seats
    if seats is None and seats_series:
        seats = seats_series[-1][1]
    if not seats_series and account.seats is not None:
        # The account's seats as a flat line over the days that have active users.
        seats_series = [(day, account.seats) for day, _ in active_users]
    chart = usage_trend_svg(
        active_users,
        seats_series,
        start=start,
        end=today,
        title=f"Active users and seats of {account.name}, last {USAGE_TREND_DAYS} days",
    )
    return UsagePanel(
        start=start,
        end=today,
        days_with_data=len(active_users),
        latest_day=active_users[-1][0] if active_users else None,
        latest_active_users=active_users[-1][1] if active_users else None,
        seats=seats,
        features=features,
        # Our own markup; every text in it is escaped by success.charts.
        chart=mark_safe(chart),
    )


def account_nps_panel(*, account: Account, today: datetime.date, window_days: int) -> NpsPanel:
    """The account's last five NPS responses (with their contacts) and its NPS over the
    last `window_days`, counted in SQL and computed by success.health.nps_from_counts:
    two queries."""
    responses = NpsResponse.objects.filter(account=account)
    recent = list(
        responses.select_related("contact").order_by("-responded_at", "-id")[:NPS_RECENT_LIMIT]
    )
    since = _day_start(today - datetime.timedelta(days=window_days))
    counts = responses.filter(responded_at__gte=since).aggregate(
        responses=Count("id"),
        promoters=Count("id", filter=Q(score__gte=NPS_PROMOTER_MIN)),
        detractors=Count("id", filter=Q(score__lte=NPS_DETRACTOR_MAX)),
    )
    return NpsPanel(
        recent=recent,
        window_days=window_days,
        nps=nps_from_counts(**counts),
        **counts,
    )


def account_health_context(
    *,
    account: Account,
    today: datetime.date,
    override: HealthOverride | object | None = _FETCH,
) -> dict[str, object]:
    """Everything the Account 360's health, usage and NPS panels show, as template context
    (``health``, ``usage``, ``nps``): nine queries whatever the amount of data, eight when
    the caller passes the account's active override it has loaded already."""
    model = health_model_current()
    return {
        "health": account_health_panel(
            account=account, today=today, model=model, override=override
        ),
        "usage": account_usage_panel(account=account, today=today),
        "nps": account_nps_panel(
            account=account, today=today, window_days=model.sentiment.nps_days
        ),
    }


# --- NPS surveys ------------------------------------------------------------------------

NPS_SALT = "nps"


class NpsLinkInvalid(Exception):
    """An NPS survey link that was altered or is not one of ours."""


class NpsLinkExpired(NpsLinkInvalid):
    """An NPS survey link older than CX_SURVEY_LINK_MAX_AGE_DAYS."""


def _nps_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=NPS_SALT)


def nps_token_make(*, invite_id: int) -> str:
    """A signed, timestamped token naming one invite (so one campaign and one contact)."""
    return _nps_signer().sign_object({"i": invite_id}, compress=False)


def nps_url(*, invite_id: int, score: int | None = None) -> str:
    """The NPS survey page's absolute URL (for emails), optionally with a score preselected."""
    url = settings.CX_BASE_URL.rstrip("/") + reverse(
        "nps-survey", args=[nps_token_make(invite_id=invite_id)]
    )
    return f"{url}?score={score}" if score is not None else url


def nps_link_read(token: str) -> int:
    """The invite id a token names; `NpsLinkExpired` or `NpsLinkInvalid` when unusable."""
    max_age = datetime.timedelta(days=settings.CX_SURVEY_LINK_MAX_AGE_DAYS)
    try:
        payload = _nps_signer().unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise NpsLinkExpired from None
    except (signing.BadSignature, ValueError, UnicodeError):
        raise NpsLinkInvalid from None
    try:
        return int(payload["i"])
    except (KeyError, TypeError, ValueError):
        raise NpsLinkInvalid from None


def nps_survey_invite(*, invite_id: int) -> NpsSurveyInvite | None:
    """An invite with its campaign and contact, for the survey page (one query)."""
    return (
        NpsSurveyInvite.objects.select_related("campaign", "contact").filter(pk=invite_id).first()
    )


def nps_invite_response(*, invite: NpsSurveyInvite) -> NpsResponse | None:
    """The contact's answer to the invite's campaign, if they answered already."""
    return NpsResponse.objects.filter(
        campaign_id=invite.campaign_id, contact_id=invite.contact_id
    ).first()
