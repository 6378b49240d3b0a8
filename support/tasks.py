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


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def portal_login_link_send_task(contact_id: int) -> bool:
    """Make and email a portal sign-in link (the raw token exists only in that email)."""
    from .services.portal import portal_login_link_send

    return portal_login_link_send(contact_id=contact_id)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def csat_request_task(ticket_id: int) -> bool:
    """Email the CSAT survey for a solved ticket (at most once per ticket, however often).
    Solving now asks in the solved notification; this serves runs queued before that."""
    from .services.surveys import csat_request_send

    return csat_request_send(ticket_id=ticket_id)


# Email channel (support/services/email.py).
@shared_task(
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=8,
)
def email_reply_send_task(message_id: int) -> bool:
    """Email an agent's public reply to the requester (idempotent: sent once)."""
    from .services.email import email_reply_send

    return email_reply_send(message_id=message_id)


@shared_task(
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=8,
)
def ticket_status_email_task(event_id: int) -> bool:
    """Email the requester that their ticket is pending or solved (idempotent: sent once
    per status change)."""
    from .services.email import ticket_status_email_send

    return ticket_status_email_send(event_id=event_id)


# Beat runs this every minute; overlapping runs are safe (the Message-ID is unique).
@shared_task(acks_late=True, soft_time_limit=240, time_limit=270, expires=55)
def fetch_mail_task() -> int:
    """Ingest the unseen messages of the support IMAP mailbox (CX_IMAP_URL)."""
    from .services.email import mailbox_fetch

    return mailbox_fetch().fetched


# Beat runs this every five minutes; page views wait in Redis until then.
@shared_task(acks_late=True, soft_time_limit=50, time_limit=58, expires=240)
def article_views_flush_task() -> int:
    """Add the article views counted in Redis to the table (safe to run twice)."""
    from .services.knowledge import article_views_flush

    return article_views_flush()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def portal_login_tokens_purge_task() -> int:
    """Delete portal sign-in links that expired more than a day ago (idempotent)."""
    from .services.portal import portal_login_tokens_purge

    return portal_login_tokens_purge()
