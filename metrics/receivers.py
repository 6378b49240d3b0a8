"""What metrics does when the other apps announce something (accounts.signals)."""

from __future__ import annotations

from .services.health import health_recompute_schedule


def account_activity_received(
    sender: object, *, account_id: int, reason: str, **kwargs: object
) -> None:
    """Something moved an account (a ticket, a survey answer, usage, a touchpoint...): its
    health is recomputed shortly, once however many events arrive meanwhile. Sent after
    commit, so the recompute reads the event's rows."""
    health_recompute_schedule(account_id=account_id)
