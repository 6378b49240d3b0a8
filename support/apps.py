from django.apps import AppConfig


class SupportConfig(AppConfig):
    """Reactive work: tickets, the queue, SLAs, knowledge base, portal and email."""

    name = "support"

    def ready(self) -> None:
        from accounts.signals import account_tier_changed

        account_tier_changed.connect(_tier_changed, dispatch_uid="support-sla-tier")


def _tier_changed(sender: object, *, account_id: int, **kwargs: object) -> None:
    # Sent after commit; the task re-evaluates the account's open tickets.
    from .tasks import account_tickets_sla_refresh_task

    account_tickets_sla_refresh_task.delay(account_id)
