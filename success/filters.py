"""One FilterSet for the CSM's portfolio: the home page's table and (later) the accounts API.

It filters and sorts the queryset of `success.selectors.portfolio_rows`, which carries the
`health_trend` and `last_touchpoint_at` annotations the sorts need.
"""

from __future__ import annotations

import django_filters as filters
from django.db.models import F, Q, QuerySet

from accounts.choices import HealthBand, LifecycleStage, Tier
from accounts.models import Account

NOT_SCORED = "none"

# Sort parameter (the URL's `sort=`, "-" in front for descending) -> the column it orders.
PORTFOLIO_SORTS = {
    "name": "name",
    "health": "health_score",
    "trend": "health_trend",
    "mrr": "mrr",
    "renewal": "renewal_date",
    "last_touch": "last_touchpoint_at",
}
PORTFOLIO_SORT_LABELS = {
    "name": "Account",
    "health": "Health score",
    "trend": "Health trend",
    "mrr": "MRR",
    "renewal": "Renewal date",
    "last_touch": "Last touchpoint",
}


class NullsLastOrderingFilter(filters.OrderingFilter):
    """Orders with empty values last in both directions (an account never scored or never
    touched is not the best nor the worst), then by name and id so pages are stable."""

    def get_ordering_value(self, param: str):
        descending = param.startswith("-")
        name = self.param_map.get(param.lstrip("-"), param.lstrip("-"))
        column = F(name)
        return column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value:
            return qs
        ordering = [self.get_ordering_value(param) for param in value if param]
        return qs.order_by(*ordering, "name", "pk")


class PortfolioFilter(filters.FilterSet):
    q = filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, label="Name contains"
    )
    # distinct=False: no filter follows a to-many relation, so rows cannot repeat.
    band = filters.MultipleChoiceFilter(
        choices=[*HealthBand.choices, (NOT_SCORED, "Not scored")],
        method="filter_band",
        label="Health",
        distinct=False,
    )
    tier = filters.MultipleChoiceFilter(choices=Tier.choices, label="Tier", distinct=False)
    stage = filters.MultipleChoiceFilter(
        field_name="lifecycle_stage",
        choices=LifecycleStage.choices,
        label="Lifecycle stage",
        distinct=False,
    )
    sort = NullsLastOrderingFilter(
        fields={column: param for param, column in PORTFOLIO_SORTS.items()},
        field_labels={column: PORTFOLIO_SORT_LABELS[p] for p, column in PORTFOLIO_SORTS.items()},
        label="Sort",
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_band(self, qs: QuerySet, name: str, value: list[str]) -> QuerySet:
        if not value:
            return qs
        bands = [band for band in value if band != NOT_SCORED]
        condition = Q(health_band__in=bands)
        if NOT_SCORED in value:
            condition |= Q(health_band="")
        return qs.filter(condition)


# The filters that narrow the list (as opposed to `sort`, which only orders it).
PORTFOLIO_FILTER_NAMES = ("q", "band", "tier", "stage")
