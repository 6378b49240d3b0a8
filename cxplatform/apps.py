from django.apps import AppConfig


class CxPlatformConfig(AppConfig):
    """Wiring app: holds commands that span every app (seed_demo) and the health check."""

    name = "cxplatform"
    verbose_name = "CX Platform"
