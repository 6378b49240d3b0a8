"""Evaluations running at the same time (the 5-minute job twice, or the job and a
per-account recompute) never create two flags for one (account, rule), nor notify twice."""

import importlib

import pytest
from django.apps import apps
from django.db import connection, transaction

from accounts.choices import LifecycleStage
from accounts.models import Notification
from metrics.models import EscalationFlag, EscalationFlagEvent, FlagEventKind, RuleCode
from metrics.services.escalations import ADVISORY_LOCK_KEY, escalations_evaluate
from tests.factories import AccountFactory, ContactFactory, TicketFactory, UserFactory
from tests.support.test_concurrency import run_together

default_rules = importlib.import_module("metrics.migrations.0004_escalation_rules_default")


@pytest.fixture
def rules(transactional_db):
    # A transactional test starts from the flushed tables: put the default rules back.
    default_rules.create_rules(apps, None)


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_create_one_flag_and_one_notification(rules):
    for _ in range(3):  # a few rounds, so the race really happens in both orders
        csm = UserFactory(role="csm")
        account = AccountFactory(csm=csm, lifecycle_stage=LifecycleStage.ADOPTION)
        contact = ContactFactory(account=account)
        for _ in range(5):
            TicketFactory(requester=contact, account=account)
        outcomes = run_together(
            lambda account=account: escalations_evaluate(account_ids=[account.pk]),
            lambda account=account: escalations_evaluate(account_ids=[account.pk]),
            lambda: escalations_evaluate(),
            lambda: escalations_evaluate(),
        )
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        [flag] = EscalationFlag.objects.filter(account=account, rule__code=RuleCode.TICKET_SPIKE)
        assert EscalationFlagEvent.objects.filter(flag=flag, kind=FlagEventKind.FIRED).count() == 1
        assert Notification.objects.filter(user=csm).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_full_run_while_another_holds_the_lock_returns_at_once(rules):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        [outcome] = run_together(lambda: escalations_evaluate())
    assert outcome == {"skipped": True}
