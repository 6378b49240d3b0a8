from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The shared CRM core: customer accounts, their contacts, our staff and teams."""

    name = "accounts"
    verbose_name = "CRM core"
