"""Serializers of the success resources. Writes go through success.services: these only
check the body's shape and turn references (account ids, contact emails) into rows the
caller may see; a row outside the caller's portfolio reads as one that does not exist."""

from rest_framework import serializers

from accounts.api.serializers import (
    AllowedChoiceField,
    EmailRelatedField,
    StrictModelSerializer,
    StrictSerializer,
)
from accounts.models import Contact, User

from ..choices import RevenueEventKind, SubscriptionStatus, TouchpointKind
from ..models import (
    NpsResponse,
    PlanMilestone,
    PlanTemplate,
    RevenueEvent,
    Subscription,
    SuccessPlan,
    Touchpoint,
)

MAX_USAGE_ROWS = 10_000


class PortfolioAccountField(serializers.PrimaryKeyRelatedField):
    """An account id, looked up among the accounts the caller may see (the view's
    `portfolio_accounts()`): another CSM's account is "does not exist", like a wrong id."""

    def get_queryset(self):
        return self.context["view"].portfolio_accounts()


def _account_field(**kwargs) -> PortfolioAccountField:
    return PortfolioAccountField(
        help_text="The account's id.",
        error_messages={"does_not_exist": "There is no account {pk_value}."},
        **kwargs,
    )


# --- usage --------------------------------------------------------------------------------


class UsageRowSerializer(StrictSerializer):
    """One day's number of one usage metric for one account (for the schema; the batch is
    checked row by row by success.services.usage_ingest)."""

    account = serializers.IntegerField(help_text="The account's id.")
    date = serializers.DateField(help_text="The local day (YYYY-MM-DD), not in the future.")
    metric = serializers.RegexField(
        r"^[a-z][a-z0-9_]*$", max_length=50, help_text="e.g. active_users, seats, reports."
    )
    value = serializers.IntegerField(min_value=0)


class UsageResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Rows stored (inserted or replaced).")


# --- subscriptions ------------------------------------------------------------------------


class SubscriptionSerializer(StrictModelSerializer):
    account = _account_field()
    status = AllowedChoiceField(choices=SubscriptionStatus.choices, required=False)
    mrr = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "account",
            "plan_name",
            "seats",
            "mrr",
            "start_date",
            "end_date",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # the model's constraints are checked by the service (full_clean)


# --- revenue events -----------------------------------------------------------------------


class RevenueEventSerializer(StrictModelSerializer):
    account = _account_field()
    kind = AllowedChoiceField(choices=RevenueEventKind.choices)
    mrr_delta = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="Signed change in MRR: positive for new, expansion and reactivation; "
        "negative for contraction and churn.",
    )
    effective_date = serializers.DateField(
        source="date",
        help_text="When the change takes effect. A date before today imports history: it "
        "needs a token with the `import` scope (403 otherwise).",
    )
    recorded_by = serializers.EmailField(
        source="recorded_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = RevenueEvent
        fields = [
            "id",
            "account",
            "kind",
            "mrr_delta",
            "effective_date",
            "reason",
            "subscription",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {"reason": {"required": False}}
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        view = self.context.get("view")
        if view is not None:
            fields["subscription"].queryset = Subscription.objects.filter(
                account__in=view.portfolio_accounts().values("pk")
            )
        return fields


# --- success plans ------------------------------------------------------------------------


class MilestoneSerializer(serializers.ModelSerializer):
    owner = serializers.EmailField(source="owner.email", read_only=True, default=None)

    class Meta:
        model = PlanMilestone
        fields = ["id", "title", "owner", "due_date", "status", "done_at", "position"]
        read_only_fields = fields


class SuccessPlanSerializer(StrictModelSerializer):
    account = _account_field()
    template = serializers.PrimaryKeyRelatedField(
        queryset=PlanTemplate.objects.all(),
        help_text="The plan template's id: the plan gets its milestones.",
        error_messages={"does_not_exist": "There is no plan template {pk_value}."},
    )
    owner = EmailRelatedField(
        queryset=User.objects.filter(is_active=True).exclude(role="customer"),
        write_only=True,
        required=False,
        allow_null=True,
        help_text="Email of the staff member who owns the milestones (default: nobody).",
        error_messages={"does_not_exist": "No staff member has the email {value}."},
    )
    milestones = MilestoneSerializer(many=True, read_only=True)

    class Meta:
        model = SuccessPlan
        fields = [
            "id",
            "account",
            "template",
            "owner",
            "title",
            "status",
            "start_date",
            "milestones",
            "created_at",
        ]
        read_only_fields = ["title", "status", "created_at"]


# --- touchpoints --------------------------------------------------------------------------


class TouchpointSerializer(StrictModelSerializer):
    account = _account_field()
    kind = AllowedChoiceField(choices=TouchpointKind.choices)
    participants = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(),
        many=True,
        required=False,
        help_text="Ids of the account's contacts who took part.",
    )
    logged_by = serializers.EmailField(source="logged_by.email", read_only=True, default=None)

    class Meta:
        model = Touchpoint
        fields = [
            "id",
            "account",
            "kind",
            "happened_at",
            "summary",
            "next_steps",
            "participants",
            "logged_by",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {"next_steps": {"required": False}}

    def get_fields(self):
        fields = super().get_fields()
        view = self.context.get("view")
        if view is not None:
            fields["participants"].child_relation.queryset = Contact.objects.filter(
                account__in=view.portfolio_accounts().values("pk")
            )
        return fields


# --- NPS ----------------------------------------------------------------------------------


class NpsResponseSerializer(StrictModelSerializer):
    contact = EmailRelatedField(
        queryset=Contact.objects.all(),
        help_text="The email of the contact who answered.",
        error_messages={"does_not_exist": "No contact has the email {value}."},
    )
    score = serializers.IntegerField(min_value=0, max_value=10)
    comment = serializers.CharField(
        source="reason", required=False, allow_blank=True, max_length=5000
    )
    submitted_at = serializers.DateTimeField(
        source="responded_at",
        required=False,
        help_text="When it was answered (default: now). Setting it needs the `import` scope.",
    )
    account = serializers.PrimaryKeyRelatedField(read_only=True)
    campaign = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = NpsResponse
        fields = ["id", "contact", "account", "score", "comment", "submitted_at", "campaign"]

    def get_fields(self):
        fields = super().get_fields()
        view = self.context.get("view")
        if view is not None:
            fields["contact"].queryset = Contact.objects.filter(
                account__in=view.portfolio_accounts().values("pk")
            )
        return fields


__all__ = [
    "MAX_USAGE_ROWS",
    "NpsResponseSerializer",
    "RevenueEventSerializer",
    "SubscriptionSerializer",
    "SuccessPlanSerializer",
    "TouchpointSerializer",
    "UsageResultSerializer",
    "UsageRowSerializer",
]
