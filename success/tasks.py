"""Celery glue for success: thin tasks that call one service each."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def nps_invite_email_task(invite_id: int) -> bool:
    """Email one NPS survey invite (at most once, however often this runs)."""
    return services.nps_invite_email_send(invite_id=invite_id)
