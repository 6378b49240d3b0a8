"""Every write to the success data: revenue events, lifecycle history, product usage,
success plans and touchpoints."""

import dataclasses
import datetime
import enum
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.choices import STAFF_ROLES, HealthBand, LifecycleStage
from accounts.imports import (
    MAX_ID,
    ImportRejected,
    import_date,
    import_fields_check,
    import_integer,
    import_moment,
    import_rejections,
    import_text,
)
from accounts.models import Account, Contact, User
from accounts.services import account_activity_announce
from accounts.webhooks import webhook_event_publish, webhook_events_publish

from .choices import (
    REVENUE_GAINS,
    REVENUE_LOSSES,
    MilestoneStatus,
    PlanStatus,
    RevenueEventKind,
    SubscriptionStatus,
    TouchpointKind,
)
from .health import HealthResult
from .models import (
    METRIC_NAME_MAX_LENGTH,
    METRIC_NAME_PATTERN,
    HealthOverride,
    HealthSnapshot,
    LifecycleChange,
    NpsCampaign,
    NpsResponse,
    NpsSurveyInvite,
    PlanMilestone,
    PlanObjective,
    PlanTemplate,
    RevenueEvent,
    Subscription,
    SuccessPlan,
    Touchpoint,
    UsageDaily,
)
from .plans import milestone_due_date
from .selectors import nps_url

# A usage batch lists at most this many row errors; the rest are counted.
USAGE_ERRORS_SHOWN = 20
USAGE_BATCH_SIZE = 1000
_POSTGRES_INTEGER_MAX = 2_147_483_647
_METRIC_NAME = re.compile(METRIC_NAME_PATTERN)
# A health override is a judgement call for now, not a new normal: it lasts at most this long.
HEALTH_OVERRIDE_MAX_DAYS = 90


class StaleMilestone(Exception):
    """Someone changed the milestone's status since the person acting last saw it."""


@transaction.atomic
def revenue_event_record(
    *,
    account: Account,
    kind: str,
    date: datetime.date,
    mrr_delta: Decimal | int | str,
    reason: str = "",
    subscription: Subscription | None = None,
    acting_user: User | None = None,
) -> RevenueEvent:
    """Record one change in an account's MRR.

    The sign must match the kind (new, expansion, reactivation raise MRR; contraction and
    churn lower it) and a churn needs a reason. Floats are refused: money is Decimal.
    """
    if kind not in RevenueEventKind.values:
        raise ValidationError({"kind": f"Unknown revenue event kind {kind!r}."})
    kind = RevenueEventKind(kind)
    if isinstance(mrr_delta, float | bool):
        raise ValidationError({"mrr_delta": "Give the MRR change as a Decimal, not a float."})
    try:
        delta = Decimal(mrr_delta)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"mrr_delta": f"{mrr_delta!r} is not an amount."}) from None
    if not delta.is_finite():
        raise ValidationError({"mrr_delta": "The MRR change must be a finite amount."})
    if kind in REVENUE_GAINS and delta <= 0:
        raise ValidationError(
            {"mrr_delta": f"A {kind.label.lower()} event must raise MRR (got {delta})."}
        )
    if kind in REVENUE_LOSSES and delta >= 0:
        raise ValidationError(
            {"mrr_delta": f"A {kind.label.lower()} event must lower MRR (got {delta})."}
        )
    reason = reason.strip()
    if kind == RevenueEventKind.CHURN and not reason:
        raise ValidationError({"reason": "A churn needs a reason."})
    if subscription is not None and subscription.account_id != account.pk:
        raise ValidationError({"subscription": "That subscription belongs to another account."})

    event = RevenueEvent(
        account=account,
        subscription=subscription,
        kind=kind,
        date=date,
        mrr_delta=delta,
        reason=reason,
        recorded_by=acting_user,
    )
    # Field rules (digits, decimal places, date); the constraints were checked above and the
    # related rows came in as instances.
    event.full_clean(exclude=["account", "subscription", "recorded_by"], validate_constraints=False)
    event.save()
    return event


@transaction.atomic
def account_lifecycle_change(
    *, account: Account, to_stage: str, acting_user: User | None, note: str = ""
) -> LifecycleChange | None:
    """Move an account to another lifecycle stage and keep the history.

    Returns the LifecycleChange written, or None when the account is already at that stage
    (nothing is written, so calling twice is safe).
    """
    if to_stage not in LifecycleStage.values:
        raise ValidationError({"to_stage": f"Unknown lifecycle stage {to_stage!r}."})
    # Lock the row so two concurrent changes record the stage each really moved from.
    from_stage = (
        Account.objects.select_for_update()
        .values_list("lifecycle_stage", flat=True)
        .get(pk=account.pk)
    )
    if from_stage == to_stage:
        account.lifecycle_stage = to_stage
        return None
    now = timezone.now()
    Account.objects.filter(pk=account.pk).update(lifecycle_stage=to_stage, updated_at=now)
    account.lifecycle_stage = to_stage
    account.updated_at = now
    return LifecycleChange.objects.create(
        account=account,
        from_stage=from_stage,
        to_stage=to_stage,
        changed_at=now,
        actor=acting_user,
        note=note.strip(),
    )


def _usage_row(
    number: int, row: object, today: datetime.date
) -> tuple[tuple[int, datetime.date, str, int] | None, list[str]]:
    """One batch row checked on its own: (account_id, day, metric, value), or its errors."""
    if not isinstance(row, Mapping):
        return None, [f"Row {number}: expected a mapping, got {type(row).__name__}."]
    missing = [key for key in ("account_id", "day", "metric", "value") if key not in row]
    if missing:
        return None, [f"Row {number}: missing {', '.join(missing)}."]
    errors = []
    account_id, day, metric, value = row["account_id"], row["day"], row["metric"], row["value"]

    if isinstance(account_id, bool) or not isinstance(account_id, int):
        errors.append(f"Row {number}: account_id must be a whole number, got {account_id!r}.")
    if isinstance(day, str):
        try:
            day = datetime.date.fromisoformat(day)
        except ValueError:
            day = None
            errors.append(f"Row {number}: day {row['day']!r} is not a date (YYYY-MM-DD).")
    elif isinstance(day, datetime.datetime) or not isinstance(day, datetime.date):
        # A datetime is a date to isinstance, but which day it means depends on a zone.
        errors.append(f"Row {number}: day must be a date, got {day!r}.")
        day = None
    if day is not None and day > today:
        errors.append(f"Row {number}: day {day.isoformat()} is in the future.")
    if (
        not isinstance(metric, str)
        or len(metric) > METRIC_NAME_MAX_LENGTH
        or not _METRIC_NAME.match(metric)
    ):
        errors.append(
            f"Row {number}: bad metric name {metric!r} (lowercase letters, digits and "
            f"underscores, at most {METRIC_NAME_MAX_LENGTH} characters)."
        )
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"Row {number}: value must be a whole number, got {value!r}.")
    elif value < 0:
        errors.append(f"Row {number}: value {value} is negative.")
    elif value > _POSTGRES_INTEGER_MAX:
        errors.append(f"Row {number}: value {value} is too large.")
    if errors:
        return None, errors
    return (account_id, day, metric, value), []


@transaction.atomic
def usage_ingest(
    *, rows: Iterable[Mapping[str, object]], accounts: QuerySet[Account] | None = None
) -> int:
    """Store a batch of daily usage numbers: {account_id, day, metric, value} per row.

    All or nothing: every row is checked first, and any bad row (unknown account, negative
    value, a day in the future, a bad metric name, the same account/day/metric twice in the
    batch) raises one ValidationError naming the rows, counted from 1, and writes nothing.
    Otherwise the rows are upserted on (account, day, metric), so sending a day again
    replaces its values instead of adding to them. Returns the number of rows written.
    `accounts` limits the accounts the caller may write (a CSM's portfolio): any other id is
    reported as unknown, exactly like one that does not exist.
    """
    today = timezone.localdate()
    checked: list[tuple[int, datetime.date, str, int]] = []
    numbers: list[int] = []
    errors: list[tuple[int, str]] = []
    account_id_of_row: dict[int, int] = {}  # every well-formed id, even on an otherwise bad row
    for number, row in enumerate(rows, start=1):
        parsed, row_errors = _usage_row(number, row, today)
        errors.extend((number, message) for message in row_errors)
        if parsed is not None:
            checked.append(parsed)
            numbers.append(number)
        account_id = row.get("account_id") if isinstance(row, Mapping) else None
        if isinstance(account_id, int) and not isinstance(account_id, bool):
            account_id_of_row[number] = account_id

    allowed = Account.objects.all() if accounts is None else accounts
    known = set(allowed.filter(pk__in=set(account_id_of_row.values())).values_list("pk", flat=True))
    for number, account_id in account_id_of_row.items():
        if account_id not in known:
            errors.append((number, f"Row {number}: unknown account id {account_id}."))
    first_seen: dict[tuple[int, datetime.date, str], int] = {}
    for number, (account_id, day, metric, _value) in zip(numbers, checked, strict=True):
        key = (account_id, day, metric)
        if key in first_seen:
            # Postgres cannot upsert one key twice in a statement, and which value should
            # win is the sender's call, not ours.
            errors.append(
                (
                    number,
                    f"Row {number}: repeats row {first_seen[key]} "
                    f"(account {account_id}, {day.isoformat()}, {metric}).",
                )
            )
        else:
            first_seen[key] = number

    if errors:
        errors.sort(key=lambda error: error[0])  # stable: a row's own errors keep their order
        shown = [message for _number, message in errors[:USAGE_ERRORS_SHOWN]]
        if len(errors) > len(shown):
            shown.append(f"… and {len(errors) - len(shown)} more errors.")
        raise ValidationError(shown)
    if not checked:
        return 0

    UsageDaily.objects.bulk_create(
        [
            UsageDaily(account_id=account_id, day=day, metric=metric, value=value)
            for account_id, day, metric, value in checked
        ],
        batch_size=USAGE_BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["account", "day", "metric"],
        update_fields=["value"],
    )
    for account_id in sorted({account_id for account_id, _day, _metric, _value in checked}):
        account_activity_announce(account_id=account_id, reason="usage")
    return len(checked)


@transaction.atomic
def plan_apply_template(
    *,
    account: Account,
    template: PlanTemplate,
    start_date: datetime.date,
    acting_user: User | None,
    owner: User | None = None,
) -> SuccessPlan:
    """Start a success plan for an account from a template: one milestone per template
    milestone, due `day_offset` days after `start_date`, owned by `owner` (or nobody)."""
    plan = SuccessPlan.objects.create(
        account=account,
        title=template.name,
        status=PlanStatus.ACTIVE,
        start_date=start_date,
        template=template,
        created_by=acting_user,
    )
    PlanMilestone.objects.bulk_create(
        PlanMilestone(
            plan=plan,
            title=step.title,
            owner=owner,
            due_date=milestone_due_date(start_date, step.day_offset),
            position=step.position,
        )
        for step in template.milestones.order_by("position", "id")
    )
    return plan


@transaction.atomic
def milestone_complete(
    *, milestone: PlanMilestone, acting_user: User | None, on: datetime.date | None = None
) -> PlanMilestone:
    """Mark a milestone done on `on` (default: today).

    Completing a milestone already done changes nothing (safe to call twice). A skipped
    milestone, a date in the future, or a plan no longer active is refused.
    """
    today = timezone.localdate()
    on = today if on is None else on
    if on > today:
        raise ValidationError({"on": f"A milestone cannot be done in the future ({on})."})
    plan_status = SuccessPlan.objects.values_list("status", flat=True).get(pk=milestone.plan_id)
    if plan_status != PlanStatus.ACTIVE:
        raise ValidationError(
            f"The plan is {PlanStatus(plan_status).label.lower()}: its milestones are closed."
        )
    changed = PlanMilestone.objects.filter(pk=milestone.pk, status=MilestoneStatus.TODO).update(
        status=MilestoneStatus.DONE, done_at=on, completed_by=acting_user
    )
    milestone.refresh_from_db(fields=["status", "done_at", "completed_by"])
    if not changed and milestone.status == MilestoneStatus.SKIPPED:
        raise ValidationError("This milestone was skipped; it cannot be completed.")
    if changed:
        account_activity_announce(account_id=milestone.plan.account_id, reason="milestone")
    return milestone


def _plan_open(plan: SuccessPlan) -> None:
    """Refuse changes to a completed or cancelled plan (read from the database: the
    instance may be stale)."""
    status = SuccessPlan.objects.values_list("status", flat=True).get(pk=plan.pk)
    if status != PlanStatus.ACTIVE:
        raise ValidationError(
            f"The plan is {PlanStatus(status).label.lower()}: it can no longer be changed."
        )


@transaction.atomic
def objective_add(
    *,
    plan: SuccessPlan,
    what: str,
    why: str = "",
    success_measure: str = "",
    target_date: datetime.date | None = None,
    acting_user: User | None,
) -> PlanObjective:
    """Add an outcome to an active success plan: what, why it matters, how we will know,
    and by when. Refused: an empty `what`, a plan no longer active."""
    what = what.strip()
    if not what:
        raise ValidationError({"what": "Say what the customer wants to achieve."})
    _plan_open(plan)
    objective = PlanObjective(
        plan=plan,
        what=what,
        why=why.strip(),
        success_measure=success_measure.strip(),
        target_date=target_date,
    )
    objective.full_clean(exclude=["plan"], validate_constraints=False)
    objective.save()
    return objective


@transaction.atomic
def milestone_add(
    *,
    plan: SuccessPlan,
    title: str,
    due_date: datetime.date,
    owner: User | None = None,
    acting_user: User | None,
) -> PlanMilestone:
    """Add a dated step at the end of an active success plan, owned by a member of staff
    (or nobody). Refused: an empty title, an owner who is not active staff, a plan no longer
    active."""
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Give the milestone a title."})
    if owner is not None and (not owner.is_active or owner.role not in STAFF_ROLES):
        raise ValidationError({"owner": f"{owner} is not active staff; pick someone who is."})
    _plan_open(plan)
    # Lock the plan so two milestones added at once do not take the same position.
    SuccessPlan.objects.select_for_update().filter(pk=plan.pk).first()
    last = (
        PlanMilestone.objects.filter(plan=plan)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    milestone = PlanMilestone(
        plan=plan,
        title=title,
        due_date=due_date,
        owner=owner,
        position=0 if last is None else last + 1,
    )
    milestone.full_clean(exclude=["plan", "owner"], validate_constraints=False)
    milestone.save()
    return milestone


@transaction.atomic
def milestone_set_status(
    *,
    milestone: PlanMilestone,
    status: str,
    acting_user: User | None,
    expected_status: str | None = None,
) -> PlanMilestone:
    """Set a milestone to to do, done (today, by `acting_user`) or skipped.

    `expected_status` is the status the person saw: when given and the milestone has
    another one now (someone else changed it meanwhile), StaleMilestone is raised and
    nothing changes, rather than silently overwriting their change. Setting the status it
    already has changes nothing. Refused: an unknown status, a plan no longer active.
    """
    if status not in MilestoneStatus.values:
        raise ValidationError({"status": f"Unknown milestone status {status!r}."})
    _plan_open(milestone.plan)
    current = (
        PlanMilestone.objects.select_for_update()
        .values_list("status", flat=True)
        .get(pk=milestone.pk)
    )
    if expected_status is not None and current != expected_status:
        milestone.refresh_from_db(fields=["status", "done_at", "completed_by"])
        raise StaleMilestone(
            f"Someone else set “{milestone.title}” to "
            f"{MilestoneStatus(current).label.lower()} meanwhile; nothing was changed. "
            "Check it and try again."
        )
    if current != status:
        done = status == MilestoneStatus.DONE
        PlanMilestone.objects.filter(pk=milestone.pk).update(
            status=status,
            done_at=timezone.localdate() if done else None,
            completed_by=acting_user if done else None,
        )
        account_activity_announce(account_id=milestone.plan.account_id, reason="milestone")
    milestone.refresh_from_db(fields=["status", "done_at", "completed_by"])
    return milestone


@transaction.atomic
def touchpoint_log(
    *,
    account: Account,
    kind: str,
    happened_at: datetime.datetime,
    summary: str,
    next_steps: str = "",
    participants: Iterable[Contact] = (),
    acting_user: User | None,
) -> Touchpoint:
    """Record a call, meeting, QBR, email or check-in with a customer account.

    Refused: an unknown kind, an empty summary, a naive or future `happened_at`, and a
    participant who is not a contact of this account.
    """
    errors: dict[str, list[str]] = {}
    if kind not in TouchpointKind.values:
        errors.setdefault("kind", []).append(f"Unknown touchpoint kind {kind!r}.")
    summary = summary.strip()
    if not summary:
        errors.setdefault("summary", []).append("Say in a line what was discussed.")
    if timezone.is_naive(happened_at):
        errors.setdefault("happened_at", []).append("Give the time with its time zone.")
    elif happened_at > timezone.now():
        errors.setdefault("happened_at", []).append(
            f"A touchpoint cannot be logged in the future ({happened_at:%Y-%m-%d %H:%M %Z})."
        )
    participants = list(participants)
    # Read from the database, not the instances: a contact may have moved account since.
    own = set(
        Contact.objects.filter(pk__in=[c.pk for c in participants], account=account).values_list(
            "pk", flat=True
        )
    )
    strangers = [contact for contact in participants if contact.pk not in own]
    if strangers:
        names = ", ".join(sorted(str(contact) for contact in strangers))
        errors.setdefault("participants", []).append(
            f"Not contacts of {account}: {names}. Only the account's own people can take part."
        )
    if errors:
        raise ValidationError(errors)

    touchpoint = Touchpoint.objects.create(
        account=account,
        kind=kind,
        happened_at=happened_at,
        summary=summary,
        next_steps=next_steps.strip(),
        logged_by=acting_user,
    )
    if participants:
        touchpoint.participants.set(participants)
    account_activity_announce(account_id=account.pk, reason="touchpoint")
    return touchpoint


def _json_friendly(value: object) -> object:
    """Dataclasses to dicts, tuples to lists, dates and decimals to ISO/str strings, enums
    to their values, so a component's raw input is stored exactly and readably."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_friendly(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return _json_friendly(value.value)
    if isinstance(value, Mapping):
        return {str(key): _json_friendly(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_friendly(item) for item in value]
    if isinstance(value, datetime.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def health_components_json(result: HealthResult) -> list[dict[str, object]]:
    """The per-component rows of a health result as stored in HealthSnapshot.components."""
    return [
        {
            "key": row.key,
            "label": row.label,
            "raw": _json_friendly(row.raw),
            "score": row.score,
            "weight": row.weight,
            "effective_weight": row.effective_weight,
            "contribution": row.contribution,
        }
        for row in result.components
    ]


def _health_override_in_force(account: Account, on: datetime.date) -> HealthOverride | None:
    return HealthOverride.objects.filter(
        account=account, cleared_at__isnull=True, expires_on__gte=on
    ).first()


@transaction.atomic
def health_snapshot_store(
    *, account: Account, day: datetime.date, result: HealthResult
) -> HealthSnapshot:
    """Store an account's health for `day` and copy it onto the account.

    Upserts on (account, day): storing the same day again replaces the row, so a re-run is
    safe. The account's score and updated time always follow; its band does too, unless a
    health override is in force today (active and not expired), in which case the band stays
    the override's. A result without data stores an empty score and band.
    """
    # Lock the account so a concurrent override set/clear sees this snapshot, or waits.
    old_band = (
        Account.objects.select_for_update()
        .filter(pk=account.pk)
        .values_list("health_band", flat=True)
        .first()
    )
    score = None if result.score is None else Decimal(str(result.score)).quantize(Decimal("0.1"))
    band = "" if result.band is None else str(result.band)
    snapshot, _created = HealthSnapshot.objects.update_or_create(
        account=account,
        day=day,
        defaults={"score": score, "band": band, "components": health_components_json(result)},
    )
    override = _health_override_in_force(account, timezone.localdate())
    now = timezone.now()
    fields = {
        "health_score": score,
        "health_band": band if override is None else override.band,
        "health_updated_at": now,
    }
    Account.objects.filter(pk=account.pk).update(**fields)
    for name, value in fields.items():
        setattr(account, name, value)
    _publish_band_changes(
        [{"account": account.pk, "old_band": old_band, "band": fields["health_band"]}],
        day=day,
    )
    return snapshot


def _publish_band_changes(changes: list[dict], *, day: datetime.date) -> None:
    """Webhooks: health.band_changed for each account whose band moved."""
    moved = [c for c in changes if (c["old_band"] or "") != (c["band"] or "")]
    if moved:
        webhook_events_publish(
            event_type="health.band_changed", resources=[{**c, "day": day} for c in moved]
        )


# The accounts are locked first (in id order, as every multi-row writer here does), so an
# override set or cleared meanwhile is either seen by the store or waits for it.
_ACCOUNTS_LOCK_SQL = f"""
SELECT id FROM {Account._meta.db_table} WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE
"""

# One statement, the rows' JSON parsed once: upsert the snapshots (an unchanged row is not
# rewritten), and copy score and band onto the accounts.
_SNAPSHOTS_STORE_SQL = f"""
WITH r AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS r (account_id bigint, score numeric, band text, components jsonb)
), stored AS (
    INSERT INTO {HealthSnapshot._meta.db_table} AS s
        (account_id, day, score, band, components, created_at)
    SELECT r.account_id, %(day)s, r.score, r.band, r.components, %(now)s FROM r
    ON CONFLICT (account_id, day) DO UPDATE
    SET score = EXCLUDED.score, band = EXCLUDED.band, components = EXCLUDED.components
    WHERE (s.score, s.band, s.components)
          IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.band, EXCLUDED.components)
    RETURNING 1
), copied AS (
    UPDATE {Account._meta.db_table} AS a
    SET health_score = r.score,
        health_band = COALESCE(
            (SELECT o.band FROM {HealthOverride._meta.db_table} AS o
             WHERE o.account_id = a.id AND o.cleared_at IS NULL AND o.expires_on >= %(today)s
             LIMIT 1),
            r.band),
        health_updated_at = %(now)s
    FROM r, {Account._meta.db_table} AS prev
    WHERE a.id = r.account_id AND prev.id = a.id
      -- A recomputed past day does not overwrite a later day's health on the account.
      AND NOT EXISTS (
          SELECT 1 FROM {HealthSnapshot._meta.db_table} AS later
          WHERE later.account_id = a.id AND later.day > %(day)s
      )
    RETURNING a.id, prev.health_band AS old_band, a.health_band AS new_band
)
SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM copied),
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
        'account', id, 'old_band', old_band, 'band', new_band)), '[]'::jsonb)
     FROM copied WHERE old_band IS DISTINCT FROM new_band)
"""


@transaction.atomic
def health_snapshots_store_many(*, day: datetime.date, results: Mapping[int, HealthResult]) -> int:
    """Store many accounts' health for `day` ({account id: result}) and copy it onto the
    accounts, as health_snapshot_store does for one, in two statements whatever their
    number: lock the accounts, then upsert the snapshots on (account, day) and update the
    accounts.

    Storing the same results again changes no snapshot row (an unchanged row is not even
    rewritten). The accounts' score and updated time follow, and their band unless a
    health override is in force today; an account that already has a snapshot of a later
    day keeps its health (a backfilled day does not overwrite today's). Returns the number
    of snapshots inserted or changed.
    """
    if not results:
        return 0
    ids = sorted(results)
    # One JSON document for all rows: scores travel as their shortest decimal text (82.2),
    # read back exactly as numeric.
    rows = [
        {
            "account_id": account_id,
            "score": results[account_id].score,
            "band": "" if results[account_id].band is None else str(results[account_id].band),
            "components": health_components_json(results[account_id]),
        }
        for account_id in ids
    ]
    now = timezone.now()
    params = {
        "ids": ids,
        "rows": json.dumps(rows),
        "day": day,
        "now": now,
        "today": timezone.localdate(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNTS_LOCK_SQL, params)
        cursor.execute(_SNAPSHOTS_STORE_SQL, params)
        written, _copied, band_changes = cursor.fetchone()
    if isinstance(band_changes, str):
        band_changes = json.loads(band_changes)
    _publish_band_changes(band_changes, day=day)
    return written


@transaction.atomic
def health_override_set(
    *,
    account: Account,
    band: str,
    reason: str,
    expires_on: datetime.date,
    acting_user: User,
) -> HealthOverride:
    """Override an account's health band until `expires_on` (inclusive), saying why.

    Replaces any active override (it is cleared by `acting_user`) and sets the account's
    band at once. Refused: an unknown band, an empty reason, an expiry in the past or more
    than HEALTH_OVERRIDE_MAX_DAYS ahead.
    """
    errors: dict[str, list[str]] = {}
    if band not in HealthBand.values:
        errors.setdefault("band", []).append(f"Unknown health band {band!r}.")
    reason = reason.strip()
    if not reason:
        errors.setdefault("reason", []).append("Say why the band is overridden.")
    today = timezone.localdate()
    if expires_on < today:
        errors.setdefault("expires_on", []).append(
            f"The override cannot expire in the past ({expires_on.isoformat()})."
        )
    elif expires_on > today + datetime.timedelta(days=HEALTH_OVERRIDE_MAX_DAYS):
        errors.setdefault("expires_on", []).append(
            f"An override lasts at most {HEALTH_OVERRIDE_MAX_DAYS} days (until "
            f"{(today + datetime.timedelta(days=HEALTH_OVERRIDE_MAX_DAYS)).isoformat()}); "
            "set it again then if it still holds."
        )
    if errors:
        raise ValidationError(errors)

    Account.objects.select_for_update().filter(pk=account.pk).first()
    now = timezone.now()
    HealthOverride.objects.filter(account=account, cleared_at__isnull=True).update(
        cleared_at=now, cleared_by=acting_user
    )
    override = HealthOverride.objects.create(
        account=account,
        band=band,
        reason=reason,
        expires_on=expires_on,
        set_by=acting_user,
        created_at=now,
    )
    Account.objects.filter(pk=account.pk).update(health_band=band)
    account.health_band = band
    return override


@transaction.atomic
def health_override_clear(*, account: Account, acting_user: User) -> HealthOverride | None:
    """End an account's active health override and restore the band of its latest
    snapshot (empty without one). Returns the cleared override, or None when there was
    none (nothing changes, so calling twice is safe)."""
    Account.objects.select_for_update().filter(pk=account.pk).first()
    override = HealthOverride.objects.filter(account=account, cleared_at__isnull=True).first()
    if override is None:
        return None
    override.cleared_at = timezone.now()
    override.cleared_by = acting_user
    override.save(update_fields=["cleared_at", "cleared_by"])
    band = (
        HealthSnapshot.objects.filter(account=account)
        .order_by("-day")
        .values_list("band", flat=True)
        .first()
    ) or ""
    Account.objects.filter(pk=account.pk).update(health_band=band)
    account.health_band = band
    return override


# --- NPS surveys ------------------------------------------------------------------------

# Nobody is asked for NPS more than once in this many days, whichever campaign asks.
NPS_INVITE_COOLDOWN_DAYS = 90
# Serialises campaign sends, so two campaigns sent at once cannot both invite one contact.
_NPS_SEND_LOCK = 0x4E5053  # "NPS"

_NPS_INVITE_SQL = """
INSERT INTO success_npssurveyinvite (campaign_id, contact_id, account_id, created_at, sent_at)
SELECT %(campaign)s, c.id, c.account_id, %(now)s, NULL
FROM accounts_contact c
JOIN accounts_account a ON a.id = c.account_id
WHERE c.email <> ''
  AND (%(audience)s = 'all'
       OR (%(audience)s = 'tiers' AND a.tier = ANY(%(tiers)s::text[]))
       OR (%(audience)s = 'stages' AND a.lifecycle_stage = ANY(%(stages)s::text[])))
  AND NOT EXISTS (
      SELECT 1 FROM success_npssurveyinvite i
      WHERE i.contact_id = c.id AND i.created_at > %(cutoff)s
  )
ORDER BY c.id
ON CONFLICT (campaign_id, contact_id) DO NOTHING
RETURNING id
"""


class NpsSurveyError(Exception):
    """An NPS answer that cannot be recorded (its invite or account is gone)."""


@transaction.atomic
def nps_campaign_send(
    *, campaign: NpsCampaign, acting_user: User | None, now: datetime.datetime | None = None
) -> int:
    """Invite the audience's contacts who have not been asked (by any campaign) in the last
    90 days, and email each invite once the transaction commits. Returns how many contacts
    were newly invited.

    One set-based INSERT ... SELECT ... WHERE NOT EXISTS: running it twice invites nobody
    twice (the unique (campaign, contact) and the 90-day rule), and invites whose email has
    not gone out yet are queued again (their task sends each at most once).
    """
    campaign.full_clean()
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_NPS_SEND_LOCK])
        cursor.execute(
            _NPS_INVITE_SQL,
            {
                "campaign": campaign.pk,
                "now": now,
                "audience": campaign.audience,
                "tiers": list(campaign.tiers),
                "stages": list(campaign.stages),
                "cutoff": now - datetime.timedelta(days=NPS_INVITE_COOLDOWN_DAYS),
            },
        )
        invited = len(cursor.fetchall())
    if campaign.sent_at is None:
        campaign.sent_at = now
        NpsCampaign.objects.filter(pk=campaign.pk, sent_at__isnull=True).update(sent_at=now)
    unsent = list(
        NpsSurveyInvite.objects.filter(campaign=campaign, sent_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if unsent:
        transaction.on_commit(partial(_nps_invites_enqueue, unsent))
    return invited


def _nps_invites_enqueue(invite_ids: list[int]) -> None:
    from .tasks import nps_invite_email_task

    for invite_id in invite_ids:
        nps_invite_email_task.delay(invite_id)


def _nps_email(invite: NpsSurveyInvite) -> EmailMessage:
    first_name = (invite.contact.name or "").split(" ")[0] or "there"
    scores = "\n".join(f"  {n}: {nps_url(invite_id=invite.pk, score=n)}" for n in range(10, -1, -1))
    body = (
        f"Hi {first_name},\n\n"
        f"{invite.campaign.question}\n"
        "0 means not at all likely, 10 extremely likely. Choose your score:\n\n"
        f"{scores}\n\n"
        "One click opens a short page where you can tell us the main reason for your score. "
        f"The link works for {settings.CX_SURVEY_LINK_MAX_AGE_DAYS} days.\n"
    )
    return EmailMessage(
        subject="Quick question: how likely are you to recommend us?",
        body=body,
        to=[invite.contact.email],
        headers={"Auto-Submitted": "auto-generated"},  # no auto-replies (RFC 3834)
    )


def nps_invite_email_send(*, invite_id: int) -> bool:
    """Email one NPS invite, at most once: the invite is claimed by a conditional update in
    the transaction that sends, so a retry after a failed send tries again and a duplicate
    task finds nothing to do."""
    with transaction.atomic():
        now = timezone.now()
        if not NpsSurveyInvite.objects.filter(pk=invite_id, sent_at__isnull=True).update(
            sent_at=now
        ):
            return False
        invite = NpsSurveyInvite.objects.select_related("campaign", "contact").get(pk=invite_id)
        if not invite.contact.email:
            return False
        return bool(get_connection().send_messages([_nps_email(invite)]))


@transaction.atomic
def nps_response_record(*, invite: NpsSurveyInvite, score: int, reason: str) -> NpsResponse:
    """Record a contact's answer to a campaign (from a signed survey link): insert, or replace
    their earlier answer (one per campaign and contact; the latest counts).

    No `acting_user`: the contact answers without signing in; the signed link names them.
    """
    account_id = invite.account_id or invite.contact.account_id
    if account_id is None:
        raise NpsSurveyError("This person is no longer linked to a customer account.")
    response = NpsResponse(
        account_id=account_id,
        contact_id=invite.contact_id,
        campaign_id=invite.campaign_id,
        score=score,
        reason=reason.strip(),
        responded_at=timezone.now(),
    )
    response.clean_fields(exclude=["account", "contact", "campaign"])
    # One statement, safe against a double submit: INSERT ... ON CONFLICT DO UPDATE.
    NpsResponse.objects.bulk_create(
        [response],
        update_conflicts=True,
        unique_fields=["campaign", "contact"],
        update_fields=["account", "score", "reason", "responded_at"],
    )
    account_activity_announce(account_id=account_id, reason="nps")
    _publish_nps(response)
    return response


def _publish_nps(response: NpsResponse) -> None:
    webhook_event_publish(
        event_type="survey.response",
        resource=lambda: {
            "survey": "nps",
            "campaign": response.campaign_id,
            "account": response.account_id,
            "contact": response.contact_id,
            "score": response.score,
            "reason": response.reason,
            "responded_at": response.responded_at,
        },
    )


# --- Subscriptions and NPS answers from other tools (the REST API) -----------------------


@transaction.atomic
def subscription_save(
    *,
    account: Account,
    plan_name: str,
    start_date: datetime.date,
    seats: int | None = None,
    mrr: Decimal | int | str = 0,
    end_date: datetime.date | None = None,
    status: str = SubscriptionStatus.ACTIVE,
    subscription: Subscription | None = None,
) -> Subscription:
    """Create a subscription, or change `subscription`: its field rules and constraints
    (MRR not negative, the end not before the start) are checked before it is saved. Its
    MRR is the contract's; revenue movements are recorded as revenue events."""
    if subscription is None:
        subscription = Subscription(account=account)
    subscription.account = account
    subscription.plan_name = plan_name.strip()
    subscription.start_date = start_date
    subscription.seats = seats
    subscription.mrr = mrr
    subscription.end_date = end_date
    subscription.status = status
    subscription.full_clean(exclude=["account"])
    subscription.save()
    return subscription


def nps_response_import(
    *, contact: Contact, score: int, reason: str = "", responded_at: datetime.datetime | None = None
) -> NpsResponse:
    """Record an NPS answer collected by another tool (no campaign): for the contact's
    account, at `responded_at` (default now; never in the future, never naive)."""
    errors: dict[str, list[str]] = {}
    if contact.account_id is None:
        errors["contact"] = ["This person is not linked to a customer account."]
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        errors["score"] = ["An NPS score is a whole number from 0 to 10."]
    now = timezone.now()
    if responded_at is None:
        responded_at = now
    elif timezone.is_naive(responded_at):
        errors["submitted_at"] = ["Give the time with its time zone."]
    elif responded_at > now:
        errors["submitted_at"] = ["An answer cannot be submitted in the future."]
    if errors:
        raise ValidationError(errors)
    response = NpsResponse.objects.create(
        account_id=contact.account_id,
        contact=contact,
        score=score,
        reason=reason.strip(),
        responded_at=responded_at,
    )
    account_activity_announce(account_id=contact.account_id, reason="nps")
    _publish_nps(response)
    return response


# --- History import (`manage.py import_history`, dispatched by metrics) ------------------

NPS_IMPORT_FIELDS = {"contact", "score", "comment", "submitted_at"}
REVENUE_EVENT_IMPORT_FIELDS = {"account", "event", "mrr_delta", "effective_date", "reason"}


@transaction.atomic
def nps_history_import(*, record: object, now: datetime.datetime | None = None) -> NpsResponse:
    """Import one NPS answer collected by another tool (a `"kind": "nps"` line of the
    history file, its `kind` already removed), through nps_response_import:

        {"contact": "dana@acme.example", "score": 9, "comment": "...", "submitted_at": "..."}

    The contact must exist and belong to an account; `score` 0-10; `submitted_at` ISO 8601,
    not in the future. ImportRejected says why a record cannot be imported."""
    record = import_fields_check(record, allowed=NPS_IMPORT_FIELDS, what="An NPS answer")
    email = import_text(record, "contact", required=True).strip()
    contact = Contact.objects.with_email(email).first()
    if contact is None:
        raise ImportRejected(f"contact: no contact has the email {email}.")
    score = import_integer(record, "score", minimum=0, maximum=10)
    reason = import_text(record, "comment")
    responded_at = import_moment(record, "submitted_at", now=now or timezone.now())
    with import_rejections():
        return nps_response_import(
            contact=contact, score=score, reason=reason, responded_at=responded_at
        )


@transaction.atomic
def revenue_event_history_import(
    *, record: object, now: datetime.datetime | None = None
) -> RevenueEvent:
    """Import one past change in an account's MRR (a `"kind": "revenue_event"` line of the
    history file, its `kind` already removed), through revenue_event_record:

        {"account": 12, "event": "expansion", "mrr_delta": "250.00",
         "effective_date": "2026-02-01", "reason": "10 more seats"}

    `event` is the revenue event's kind (the line's `kind` names the record's kind);
    `mrr_delta` a string or a whole number (money is never a float), its sign matching the
    event; `effective_date` not in the future; a churn needs a reason. Recorded by nobody:
    it comes from the file, not from a person. ImportRejected says why not."""
    record = import_fields_check(
        record, allowed=REVENUE_EVENT_IMPORT_FIELDS, what="A revenue event"
    )
    account_id = import_integer(record, "account", minimum=1, maximum=MAX_ID)
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise ImportRejected(f"account: no account has the id {account_id}.")
    kind = record.get("event")
    if kind not in RevenueEventKind.values:
        raise ImportRejected(f"event: {kind!r} is not one of {', '.join(RevenueEventKind.values)}.")
    mrr_delta = record.get("mrr_delta")
    if isinstance(mrr_delta, bool) or not isinstance(mrr_delta, str | int):
        raise ImportRejected(
            f'mrr_delta: give the amount as a string like "123.45" (got {mrr_delta!r}).'
        )
    date = import_date(record, "effective_date", now=now or timezone.now())
    reason = import_text(record, "reason")
    with import_rejections():
        return revenue_event_record(
            account=account, kind=kind, date=date, mrr_delta=mrr_delta, reason=reason
        )
