"""Pure rules for success plans and check-ins: no database, no clock (today is passed in).

Progress of a plan
    Skipped milestones do not count. `percent_done` is done / (done + to do), rounded down
    to a whole percent, so 100 means every counted milestone is done.

Status of a plan, from the due dates of its open (to do) milestones and `today`:
    off_track  an open milestone is overdue by more than OFF_TRACK_AFTER_DAYS (7) days,
               i.e. its due date is before today - 7 days;
    at_risk    otherwise, an open milestone is overdue (due before today) or due within
               AT_RISK_WITHIN_DAYS (3) days (due today up to today + 3, both included);
    on_track   otherwise (every open milestone is due more than 3 days from today, or all
               are done).
    A plan with no counted milestones (none, or all skipped) has neither a percentage nor a
    status: both are None.

Check-in cadence
    An account needs a touchpoint at least every CHECK_IN_CADENCE_DAYS[tier] days
    (enterprise 14, growth 30, starter 60; an unknown tier gets 60). A check-in is overdue
    when the last touchpoint was on a day before today - cadence, or there is none.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from accounts.choices import Tier

from .choices import MilestoneStatus, PlanProgressStatus

OFF_TRACK_AFTER_DAYS = 7
AT_RISK_WITHIN_DAYS = 3

CHECK_IN_CADENCE_DAYS: dict[str, int] = {
    Tier.ENTERPRISE: 14,
    Tier.GROWTH: 30,
    Tier.STARTER: 60,
}
DEFAULT_CHECK_IN_CADENCE_DAYS = 60


class MilestoneLike(Protocol):
    """What the progress rule reads of a milestone (a PlanMilestone, or any object)."""

    due_date: datetime.date
    status: str


@dataclass(frozen=True)
class PlanProgress:
    percent_done: int | None
    status: PlanProgressStatus | None
    overdue: list[MilestoneLike]  # open milestones due before today, oldest due date first


def plan_progress(milestones: Iterable[MilestoneLike], today: datetime.date) -> PlanProgress:
    """How far a plan has come and whether it is on track (rules in the module docstring)."""
    counted = [m for m in milestones if m.status != MilestoneStatus.SKIPPED]
    if not counted:
        return PlanProgress(percent_done=None, status=None, overdue=[])
    done = sum(1 for m in counted if m.status == MilestoneStatus.DONE)
    open_milestones = [m for m in counted if m.status != MilestoneStatus.DONE]
    overdue = sorted((m for m in open_milestones if m.due_date < today), key=lambda m: m.due_date)
    off_track_before = today - datetime.timedelta(days=OFF_TRACK_AFTER_DAYS)
    at_risk_until = today + datetime.timedelta(days=AT_RISK_WITHIN_DAYS)
    if any(m.due_date < off_track_before for m in open_milestones):
        status = PlanProgressStatus.OFF_TRACK
    elif any(m.due_date <= at_risk_until for m in open_milestones):
        status = PlanProgressStatus.AT_RISK
    else:
        status = PlanProgressStatus.ON_TRACK
    return PlanProgress(percent_done=done * 100 // len(counted), status=status, overdue=overdue)


def milestone_due_date(start_date: datetime.date, day_offset: int) -> datetime.date:
    """A template milestone's due date in a plan starting on `start_date`."""
    if day_offset < 0:
        raise ValueError("A day offset cannot be negative.")
    return start_date + datetime.timedelta(days=day_offset)


def check_in_cadence_days(tier: str) -> int:
    """How often, in days, an account of this tier needs a touchpoint."""
    return CHECK_IN_CADENCE_DAYS.get(tier, DEFAULT_CHECK_IN_CADENCE_DAYS)


def check_in_overdue_before(tier: str, today: datetime.date) -> datetime.date:
    """A last touchpoint on a day before this one means the check-in is overdue."""
    return today - datetime.timedelta(days=check_in_cadence_days(tier))
