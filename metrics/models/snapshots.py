from django.db import models

__all__ = ["MetricSnapshot", "SubjectKind"]


class SubjectKind(models.TextChoices):
    """Whom a snapshot row describes. For the last three, subject_id is a fixed code from
    metrics.catalogue (CHANNEL_IDS, TIER_IDS, BAND_IDS), not a row id."""

    COMPANY = "company", "Company"
    ACCOUNT = "account", "Account"
    TEAM = "team", "Team"
    AGENT = "agent", "Agent"
    CSM = "csm", "CSM portfolio"
    CHANNEL = "channel", "Channel"
    TIER = "tier", "Account tier"
    BAND = "band", "Health band"


class MetricSnapshot(models.Model):
    """One metric of one subject (the company, an account, a team or an agent) for one day
    of the platform's time zone.

    `value` is the metric as METRICS.md defines it for that day, `None` when its
    denominator was empty ("no data", never 0). `parts` keeps what a longer period needs to
    pool days correctly, never an average of daily values: for NPS {"promoters",
    "detractors", "responses"}, for CSAT {"satisfied", "responses"}, for a rate
    {"numerator", "denominator"}, for a duration the count and sum. `sample_size` is the n
    reports show beside the value. Written by upsert on (subject, metric, day): running a
    day again, or backfilling it, replaces the row.
    """

    day = models.DateField()
    subject_kind = models.CharField(max_length=10, choices=SubjectKind.choices)
    subject_id = models.BigIntegerField(help_text="0 for the company.")
    metric = models.CharField(max_length=50)
    value = models.FloatField(null=True, blank=True)
    parts = models.JSONField(default=dict, blank=True)
    sample_size = models.IntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject_kind", "subject_id", "metric", "day"],
                name="metric_snapshot_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(subject_kind__in=SubjectKind.values),
                name="metric_snapshot_subject_known",
            ),
        ]
        indexes = [
            # Reports: one metric of one kind of subject over a period.
            models.Index(fields=["metric", "subject_kind", "day"], name="metric_snapshot_report"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} of {self.subject_kind} {self.subject_id} on {self.day}: {self.value}"
