from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Account

from .choices import REVENUE_GAINS, REVENUE_LOSSES, RevenueEventKind, SubscriptionStatus

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
