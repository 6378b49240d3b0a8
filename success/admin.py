from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.choices import LifecycleStage, Tier

from . import services
from .health import DEFAULT_MODEL
from .models import (
    HealthModelSettings,
    HealthOverride,
    HealthSnapshot,
    LifecycleChange,
    NpsCampaign,
    NpsResponse,
    NpsSurveyInvite,
    PlanMilestone,
    PlanObjective,
    PlanTemplate,
    PlanTemplateMilestone,
    RevenueEvent,
    Subscription,
    SuccessPlan,
    Touchpoint,
    UsageDaily,
)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["account", "plan_name", "status", "seats", "mrr", "start_date", "end_date"]
    list_filter = ["status", "plan_name"]
    search_fields = ["account__name", "plan_name"]
    autocomplete_fields = ["account"]
    list_select_related = ["account"]
    date_hierarchy = "start_date"


@admin.register(RevenueEvent)
class RevenueEventAdmin(admin.ModelAdmin):
    """Revenue events are history: look them up here, record them through
    success.services.revenue_event_record so the rules and messages apply."""

    list_display = ["date", "account", "kind", "mrr_delta", "reason", "recorded_by"]
    list_filter = ["kind", "date"]
    search_fields = ["account__name", "reason"]
    autocomplete_fields = ["account", "recorded_by"]
    raw_id_fields = ["subscription"]
    list_select_related = ["account", "recorded_by"]
    date_hierarchy = "date"
    readonly_fields = ["created_at"]


@admin.register(LifecycleChange)
class LifecycleChangeAdmin(admin.ModelAdmin):
    """Read-only: the history of Account.lifecycle_stage, written by
    success.services.account_lifecycle_change together with the account."""

    list_display = ["changed_at", "account", "from_stage", "to_stage", "actor"]
    list_filter = ["to_stage", "from_stage"]
    search_fields = ["account__name", "note"]
    list_select_related = ["account", "actor"]
    date_hierarchy = "changed_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageDaily)
class UsageDailyAdmin(admin.ModelAdmin):
    list_display = ["day", "account", "metric", "value"]
    list_filter = ["metric", "day"]
    search_fields = ["account__name", "metric"]
    autocomplete_fields = ["account"]
    list_select_related = ["account"]
    date_hierarchy = "day"
    show_full_result_count = False  # one row per account, day and metric grows fast


class PlanTemplateMilestoneInline(admin.TabularInline):
    model = PlanTemplateMilestone
    extra = 0
    fields = ["position", "title", "day_offset"]


@admin.register(PlanTemplate)
class PlanTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "lifecycle_stage"]
    list_filter = ["lifecycle_stage"]
    search_fields = ["name", "description"]
    inlines = [PlanTemplateMilestoneInline]


class PlanObjectiveInline(admin.StackedInline):
    model = PlanObjective
    extra = 0
    fields = ["what", "why", "success_measure", "target_date"]


class PlanMilestoneInline(admin.TabularInline):
    model = PlanMilestone
    extra = 0
    fields = ["position", "title", "owner", "due_date", "status", "done_at", "completed_by"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["completed_by"]


@admin.register(SuccessPlan)
class SuccessPlanAdmin(admin.ModelAdmin):
    """Start plans from a template with success.services.plan_apply_template; edit them here."""

    list_display = ["title", "account", "status", "start_date", "template", "created_by"]
    list_filter = ["status", "template"]
    search_fields = ["title", "account__name"]
    autocomplete_fields = ["account"]
    list_select_related = ["account", "template", "created_by"]
    readonly_fields = ["created_by", "created_at"]
    date_hierarchy = "start_date"
    inlines = [PlanObjectiveInline, PlanMilestoneInline]


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    """Log touchpoints through success.services.touchpoint_log so participants and dates
    are checked; look them up here."""

    list_display = ["happened_at", "account", "kind", "logged_by"]
    list_filter = ["kind", "happened_at"]
    search_fields = ["account__name", "summary", "next_steps"]
    autocomplete_fields = ["account"]
    raw_id_fields = ["participants"]
    list_select_related = ["account", "logged_by"]
    readonly_fields = ["logged_by", "created_at"]
    date_hierarchy = "happened_at"


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(admin.ModelAdmin):
    """Read-only: written by success.services.health_snapshot_store, one row per account
    and day."""

    list_display = ["day", "account", "score", "band", "created_at"]
    list_filter = ["band", "day", ("account", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["account__name"]
    list_select_related = ["account"]
    date_hierarchy = "day"
    show_full_result_count = False  # one row per account and day grows fast

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HealthOverride)
class HealthOverrideAdmin(admin.ModelAdmin):
    """Set and clear overrides with success.services.health_override_set / _clear so the
    account's band follows; look up their history here."""

    list_display = ["account", "band", "expires_on", "set_by", "created_at", "cleared_at"]
    list_filter = ["band", ("cleared_at", admin.EmptyFieldListFilter), "expires_on"]
    search_fields = ["account__name", "reason"]
    list_select_related = ["account", "set_by"]
    readonly_fields = ["set_by", "created_at", "cleared_at", "cleared_by"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False


def _health_model_fieldsets() -> list[tuple[str, dict]]:
    labels = {component.key: component.label for component in DEFAULT_MODEL.components}
    fieldsets = [
        (labels[key], {"fields": list(names.values())})
        for key, names in HealthModelSettings.component_fields().items()
    ]
    fieldsets.append(
        (
            "Bands",
            {
                "fields": ["green_at", "yellow_at"],
                "description": "Green at or above “green at”, yellow from “yellow at” up to "
                "green, red below.",
            },
        )
    )
    return fieldsets


@admin.register(HealthModelSettings)
class HealthModelSettingsAdmin(admin.ModelAdmin):
    """The one health model: changes apply from the next nightly health computation on;
    stored snapshots keep the weights they were computed with."""

    fieldsets = _health_model_fieldsets()
    list_display = ["__str__", "green_at", "yellow_at", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request) -> bool:
        return not HealthModelSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(NpsResponse)
class NpsResponseAdmin(admin.ModelAdmin):
    list_display = ["responded_at", "account", "contact", "score", "campaign", "reason"]
    list_filter = ["score", "campaign", "responded_at"]
    search_fields = ["account__name", "contact__name", "contact__email", "reason"]
    autocomplete_fields = ["account", "contact"]
    list_select_related = ["account", "contact", "campaign"]
    date_hierarchy = "responded_at"
    show_full_result_count = False  # grows with every survey


class NpsCampaignForm(forms.ModelForm):
    tiers = forms.MultipleChoiceField(
        choices=Tier.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    stages = forms.MultipleChoiceField(
        choices=LifecycleStage.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = NpsCampaign
        fields = ["name", "question", "audience", "tiers", "stages"]


@admin.register(NpsCampaign)
class NpsCampaignAdmin(admin.ModelAdmin):
    """NPS campaigns: create one (audience: all, by tier or by stage), then "Send now"."""

    form = NpsCampaignForm
    list_display = ["name", "audience", "tiers", "stages", "created_at", "sent_at"]
    list_filter = ["audience", "sent_at"]
    search_fields = ["name"]
    readonly_fields = ["created_by", "created_at", "sent_at"]
    fields = ["name", "question", "audience", "tiers", "stages", *readonly_fields]
    actions = ["send_now"]

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Send now (invite contacts not asked in the last 90 days)")
    def send_now(self, request, queryset):
        for campaign in queryset.order_by("pk"):
            try:
                invited = services.nps_campaign_send(campaign=campaign, acting_user=request.user)
            except ValidationError as error:
                self.message_user(
                    request, f"{campaign}: {'; '.join(error.messages)}", messages.ERROR
                )
                continue
            self.message_user(
                request,
                f"{campaign}: {invited} contact{'s' if invited != 1 else ''} invited; "
                "their emails are on their way.",
                messages.SUCCESS,
            )


@admin.register(NpsSurveyInvite)
class NpsSurveyInviteAdmin(admin.ModelAdmin):
    list_display = ["campaign", "contact", "account", "created_at", "sent_at"]
    list_filter = ["campaign", "sent_at"]
    search_fields = ["contact__name", "contact__email", "account__name"]
    list_select_related = ["campaign", "contact", "account"]
    raw_id_fields = ["campaign", "contact", "account"]
    date_hierarchy = "created_at"
    show_full_result_count = False
