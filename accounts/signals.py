"""Signals other apps listen to; the CRM core cannot import them (it sits at the bottom)."""

from django.dispatch import Signal

# Sent after commit when an account's tier changed; kwargs: account_id. Support re-evaluates
# the SLA policy of the account's open tickets.
account_tier_changed = Signal()
