"""Starter plan templates, one per lifecycle stage a CSM plans for. Safe to run again:
existing templates and milestones (matched by name and title) are left as they are."""

from django.db import transaction

from accounts.choices import LifecycleStage

from .models import PlanTemplate, PlanTemplateMilestone

# name: (lifecycle stage, description, [(milestone title, day offset), ...])
PLAN_TEMPLATES: dict[str, tuple[str, str, list[tuple[str, int]]]] = {
    "Onboarding": (
        LifecycleStage.ONBOARDING,
        "From signature to a customer who gets value on their own.",
        [
            ("Kickoff", 0),
            ("Technical setup", 14),
            ("First value", 30),
            ("Training", 45),
            ("Handoff", 60),
        ],
    ),
    "Adoption": (
        LifecycleStage.ADOPTION,
        "Widen and deepen use of the product across the customer's teams.",
        [
            ("Adoption review", 0),
            ("Key feature rollout", 30),
            ("Usage health check", 60),
            ("Executive business review", 90),
        ],
    ),
    "Renewal": (
        LifecycleStage.RENEWAL,
        "Start about 120 days before the renewal date.",
        [
            ("Renewal kickoff", 0),
            ("Value review", 30),
            ("Renewal proposal", 60),
            ("Renewal signed", 90),
        ],
    ),
}


@transaction.atomic
def seed_plan_templates() -> list[PlanTemplate]:
    """Create the starter templates and their milestones where missing."""
    templates = []
    for name, (stage, description, steps) in PLAN_TEMPLATES.items():
        template, _ = PlanTemplate.objects.get_or_create(
            name=name, defaults={"lifecycle_stage": stage, "description": description}
        )
        for position, (title, day_offset) in enumerate(steps):
            PlanTemplateMilestone.objects.get_or_create(
                template=template,
                title=title,
                defaults={"day_offset": day_offset, "position": position},
            )
        templates.append(template)
    return templates
