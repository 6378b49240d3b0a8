"""Admin pages for metrics: escalation rules (editable thresholds) and flags."""

from django.contrib import admin

from .models import EscalationFlag, EscalationFlagEvent, EscalationRule


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    """The rules are the fixed set METRICS.md defines (the code names the query that
    evaluates it): admins switch them on and off and tune thresholds, which the model's
    clean() refuses when they make no sense (negative counts, zero windows, min > max)."""

    list_display = ["name", "code", "direction", "enabled", "quiet_period_days", "thresholds"]
    list_editable = ["enabled"]
    list_filter = ["direction", "enabled"]
    search_fields = ["name", "code"]
    readonly_fields = ["code", "direction"]
    fields = [
        "name",
        "code",
        "direction",
        "description",
        "enabled",
        "thresholds",
        "quiet_period_days",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class EscalationFlagEventInline(admin.TabularInline):
    model = EscalationFlagEvent
    fields = ["created_at", "kind", "actor", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EscalationFlag)
class EscalationFlagAdmin(admin.ModelAdmin):
    """Flags for looking up and auditing; people acknowledge, comment and resolve them on
    the flag's page (the services keep the history), so every field here is read-only."""

    list_display = ["rule", "account", "state", "direction", "owner", "opened_at", "last_fired_at"]
    list_filter = ["state", "direction", "rule"]
    list_select_related = ["rule", "account", "owner"]
    search_fields = ["account__name"]
    date_hierarchy = "opened_at"
    ordering = ["-opened_at", "-id"]
    readonly_fields = [
        "account",
        "rule",
        "direction",
        "owner",
        "state",
        "evidence",
        "opened_at",
        "last_fired_at",
        "condition_cleared_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    ]
    inlines = [EscalationFlagEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
