from django.db import models


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class RevenueEventKind(models.TextChoices):
    NEW = "new", "New"
    EXPANSION = "expansion", "Expansion"
    CONTRACTION = "contraction", "Contraction"
    CHURN = "churn", "Churn"
    REACTIVATION = "reactivation", "Reactivation"


# The sign of mrr_delta each kind must carry (METRICS.md, "Success and revenue").
REVENUE_GAINS = frozenset(
    {RevenueEventKind.NEW, RevenueEventKind.EXPANSION, RevenueEventKind.REACTIVATION}
)
REVENUE_LOSSES = frozenset({RevenueEventKind.CONTRACTION, RevenueEventKind.CHURN})


class UsageMetric(models.TextChoices):
    """The standard usage metrics. Key features are metrics too ("reports", "api_calls"):
    any lowercase snake_case name is accepted, so these are suggestions, not a closed list."""

    ACTIVE_USERS = "active_users", "Active users"
    SEATS = "seats", "Seats"


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class MilestoneStatus(models.TextChoices):
    TODO = "todo", "To do"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class TouchpointKind(models.TextChoices):
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    QBR = "qbr", "QBR"
    EMAIL = "email", "Email"
    CHECK_IN = "check_in", "Check-in"


class PlanProgressStatus(models.TextChoices):
    """Computed by success.plans.plan_progress, never stored."""

    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"


class NpsAudience(models.TextChoices):
    """Whom an NPS campaign asks: the contacts of every account, or of some tiers or stages."""

    ALL = "all", "All accounts"
    TIERS = "tiers", "Accounts in selected tiers"
    STAGES = "stages", "Accounts in selected lifecycle stages"
