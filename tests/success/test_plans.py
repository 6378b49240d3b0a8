"""Success plans: the pure progress rule (success.plans), templates applied to accounts,
milestones completed, and the starter templates seeded."""

import datetime
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from success.choices import MilestoneStatus, PlanProgressStatus, PlanStatus
from success.models import PlanMilestone, PlanTemplate, PlanTemplateMilestone, SuccessPlan
from success.plans import check_in_cadence_days, milestone_due_date, plan_progress
from success.seed import seed_plan_templates
from success.selectors import account_success_plans
from success.services import milestone_complete, plan_apply_template
from tests.factories import AccountFactory

TODAY = datetime.date(2025, 6, 16)
TODO, DONE, SKIPPED = MilestoneStatus.TODO, MilestoneStatus.DONE, MilestoneStatus.SKIPPED


def _m(due_in_days: int, status: str = TODO) -> SimpleNamespace:
    """A milestone due `due_in_days` from TODAY (negative: in the past)."""
    return SimpleNamespace(due_date=TODAY + datetime.timedelta(days=due_in_days), status=status)


# plan_progress: pure


def test_progress_of_no_milestones_is_none():
    progress = plan_progress([], TODAY)
    assert (progress.percent_done, progress.status, progress.overdue) == (None, None, [])


def test_progress_of_only_skipped_milestones_is_none():
    progress = plan_progress([_m(-30, SKIPPED), _m(5, SKIPPED)], TODAY)
    assert (progress.percent_done, progress.status) == (None, None)


def test_percent_done_leaves_skipped_out_and_rounds_down():
    # 1 done of 3 counted (the skipped one is ignored): 33.3 -> 33.
    milestones = [_m(-10, DONE), _m(10), _m(20), _m(-20, SKIPPED)]
    assert plan_progress(milestones, TODAY).percent_done == 33
    # 2 of 3: 66.7 -> 66, never rounded up to look done sooner.
    milestones[1].status = DONE
    assert plan_progress(milestones, TODAY).percent_done == 66


def test_all_done_is_100_percent_and_on_track_even_with_past_due_dates():
    progress = plan_progress([_m(-30, DONE), _m(-1, DONE), _m(-9, SKIPPED)], TODAY)
    assert progress.percent_done == 100
    assert progress.status == PlanProgressStatus.ON_TRACK
    assert progress.overdue == []


@pytest.mark.parametrize(
    ("due_in_days", "expected"),
    [
        (4, PlanProgressStatus.ON_TRACK),  # more than 3 days ahead
        (3, PlanProgressStatus.AT_RISK),  # due within 3 days: boundary included
        (0, PlanProgressStatus.AT_RISK),  # due today, not yet overdue
        (-1, PlanProgressStatus.AT_RISK),  # overdue by 1 day
        (-7, PlanProgressStatus.AT_RISK),  # overdue by exactly 7 days: not yet off track
        (-8, PlanProgressStatus.OFF_TRACK),  # overdue by more than 7 days
    ],
)
def test_status_boundaries_for_one_open_milestone(due_in_days, expected):
    assert plan_progress([_m(due_in_days)], TODAY).status == expected


def test_worst_open_milestone_sets_the_status():
    assert plan_progress([_m(30), _m(2)], TODAY).status == PlanProgressStatus.AT_RISK
    assert plan_progress([_m(30), _m(2), _m(-8)], TODAY).status == PlanProgressStatus.OFF_TRACK


def test_done_or_skipped_milestones_never_make_a_plan_late():
    milestones = [_m(-40, DONE), _m(-40, SKIPPED), _m(10)]
    assert plan_progress(milestones, TODAY).status == PlanProgressStatus.ON_TRACK


def test_overdue_lists_open_milestones_due_before_today_oldest_first():
    late_1, late_9, today, done_late = _m(-1), _m(-9), _m(0), _m(-5, DONE)
    progress = plan_progress([late_1, today, done_late, late_9, _m(-3, SKIPPED)], TODAY)
    assert progress.overdue == [late_9, late_1]


def test_milestone_due_date_adds_the_offset_and_refuses_negative():
    assert milestone_due_date(datetime.date(2025, 1, 31), 0) == datetime.date(2025, 1, 31)
    assert milestone_due_date(datetime.date(2025, 1, 31), 30) == datetime.date(2025, 3, 2)
    with pytest.raises(ValueError, match="negative"):
        milestone_due_date(TODAY, -1)


@pytest.mark.parametrize(
    ("tier", "days"), [("enterprise", 14), ("growth", 30), ("starter", 60), ("unknown", 60)]
)
def test_check_in_cadence_by_tier(tier, days):
    assert check_in_cadence_days(tier) == days


# Templates applied to accounts


@pytest.fixture
def template(db):
    template = PlanTemplate.objects.create(name="Onboarding", lifecycle_stage="onboarding")
    # Positions out of creation order: the plan follows position, not id.
    PlanTemplateMilestone.objects.create(
        template=template, title="Handoff", day_offset=60, position=2
    )
    PlanTemplateMilestone.objects.create(
        template=template, title="Kickoff", day_offset=0, position=0
    )
    PlanTemplateMilestone.objects.create(
        template=template, title="Setup", day_offset=14, position=1
    )
    return template


def test_apply_template_dates_milestones_from_the_start(template, csm, make_user):
    account = AccountFactory(csm=csm)
    owner = make_user()
    plan = plan_apply_template(
        account=account,
        template=template,
        start_date=datetime.date(2025, 1, 20),
        acting_user=csm,
        owner=owner,
    )
    plan.refresh_from_db()
    assert (plan.account, plan.title, plan.status) == (account, "Onboarding", PlanStatus.ACTIVE)
    assert (plan.template, plan.created_by) == (template, csm)
    assert plan.start_date == datetime.date(2025, 1, 20)
    rows = list(plan.milestones.order_by("position").values_list("title", "due_date", "position"))
    assert rows == [
        ("Kickoff", datetime.date(2025, 1, 20), 0),
        ("Setup", datetime.date(2025, 2, 3), 1),
        ("Handoff", datetime.date(2025, 3, 21), 2),
    ]
    assert set(plan.milestones.values_list("owner", "status", "done_at")) == {
        (owner.pk, TODO, None)
    }


def test_apply_template_without_owner_leaves_milestones_unowned(template, csm):
    plan = plan_apply_template(
        account=AccountFactory(), template=template, start_date=TODAY, acting_user=csm
    )
    assert not plan.milestones.filter(owner__isnull=False).exists()
    assert plan.milestones.count() == 3


def test_template_refuses_negative_offset_and_duplicate_name(template):
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanTemplateMilestone.objects.create(template=template, title="Bad", day_offset=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanTemplate.objects.create(name="Onboarding", lifecycle_stage="adoption")


def test_account_success_plans_loads_milestones_in_fixed_queries(
    template, csm, django_assert_num_queries
):
    account = AccountFactory()
    for _ in range(3):
        plan_apply_template(account=account, template=template, start_date=TODAY, acting_user=csm)
    with django_assert_num_queries(3):
        plans = list(account_success_plans(account=account))
        titles = [[m.title for m in plan.milestones.all()] for plan in plans]
        owners = [m.owner for plan in plans for m in plan.milestones.all()]
        [list(plan.objectives.all()) for plan in plans]
    assert titles == [["Kickoff", "Setup", "Handoff"]] * 3
    assert owners == [None] * 9


# Completing milestones


@pytest.fixture
def plan(template, csm):
    return plan_apply_template(
        account=AccountFactory(csm=csm),
        template=template,
        start_date=datetime.date(2025, 1, 1),
        acting_user=csm,
    )


def test_milestone_complete_records_date_and_who(plan, csm):
    milestone = plan.milestones.get(title="Kickoff")
    result = milestone_complete(milestone=milestone, acting_user=csm, on=datetime.date(2025, 1, 3))
    stored = PlanMilestone.objects.get(pk=milestone.pk)
    assert (stored.status, stored.done_at, stored.completed_by) == (
        DONE,
        datetime.date(2025, 1, 3),
        csm,
    )
    assert (result.status, result.done_at) == (DONE, datetime.date(2025, 1, 3))


def test_milestone_complete_defaults_to_today(plan, csm):
    milestone = milestone_complete(milestone=plan.milestones.first(), acting_user=csm)
    assert milestone.done_at == timezone.localdate()


def test_milestone_complete_twice_keeps_the_first_date(plan, csm, make_user):
    milestone = plan.milestones.first()
    milestone_complete(milestone=milestone, acting_user=csm, on=datetime.date(2025, 1, 3))
    again = milestone_complete(
        milestone=milestone, acting_user=make_user(), on=datetime.date(2025, 1, 9)
    )
    assert (again.done_at, again.completed_by) == (datetime.date(2025, 1, 3), csm)


def test_milestone_complete_refuses_future_skipped_and_closed_plan(plan, csm):
    kickoff, setup, handoff = plan.milestones.order_by("position")
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError, match="future"):
        milestone_complete(milestone=kickoff, acting_user=csm, on=tomorrow)

    PlanMilestone.objects.filter(pk=setup.pk).update(status=SKIPPED)
    with pytest.raises(ValidationError, match="skipped"):
        milestone_complete(milestone=setup, acting_user=csm)
    assert PlanMilestone.objects.get(pk=setup.pk).status == SKIPPED

    SuccessPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.CANCELLED)
    with pytest.raises(ValidationError, match="cancelled"):
        milestone_complete(milestone=handoff, acting_user=csm)
    assert PlanMilestone.objects.get(pk=handoff.pk).status == TODO


def test_done_milestone_needs_a_done_date_and_only_it_has_one(plan):
    milestone = plan.milestones.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanMilestone.objects.filter(pk=milestone.pk).update(status=DONE)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanMilestone.objects.filter(pk=milestone.pk).update(done_at=TODAY)


def test_completed_milestones_feed_plan_progress(plan, csm):
    kickoff = plan.milestones.get(title="Kickoff")
    milestone_complete(milestone=kickoff, acting_user=csm, on=datetime.date(2025, 1, 2))
    # On Jan 20 Setup (due Jan 15) is 5 days late: at risk; Handoff (Mar 1) is far off.
    progress = plan_progress(plan.milestones.all(), datetime.date(2025, 1, 20))
    assert progress.percent_done == 33
    assert progress.status == PlanProgressStatus.AT_RISK
    assert [m.title for m in progress.overdue] == ["Setup"]


# Seed


@pytest.mark.django_db
def test_seed_plan_templates_is_idempotent():
    seed_plan_templates()
    seed_plan_templates()
    assert dict(PlanTemplate.objects.values_list("name", "lifecycle_stage")) == {
        "Onboarding": "onboarding",
        "Adoption": "adoption",
        "Renewal": "renewal",
    }
    onboarding = PlanTemplate.objects.get(name="Onboarding")
    assert list(onboarding.milestones.order_by("position").values_list("title", "day_offset")) == [
        ("Kickoff", 0),
        ("Technical setup", 14),
        ("First value", 30),
        ("Training", 45),
        ("Handoff", 60),
    ]
    assert PlanTemplateMilestone.objects.count() == 5 + 4 + 4
