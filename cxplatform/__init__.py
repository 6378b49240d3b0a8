"""CX Platform wiring: settings, URLs, the Celery app and the dev stack runner."""

from .celery import app as celery_app

__all__ = ("celery_app",)
