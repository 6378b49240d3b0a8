from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from . import services
from .models import (
    AgentStatus,
    Attachment,
    BusinessCalendar,
    CsatResponse,
    Macro,
    Message,
    SavedView,
    SlaPolicy,
    SlaTarget,
    TeamAssignment,
    Ticket,
    WorkingInterval,
)


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "public", "author_user", "author_contact", "body"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-mostly: tickets change through the agent workspace, where the rules and the event
    log live. The admin is for looking things up."""

    list_display = ["id", "subject", "status", "priority", "account", "assignee", "updated_at"]
    list_filter = ["status", "priority", "type", "channel", "team"]
    search_fields = ["=id", "subject", "requester__email", "=external_id"]
    list_select_related = ["account", "assignee"]
    show_full_result_count = False  # no COUNT(*) over a million rows per page
    readonly_fields = [f.name for f in Ticket._meta.fields if f.name != "id"]
    inlines = [MessageInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = ["title", "set_status", "set_priority", "public", "active"]
    list_filter = ["active", "public"]
    search_fields = ["title", "body"]


@admin.register(TeamAssignment)
class TeamAssignmentAdmin(admin.ModelAdmin):
    list_display = ["team", "auto_assign", "last_assigned"]
    list_editable = ["auto_assign"]
    readonly_fields = ["last_assigned"]


@admin.register(AgentStatus)
class AgentStatusAdmin(admin.ModelAdmin):
    list_display = ["user", "available", "max_open_tickets"]
    list_editable = ["available", "max_open_tickets"]
    search_fields = ["user__email", "user__full_name"]
    autocomplete_fields = ["user"]


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "query"]
    search_fields = ["name", "owner__email"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "content_type", "size", "message"]
    search_fields = ["filename"]
    raw_id_fields = ["message"]


# --- SLAs -------------------------------------------------------------------------------


class WorkingIntervalFormSet(BaseInlineFormSet):
    """Checks the calendar as a whole: overlaps, and that some working time is left."""

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        intervals = [
            WorkingInterval(
                weekday=form.cleaned_data["weekday"],
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            self.instance.to_calendar(intervals=intervals)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class WorkingIntervalInline(admin.TabularInline):
    model = WorkingInterval
    formset = WorkingIntervalFormSet
    extra = 0
    min_num = 1


class _ReEvaluatesOpenTickets:
    """Saving or deleting SLA settings re-evaluates the open tickets (after commit)."""

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        services.sla_settings_changed()

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        services.sla_settings_changed()

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        services.sla_settings_changed()


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(_ReEvaluatesOpenTickets, admin.ModelAdmin):
    list_display = ["name", "time_zone"]
    search_fields = ["name"]
    inlines = [WorkingIntervalInline]


class SlaTargetInline(admin.TabularInline):
    model = SlaTarget
    extra = 0


@admin.register(SlaPolicy)
class SlaPolicyAdmin(_ReEvaluatesOpenTickets, admin.ModelAdmin):
    list_display = ["position", "name", "active", "calendar", "pause_on_hold"]
    list_display_links = ["name"]
    list_filter = ["active", "calendar"]
    search_fields = ["name"]
    filter_horizontal = ["teams"]
    inlines = [SlaTargetInline]


# --- Surveys ----------------------------------------------------------------------------


@admin.register(CsatResponse)
class CsatResponseAdmin(admin.ModelAdmin):
    """Read-mostly: ratings come from customers (the survey links), not from staff. The admin
    looks them up and may delete one (a test answer, a duplicate)."""

    list_display = ["ticket", "rating", "ces", "account", "contact", "responded_at"]
    list_filter = ["rating", "ces", "responded_at"]
    search_fields = ["=ticket__id", "account__name", "contact__email", "comment"]
    list_select_related = ["ticket", "account", "contact"]
    show_full_result_count = False
    readonly_fields = [f.name for f in CsatResponse._meta.fields if f.name != "id"]

    def has_add_permission(self, request) -> bool:
        return False


# The channels' admin pages, each in its own module.
from . import admin_email, admin_knowledge, admin_portal  # noqa: E402, F401
