"""The default escalation rules of METRICS.md, as rows admins may tune or switch off."""

from django.db import migrations

S2S = "support_to_success"
TO_SUPPORT = "success_to_support"

RULES = [
    (
        "ticket_spike",
        "Ticket spike",
        S2S,
        "≥ 5 tickets in 7 days, or ≥ 3 × the account's average weekly volume over the "
        "previous 12 weeks (with at least 3 tickets).",
        {
            "min_tickets": 5,
            "window_days": 7,
            "multiplier": 3.0,
            "baseline_weeks": 12,
            "multiplier_min_tickets": 3,
        },
    ),
    (
        "repeated_complaint",
        "Repeated complaint",
        S2S,
        "≥ 3 tickets with the same tag in 30 days.",
        {"min_tickets": 3, "window_days": 30, "ignore_tags": ["onboarding"]},
    ),
    (
        "sla_breach_key_account",
        "SLA breach on a key account",
        S2S,
        "Any SLA breach on a top-tier account, or ≥ 2 breaches in 30 days on any account.",
        {"key_tiers": ["enterprise"], "min_breaches": 2, "window_days": 30},
    ),
    (
        "unhappy_customer",
        "Unhappy customer",
        S2S,
        "A CSAT rating of 1 or 2 (in the last 30 days).",
        {"min_rating": 1, "max_rating": 2, "window_days": 30},
    ),
    (
        "detractor",
        "Detractor",
        S2S,
        "An NPS response of 0–6 (in the last 30 days).",
        {"min_score": 0, "max_score": 6, "window_days": 30},
    ),
    (
        "at_risk_account",
        "At-risk account",
        TO_SUPPORT,
        "Health band red, or a renewal within 60 days with a band below green. New tickets "
        "get their priority raised one step and carry an at-risk banner.",
        {"renewal_within_days": 60},
    ),
    (
        "onboarding",
        "Onboarding",
        TO_SUPPORT,
        "The account is in the onboarding stage: its tickets are tagged onboarding and go to "
        "the onboarding team when one exists.",
        {},
    ),
]


def create_rules(apps, schema_editor):
    EscalationRule = apps.get_model("metrics", "EscalationRule")
    for code, name, direction, description, thresholds in RULES:
        EscalationRule.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "direction": direction,
                "description": description,
                "thresholds": thresholds,
                "enabled": True,
                "quiet_period_days": 7,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("metrics", "0003_escalations")]

    operations = [migrations.RunPython(create_rules, migrations.RunPython.noop)]
