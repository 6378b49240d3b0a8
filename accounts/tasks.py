"""Celery glue for the CRM core: thin tasks that call one service each."""

from celery import shared_task

from . import services
from .api.idempotency import idempotency_keys_purge


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notifications_email_task(notification_ids: list[int]) -> int:
    """Email these notifications (each at most once, however often this runs)."""
    return services.notifications_email(notification_ids=notification_ids)


@shared_task(acks_late=True)
def idempotency_keys_purge_task() -> int:
    """Forget API idempotency keys older than 24 hours (a re-run finds nothing to delete)."""
    return idempotency_keys_purge()


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def webhook_deliver_task(delivery_id: int) -> str | None:
    """One attempt at one webhook delivery (a no-op if it is not due or already claimed)."""
    from .webhooks import webhook_deliver

    return webhook_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def webhook_retries_due_task() -> int:
    """Queue the webhook deliveries whose retry is due (each once, however runs overlap)."""
    from .webhooks import webhook_retries_queue

    return len(webhook_retries_queue())
