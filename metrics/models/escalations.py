"""Escalation flags between the teams (METRICS.md "Escalation flags between the teams"):
rules as data, the flags they raise, and each flag's history."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Tier
from accounts.models import Account

__all__ = [
    "RULE_THRESHOLDS",
    "EscalationDirection",
    "EscalationFlag",
    "EscalationFlagEvent",
    "EscalationRule",
    "FlagEventKind",
    "FlagState",
    "RuleCode",
]


class EscalationDirection(models.TextChoices):
    SUPPORT_TO_SUCCESS = "support_to_success", "Support → success"
    SUCCESS_TO_SUPPORT = "success_to_support", "Success → support"


class RuleCode(models.TextChoices):
    TICKET_SPIKE = "ticket_spike", "Ticket spike"
    REPEATED_COMPLAINT = "repeated_complaint", "Repeated complaint"
    SLA_BREACH_KEY_ACCOUNT = "sla_breach_key_account", "SLA breach on a key account"
    UNHAPPY_CUSTOMER = "unhappy_customer", "Unhappy customer"
    DETRACTOR = "detractor", "Detractor"
    AT_RISK_ACCOUNT = "at_risk_account", "At-risk account"
    ONBOARDING = "onboarding", "Onboarding"


class FlagState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class FlagEventKind(models.TextChoices):
    FIRED = "fired", "Raised"
    EVIDENCE_UPDATED = "evidence_updated", "Evidence updated"
    CONDITION_CLEARED = "condition_cleared", "Condition cleared"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    COMMENTED = "commented", "Comment"
    RESOLVED = "resolved", "Resolved"
    AUTO_RESOLVED = "auto_resolved", "Resolved automatically"


# The thresholds each rule reads, with their defaults and bounds: (default, lowest, highest).
# A whole number unless the default is a float or a list. Windows are days before "now".
_INT = int
RULE_THRESHOLDS: dict[str, dict[str, tuple]] = {
    RuleCode.TICKET_SPIKE: {
        "min_tickets": (5, 1, 10_000),
        "window_days": (7, 1, 365),
        "multiplier": (3.0, 1.0, 100.0),
        "baseline_weeks": (12, 1, 104),
        "multiplier_min_tickets": (3, 1, 10_000),
    },
    RuleCode.REPEATED_COMPLAINT: {
        "min_tickets": (3, 2, 10_000),
        "window_days": (30, 1, 365),
        "ignore_tags": (["onboarding"], None, None),
    },
    RuleCode.SLA_BREACH_KEY_ACCOUNT: {
        "key_tiers": ([Tier.ENTERPRISE.value], None, None),
        "min_breaches": (2, 1, 10_000),
        "window_days": (30, 1, 365),
    },
    RuleCode.UNHAPPY_CUSTOMER: {
        "min_rating": (1, 1, 5),
        "max_rating": (2, 1, 5),
        "window_days": (30, 1, 365),
    },
    RuleCode.DETRACTOR: {
        "min_score": (0, 0, 10),
        "max_score": (6, 0, 10),
        "window_days": (30, 1, 365),
    },
    RuleCode.AT_RISK_ACCOUNT: {
        "renewal_within_days": (60, 1, 730),
    },
    RuleCode.ONBOARDING: {},
}
# Pairs that must be in order: (lower, upper).
_ORDERED = {
    RuleCode.UNHAPPY_CUSTOMER: ("min_rating", "max_rating"),
    RuleCode.DETRACTOR: ("min_score", "max_score"),
}


def default_thresholds(code: str) -> dict:
    return {key: spec[0] for key, spec in RULE_THRESHOLDS.get(code, {}).items()}


class EscalationRule(models.Model):
    """One of the default rules that raise flags between the teams (METRICS.md), with its
    thresholds, which admins may edit, and whether it runs. The code names the query that
    evaluates it (metrics.services.escalations); rows are created by a data migration."""

    code = models.CharField(max_length=40, choices=RuleCode.choices, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    direction = models.CharField(max_length=20, choices=EscalationDirection.choices)
    enabled = models.BooleanField(default=True)
    thresholds = models.JSONField(default=dict, blank=True)
    quiet_period_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MaxValueValidator(365)],
        help_text="A flag whose condition has cleared resolves itself after this many days.",
    )

    class Meta:
        ordering = ["direction", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        self.thresholds = _clean_thresholds(self.code, self.thresholds)

    def threshold(self, key: str):
        """The rule's setting, or its default when the row does not have it."""
        value = (self.thresholds or {}).get(key)
        return RULE_THRESHOLDS[self.code][key][0] if value is None else value


def _clean_thresholds(code: str, thresholds: object) -> dict:
    """The thresholds, complete and typed; ValidationError naming each nonsensical one."""
    spec = RULE_THRESHOLDS.get(code)
    if spec is None:
        raise ValidationError({"code": "Unknown rule."})
    if not isinstance(thresholds, dict):
        raise ValidationError({"thresholds": 'Thresholds are an object: {"name": value}.'})
    errors: list[str] = []
    unknown = sorted(set(thresholds) - set(spec))
    if unknown:
        errors.append(f"Unknown setting(s): {', '.join(unknown)}. Known: {', '.join(spec)}.")
    cleaned: dict = {}
    for key, (default, low, high) in spec.items():
        value = thresholds.get(key, default)
        if isinstance(default, list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors.append(f"{key} must be a list of words.")
                continue
            value = sorted({v.strip().lower() for v in value if v.strip()})
            if key == "key_tiers":
                bad = [v for v in value if v not in Tier.values]
                if bad or not value:
                    errors.append(f"key_tiers must name tiers among {', '.join(Tier.values)}.")
                    continue
            cleaned[key] = value
            continue
        kind = float if isinstance(default, float) else _INT
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{key} must be a number.")
            continue
        if kind is _INT and value != int(value):
            errors.append(f"{key} must be a whole number.")
            continue
        if not low <= value <= high:
            errors.append(f"{key} must be between {low} and {high} (it is {value}).")
            continue
        cleaned[key] = kind(value)
    if code in _ORDERED and not errors:
        lower, upper = _ORDERED[code]
        if cleaned[lower] > cleaned[upper]:
            errors.append(f"{lower} ({cleaned[lower]}) is above {upper} ({cleaned[upper]}).")
    if errors:
        raise ValidationError({"thresholds": errors})
    return cleaned


UNRESOLVED_Q = ~Q(state=FlagState.RESOLVED)


class EscalationFlag(models.Model):
    """One hand-off between the teams about one account: raised by a rule, with the evidence
    that raised it (ticket numbers, ratings, scores), owned by the CSM (support → success)
    or the support team (success → support, no owner), acknowledged and resolved by people
    or resolved by itself once its condition has been clear for the rule's quiet period.

    At most one flag per (account, rule) is not resolved: the rule firing again updates its
    evidence. The partial unique constraint makes that hold under concurrent evaluations
    (they insert with ON CONFLICT on it)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EscalationRule, on_delete=models.PROTECT, related_name="flags")
    direction = models.CharField(max_length=20, choices=EscalationDirection.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The CSM for support → success flags; empty: the support team.",
    )
    state = models.CharField(max_length=20, choices=FlagState.choices, default=FlagState.OPEN)
    evidence = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_fired_at = models.DateTimeField(
        default=timezone.now, help_text="When the rule last fired with new evidence."
    )
    condition_cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="Since when the rule no longer fires."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "rule"],
                condition=UNRESOLVED_Q,
                name="escalation_flag_one_unresolved",
            ),
            models.CheckConstraint(
                condition=Q(state__in=FlagState.values), name="escalation_flag_state_known"
            ),
            models.CheckConstraint(
                condition=Q(state=FlagState.RESOLVED, resolved_at__isnull=False)
                | (~Q(state=FlagState.RESOLVED) & Q(resolved_at__isnull=True)),
                name="escalation_flag_resolved_at",
            ),
        ]
        indexes = [
            # The evaluation's "unresolved flags of this rule" (clear, auto-resolve).
            models.Index(
                fields=["rule", "account"], name="escalation_flag_rule_open", condition=UNRESOLVED_Q
            ),
            # The account timeline's "raised" and "resolved" branches (keyset, newest first).
            models.Index(
                fields=["account", "-opened_at", "-id"], name="escalation_flag_acct_opened"
            ),
            models.Index(
                fields=["account", "-resolved_at", "-id"],
                name="escalation_flag_acct_resolved",
                condition=Q(resolved_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} on account {self.account_id} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("metrics:escalation-flag", args=[self.pk])

    @property
    def is_resolved(self) -> bool:
        return self.state == FlagState.RESOLVED

    @property
    def evidence_tickets(self) -> list[int]:
        """Every ticket number the evidence names, in its order, once each."""
        numbers: list[int] = []
        evidence = self.evidence or {}
        numbers += evidence.get("tickets", [])
        for group in evidence.get("tags", []):
            numbers += group.get("tickets", [])
        for item in evidence.get("ratings", []):
            numbers.append(item.get("ticket"))
        return list(dict.fromkeys(n for n in numbers if isinstance(n, int)))


class EscalationFlagEvent(models.Model):
    """One step in a flag's history: raised, evidence updated, condition cleared,
    acknowledged, commented, resolved (by a person or by itself). Append-only."""

    flag = models.ForeignKey(EscalationFlag, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=FlagEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    evidence = models.JSONField(null=True, blank=True, help_text="The evidence at that moment.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["flag", "created_at", "id"], name="escalation_event_flag"),
        ]

    def __str__(self) -> str:
        return f"flag {self.flag_id} {self.kind}"
