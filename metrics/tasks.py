"""Celery glue for metrics: thin tasks that take ids (or a day), call one service, and are
safe to run twice at once. Each concern has its own section; the beat schedule is in
cxplatform/schedule.py."""

from celery import shared_task

# --- Snapshots ---------------------------------------------------------------------------


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=660)
def snapshots_compute_day_task(day_iso: str) -> int:
    """Compute the metric snapshots of one local day (YYYY-MM-DD). Idempotent; a second run
    of the same day at the same time returns 0 at once (advisory lock)."""
    import datetime

    from .services.snapshots import snapshots_compute_day

    return snapshots_compute_day(day=datetime.date.fromisoformat(day_iso))


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=900, time_limit=960)
def snapshots_nightly_task() -> int:
    """Yesterday's snapshots (all metrics), and FCR of the 7 days before it, whose "not
    reopened within 7 days" could still change."""
    from .services.snapshots import snapshots_nightly

    return snapshots_nightly()


# Hourly, so that reports whose period ends today show today so far, not "no data".
@shared_task(
    acks_late=True, reject_on_worker_lost=True, soft_time_limit=300, time_limit=330, expires=3000
)
def snapshots_today_task() -> int:
    """Today's snapshots so far (backlog as of now); the nightly run completes the day."""
    from django.utils import timezone

    from .services.snapshots import snapshots_compute_day

    return snapshots_compute_day(day=timezone.localdate())


# --- Health recomputation ----------------------------------------------------------------


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=30,
    time_limit=45,
    ignore_result=True,
)
def health_recompute_account_task(account_id: int) -> None:
    """Recompute one account's health (queued, debounced, by an event that moved it)."""
    from .services.health import health_recompute_account, health_recompute_pending_clear

    # Cleared first: an event arriving while this runs queues the next recompute.
    health_recompute_pending_clear(account_id=account_id)
    health_recompute_account(account_id=account_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=900, time_limit=960)
def health_recompute_all_task(day_iso: str | None = None) -> int:
    """Recompute every account's health for a day (default today); nightly. A second run
    started meanwhile returns 0 without doing anything (advisory lock)."""
    import datetime

    from .services.health import health_recompute_all

    day = datetime.date.fromisoformat(day_iso) if day_iso else None
    return health_recompute_all(day=day)


# --- Escalation flags --------------------------------------------------------------------


# Every 5 minutes; a run still going when the next starts makes the next return at once.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=270,
    expires=280,
    ignore_result=True,
)
def escalations_evaluate_task() -> dict:
    """Evaluate every escalation rule over all accounts (open, update, clear, resolve)."""
    from .services.escalations import escalations_evaluate

    return escalations_evaluate()
