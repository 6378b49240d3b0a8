"""Celery glue for support: thin tasks that call one service each."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def close_solved_tickets_task() -> int:
    """Close tickets solved more than CX_SOLVED_TICKETS_CLOSE_AFTER_DAYS ago (idempotent)."""
    return services.close_solved_tickets()
