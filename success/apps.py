from django.apps import AppConfig


class SuccessConfig(AppConfig):
    """Proactive work: portfolios, health, success plans, touchpoints, revenue and usage."""

    name = "success"
