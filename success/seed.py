"""Starter plan templates, one per lifecycle stage a CSM plans for. Safe to run again:
existing templates and milestones (matched by name and title) are left as they are."""

import random
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Account

from .choices import MilestoneStatus, TouchpointKind
from .models import PlanMilestone, PlanTemplate, PlanTemplateMilestone, SuccessPlan, Touchpoint
from .plans import milestone_due_date

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


# --- demo data ----------------------------------------------------------------------------

_TOUCHPOINT_SUMMARIES = [
    ("Monthly check-in: the team is happy with the new reports.", "Share the export guide."),
    (
        "Call about the integration rollout; two teams still on the old workflow.",
        "Book a training session for the second team.",
    ),
    (
        "QBR with the sponsor: renewal looks likely, they want SSO next quarter.",
        "Send the SSO roadmap.",
    ),
    ("Email follow-up on the slow dashboard ticket.", ""),
    ("Onboarding sync: data import finished, users invited.", "Check activation in two weeks."),
]
_PLANNED_STAGES = {LifecycleStage.ONBOARDING: "Onboarding", LifecycleStage.ADOPTION: "Adoption"}


def seed_success(world, *, seed: int, today: date | None = None) -> dict[str, int]:
    """Demo success data in bulk: a plan from its stage's template for onboarding and adoption
    accounts (earlier milestones mostly done), and a few touchpoints per account over the
    last 90 days, so the CSM home's panels have something to show."""
    rng = random.Random(seed * 104_729 + 3)
    today = today or timezone.localdate()
    now = timezone.now()
    csm_of = dict(
        Account.objects.filter(pk__in=[a.id for a in world.accounts]).values_list("pk", "csm_id")
    )
    templates = {
        t.name: t for t in PlanTemplate.objects.prefetch_related("milestones").order_by("pk")
    }
    plans, plan_milestones, touchpoints, participants = [], [], [], []
    for account in world.accounts:
        if account.stage == LifecycleStage.CHURNED:
            continue
        csm_id = csm_of.get(account.id)
        template = templates.get(_PLANNED_STAGES.get(account.stage, ""))
        if template is not None:
            start = today - timedelta(days=rng.randint(0, 75))
            plans.append(
                SuccessPlan(
                    account_id=account.id,
                    title=f"{template.name} plan",
                    start_date=start,
                    template=template,
                    created_by_id=csm_id,
                )
            )
            plan_milestones.append(
                [
                    (milestone, milestone_due_date(start, milestone.day_offset))
                    for milestone in template.milestones.all()
                ]
            )
        for _ in range(rng.randint(0, 3)):
            summary, next_steps = rng.choice(_TOUCHPOINT_SUMMARIES)
            touchpoints.append(
                Touchpoint(
                    account_id=account.id,
                    kind=rng.choice(TouchpointKind.values),
                    happened_at=now - timedelta(days=rng.randint(1, 90), hours=rng.randint(0, 8)),
                    summary=summary,
                    next_steps=next_steps,
                    logged_by_id=csm_id,
                )
            )
            participants.append(rng.choice(account.contact_ids) if account.contact_ids else None)
    with transaction.atomic():
        SuccessPlan.objects.bulk_create(plans, batch_size=2000)
        milestones = []
        for plan, dated in zip(plans, plan_milestones, strict=True):
            for position, (milestone, due) in enumerate(dated):
                done = due < today and rng.random() < 0.75
                milestones.append(
                    PlanMilestone(
                        plan=plan,
                        title=milestone.title,
                        owner_id=plan.created_by_id,
                        due_date=due,
                        status=MilestoneStatus.DONE if done else MilestoneStatus.TODO,
                        done_at=due if done else None,
                        completed_by_id=plan.created_by_id if done else None,
                        position=position,
                    )
                )
        PlanMilestone.objects.bulk_create(milestones, batch_size=5000)
        Touchpoint.objects.bulk_create(touchpoints, batch_size=5000)
        Through = Touchpoint.participants.through
        Through.objects.bulk_create(
            [
                Through(touchpoint_id=touchpoint.pk, contact_id=contact_id)
                for touchpoint, contact_id in zip(touchpoints, participants, strict=True)
                if contact_id is not None
            ],
            batch_size=5000,
        )
    return {"plans": len(plans), "milestones": len(milestones), "touchpoints": len(touchpoints)}
