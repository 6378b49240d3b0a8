"""Services behind the Account 360 forms: objective_add, milestone_add,
milestone_set_status (with its stale-status check) and the health override's 90-day cap."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.choices import HealthBand, Role
from success import services
from success.choices import MilestoneStatus, PlanStatus
from success.models import PlanMilestone
from tests.factories import AccountFactory, PlanMilestoneFactory, SuccessPlanFactory


def _days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


# objective_add


def test_objective_add_keeps_trimmed_text(db, csm):
    plan = SuccessPlanFactory()

    objective = services.objective_add(
        plan=plan,
        what="  Cut onboarding time  ",
        why=" Faster value ",
        success_measure="Under 30 days",
        target_date=_days(60),
        acting_user=csm,
    )

    assert objective.plan == plan
    assert (objective.what, objective.why) == ("Cut onboarding time", "Faster value")
    assert objective.target_date == _days(60)


def test_objective_add_needs_what(db, csm):
    with pytest.raises(ValidationError) as error:
        services.objective_add(plan=SuccessPlanFactory(), what="   ", acting_user=csm)
    assert error.value.message_dict == {"what": ["Say what the customer wants to achieve."]}


def test_objective_add_refuses_a_closed_plan(db, csm):
    plan = SuccessPlanFactory(status=PlanStatus.COMPLETED)
    with pytest.raises(ValidationError, match="completed: it can no longer be changed"):
        services.objective_add(plan=plan, what="More seats", acting_user=csm)


# milestone_add


def test_milestone_add_goes_last_with_owner(db, csm):
    plan = SuccessPlanFactory()
    PlanMilestoneFactory(plan=plan, position=4)

    milestone = services.milestone_add(
        plan=plan, title=" Go-live ", due_date=_days(10), owner=csm, acting_user=csm
    )

    assert (milestone.title, milestone.position, milestone.owner) == ("Go-live", 5, csm)
    assert milestone.status == MilestoneStatus.TODO


def test_milestone_add_first_takes_position_zero_and_no_owner(db, csm):
    milestone = services.milestone_add(
        plan=SuccessPlanFactory(), title="Kick-off", due_date=_days(1), acting_user=csm
    )
    assert (milestone.position, milestone.owner) == (0, None)


def test_milestone_add_needs_a_title(db, csm):
    with pytest.raises(ValidationError) as error:
        services.milestone_add(
            plan=SuccessPlanFactory(), title="", due_date=_days(1), acting_user=csm
        )
    assert "title" in error.value.message_dict


@pytest.mark.parametrize("role", [Role.CUSTOMER])
def test_milestone_add_refuses_an_owner_who_is_not_staff(db, csm, make_user, role):
    with pytest.raises(ValidationError) as error:
        services.milestone_add(
            plan=SuccessPlanFactory(),
            title="Kick-off",
            due_date=_days(1),
            owner=make_user(role),
            acting_user=csm,
        )
    assert "owner" in error.value.message_dict


def test_milestone_add_refuses_an_inactive_owner(db, csm, make_user):
    with pytest.raises(ValidationError):
        services.milestone_add(
            plan=SuccessPlanFactory(),
            title="Kick-off",
            due_date=_days(1),
            owner=make_user(Role.CSM, is_active=False),
            acting_user=csm,
        )


def test_milestone_add_refuses_a_cancelled_plan(db, csm):
    with pytest.raises(ValidationError, match="cancelled"):
        services.milestone_add(
            plan=SuccessPlanFactory(status=PlanStatus.CANCELLED),
            title="Kick-off",
            due_date=_days(1),
            acting_user=csm,
        )


# milestone_set_status


def test_done_records_today_and_who(db, csm):
    milestone = PlanMilestoneFactory()

    services.milestone_set_status(milestone=milestone, status="done", acting_user=csm)

    milestone.refresh_from_db()
    assert milestone.status == MilestoneStatus.DONE
    assert milestone.done_at == timezone.localdate()
    assert milestone.completed_by == csm


def test_back_to_todo_forgets_done_date_and_who(db, csm):
    milestone = PlanMilestoneFactory(status=MilestoneStatus.DONE, completed_by=csm)

    services.milestone_set_status(
        milestone=milestone, status="todo", expected_status="done", acting_user=csm
    )

    milestone.refresh_from_db()
    assert (milestone.status, milestone.done_at, milestone.completed_by) == ("todo", None, None)


def test_skip_and_unskip(db, csm):
    milestone = PlanMilestoneFactory()
    services.milestone_set_status(milestone=milestone, status="skipped", acting_user=csm)
    assert PlanMilestone.objects.get(pk=milestone.pk).status == MilestoneStatus.SKIPPED
    services.milestone_set_status(milestone=milestone, status="todo", acting_user=csm)
    assert PlanMilestone.objects.get(pk=milestone.pk).status == MilestoneStatus.TODO


def test_same_status_twice_changes_nothing(db, csm, make_user):
    milestone = PlanMilestoneFactory(status=MilestoneStatus.DONE, done_at=_days(-3))

    services.milestone_set_status(milestone=milestone, status="done", acting_user=make_user())

    milestone.refresh_from_db()
    assert milestone.done_at == _days(-3)


def test_someone_elses_change_meanwhile_is_not_overwritten(db, csm):
    milestone = PlanMilestoneFactory()
    # Another person skips it after this one loaded the page (which showed "to do").
    PlanMilestone.objects.filter(pk=milestone.pk).update(status=MilestoneStatus.SKIPPED)

    with pytest.raises(services.StaleMilestone, match=r"set .* to skipped meanwhile"):
        services.milestone_set_status(
            milestone=milestone, status="done", expected_status="todo", acting_user=csm
        )

    assert PlanMilestone.objects.get(pk=milestone.pk).status == MilestoneStatus.SKIPPED


def test_unknown_status_is_refused(db, csm):
    with pytest.raises(ValidationError) as error:
        services.milestone_set_status(
            milestone=PlanMilestoneFactory(), status="in_progress", acting_user=csm
        )
    assert "status" in error.value.message_dict


def test_status_of_a_closed_plan_is_refused(db, csm):
    milestone = PlanMilestoneFactory(plan=SuccessPlanFactory(status=PlanStatus.COMPLETED))
    with pytest.raises(ValidationError, match="completed"):
        services.milestone_set_status(milestone=milestone, status="done", acting_user=csm)


# health_override_set's expiry cap


def test_override_may_last_90_days(db, csm):
    override = services.health_override_set(
        account=AccountFactory(),
        band=HealthBand.RED,
        reason="Champion left",
        expires_on=_days(services.HEALTH_OVERRIDE_MAX_DAYS),
        acting_user=csm,
    )
    assert override.expires_on == _days(90)


def test_override_longer_than_90_days_is_refused(db, csm):
    with pytest.raises(ValidationError) as error:
        services.health_override_set(
            account=AccountFactory(),
            band=HealthBand.RED,
            reason="Champion left",
            expires_on=_days(91),
            acting_user=csm,
        )
    assert "at most 90 days" in error.value.message_dict["expires_on"][0]
