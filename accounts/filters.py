"""FilterSets for the CRM core's lists: accounts, contacts and staff users.

`AccountFilter` uses the parameter names of the portfolio page's filter bar
(success.filters.PortfolioFilter: q, band, tier, stage), so that FilterSet can build on this
one and the page and the API accept the same query strings.
"""

import django_filters as filters
from django.db.models import Q, QuerySet

from .api.pagination import UpdatedSinceFilterSet
from .choices import HealthBand, LifecycleStage, Role, Tier
from .models import Account, Contact, Team, User

NOT_SCORED = "none"


class AccountFilter(UpdatedSinceFilterSet):
    q = filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, label="Name contains"
    )
    # distinct=False: no filter follows a to-many relation, so rows cannot repeat.
    band = filters.MultipleChoiceFilter(
        choices=[*HealthBand.choices, (NOT_SCORED, "Not scored")],
        method="filter_band",
        label="Health band",
        distinct=False,
    )
    tier = filters.MultipleChoiceFilter(choices=Tier.choices, label="Tier", distinct=False)
    stage = filters.MultipleChoiceFilter(
        field_name="lifecycle_stage",
        choices=LifecycleStage.choices,
        label="Lifecycle stage",
        distinct=False,
    )
    segment = filters.CharFilter(field_name="segment", lookup_expr="iexact", max_length=100)
    csm = filters.CharFilter(
        field_name="csm__email", lookup_expr="iexact", max_length=254, label="CSM's email"
    )
    domain = filters.CharFilter(method="filter_domain", max_length=253, label="Email domain")
    renewal_before = filters.DateFilter(field_name="renewal_date", lookup_expr="lt")
    renewal_from = filters.DateFilter(field_name="renewal_date", lookup_expr="gte")

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_band(self, qs: QuerySet, name: str, value: list[str]) -> QuerySet:
        if not value:
            return qs
        condition = Q(health_band__in=[band for band in value if band != NOT_SCORED])
        if NOT_SCORED in value:
            condition |= Q(health_band="")
        return qs.filter(condition)

    def filter_domain(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(domains__contains=[value.strip().lower()]) if value else qs


class ContactFilter(UpdatedSinceFilterSet):
    q = filters.CharFilter(method="filter_q", max_length=200, label="Name or email contains")
    email = filters.CharFilter(field_name="email", lookup_expr="iexact", max_length=254)
    account = filters.NumberFilter(field_name="account_id", label="Account id")

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_q(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(Q(name__icontains=value) | Q(email__icontains=value)) if value else qs


class UserFilter(filters.FilterSet):
    """Staff users (no `updated_since`: users carry no change time)."""

    role = filters.MultipleChoiceFilter(
        choices=[c for c in Role.choices if c[0] != Role.CUSTOMER], distinct=False
    )
    team = filters.ModelChoiceFilter(
        field_name="teams", to_field_name="name", queryset=Team.objects.all(), distinct=False
    )
    is_active = filters.BooleanFilter()
    email = filters.CharFilter(field_name="email", lookup_expr="iexact", max_length=254)

    class Meta:
        model = User
        fields: list[str] = []
