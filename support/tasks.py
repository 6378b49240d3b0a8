"""Celery glue for support: thin tasks that call one service each."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def close_solved_tickets_task() -> int:
    """Close tickets solved more than CX_SOLVED_TICKETS_CLOSE_AFTER_DAYS ago (idempotent)."""
    return services.close_solved_tickets()


# Beat runs this every minute; a run that finds nothing takes milliseconds. The expiry keeps
# a backlog of stale runs from piling up behind a stopped worker.
@shared_task(acks_late=True, soft_time_limit=50, time_limit=58, expires=55)
def sla_alerts_record_task() -> int:
    """Record the SLA warnings and breaches whose moment has come (exactly once each)."""
    return services.sla_alerts_record()


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def account_tickets_sla_refresh_task(account_id: int) -> int:
    """Re-evaluate the SLA policy of an account's open tickets (its tier changed)."""
    return services.account_tickets_sla_refresh(account_id=account_id)


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def unsolved_tickets_sla_refresh_task() -> int:
    """Re-evaluate every unsolved ticket's SLA (a policy or calendar changed)."""
    return services.unsolved_tickets_sla_refresh()
