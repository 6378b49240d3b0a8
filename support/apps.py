from django.apps import AppConfig


class SupportConfig(AppConfig):
    """Reactive work: tickets, the queue, SLAs, knowledge base, portal and email."""

    name = "support"
