"""The success API's list filters; `updated_since` on every list (rows that are never
changed after they are written filter on when they were written)."""

import django_filters as filters

from accounts.api.pagination import UpdatedSinceFilterSet

from ..choices import PlanStatus, RevenueEventKind, SubscriptionStatus, TouchpointKind
from ..models import NpsResponse, RevenueEvent, Subscription, SuccessPlan, Touchpoint


def _created_since(label: str = "Created at or after (ISO 8601)") -> filters.IsoDateTimeFilter:
    return filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=label)


class SubscriptionFilter(UpdatedSinceFilterSet):
    account = filters.NumberFilter(field_name="account_id")
    status = filters.ChoiceFilter(choices=SubscriptionStatus.choices)

    class Meta:
        model = Subscription
        fields = ["account", "status", "updated_since"]


class RevenueEventFilter(UpdatedSinceFilterSet):
    """Revenue events are never changed: `updated_since` is their recording time."""

    updated_since = _created_since("Recorded at or after (ISO 8601)")
    account = filters.NumberFilter(field_name="account_id")
    kind = filters.ChoiceFilter(choices=RevenueEventKind.choices)
    effective_from = filters.DateFilter(field_name="date", lookup_expr="gte")
    effective_before = filters.DateFilter(field_name="date", lookup_expr="lt")

    class Meta:
        model = RevenueEvent
        fields = ["account", "kind", "effective_from", "effective_before", "updated_since"]


class SuccessPlanFilter(UpdatedSinceFilterSet):
    """`updated_since`: plans created since (a plan has no change time of its own)."""

    updated_since = _created_since()
    account = filters.NumberFilter(field_name="account_id")
    status = filters.ChoiceFilter(choices=PlanStatus.choices)

    class Meta:
        model = SuccessPlan
        fields = ["account", "status", "updated_since"]


class TouchpointFilter(UpdatedSinceFilterSet):
    updated_since = _created_since("Logged at or after (ISO 8601)")
    account = filters.NumberFilter(field_name="account_id")
    kind = filters.ChoiceFilter(choices=TouchpointKind.choices)

    class Meta:
        model = Touchpoint
        fields = ["account", "kind", "updated_since"]


class NpsResponseFilter(UpdatedSinceFilterSet):
    """`updated_since`: answers submitted (or re-submitted) since."""

    updated_since = filters.IsoDateTimeFilter(
        field_name="responded_at", lookup_expr="gte", label="Submitted at or after (ISO 8601)"
    )
    account = filters.NumberFilter(field_name="account_id")

    class Meta:
        model = NpsResponse
        fields = ["account", "updated_since"]
