"""Reads behind the managers' reports."""

from django.db.models import Count, Sum

from accounts.models import Account


def account_overview() -> dict:
    """Accounts and MRR by tier and by lifecycle stage: two grouped queries."""
    by_tier = list(
        Account.objects.values("tier")
        .annotate(accounts=Count("id"), mrr=Sum("mrr"))
        .order_by("tier")
    )
    by_stage = list(
        Account.objects.values("lifecycle_stage")
        .annotate(accounts=Count("id"), mrr=Sum("mrr"))
        .order_by("lifecycle_stage")
    )
    return {
        "by_tier": by_tier,
        "by_stage": by_stage,
        "accounts": sum(row["accounts"] for row in by_tier),
        "mrr": sum((row["mrr"] or 0) for row in by_tier),
    }
