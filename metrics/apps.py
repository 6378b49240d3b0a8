from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Numbers and hand-offs: metric formulas, snapshots, reports and escalation flags."""

    name = "metrics"
