"""The CSM's portfolio filters: the accounts API's FilterSet (accounts.filters) with sorts.

It filters and sorts the queryset of `success.selectors.portfolio_rows`, which carries the
`health_trend` and `last_touchpoint_at` annotations the sorts need.
"""

from __future__ import annotations

import django_filters as filters
from django.db.models import F, QuerySet

from accounts.filters import NOT_SCORED, AccountFilter

__all__ = ["NOT_SCORED", "PORTFOLIO_FILTER_NAMES", "PORTFOLIO_SORTS", "PortfolioFilter"]

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


class PortfolioFilter(AccountFilter):
    """The accounts API's filters (q, band, tier, stage and the rest, same parameter names)
    plus the portfolio's sorts."""

    sort = NullsLastOrderingFilter(
        fields={column: param for param, column in PORTFOLIO_SORTS.items()},
        field_labels={column: PORTFOLIO_SORT_LABELS[p] for p, column in PORTFOLIO_SORTS.items()},
        label="Sort",
    )

    class Meta(AccountFilter.Meta):
        pass


# The filters that narrow the list (as opposed to `sort`, which only orders it).
PORTFOLIO_FILTER_NAMES = ("q", "band", "tier", "stage")
