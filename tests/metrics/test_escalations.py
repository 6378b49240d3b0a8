"""Escalation rules: each fires at its threshold and not below it; dedup, evidence updates,
auto-resolution after the quiet period, manual actions, notifications once, thresholds
validation."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Tier
from accounts.models import Account, Notification
from metrics.models import (
    EscalationFlag,
    EscalationFlagEvent,
    EscalationRule,
    FlagEventKind,
    FlagState,
    RuleCode,
)
from metrics.services.escalations import (
    FlagError,
    escalation_flag_acknowledge,
    escalation_flag_comment,
    escalation_flag_resolve,
    escalations_evaluate,
)
from support.models import SlaAlert
from tests.factories import (
    AccountFactory,
    ContactFactory,
    CsatResponseFactory,
    NpsResponseFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db
default_rules = importlib.import_module("metrics.migrations.0004_escalation_rules_default")


@pytest.fixture(autouse=True)
def _default_rules(db):
    """The default rules come from a data migration; a transactional test (ours, or any
    other on a reused test database) flushes them, so put them back when missing."""
    default_rules.create_rules(apps, None)


NOW = timezone.now().replace(microsecond=0)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def account(csm):
    # Not onboarding: that rule would flag every new account.
    return AccountFactory(csm=csm, lifecycle_stage=LifecycleStage.ADOPTION, tier=Tier.GROWTH)


def tickets(account, n, *, at=NOW - DAY, **fields):
    contact = ContactFactory(account=account)
    return [
        TicketFactory(requester=contact, account=account, created_at=at, **fields) for _ in range(n)
    ]


def flags(account, code):
    return list(EscalationFlag.objects.filter(account=account, rule__code=code))


def fired(account, code, now=NOW):
    escalations_evaluate(account_ids=[account.pk], now=now)
    return flags(account, code)


# --- each rule at its boundary -----------------------------------------------------------


def test_ticket_spike_fires_at_five_tickets_in_seven_days(account):
    tickets(account, 4)
    assert fired(account, RuleCode.TICKET_SPIKE) == []
    made = tickets(account, 1)
    [flag] = fired(account, RuleCode.TICKET_SPIKE)
    assert flag.state == FlagState.OPEN
    assert flag.evidence["count"] == 5
    assert made[0].pk in flag.evidence["tickets"]
    assert flag.owner == account.csm


def test_ticket_spike_ignores_tickets_older_than_the_window(account):
    for week in range(12):
        tickets(account, 2, at=NOW - 8 * DAY - week * 7 * DAY)  # 2 a week: no 3x spike
    tickets(account, 4)
    tickets(account, 1, at=NOW - 7 * DAY)  # just outside (the window is (now - 7d, now])
    assert fired(account, RuleCode.TICKET_SPIKE) == []


def test_ticket_spike_fires_at_three_times_the_weekly_average_with_three_tickets(account):
    # 12 weeks before: 12 tickets = 1 a week; this week 3 tickets = 3x.
    for week in range(12):
        tickets(account, 1, at=NOW - 8 * DAY - week * 7 * DAY)
    tickets(account, 2)
    assert fired(account, RuleCode.TICKET_SPIKE) == []
    tickets(account, 1)
    [flag] = fired(account, RuleCode.TICKET_SPIKE)
    assert flag.evidence["weekly_average"] == 1.0


def test_ticket_spike_below_three_times_the_average_does_not_fire(account):
    for week in range(12):
        tickets(account, 2, at=NOW - 8 * DAY - week * 7 * DAY)  # 2 a week
    tickets(account, 4)  # 2x, and under 5
    assert fired(account, RuleCode.TICKET_SPIKE) == []


def test_repeated_complaint_fires_at_three_tickets_with_the_same_tag(account):
    tickets(account, 2, tags=["billing"])
    tickets(account, 1, tags=["login"])
    assert fired(account, RuleCode.REPEATED_COMPLAINT) == []
    tickets(account, 1, tags=["billing", "login"])
    [flag] = fired(account, RuleCode.REPEATED_COMPLAINT)
    assert flag.evidence["tags"][0]["tag"] == "billing"
    assert flag.evidence["tags"][0]["count"] == 3
    assert len(flag.evidence_tickets) == 3


def test_repeated_complaint_ignores_the_onboarding_tag_and_old_tickets(account):
    tickets(account, 3, tags=["onboarding"])
    tickets(account, 2, tags=["billing"])
    tickets(account, 1, tags=["billing"], at=NOW - 31 * DAY)
    assert fired(account, RuleCode.REPEATED_COMPLAINT) == []


def breach(ticket, at=NOW - DAY):
    return SlaAlert.objects.create(
        ticket=ticket, metric="first_response", kind="breach", due_at=at, at=at, recorded_at=at
    )


def test_one_sla_breach_fires_on_a_top_tier_account(account):
    account.tier = Tier.ENTERPRISE
    account.save()
    [ticket] = tickets(account, 1)
    SlaAlert.objects.create(
        ticket=ticket,
        metric="first_response",
        kind="warning",
        due_at=NOW,
        at=NOW - DAY,
        recorded_at=NOW - DAY,
    )
    assert fired(account, RuleCode.SLA_BREACH_KEY_ACCOUNT) == []
    breach(ticket)
    [flag] = fired(account, RuleCode.SLA_BREACH_KEY_ACCOUNT)
    assert flag.evidence["tickets"] == [ticket.pk]


def test_sla_breaches_on_other_tiers_need_two_in_thirty_days(account):
    first, second = tickets(account, 2)
    breach(first)
    breach(second, at=NOW - 31 * DAY)
    assert fired(account, RuleCode.SLA_BREACH_KEY_ACCOUNT) == []
    breach(second, at=NOW - 2 * DAY)
    [flag] = fired(account, RuleCode.SLA_BREACH_KEY_ACCOUNT)
    assert flag.evidence["count"] == 2


def test_unhappy_customer_fires_on_a_rating_of_two_not_three(account):
    [ticket] = tickets(account, 1)
    CsatResponseFactory(ticket=ticket, rating=3, responded_at=NOW - DAY)
    assert fired(account, RuleCode.UNHAPPY_CUSTOMER) == []
    [other] = tickets(account, 1)
    CsatResponseFactory(ticket=other, rating=2, comment="Slow", responded_at=NOW - DAY)
    [flag] = fired(account, RuleCode.UNHAPPY_CUSTOMER)
    assert flag.evidence["ratings"][0]["ticket"] == other.pk
    assert flag.evidence["ratings"][0]["rating"] == 2
    assert flag.evidence_tickets == [other.pk]


def test_detractor_fires_on_six_not_seven(account):
    NpsResponseFactory(account=account, score=7, responded_at=NOW - DAY)
    assert fired(account, RuleCode.DETRACTOR) == []
    NpsResponseFactory(account=account, score=6, reason="Too pricey", responded_at=NOW - DAY)
    [flag] = fired(account, RuleCode.DETRACTOR)
    assert flag.evidence["responses"][0]["score"] == 6


def test_at_risk_fires_on_red_or_on_a_near_renewal_below_green(account):
    account.health_band = HealthBand.YELLOW
    account.renewal_date = timezone.localdate(NOW) + 61 * DAY
    account.save()
    assert fired(account, RuleCode.AT_RISK_ACCOUNT) == []
    Account.objects.filter(pk=account.pk).update(renewal_date=timezone.localdate(NOW) + 60 * DAY)
    [flag] = fired(account, RuleCode.AT_RISK_ACCOUNT)
    assert flag.owner is None  # the support team
    assert "Renewal" in flag.evidence["summary"]


def test_at_risk_does_not_fire_for_green_near_renewal_but_does_for_red(account):
    Account.objects.filter(pk=account.pk).update(
        health_band=HealthBand.GREEN, renewal_date=timezone.localdate(NOW) + 10 * DAY
    )
    assert fired(account, RuleCode.AT_RISK_ACCOUNT) == []
    Account.objects.filter(pk=account.pk).update(health_band=HealthBand.RED, renewal_date=None)
    [flag] = fired(account, RuleCode.AT_RISK_ACCOUNT)
    assert flag.evidence["summary"] == "Health band Red"


def test_at_risk_flag_marks_the_account_for_support_and_resolving_clears_it(account, csm):
    Account.objects.filter(pk=account.pk).update(health_band=HealthBand.RED)
    [flag] = fired(account, RuleCode.AT_RISK_ACCOUNT)
    account.refresh_from_db()
    assert account.support_attention == "at_risk"
    assert account.support_attention_note == "Health band Red"
    assert account.support_attention_since is not None
    escalation_flag_comment(flag_id=flag.pk, acting_user=csm, note="Exec sponsor left")
    account.refresh_from_db()
    assert account.support_attention_note == "Exec sponsor left"
    escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="Plan agreed")
    account.refresh_from_db()
    assert account.support_attention == ""
    assert account.support_attention_note == ""


def test_onboarding_rule_flags_onboarding_accounts_only(account):
    assert fired(account, RuleCode.ONBOARDING) == []
    Account.objects.filter(pk=account.pk).update(lifecycle_stage=LifecycleStage.ONBOARDING)
    [flag] = fired(account, RuleCode.ONBOARDING)
    assert flag.direction == "success_to_support"


def test_onboarding_flag_marks_the_account_for_support_until_it_resolves(account):
    Account.objects.filter(pk=account.pk).update(lifecycle_stage=LifecycleStage.ONBOARDING)
    [flag] = fired(account, RuleCode.ONBOARDING)
    account.refresh_from_db()
    assert account.support_onboarding is True
    # Switched off in the admin: the flag clears, resolves after the quiet period, and
    # support stops tagging the account's tickets.
    EscalationRule.objects.filter(code=RuleCode.ONBOARDING).update(enabled=False)
    escalations_evaluate(account_ids=[account.pk], now=NOW + DAY)
    escalations_evaluate(account_ids=[account.pk], now=NOW + 60 * DAY)
    flag.refresh_from_db()
    account.refresh_from_db()
    assert flag.state == FlagState.RESOLVED
    assert account.support_onboarding is False


def test_a_disabled_rule_does_not_fire(account):
    EscalationRule.objects.filter(code=RuleCode.TICKET_SPIKE).update(enabled=False)
    tickets(account, 6)
    assert fired(account, RuleCode.TICKET_SPIKE) == []


def test_edited_threshold_is_used(account):
    rule = EscalationRule.objects.get(code=RuleCode.TICKET_SPIKE)
    rule.thresholds = {**rule.thresholds, "min_tickets": 2, "multiplier_min_tickets": 2}
    rule.full_clean()
    rule.save()
    tickets(account, 2)
    assert len(fired(account, RuleCode.TICKET_SPIKE)) == 1


# --- dedup, evidence, clearing, auto-resolution ------------------------------------------


def test_firing_twice_keeps_one_flag_and_updates_its_evidence(account):
    tickets(account, 5)
    [flag] = fired(account, RuleCode.TICKET_SPIKE)
    escalations_evaluate(account_ids=[account.pk], now=NOW)  # nothing new: no event
    tickets(account, 1)
    [again] = fired(account, RuleCode.TICKET_SPIKE, now=NOW + datetime.timedelta(minutes=5))
    assert again.pk == flag.pk
    assert again.evidence["count"] == 6
    assert again.last_fired_at == NOW + datetime.timedelta(minutes=5)
    kinds = list(flag.events.values_list("kind", flat=True))
    assert kinds == [FlagEventKind.FIRED, FlagEventKind.EVIDENCE_UPDATED]


def test_full_run_and_account_run_agree(account):
    tickets(account, 5)
    escalations_evaluate(now=NOW)
    escalations_evaluate(account_ids=[account.pk], now=NOW)
    escalations_evaluate(now=NOW)
    assert len(flags(account, RuleCode.TICKET_SPIKE)) == 1


def test_cleared_flag_resolves_itself_after_the_quiet_period_with_a_note(account):
    [ticket] = tickets(account, 1)
    CsatResponseFactory(ticket=ticket, rating=1, responded_at=NOW - DAY)
    [flag] = fired(account, RuleCode.UNHAPPY_CUSTOMER)
    # The rating leaves the 30-day window on day 29: the condition clears.
    cleared_at = NOW + 30 * DAY
    escalations_evaluate(account_ids=[account.pk], now=cleared_at)
    flag.refresh_from_db()
    assert flag.condition_cleared_at == cleared_at
    assert flag.state == FlagState.OPEN
    escalations_evaluate(
        account_ids=[account.pk], now=cleared_at + 7 * DAY - datetime.timedelta(minutes=1)
    )
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN
    escalations_evaluate(account_ids=[account.pk], now=cleared_at + 7 * DAY)
    flag.refresh_from_db()
    assert flag.state == FlagState.RESOLVED
    assert flag.resolved_by is None
    assert "Resolved automatically" in flag.resolution_note
    assert flag.events.last().kind == FlagEventKind.AUTO_RESOLVED


def test_condition_returning_within_the_quiet_period_keeps_the_flag_open(account):
    Account.objects.filter(pk=account.pk).update(health_band=HealthBand.RED)
    [flag] = fired(account, RuleCode.AT_RISK_ACCOUNT)
    Account.objects.filter(pk=account.pk).update(health_band=HealthBand.GREEN)
    escalations_evaluate(account_ids=[account.pk], now=NOW + DAY)
    Account.objects.filter(pk=account.pk).update(health_band=HealthBand.RED)
    escalations_evaluate(account_ids=[account.pk], now=NOW + 2 * DAY)
    escalations_evaluate(account_ids=[account.pk], now=NOW + 20 * DAY)
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN
    assert flag.condition_cleared_at is None


# --- people ------------------------------------------------------------------------------


def test_manual_resolve_requires_a_note(account, csm):
    tickets(account, 5)
    [flag] = fired(account, RuleCode.TICKET_SPIKE)
    with pytest.raises(ValidationError):
        escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="   ")
    escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="Talked to them")
    flag.refresh_from_db()
    assert flag.state == FlagState.RESOLVED
    assert flag.resolved_by == csm
    assert flag.resolution_note == "Talked to them"
    with pytest.raises(FlagError):
        escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="again")


def test_manually_resolved_flag_stays_quiet_while_the_evidence_is_the_same(account, csm):
    tickets(account, 5)
    [flag] = fired(account, RuleCode.TICKET_SPIKE)
    escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="Known outage")
    escalations_evaluate(account_ids=[account.pk], now=NOW)
    assert len(flags(account, RuleCode.TICKET_SPIKE)) == 1
    tickets(account, 1)  # new evidence: a new flag
    assert len(fired(account, RuleCode.TICKET_SPIKE)) == 2


def test_acknowledge_and_comment_are_kept_in_the_history(account, csm):
    tickets(account, 5)
    [flag] = fired(account, RuleCode.TICKET_SPIKE)
    escalation_flag_acknowledge(flag_id=flag.pk, acting_user=csm)
    escalation_flag_acknowledge(flag_id=flag.pk, acting_user=csm)  # no second event
    escalation_flag_comment(flag_id=flag.pk, acting_user=csm, note="Calling them")
    with pytest.raises(ValidationError):
        escalation_flag_comment(flag_id=flag.pk, acting_user=csm, note="")
    flag.refresh_from_db()
    assert flag.state == FlagState.ACKNOWLEDGED
    assert flag.acknowledged_by == csm
    events = list(EscalationFlagEvent.objects.filter(flag=flag).values_list("kind", "note"))
    assert events == [
        (FlagEventKind.FIRED, ""),
        (FlagEventKind.ACKNOWLEDGED, ""),
        (FlagEventKind.COMMENTED, "Calling them"),
    ]


# --- notifications -----------------------------------------------------------------------


def test_csm_is_notified_once_when_a_support_flag_opens(
    account, csm, django_capture_on_commit_callbacks, mailoutbox, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tickets(account, 5)
    with django_capture_on_commit_callbacks(execute=True):
        escalations_evaluate(account_ids=[account.pk], now=NOW)
    tickets(account, 1)
    with django_capture_on_commit_callbacks(execute=True):
        escalations_evaluate(account_ids=[account.pk], now=NOW + DAY)  # evidence update
        escalations_evaluate(now=NOW + DAY)
    [note] = Notification.objects.filter(user=csm)
    flag = EscalationFlag.objects.get(account=account, rule__code=RuleCode.TICKET_SPIKE)
    assert note.url == flag.get_absolute_url()
    assert note.title == f"Ticket spike: {account.name}"
    assert [m.to for m in mailoutbox] == [[csm.email]]


def test_success_to_support_flags_notify_nobody(account):
    Account.objects.filter(pk=account.pk).update(health_band=HealthBand.RED)
    escalations_evaluate(account_ids=[account.pk], now=NOW)
    assert not Notification.objects.exists()


# --- rule validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "thresholds"),
    [
        (RuleCode.TICKET_SPIKE, {"min_tickets": -1}),
        (RuleCode.TICKET_SPIKE, {"window_days": 0}),
        (RuleCode.TICKET_SPIKE, {"min_tickets": 2.5}),
        (RuleCode.TICKET_SPIKE, {"min_tickets": "five"}),
        (RuleCode.TICKET_SPIKE, {"surprise": 1}),
        (RuleCode.UNHAPPY_CUSTOMER, {"min_rating": 3, "max_rating": 2}),
        (RuleCode.DETRACTOR, {"min_score": 0, "max_score": 11}),
        (RuleCode.SLA_BREACH_KEY_ACCOUNT, {"key_tiers": ["platinum"]}),
        (RuleCode.SLA_BREACH_KEY_ACCOUNT, {"key_tiers": []}),
    ],
)
def test_nonsensical_thresholds_are_refused(code, thresholds):
    rule = EscalationRule.objects.get(code=code)
    rule.thresholds = {**rule.thresholds, **thresholds}
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "thresholds" in error.value.message_dict


def test_default_rules_exist_and_are_valid():
    rules = EscalationRule.objects.all()
    assert {rule.code for rule in rules} == set(RuleCode.values)
    for rule in rules:
        rule.full_clean()


def test_the_task_runs_the_full_evaluation_and_is_scheduled_every_five_minutes(account):
    from cxplatform.schedule import BEAT_SCHEDULE
    from metrics.tasks import escalations_evaluate_task

    tickets(account, 5, at=timezone.now() - DAY)
    result = escalations_evaluate_task.apply().get()
    assert result[RuleCode.TICKET_SPIKE]["opened"] == 1
    assert escalations_evaluate_task.apply().get()[RuleCode.TICKET_SPIKE]["opened"] == 0
    entry = BEAT_SCHEDULE["metrics-escalations-evaluate"]
    assert entry == {"task": "metrics.tasks.escalations_evaluate_task", "schedule": 300.0}
