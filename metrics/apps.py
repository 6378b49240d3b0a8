from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Numbers and hand-offs: metric formulas, snapshots, reports and escalation flags."""

    name = "metrics"

    def ready(self) -> None:
        from accounts.signals import account_activity

        from .receivers import account_activity_received

        account_activity.connect(account_activity_received, dispatch_uid="metrics-health-recompute")
