"""Admin for the customer portal's rows: read-only, written by the portal itself."""

from django.contrib import admin

from .models import PortalDeflection, PortalLoginToken


class _ReadOnly(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PortalLoginToken)
class PortalLoginTokenAdmin(_ReadOnly):
    """Sign-in links sent (only their hash is stored): answers "my link did not work"."""

    list_display = ["contact", "created_at", "expires_at", "used_at"]
    list_filter = ["created_at", "used_at"]
    search_fields = ["contact__email"]
    list_select_related = ["contact"]
    exclude = ["token_hash"]


@admin.register(PortalDeflection)
class PortalDeflectionAdmin(_ReadOnly):
    list_display = ["contact", "article_id", "opened_at", "ticket"]
    list_filter = ["opened_at"]
    search_fields = ["contact__email", "=article_id", "=ticket__id"]
    list_select_related = ["contact", "ticket"]
