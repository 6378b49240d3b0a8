"""Admin pages for metrics: escalation rules (editable thresholds) and flags."""

from django.contrib import admin  # noqa: F401
