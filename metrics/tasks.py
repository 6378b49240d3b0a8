"""Celery glue for metrics: thin tasks that take ids (or a day), call one service, and are
safe to run twice at once. Each concern has its own section; the beat schedule is in
cxplatform/schedule.py."""

from celery import shared_task  # noqa: F401

# --- Snapshots ---------------------------------------------------------------------------

# --- Health recomputation ----------------------------------------------------------------

# --- Escalation flags --------------------------------------------------------------------
