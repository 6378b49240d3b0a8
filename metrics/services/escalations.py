"""Escalation flags between the teams: the evaluation job and what people do with a flag.

`escalations_evaluate` runs every rule as one set-based statement over all accounts (or
the given ones): the rule's query says which accounts fire and with what evidence; the same
statement opens new flags (INSERT ... ON CONFLICT on the one-unresolved-flag-per-(account,
rule) index, so concurrent runs cannot create duplicates), updates the evidence of open ones
when it changed, and notes when a flag's condition stopped holding. A second statement
resolves the flags whose condition has stayed clear for the rule's quiet period. A full run
takes a transaction-level advisory lock, so two full runs never overlap (the second returns
at once); per-account runs (the health recompute) rely on the unique index alone.

Notifications: a support → success flag notifies its owner, the account's CSM, once, when it
opens (in-app, and by email through accounts' notifications path); evidence updates never
notify. Success → support flags notify nobody: support meets them on every ticket of the
account (the at-risk banner, the queue marker and filter, the priority bump) instead.
"""

from __future__ import annotations

import datetime
import functools

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage
from accounts.models import Account, Notification, SupportAttention, User
from accounts.services import account_support_attention_set, account_support_onboarding_set
from accounts.webhooks import webhook_event_types_subscribed, webhook_events_publish
from success.models import NpsResponse
from support.choices import SlaAlertKind
from support.models import CsatResponse, SlaAlert, Ticket

from ..models import (
    EscalationDirection,
    EscalationFlag,
    EscalationFlagEvent,
    EscalationRule,
    FlagEventKind,
    FlagState,
    RuleCode,
)

# pg_try_advisory_xact_lock key of the full run ("escalat" in ASCII).
ADVISORY_LOCK_KEY = 0x657363616C6174
EVIDENCE_ITEMS = 20  # ticket numbers, ratings or answers kept per flag
NOTE_MAX_LENGTH = 5000
NOTIFICATION_KIND = "escalation_flag"


class FlagError(Exception):
    """A change the flag's state refuses; `str()` is the message to show the person."""


# --- the rules' queries -----------------------------------------------------------------
#
# Each returns (account_id bigint, evidence jsonb), one row per firing account. `{scope}`
# becomes "AND <column> = ANY(%(account_ids)s)" for a per-account run. Evidence is built
# deterministically (ordered, capped) so that "changed" means something changed.

_TICKET = Ticket._meta.db_table
_ACCOUNT = Account._meta.db_table
_NONE = "SELECT NULL::bigint, NULL::jsonb WHERE false"


def _ticket_spike() -> tuple[str, str]:
    # Merged tickets are duplicates of another ticket, not more volume. The multiple of the
    # weekly average needs an average: an account without tickets in the previous weeks
    # (a new one) spikes on the absolute count only.
    return (
        "t.account_id",
        f"""
        SELECT r.account_id, jsonb_build_object(
            'summary', format('%%s tickets in %%s days (weekly average before: %%s)',
                r.n, %(window_days)s,
                round(coalesce(b.n, 0)::numeric / %(baseline_weeks)s, 1)),
            'count', r.n,
            'window_days', %(window_days)s,
            'weekly_average', round(coalesce(b.n, 0)::numeric / %(baseline_weeks)s, 2),
            'tickets', to_jsonb(r.ids))
        FROM (
            SELECT t.account_id, count(*) AS n,
                   (array_agg(t.id ORDER BY t.created_at DESC, t.id DESC))[1:%(items)s] AS ids
            FROM {_TICKET} t
            WHERE t.account_id IS NOT NULL AND t.merged_into_id IS NULL
              AND t.created_at > %(now)s - make_interval(days => %(window_days)s)
              AND t.created_at <= %(now)s {{scope}}
            GROUP BY t.account_id
            HAVING count(*) >= least(%(min_tickets)s, %(multiplier_min_tickets)s)
        ) r
        LEFT JOIN LATERAL (
            SELECT count(*) AS n FROM {_TICKET} b
            WHERE b.account_id = r.account_id AND b.merged_into_id IS NULL
              AND b.created_at > %(now)s
                  - make_interval(days => %(window_days)s + 7 * %(baseline_weeks)s)
              AND b.created_at <= %(now)s - make_interval(days => %(window_days)s)
        ) b ON true
        WHERE r.n >= %(min_tickets)s
           OR (r.n >= %(multiplier_min_tickets)s AND b.n > 0
               AND r.n * 7.0 / %(window_days)s
                   >= %(multiplier)s * coalesce(b.n, 0)::numeric / %(baseline_weeks)s)
        """,
    )


def _repeated_complaint() -> tuple[str, str]:
    return (
        "t.account_id",
        f"""
        SELECT g.account_id, jsonb_build_object(
            'summary', string_agg(format('%%s tickets tagged “%%s”', g.n, g.tag), '; '
                                  ORDER BY g.n DESC, g.tag),
            'window_days', %(window_days)s,
            'tags', jsonb_agg(jsonb_build_object('tag', g.tag, 'count', g.n,
                                                 'tickets', to_jsonb(g.ids))
                              ORDER BY g.n DESC, g.tag))
        FROM (
            SELECT t.account_id, tag, count(*) AS n,
                   (array_agg(t.id ORDER BY t.created_at DESC, t.id DESC))[1:%(items)s] AS ids
            FROM {_TICKET} t CROSS JOIN LATERAL unnest(t.tags) AS tag
            WHERE t.account_id IS NOT NULL AND t.merged_into_id IS NULL
              AND t.created_at > %(now)s - make_interval(days => %(window_days)s)
              AND t.created_at <= %(now)s
              AND NOT (tag = ANY(%(ignore_tags)s::text[])) {{scope}}
            GROUP BY t.account_id, tag
            HAVING count(*) >= %(min_tickets)s
        ) g
        GROUP BY g.account_id
        """,
    )


def _sla_breach_key_account() -> tuple[str, str]:
    # Recorded breaches only (the minute job has passed their moment), as the timeline shows.
    return (
        "t.account_id",
        f"""
        SELECT t.account_id, jsonb_build_object(
            'summary', format('%%s SLA breach(es) in %%s days on a %%s-tier account',
                              count(*), %(window_days)s, a.tier),
            'count', count(*),
            'tier', a.tier,
            'window_days', %(window_days)s,
            'tickets', to_jsonb((array_agg(DISTINCT t.id ORDER BY t.id DESC))[1:%(items)s]))
        FROM {SlaAlert._meta.db_table} x
        JOIN {_TICKET} t ON t.id = x.ticket_id
        JOIN {_ACCOUNT} a ON a.id = t.account_id
        WHERE x.kind = '{SlaAlertKind.BREACH}' AND x.recorded_at IS NOT NULL
          AND x.at > %(now)s - make_interval(days => %(window_days)s) AND x.at <= %(now)s
          {{scope}}
        GROUP BY t.account_id, a.tier
        HAVING count(*) >= CASE WHEN a.tier = ANY(%(key_tiers)s::text[]) THEN 1
                                ELSE %(min_breaches)s END
        """,
    )


def _unhappy_customer() -> tuple[str, str]:
    return (
        "c.account_id",
        f"""
        SELECT c.account_id, jsonb_build_object(
            'summary', format('%%s CSAT rating(s) of %%s to %%s in %%s days', count(*),
                              %(min_rating)s, %(max_rating)s, %(window_days)s),
            'count', count(*),
            'window_days', %(window_days)s,
            'ratings', to_jsonb((array_agg(jsonb_build_object(
                'id', c.id, 'ticket', c.ticket_id, 'rating', c.rating,
                'comment', left(c.comment, 200), 'at', c.responded_at)
                ORDER BY c.responded_at DESC, c.id DESC))[1:%(items)s]))
        FROM {CsatResponse._meta.db_table} c
        WHERE c.account_id IS NOT NULL
          AND c.rating BETWEEN %(min_rating)s AND %(max_rating)s
          AND c.responded_at > %(now)s - make_interval(days => %(window_days)s)
          AND c.responded_at <= %(now)s {{scope}}
        GROUP BY c.account_id
        """,
    )


def _detractor() -> tuple[str, str]:
    return (
        "n.account_id",
        f"""
        SELECT n.account_id, jsonb_build_object(
            'summary', format('%%s NPS answer(s) of %%s to %%s in %%s days', count(*),
                              %(min_score)s, %(max_score)s, %(window_days)s),
            'count', count(*),
            'window_days', %(window_days)s,
            'responses', to_jsonb((array_agg(jsonb_build_object(
                'id', n.id, 'score', n.score, 'reason', left(n.reason, 200),
                'at', n.responded_at)
                ORDER BY n.responded_at DESC, n.id DESC))[1:%(items)s]))
        FROM {NpsResponse._meta.db_table} n
        WHERE n.score BETWEEN %(min_score)s AND %(max_score)s
          AND n.responded_at > %(now)s - make_interval(days => %(window_days)s)
          AND n.responded_at <= %(now)s {{scope}}
        GROUP BY n.account_id
        """,
    )


def _at_risk_account() -> tuple[str, str]:
    # "Below green" is yellow or red; an account not yet scored has no band and does not fire.
    return (
        "a.id",
        f"""
        SELECT a.id, jsonb_build_object(
            'summary', CASE WHEN a.health_band = '{HealthBand.RED}' THEN 'Health band Red'
                       ELSE format('Renewal on %%s with health band %%s', a.renewal_date,
                                   CASE a.health_band WHEN '{HealthBand.YELLOW}'
                                   THEN 'At risk' ELSE a.health_band END) END,
            'band', a.health_band,
            'renewal_date', a.renewal_date)
        FROM {_ACCOUNT} a
        WHERE a.lifecycle_stage <> '{LifecycleStage.CHURNED}'
          AND (a.health_band = '{HealthBand.RED}'
               OR (a.health_band = '{HealthBand.YELLOW}'
                   AND a.renewal_date BETWEEN %(today)s
                       AND %(today)s + %(renewal_within_days)s::int)) {{scope}}
        """,
    )


def _onboarding() -> tuple[str, str]:
    return (
        "a.id",
        f"""
        SELECT a.id, jsonb_build_object('summary', 'Account in the onboarding stage',
                                        'stage', a.lifecycle_stage)
        FROM {_ACCOUNT} a
        WHERE a.lifecycle_stage = '{LifecycleStage.ONBOARDING}' {{scope}}
        """,
    )


RULE_QUERIES = {
    RuleCode.TICKET_SPIKE: _ticket_spike,
    RuleCode.REPEATED_COMPLAINT: _repeated_complaint,
    RuleCode.SLA_BREACH_KEY_ACCOUNT: _sla_breach_key_account,
    RuleCode.UNHAPPY_CUSTOMER: _unhappy_customer,
    RuleCode.DETRACTOR: _detractor,
    RuleCode.AT_RISK_ACCOUNT: _at_risk_account,
    RuleCode.ONBOARDING: _onboarding,
}


def _fired_sql(rule: EscalationRule, scoped: bool) -> str:
    if not rule.enabled or rule.code not in RULE_QUERIES:
        return _NONE  # a switched-off rule fires nowhere: its flags clear and resolve
    column, sql = RULE_QUERIES[rule.code]()
    return sql.replace("{scope}", f"AND {column} = ANY(%(account_ids)s)" if scoped else "")


_FLAG = EscalationFlag._meta.db_table
_EVENT = EscalationFlagEvent._meta.db_table
_UNRESOLVED = f"state <> '{FlagState.RESOLVED}'"

# One statement per rule: fire, open or update, note the cleared ones, write their events.
_APPLY_SQL = f"""
WITH fired (account_id, evidence) AS MATERIALIZED (
    {{fired}}
), wanted AS (
    -- A flag a person resolved stays quiet through the quiet period unless the evidence
    -- changes (they knew; raising it again at once would only be noise).
    SELECT f.* FROM fired f
    WHERE NOT EXISTS (
        SELECT 1 FROM {_FLAG} r
        WHERE r.account_id = f.account_id AND r.rule_id = %(rule)s
          AND r.state = '{FlagState.RESOLVED}' AND r.resolved_by_id IS NOT NULL
          AND r.resolved_at > %(now)s - make_interval(days => %(quiet_days)s)
          AND r.evidence = f.evidence)
), upserted AS (
    INSERT INTO {_FLAG} AS f (account_id, rule_id, direction, owner_id, state, evidence,
                              opened_at, last_fired_at, resolution_note)
    SELECT w.account_id, %(rule)s, %(direction)s,
           CASE WHEN %(owned)s THEN a.csm_id END, '{FlagState.OPEN}', w.evidence,
           %(now)s, %(now)s, ''
    FROM wanted w JOIN {_ACCOUNT} a ON a.id = w.account_id
    ORDER BY w.account_id
    ON CONFLICT (account_id, rule_id) WHERE {_UNRESOLVED}
    DO UPDATE SET
        evidence = EXCLUDED.evidence,
        last_fired_at = CASE WHEN f.evidence IS DISTINCT FROM EXCLUDED.evidence
                             THEN EXCLUDED.last_fired_at ELSE f.last_fired_at END,
        condition_cleared_at = NULL
    WHERE f.evidence IS DISTINCT FROM EXCLUDED.evidence OR f.condition_cleared_at IS NOT NULL
    RETURNING f.id, f.evidence, (f.xmax = 0) AS inserted,
              f.last_fired_at = %(now)s AS evidence_changed
), fired_events AS (
    INSERT INTO {_EVENT} (flag_id, kind, actor_id, note, evidence, created_at)
    SELECT id, CASE WHEN inserted THEN '{FlagEventKind.FIRED}'
                    ELSE '{FlagEventKind.EVIDENCE_UPDATED}' END,
           NULL, '', evidence, %(now)s
    FROM upserted WHERE inserted OR evidence_changed
), cleared AS (
    UPDATE {_FLAG} f SET condition_cleared_at = %(now)s
    WHERE f.rule_id = %(rule)s AND f.{_UNRESOLVED} AND f.condition_cleared_at IS NULL
      {{scope}}
      -- NOT IN over a CTE is a hashed subplan; NOT EXISTS was planned as a nested loop.
      AND f.account_id NOT IN (SELECT account_id FROM fired)
    RETURNING f.id
), cleared_events AS (
    INSERT INTO {_EVENT} (flag_id, kind, actor_id, note, evidence, created_at)
    SELECT id, '{FlagEventKind.CONDITION_CLEARED}', NULL, '', NULL, %(now)s FROM cleared
)
SELECT (SELECT count(*) FROM fired),
       (SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM upserted WHERE inserted),
       (SELECT count(*) FROM upserted WHERE NOT inserted AND evidence_changed),
       (SELECT count(*) FROM cleared)
"""

# After the quiet period with the condition clear, the flag resolves itself, with a note.
_AUTO_RESOLVE_SQL = f"""
WITH resolved AS (
    UPDATE {_FLAG} f SET state = '{FlagState.RESOLVED}', resolved_at = %(now)s,
        resolution_note = format(
            'Resolved automatically: the rule has not fired since %%s (quiet period %%s days).',
            to_char(f.condition_cleared_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI'),
            %(quiet_days)s)
    WHERE f.rule_id = %(rule)s AND f.{_UNRESOLVED}
      AND f.condition_cleared_at <= %(now)s - make_interval(days => %(quiet_days)s) {{scope}}
    RETURNING f.id, f.resolution_note
), resolved_events AS (
    INSERT INTO {_EVENT} (flag_id, kind, actor_id, note, evidence, created_at)
    SELECT id, '{FlagEventKind.AUTO_RESOLVED}', NULL, resolution_note, NULL, %(now)s
    FROM resolved
)
SELECT count(*), coalesce(array_agg(id), '{{}}') FROM resolved
"""


def _params(rule: EscalationRule, now: datetime.datetime) -> dict:
    from ..models.escalations import RULE_THRESHOLDS

    params = {key: rule.threshold(key) for key in RULE_THRESHOLDS.get(rule.code, {})}
    return params | {
        "now": now,
        "today": timezone.localdate(now),
        "items": EVIDENCE_ITEMS,
        "rule": rule.pk,
        "direction": rule.direction,
        "owned": rule.direction == EscalationDirection.SUPPORT_TO_SUCCESS,
        "quiet_days": rule.quiet_period_days,
        "tz": settings.TIME_ZONE,
    }


def escalations_evaluate(
    *, account_ids: list[int] | None = None, now: datetime.datetime | None = None
) -> dict:
    """Evaluate every rule for all accounts (`account_ids` None) or the given ones; returns
    per rule {"firing", "opened", "updated", "cleared", "resolved"}, or {"skipped": True}
    when another full run holds the lock. Two queries per rule, whatever the number of
    accounts; then the notifications of the flags that opened and the at-risk marks."""
    now = now or timezone.now()
    scoped = account_ids is not None
    if scoped and not account_ids:
        return {}
    summary: dict = {}
    with transaction.atomic(), connection.cursor() as cursor:
        if not scoped:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return {"skipped": True}
        opened: list[int] = []
        auto_resolved: list[int] = []
        scope = "AND f.account_id = ANY(%(account_ids)s)" if scoped else ""
        for rule in EscalationRule.objects.order_by("pk"):
            params = _params(rule, now) | {"account_ids": list(account_ids or [])}
            sql = _APPLY_SQL.replace("{fired}", _fired_sql(rule, scoped)).replace("{scope}", scope)
            cursor.execute(sql, params)
            firing, inserted, updated, cleared = cursor.fetchone()
            cursor.execute(_AUTO_RESOLVE_SQL.replace("{scope}", scope), params)
            resolved, resolved_ids = cursor.fetchone()
            opened += inserted
            auto_resolved += resolved_ids
            summary[rule.code] = {
                "firing": firing,
                "opened": len(inserted),
                "updated": updated,
                "cleared": cleared,
                "resolved": resolved,
            }
        _notify_opened(opened)
        _publish_flags("escalation.raised", opened)
        _publish_flags("escalation.resolved", auto_resolved)
        support_attention_sync(account_ids=account_ids, now=now)
    return summary


def _flag_resource(flag: EscalationFlag) -> dict:
    return {
        "id": flag.pk,
        "account": flag.account_id,
        "rule": flag.rule.code,
        "direction": flag.direction,
        "state": flag.state,
        "owner": flag.owner.email if flag.owner_id else None,
        "evidence": flag.evidence,
        "opened_at": flag.opened_at,
        "acknowledged_at": flag.acknowledged_at,
        "resolved_at": flag.resolved_at,
        "resolution_note": flag.resolution_note,
    }


def _publish_flags(event_type: str, flag_ids: list[int]) -> None:
    """Webhooks: one event per flag (set-based), rendered only if someone subscribes."""
    if not flag_ids or event_type not in webhook_event_types_subscribed():
        return
    flags = EscalationFlag.objects.filter(pk__in=flag_ids).select_related("rule", "owner")
    webhook_events_publish(event_type=event_type, resources=[_flag_resource(f) for f in flags])


def _notify_opened(flag_ids: list[int]) -> None:
    """Tell each new support → success flag's owner (the CSM), once: in-app now, by email
    after commit. Runs only for flags this statement inserted, so never twice."""
    if not flag_ids:
        return
    flags = EscalationFlag.objects.filter(
        pk__in=flag_ids,
        direction=EscalationDirection.SUPPORT_TO_SUCCESS,
        owner__isnull=False,
        owner__is_active=True,
    ).select_related("rule", "account")
    notifications = Notification.objects.bulk_create(
        [
            Notification(
                user_id=flag.owner_id,
                kind=NOTIFICATION_KIND,
                title=f"{flag.rule.name}: {flag.account.name}"[:200],
                body=str((flag.evidence or {}).get("summary", "")),
                url=flag.get_absolute_url(),
            )
            for flag in flags
        ]
    )
    if ids := [n.pk for n in notifications]:
        transaction.on_commit(functools.partial(_email_notifications, ids))


def _email_notifications(notification_ids: list[int]) -> None:
    from accounts.tasks import notifications_email_task

    notifications_email_task.delay(notification_ids)


def support_attention_sync(
    *, account_ids: list[int] | None = None, now: datetime.datetime | None = None
) -> None:
    """Make accounts.Account.support_attention say what the unresolved at-risk flags say,
    for the given accounts or all: "at_risk" with the note (the latest comment a person
    wrote on the flag, else the rule's reason) while one is unresolved, "" once none is.
    Only accounts whose mark changes are written."""
    latest_comment = (
        EscalationFlagEvent.objects.filter(flag=OuterRef("pk"), kind=FlagEventKind.COMMENTED)
        .order_by("-created_at", "-id")
        .values("note")[:1]
    )
    flags = EscalationFlag.objects.filter(
        rule__code=RuleCode.AT_RISK_ACCOUNT, state__in=[FlagState.OPEN, FlagState.ACKNOWLEDGED]
    )
    marked = Account.objects.filter(support_attention=SupportAttention.AT_RISK)
    if account_ids is not None:
        flags = flags.filter(account_id__in=account_ids)
        marked = marked.filter(pk__in=account_ids)
    wanted = {
        account_id: (comment or (evidence or {}).get("summary", ""))[:NOTE_MAX_LENGTH]
        for account_id, evidence, comment in flags.annotate(comment=Subquery(latest_comment))
        .values_list("account_id", "evidence", "comment")
        .order_by("account_id")
    }
    current = dict(marked.values_list("pk", "support_attention_note"))
    account_support_attention_set(
        attention=SupportAttention.AT_RISK,
        notes={pk: note for pk, note in wanted.items() if current.get(pk) != note},
        since=now,
    )
    account_support_attention_set(
        attention=SupportAttention.NONE, notes=dict.fromkeys(set(current) - set(wanted), "")
    )
    _support_onboarding_sync(account_ids)


def _support_onboarding_sync(account_ids: list[int] | None) -> None:
    """Make accounts.Account.support_onboarding say whether the onboarding rule holds an
    unresolved flag on the account (a disabled rule's flags resolve, so the mark goes)."""
    flagged = EscalationFlag.objects.filter(
        rule__code=RuleCode.ONBOARDING, state__in=[FlagState.OPEN, FlagState.ACKNOWLEDGED]
    )
    marked = Account.objects.filter(support_onboarding=True)
    if account_ids is not None:
        flagged = flagged.filter(account_id__in=account_ids)
        marked = marked.filter(pk__in=account_ids)
    wanted = set(flagged.values_list("account_id", flat=True))
    current = set(marked.values_list("pk", flat=True))
    account_support_onboarding_set(account_ids=wanted - current, onboarding=True)
    account_support_onboarding_set(account_ids=current - wanted, onboarding=False)


# --- people -----------------------------------------------------------------------------


def _lock(flag_id: int) -> EscalationFlag:
    try:
        return EscalationFlag.objects.select_for_update().select_related("rule").get(pk=flag_id)
    except EscalationFlag.DoesNotExist:
        raise FlagError("This flag does not exist.") from None


def _clean_note(note: str, *, required: bool, what: str) -> str:
    note = (note or "").strip()
    if required and not note:
        raise ValidationError({"note": f"Write {what}."})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"Keep it under {NOTE_MAX_LENGTH} characters."})
    return note


def _event(flag: EscalationFlag, kind: str, user: User, note: str, now) -> None:
    EscalationFlagEvent.objects.create(flag=flag, kind=kind, actor=user, note=note, created_at=now)


@transaction.atomic
def escalation_flag_acknowledge(
    *, flag_id: int, acting_user: User, note: str = ""
) -> EscalationFlag:
    """Someone has seen the flag and is on it. Acknowledging twice changes nothing."""
    note = _clean_note(note, required=False, what="a note")
    flag = _lock(flag_id)
    if flag.state == FlagState.RESOLVED:
        raise FlagError("This flag is already resolved.")
    if flag.state == FlagState.ACKNOWLEDGED:
        return flag
    now = timezone.now()
    flag.state = FlagState.ACKNOWLEDGED
    flag.acknowledged_at = now
    flag.acknowledged_by = acting_user
    flag.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
    _event(flag, FlagEventKind.ACKNOWLEDGED, acting_user, note, now)
    return flag


@transaction.atomic
def escalation_flag_comment(*, flag_id: int, acting_user: User, note: str) -> EscalationFlag:
    """A note in the flag's history. On an at-risk flag, the latest note is what support
    reads in the ticket banner."""
    note = _clean_note(note, required=True, what="a comment")
    flag = _lock(flag_id)
    _event(flag, FlagEventKind.COMMENTED, acting_user, note, timezone.now())
    if flag.rule.code == RuleCode.AT_RISK_ACCOUNT and flag.state != FlagState.RESOLVED:
        support_attention_sync(account_ids=[flag.account_id])
    return flag


@transaction.atomic
def escalation_flag_resolve(*, flag_id: int, acting_user: User, note: str) -> EscalationFlag:
    """Close the flag by hand, saying why (the note is required)."""
    note = _clean_note(note, required=True, what="why the flag is resolved")
    flag = _lock(flag_id)
    if flag.state == FlagState.RESOLVED:
        raise FlagError("This flag is already resolved.")
    now = timezone.now()
    flag.state = FlagState.RESOLVED
    flag.resolved_at = now
    flag.resolved_by = acting_user
    flag.resolution_note = note
    flag.save(update_fields=["state", "resolved_at", "resolved_by", "resolution_note"])
    _event(flag, FlagEventKind.RESOLVED, acting_user, note, now)
    _publish_flags("escalation.resolved", [flag.pk])
    if flag.rule.code == RuleCode.AT_RISK_ACCOUNT:
        support_attention_sync(account_ids=[flag.account_id])
    return flag
