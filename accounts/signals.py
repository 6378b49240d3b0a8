"""Signals other apps listen to; the CRM core cannot import them (it sits at the bottom)."""

from django.dispatch import Signal

# Sent after commit when an account's tier changed; kwargs: account_id. Support re-evaluates
# the SLA policy of the account's open tickets.
account_tier_changed = Signal()

# Sent after commit when something happened that may move an account's health score or
# escalation flags: a ticket created or solved, an SLA breach, a CSAT or NPS response, a usage
# batch, a touchpoint, a plan milestone. kwargs: account_id, reason (one of
# ACCOUNT_ACTIVITY_REASONS). metrics listens and queues a debounced recompute of that account.
account_activity = Signal()

ACCOUNT_ACTIVITY_REASONS = (
    "ticket_created",
    "ticket_solved",
    "sla_breach",
    "csat",
    "nps",
    "usage",
    "touchpoint",
    "milestone",
)
