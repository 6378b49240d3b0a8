from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError

from . import services, webhooks
from .models import (
    Account,
    Contact,
    Notification,
    Team,
    User,
    WebhookDelivery,
    WebhookSubscription,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["full_name"]
    list_display = ["email", "full_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "teams"]
    search_fields = ["email", "full_name"]
    filter_horizontal = ["teams", "groups", "user_permissions"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "role", "teams", "time_zone"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "full_name", "role", "password1", "password2"],
            },
        ),
    ]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ["name", "email", "title", "is_account_admin"]
    extra = 0
    show_change_link = True


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "tier", "lifecycle_stage", "csm", "mrr", "renewal_date", "health_band"]
    list_filter = ["tier", "lifecycle_stage", "health_band", "segment", "csm"]
    search_fields = ["name", "domains"]
    date_hierarchy = "created_at"
    list_select_related = ["csm"]
    autocomplete_fields = ["csm"]
    readonly_fields = ["health_score", "health_band", "health_updated_at", "updated_at"]
    inlines = [ContactInline]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change and "tier" in form.changed_data:
            # Support re-evaluates the SLA policy of the account's open tickets.
            services.account_tier_changed_announce(account_id=obj.pk)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "account", "is_account_admin", "user"]
    list_filter = ["is_account_admin", "account__tier"]
    search_fields = ["name", "email", "account__name"]
    list_select_related = ["account", "user"]
    autocomplete_fields = ["account", "user"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    search_fields = ["title", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookSubscription
        exclude = ["secret"]

    def clean_owner(self):
        owner = self.cleaned_data["owner"]
        try:
            webhooks.webhook_owner_check(owner)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return owner

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhooks.webhook_target_check(url)
        except webhooks.WebhookTargetRefused as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "owner", "active", "consecutive_failures", "disabled_at", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    exclude = ["secret"]
    readonly_fields = ["consecutive_failures", "disabled_at", "created_at"]

    def save_model(self, request, obj, form, change) -> None:
        webhooks.webhook_subscription_admin_save(subscription=obj)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: status, latency and response code of every attempt's outcome."""

    list_display = [
        "created_at",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "response_code",
        "latency_ms",
        "next_attempt_at",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["subscription__url", "event_id"]
    list_select_related = ["subscription"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
