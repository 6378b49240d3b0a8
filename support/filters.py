"""One FilterSet for the ticket queue page and the tickets API."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import QuerySet

from accounts.choices import Role, Tier
from accounts.models import SupportAttention, Team, User

from .choices import Channel, Priority, Status, TicketType
from .models import Ticket

UNASSIGNED = "none"


class AssigneeChoiceField(forms.ModelChoiceField):
    """An agent, or "none" for unassigned tickets."""

    def to_python(self, value):
        if value == UNASSIGNED:
            return UNASSIGNED
        return super().to_python(value)

    def validate(self, value):
        if value == UNASSIGNED:
            return
        super().validate(value)


class AssigneeFilter(filters.ModelChoiceFilter):
    field_class = AssigneeChoiceField

    def filter(self, qs: QuerySet, value):
        if value == UNASSIGNED:
            return qs.filter(assignee__isnull=True)
        return super().filter(qs, value)


class TicketFilter(filters.FilterSet):
    # distinct=False: none of these follows a to-many relation, so rows cannot repeat, and
    # SELECT DISTINCT over a page of wide rows costs more than the filter itself.
    status = filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    type = filters.MultipleChoiceFilter(choices=TicketType.choices, distinct=False)
    channel = filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    assignee = AssigneeFilter(
        queryset=User.objects.filter(
            is_active=True, role__in=[Role.AGENT, Role.ADMIN, Role.MANAGER, Role.CSM]
        ).only("pk", "full_name", "email"),
        empty_label="Anyone",
    )
    team = filters.ModelChoiceFilter(queryset=Team.objects.all(), empty_label="Any team")
    tag = filters.CharFilter(method="filter_tag", max_length=50, label="Tag")
    tier = filters.MultipleChoiceFilter(
        field_name="account__tier", choices=Tier.choices, label="Account tier", distinct=False
    )
    account = filters.NumberFilter(field_name="account_id", min_value=1)
    # Accounts success marked at risk (metrics' escalation flags write Account.support_attention).
    at_risk = filters.ChoiceFilter(
        choices=[("1", "At-risk accounts only")], method="filter_at_risk", label="At-risk account"
    )
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_at_risk(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(account__support_attention=SupportAttention.AT_RISK) if value else qs

    def filter_tag(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(tags__contains=[value.strip().lower()]) if value.strip() else qs


def active_filter_count(data) -> int:
    return sum(1 for key in TicketFilter.base_filters if data.get(key))
