import dataclasses
import datetime
import re

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Tier
from accounts.models import Account, Contact

from .choices import (
    REVENUE_GAINS,
    REVENUE_LOSSES,
    MilestoneStatus,
    NpsAudience,
    PlanStatus,
    RevenueEventKind,
    SubscriptionStatus,
    TouchpointKind,
)
from .health import DEFAULT_MODEL, HealthModel

# Usage metric names: lowercase snake_case, starting with a letter ("active_users", "reports").
METRIC_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
METRIC_NAME_MAX_LENGTH = 50


# Each account foreign key has db_index=False: an index leading with the account (below)
# serves those lookups already.


class Subscription(models.Model):
    """A customer account's contract for one plan: seats, MRR and the dates it runs."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="subscriptions", db_index=False
    )
    plan_name = models.CharField(max_length=100)
    seats = models.PositiveIntegerField(null=True, blank=True)
    mrr = models.DecimalField(
        "MRR", max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    start_date = models.DateField()
    end_date = models.DateField(
        null=True, blank=True, help_text="The renewal date, or when it ended. Empty: open-ended."
    )
    status = models.CharField(
        max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "-start_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mrr__gte=0),
                name="subscription_mrr_not_negative",
                violation_error_message="MRR cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="subscription_end_not_before_start",
                violation_error_message="The end date cannot be before the start date.",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status"], name="subscription_account_status"),
            models.Index(fields=["end_date"], name="subscription_end_date"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.plan_name}"


class RevenueEvent(models.Model):
    """One change in an account's MRR (new, expansion, contraction, churn, reactivation).

    The single source for retention, logo churn, GRR and NRR: append-only, never edited to
    correct history (record a compensating event instead)."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="revenue_events", db_index=False
    )
    subscription = models.ForeignKey(
        Subscription,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="revenue_events",
    )
    kind = models.CharField(max_length=20, choices=RevenueEventKind.choices)
    date = models.DateField(help_text="When the change takes effect.")
    mrr_delta = models.DecimalField(
        "MRR change",
        max_digits=12,
        decimal_places=2,
        help_text="Positive for new, expansion and reactivation; negative for contraction and "
        "churn.",
    )
    reason = models.CharField(max_length=500, blank=True, help_text="Required for churn.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind__in=sorted(REVENUE_GAINS), mrr_delta__gt=0)
                    | Q(kind__in=sorted(REVENUE_LOSSES), mrr_delta__lt=0)
                ),
                name="revenue_event_delta_sign_matches_kind",
                violation_error_message=(
                    "New, expansion and reactivation must raise MRR; contraction and churn "
                    "must lower it."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(kind=RevenueEventKind.CHURN) | ~Q(reason=""),
                name="revenue_event_churn_has_reason",
                violation_error_message="A churn needs a reason.",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "date"], name="revenue_event_account_date"),
            models.Index(fields=["date"], name="revenue_event_date"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.get_kind_display()} {self.mrr_delta:+} on {self.date}"


class LifecycleChange(models.Model):
    """One move of an account from one lifecycle stage to another: the history of
    Account.lifecycle_stage."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="lifecycle_changes", db_index=False
    )
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the system made the change.",
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_stage=F("to_stage")),
                name="lifecycle_change_changes_stage",
                violation_error_message="A lifecycle change must change the stage.",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "changed_at"], name="lifecycle_change_account_at"),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.from_stage} → {self.to_stage}"


class UsageDaily(models.Model):
    """One product-usage number for an account on one day: active users, seats, or the use
    of a key feature (metric "reports"). Re-sending a day replaces its value."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="usage_days", db_index=False
    )
    day = models.DateField()
    metric = models.CharField(
        max_length=METRIC_NAME_MAX_LENGTH,
        validators=[
            RegexValidator(METRIC_NAME_PATTERN, "Use lowercase letters, digits and underscores.")
        ],
        help_text='"active_users", "seats", or a key feature such as "reports".',
    )
    value = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "usage days"
        ordering = ["-day", "account", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "metric"], name="usage_daily_one_per_account_day_metric"
            ),
            models.CheckConstraint(
                condition=Q(metric__regex=METRIC_NAME_PATTERN),
                name="usage_daily_metric_name_format",
                violation_error_message="Use lowercase letters, digits and underscores.",
            ),
        ]
        indexes = [
            # Feature adoption across accounts: "who used reports in the last 30 days".
            models.Index(fields=["metric", "day"], name="usage_daily_metric_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.day} · {self.metric}={self.value}"


class PlanTemplate(models.Model):
    """A reusable success plan for one lifecycle stage (onboarding, adoption, renewal):
    its milestones become a plan's milestones, dated from the plan's start."""

    name = models.CharField(max_length=100, unique=True)
    lifecycle_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["lifecycle_stage", "name"]

    def __str__(self) -> str:
        return self.name


class PlanTemplateMilestone(models.Model):
    """One step of a plan template, due `day_offset` days after the plan starts."""

    template = models.ForeignKey(PlanTemplate, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=200)
    day_offset = models.PositiveIntegerField(help_text="Days after the plan's start date.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["template", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(day_offset__gte=0),
                name="plan_template_milestone_offset_not_negative",
                violation_error_message="The day offset cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} · {self.title} (+{self.day_offset}d)"


class SuccessPlan(models.Model):
    """A customer account's plan with its CSM: what they want to achieve (objectives) and
    the dated steps to get there (milestones)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="success_plans", db_index=False
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    start_date = models.DateField()
    template = models.ForeignKey(
        PlanTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plans",
        help_text="The template it was made from, if any.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "-start_date", "-id"]
        indexes = [
            models.Index(fields=["account", "status"], name="success_plan_account_status"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.title}"


class PlanObjective(models.Model):
    """One outcome a success plan aims at: what, why it matters, and how we will know."""

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="objectives")
    what = models.CharField(max_length=300)
    why = models.TextField(blank=True)
    success_measure = models.CharField(max_length=300, blank=True)
    target_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "target_date", "id"]

    def __str__(self) -> str:
        return self.what


class PlanMilestone(models.Model):
    """One dated step of a success plan, done or skipped by its owner."""

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plan_milestones",
    )
    due_date = models.DateField()
    status = models.CharField(
        max_length=20, choices=MilestoneStatus.choices, default=MilestoneStatus.TODO
    )
    done_at = models.DateField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["plan", "position", "due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(status=MilestoneStatus.DONE, done_at__isnull=False)
                    | (~Q(status=MilestoneStatus.DONE) & Q(done_at__isnull=True))
                ),
                name="plan_milestone_done_at_iff_done",
                violation_error_message="A done milestone needs a done date; only it has one.",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status", "due_date"], name="plan_milestone_owner_due"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} · {self.title}"


class Touchpoint(models.Model):
    """One contact between our team and a customer account: a call, meeting, QBR, email or
    check-in, with who took part and what comes next."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="touchpoints", db_index=False
    )
    kind = models.CharField(max_length=20, choices=TouchpointKind.choices)
    happened_at = models.DateTimeField()
    participants = models.ManyToManyField(Contact, blank=True, related_name="touchpoints")
    summary = models.TextField()
    next_steps = models.TextField(blank=True)
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-happened_at", "-id"]
        indexes = [
            # The last touchpoint of each account (check-in cadence).
            models.Index(fields=["account", "-happened_at"], name="touchpoint_account_happened"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.get_kind_display()} {self.happened_at:%Y-%m-%d}"


class HealthSnapshot(models.Model):
    """An account's health on one day: one row per account per day, keeping every
    component's input, score and weight so the page can explain why a score moved.

    Written only by success.services.health_snapshot_store; storing a day again replaces it.
    ``components`` is a list of dicts, one per component: key, label, raw (the input as a
    JSON-friendly dict, or null when nothing was gathered), score (null: no data), weight,
    effective_weight and contribution (null: no data)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="health_snapshots", db_index=False
    )
    day = models.DateField()
    score = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True, help_text="Empty: not enough data."
    )
    band = models.CharField(max_length=10, choices=HealthBand.choices, blank=True)
    components = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day"], name="health_snapshot_one_per_account_day"
            ),
            models.CheckConstraint(
                condition=Q(band__in=["", *HealthBand.values]),
                name="health_snapshot_band_known",
                violation_error_message="Unknown health band.",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-day"], name="health_snapshot_account_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.day} · {self.score} {self.band}".rstrip()


class HealthOverride(models.Model):
    """A person's call on an account's health band, over the computed one, until it expires
    (through ``expires_on``) or is cleared. Rows are kept after clearing as the history of
    who overrode what and why; at most one per account is active (not cleared)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="health_overrides", db_index=False
    )
    band = models.CharField(max_length=10, choices=HealthBand.choices)
    reason = models.TextField()
    expires_on = models.DateField(help_text="The override applies through this day.")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["account", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(cleared_at__isnull=True),
                name="health_override_one_active_per_account",
                violation_error_message="This account already has an active health override.",
            ),
            models.CheckConstraint(
                condition=~Q(reason__regex=r"^\s*$"),
                name="health_override_reason_not_empty",
                violation_error_message="Say why the band is overridden.",
            ),
            models.CheckConstraint(
                condition=Q(band__in=HealthBand.values),
                name="health_override_band_known",
                violation_error_message="Unknown health band.",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="health_override_account_at"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · {self.band} until {self.expires_on}"

    def is_in_force(self, on: datetime.date) -> bool:
        """Active (not cleared) and not expired on ``on``."""
        return self.cleared_at is None and self.expires_on >= on


# --- Health model settings -----------------------------------------------------------------

_PERCENT = [MinValueValidator(0), MaxValueValidator(100)]
_NOT_NEGATIVE = [MinValueValidator(0)]
# "support_experience: per_sla_breach must be >= 0, got -1" -> the field it is about.
_HEALTH_ERROR_FIELD = re.compile(r"^(?P<key>[a-z_]+): (?P<name>[a-z0-9_]+) ")


def _default(component: str, name: str) -> object:
    return getattr(getattr(DEFAULT_MODEL, component), name)


class HealthModelSettings(models.Model):
    """The health model in force, as an admin edits it: one row at most (without it the
    defaults of success.health.DEFAULT_MODEL apply). Its fields mirror HealthModel's, named
    ``<component>_<field>``; ``to_model()`` turns the row into the HealthModel used to score
    accounts from the next computation on (stored snapshots keep the weights they used)."""

    SINGLETON_ID = 1

    product_usage_label = models.CharField(
        "label", max_length=50, default=_default("product_usage", "label")
    )
    product_usage_weight = models.FloatField(
        "weight", default=_default("product_usage", "weight"), validators=_NOT_NEGATIVE
    )
    product_usage_full_at_pct = models.FloatField(
        "score 100 at utilisation (%)",
        default=_default("product_usage", "full_at_pct"),
        validators=_PERCENT,
        help_text="Licence utilisation (active users over 30 days / seats) at or above which "
        "the component scores 100.",
    )
    product_usage_zero_at_pct = models.FloatField(
        "score 0 at utilisation (%)",
        default=_default("product_usage", "zero_at_pct"),
        validators=_PERCENT,
        help_text="Utilisation at or below which it scores 0; linear in between.",
    )

    support_experience_label = models.CharField(
        "label", max_length=50, default=_default("support_experience", "label")
    )
    support_experience_weight = models.FloatField(
        "weight", default=_default("support_experience", "weight"), validators=_NOT_NEGATIVE
    )
    support_experience_per_sla_breach = models.FloatField(
        "points off per SLA breach",
        default=_default("support_experience", "per_sla_breach"),
        validators=_NOT_NEGATIVE,
    )
    support_experience_per_urgent_ticket = models.FloatField(
        "points off per urgent ticket",
        default=_default("support_experience", "per_urgent_ticket"),
        validators=_NOT_NEGATIVE,
    )
    support_experience_tickets_per_10_seats_allowed = models.FloatField(
        "tickets per 10 seats allowed",
        default=_default("support_experience", "tickets_per_10_seats_allowed"),
        validators=_NOT_NEGATIVE,
        help_text="Tickets per 10 seats (30 days) that cost nothing.",
    )
    support_experience_per_ticket_per_10_seats_above = models.FloatField(
        "points off per ticket per 10 seats above that",
        default=_default("support_experience", "per_ticket_per_10_seats_above"),
        validators=_NOT_NEGATIVE,
    )
    support_experience_per_open_escalation = models.FloatField(
        "points off per open escalation",
        default=_default("support_experience", "per_open_escalation"),
        validators=_NOT_NEGATIVE,
    )

    sentiment_label = models.CharField(
        "label", max_length=50, default=_default("sentiment", "label")
    )
    sentiment_weight = models.FloatField(
        "weight", default=_default("sentiment", "weight"), validators=_NOT_NEGATIVE
    )
    sentiment_nps_days = models.PositiveIntegerField(
        "NPS window (days)",
        default=_default("sentiment", "nps_days"),
        validators=[MinValueValidator(1)],
    )
    sentiment_csat_days = models.PositiveIntegerField(
        "CSAT window (days)",
        default=_default("sentiment", "csat_days"),
        validators=[MinValueValidator(1)],
    )

    engagement_label = models.CharField(
        "label", max_length=50, default=_default("engagement", "label")
    )
    engagement_weight = models.FloatField(
        "weight", default=_default("engagement", "weight"), validators=_NOT_NEGATIVE
    )
    engagement_full_within_cadences = models.FloatField(
        "score 100 within (cadences)",
        default=_default("engagement", "full_within_cadences"),
        validators=_NOT_NEGATIVE,
        help_text="Days since the last touchpoint, in multiples of the tier's check-in "
        "cadence, up to which the component scores 100.",
    )
    engagement_zero_at_cadences = models.FloatField(
        "score 0 at (cadences)",
        default=_default("engagement", "zero_at_cadences"),
        validators=_NOT_NEGATIVE,
        help_text="Multiples of the cadence at or beyond which it scores 0; linear in between.",
    )

    plan_progress_label = models.CharField(
        "label", max_length=50, default=_default("plan_progress", "label")
    )
    plan_progress_weight = models.FloatField(
        "weight", default=_default("plan_progress", "weight"), validators=_NOT_NEGATIVE
    )

    green_at = models.FloatField(
        "green at",
        default=DEFAULT_MODEL.green_at,
        validators=_PERCENT,
        help_text="A score at or above this is green.",
    )
    yellow_at = models.FloatField(
        "yellow at",
        default=DEFAULT_MODEL.yellow_at,
        validators=_PERCENT,
        help_text="A score at or above this (and below green) is yellow; below it, red.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "health model"
        verbose_name_plural = "health model"
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1),
                name="health_model_settings_single_row",
                violation_error_message="There is only one health model.",
            ),
        ]

    def __str__(self) -> str:
        return "Health model"

    def save(self, *args, **kwargs) -> None:
        self.pk = self.SINGLETON_ID
        super().save(*args, **kwargs)

    @staticmethod
    def component_fields() -> dict[str, dict[str, str]]:
        """{component key: {HealthModel field: this model's field}}, in display order."""
        return {
            component.key: {
                item.name: f"{component.key}_{item.name}" for item in dataclasses.fields(component)
            }
            for component in DEFAULT_MODEL.components
        }

    def to_model(self) -> HealthModel:
        """The HealthModel these settings describe; ValueError when they do not make one
        (``clean()`` says which field is wrong)."""
        components = {
            key: type(getattr(DEFAULT_MODEL, key))(
                **{name: getattr(self, field) for name, field in names.items()}
            )
            for key, names in self.component_fields().items()
        }
        return HealthModel(**components, green_at=self.green_at, yellow_at=self.yellow_at)

    def clean(self) -> None:
        fields = self.component_fields()
        every_field = [field for names in fields.values() for field in names.values()]
        for name in [*every_field, "green_at", "yellow_at"]:
            value = getattr(self, name)
            if value is None:
                return  # clean_fields() already says "This field cannot be null."
            try:
                self._meta.get_field(name).run_validators(value)
            except ValidationError:
                return  # clean_fields() already says what is wrong with it
        errors: dict[str, list[str]] = {}

        weights = [names["weight"] for names in fields.values()]
        if all(getattr(self, field) == 0 for field in weights):
            for field in weights:
                errors.setdefault(field, []).append(
                    "At least one component needs a weight above 0, or no account can be scored."
                )
        if self.product_usage_zero_at_pct >= self.product_usage_full_at_pct:
            errors.setdefault("product_usage_zero_at_pct", []).append(
                f"Must be below the utilisation that scores 100 "
                f"({self.product_usage_full_at_pct:g} %)."
            )
        if self.engagement_full_within_cadences >= self.engagement_zero_at_cadences:
            errors.setdefault("engagement_zero_at_cadences", []).append(
                f"Must be above the cadences that still score 100 "
                f"({self.engagement_full_within_cadences:g})."
            )
        if self.yellow_at >= self.green_at:
            errors.setdefault("yellow_at", []).append(
                f"Must be below green at ({self.green_at:g}): yellow runs from here up to green."
            )
        if errors:
            raise ValidationError(errors)

        try:
            self.to_model()
        except ValueError as error:  # a rule of success.health not checked above
            message = str(error)
            match = _HEALTH_ERROR_FIELD.match(message)
            field = NON_FIELD_ERRORS
            if match and f"{match['key']}_{match['name']}" in every_field:
                field = f"{match['key']}_{match['name']}"
                message = message[len(match["key"]) + 2 :]  # "label must be ...", on its field
            raise ValidationError({field: [message[:1].upper() + message[1:] + "."]}) from None


# --- Surveys ----------------------------------------------------------------------------------

NPS_DEFAULT_QUESTION = "How likely are you to recommend us to a friend or colleague?"


class NpsCampaign(models.Model):
    """One send of the NPS relationship survey to the contacts of an audience of accounts
    (all of them, or those in some tiers or lifecycle stages). `sent_at` is set by the first
    send; sending again invites only the contacts not yet asked (at most once per 90 days)."""

    name = models.CharField(max_length=200)
    question = models.CharField(max_length=300, default=NPS_DEFAULT_QUESTION)
    audience = models.CharField(max_length=10, choices=NpsAudience.choices, default=NpsAudience.ALL)
    tiers = ArrayField(
        models.CharField(max_length=20, choices=Tier.choices),
        default=list,
        blank=True,
        help_text="Used when the audience is by tier.",
    )
    stages = ArrayField(
        models.CharField(max_length=20, choices=LifecycleStage.choices),
        default=list,
        blank=True,
        help_text="Used when the audience is by lifecycle stage.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "NPS campaign"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.audience == NpsAudience.TIERS and not self.tiers:
            raise ValidationError({"tiers": "Choose at least one tier, or send to all accounts."})
        if self.audience == NpsAudience.STAGES and not self.stages:
            raise ValidationError(
                {"stages": "Choose at least one lifecycle stage, or send to all accounts."}
            )


class NpsSurveyInvite(models.Model):
    """A contact asked by one NPS campaign. `created_at` counts for the 90-day rule (nobody is
    invited twice within 90 days, by any campaign); `sent_at` marks the email as sent, so a
    retried task never mails twice. `account` is the contact's account when invited."""

    campaign = models.ForeignKey(
        NpsCampaign, on_delete=models.CASCADE, related_name="invites", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="nps_invites", db_index=False
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "NPS survey invite"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="nps_invite_one_per_campaign_contact"
            ),
        ]
        indexes = [
            # The 90-day rule: "was this contact invited since ...?"
            models.Index(fields=["contact", "-created_at"], name="nps_invite_contact_created"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} → contact {self.contact_id}"


class NpsResponse(models.Model):
    """One answer to the NPS survey ("How likely are you to recommend us?", 0-10) from a
    person at a customer account, with their reason. Promoters answer 9-10, detractors 0-6.

    `campaign` is the NPS campaign that asked, when the answer came through our survey page
    (one answer per campaign and contact); responses from other tools have none."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="nps_responses", db_index=False
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nps_responses",
        help_text="Empty when the person is unknown or was deleted.",
    )
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    reason = models.TextField(blank=True)
    responded_at = models.DateTimeField(default=timezone.now)
    campaign = models.ForeignKey(
        NpsCampaign,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responses",
        db_index=False,  # served by nps_response_one_per_campaign_contact
        help_text="The campaign that asked; empty for responses recorded from other tools.",
    )

    class Meta:
        verbose_name = "NPS response"
        ordering = ["-responded_at", "-id"]
        constraints = [
            # One answer per invite: answering again replaces it (the latest counts). Rows
            # without a campaign never clash (NULLs are distinct), and the upsert can name
            # these columns in ON CONFLICT.
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="nps_response_one_per_campaign_contact"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=10),
                name="nps_response_score_0_to_10",
                violation_error_message="An NPS score is a whole number from 0 to 10.",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-responded_at"], name="nps_response_account_at"),
        ]

    def __str__(self) -> str:
        return f"{self.account} · NPS {self.score} on {self.responded_at:%Y-%m-%d}"

    def clean(self) -> None:
        if (
            self.contact_id is not None
            and self.account_id is not None
            and self.contact.account_id != self.account_id
        ):
            raise ValidationError({"contact": "This person is not at this account."})
