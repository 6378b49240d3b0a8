"""Health recomputation: score accounts from both teams' rows (metrics.selectors.health)
with the model in force (success.health), and store the result through success's services.

Two ways in:

- `health_recompute_all`: the nightly run over every scored account, in chunks of ids, a
  fixed number of queries per chunk. A Postgres advisory lock makes a second run started
  meanwhile return at once without doing anything;
- `health_recompute_account`: one account, a minute after something moved it. Events
  (accounts.signals.account_activity) reach `health_recompute_schedule`, which queues at
  most one pending recompute per account: a Redis key set with NX marks it pending, and the
  task clears it when it starts (`health_recompute_pending_clear`), so an event arriving
  while the task runs queues the next one.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from success.health import HealthModel, HealthResult, health_score
from success.selectors import health_model_current
from success.services import health_snapshots_store_many

from ..selectors.health import (
    HealthAccount,
    health_accounts,
    health_accounts_after,
    health_inputs,
)

logger = logging.getLogger(__name__)

# pg_advisory_lock key of the nightly run ("HEALTH" in ASCII).
HEALTH_RECOMPUTE_LOCK = 0x4845414C5448
# Events for an account within this many seconds share one recompute.
HEALTH_RECOMPUTE_DELAY_SECONDS = 30
# A pending mark outlives its task by this much at most: if the task is lost, a later event
# queues a new one.
_PENDING_GRACE_SECONDS = 300


def _score_and_store(
    accounts: list[HealthAccount], *, day: datetime.date, model: HealthModel
) -> dict[int, HealthResult]:
    inputs = health_inputs(accounts=accounts, day=day, model=model)
    results = {account_id: health_score(raw, model) for account_id, raw in inputs.items()}
    health_snapshots_store_many(day=day, results=results)
    return results


def health_recompute_all(
    *,
    day: datetime.date | None = None,
    chunk_size: int = 2000,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Score every account that is not churned for `day` (default: today) and store the
    snapshots and the accounts' health. Returns the number of accounts scored, or 0 when
    another run holds the lock (that run does the work).

    Walks the accounts in id order, `chunk_size` at a time, each chunk in its own
    transaction: reading its inputs takes one query per input family, storing them three,
    however many accounts and rows. Running a day again writes the same rows again
    (snapshots are upserted on (account, day)). `progress(n)` is called after each chunk.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    day = day or timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [HEALTH_RECOMPUTE_LOCK])
        (locked,) = cursor.fetchone()
    if not locked:
        logger.info("health_recompute_all: another run holds the lock; nothing done")
        return 0
    try:
        model = health_model_current()
        scored = 0
        after_id = 0
        while True:
            accounts = health_accounts_after(after_id=after_id, limit=chunk_size)
            if not accounts:
                break
            with transaction.atomic():
                _score_and_store(accounts, day=day, model=model)
            scored += len(accounts)
            after_id = accounts[-1].id
            if progress is not None:
                progress(len(accounts))
            if len(accounts) < chunk_size:
                break
        return scored
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [HEALTH_RECOMPUTE_LOCK])


def health_recompute_account(
    *, account_id: int, day: datetime.date | None = None
) -> HealthResult | None:
    """Score one account for `day` (default: today), store it as the nightly run does, then
    let the escalation rules look at the account. Returns the result, or None for a churned
    or unknown account (nothing is written). A fixed number of queries."""
    day = day or timezone.localdate()
    with transaction.atomic():
        accounts = health_accounts(account_ids=[account_id])
        if not accounts:
            return None
        result = _score_and_store(accounts, day=day, model=health_model_current())[account_id]
    _escalations_evaluate(account_id)
    return result


def _escalations_evaluate(account_id: int) -> None:
    # The escalation rules (another part of issue 7) read the fresh health; until they
    # exist, there is nothing to evaluate.
    try:
        from .escalations import escalations_evaluate
    except ImportError:
        return
    escalations_evaluate(account_ids=[account_id])


# --- Debounced per-account recompute ----------------------------------------------------


def _pending_key(account_id: int) -> str:
    return f"metrics:health-recompute-pending:{account_id}"


def health_recompute_delay() -> int:
    return getattr(settings, "CX_HEALTH_RECOMPUTE_DELAY_SECONDS", HEALTH_RECOMPUTE_DELAY_SECONDS)


def health_recompute_schedule(*, account_id: int) -> bool:
    """Queue a recompute of the account in `health_recompute_delay()` seconds, unless one
    is already pending. Returns whether one was queued.

    Called after commit, from an event; a broken Redis must not break the request that
    caused the event, so failures are logged and the nightly run catches up.
    """
    from ..tasks import health_recompute_account_task

    delay = health_recompute_delay()
    key = _pending_key(account_id)
    try:
        if not cache.add(key, 1, timeout=delay + _PENDING_GRACE_SECONDS):
            return False
    except Exception:
        logger.exception("health recompute of account %s not queued (cache)", account_id)
        return False
    try:
        health_recompute_account_task.apply_async(args=[account_id], countdown=delay)
    except Exception:
        logger.exception("health recompute of account %s not queued (broker)", account_id)
        try:
            cache.delete(key)
        except Exception:
            logger.exception("pending mark of account %s not cleared", account_id)
        return False
    return True


def health_recompute_pending_clear(*, account_id: int) -> None:
    """The queued recompute has started: later events queue a new one."""
    cache.delete(_pending_key(account_id))


def health_recompute_pending(*, account_id: int) -> bool:
    """Whether a recompute of the account is queued and has not started yet."""
    return cache.get(_pending_key(account_id)) is not None
