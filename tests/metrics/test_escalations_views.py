"""Escalation flags in the browser: who sees them, the htmx actions with inline errors,
the CSM home and Account 360 panels, the timeline branches, and pinned query counts."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from accounts.choices import HealthBand, LifecycleStage, Role
from accounts.models import Account
from metrics.models import EscalationFlag, FlagState, RuleCode
from metrics.selectors import account_timeline
from metrics.services.escalations import escalation_flag_resolve, escalations_evaluate
from tests.factories import AccountFactory, ContactFactory, CsatResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db
default_rules = importlib.import_module("metrics.migrations.0004_escalation_rules_default")


@pytest.fixture(autouse=True)
def _default_rules(db):
    """The default rules come from a data migration; a transactional test (ours, or any
    other on a reused test database) flushes them, so put them back when missing."""
    default_rules.create_rules(apps, None)


HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def account(csm):
    return AccountFactory(csm=csm, lifecycle_stage=LifecycleStage.ADOPTION)


def spike(account, n=5):
    contact = ContactFactory(account=account)
    made = [TicketFactory(requester=contact, account=account) for _ in range(n)]
    escalations_evaluate(account_ids=[account.pk])
    return made


@pytest.fixture
def flag(account):
    spike(account)
    return EscalationFlag.objects.get(account=account, rule__code=RuleCode.TICKET_SPIKE)


def test_customers_never_see_flags(make_user, client_for, flag, account):
    customer = client_for(make_user(Role.CUSTOMER))
    for url in [
        flag.get_absolute_url(),
        reverse("metrics:account-escalations", args=[account.pk]),
        reverse("metrics:escalations-home"),
    ]:
        assert customer.get(url).status_code == 403
    response = customer.post(
        reverse("metrics:escalation-flag-resolve", args=[flag.pk]), {"note": "x"}
    )
    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_a_csm_sees_flags_of_own_accounts_only(make_user, client_for, flag, csm):
    other_csm = client_for(make_user(Role.CSM))
    assert other_csm.get(flag.get_absolute_url()).status_code == 404
    assert (
        other_csm.post(
            reverse("metrics:escalation-flag-acknowledge", args=[flag.pk]), {"note": ""}
        ).status_code
        == 404
    )
    assert client_for(csm).get(flag.get_absolute_url()).status_code == 200


def test_home_panel_lists_my_open_support_flags(client_for, csm, flag, make_user):
    other = AccountFactory(csm=make_user(Role.CSM), lifecycle_stage=LifecycleStage.ADOPTION)
    spike(other)
    response = client_for(csm).get(reverse("metrics:escalations-home"), **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert flag.get_absolute_url() in body
    assert other.name not in body
    assert "<html" not in body  # the partial only


def test_csm_home_lazy_loads_the_escalations_panel(client_for, csm):
    body = client_for(csm).get(reverse("success:home")).content.decode()
    assert reverse("metrics:escalations-home") in body


def test_account_360_lazy_loads_the_escalations_panel(client_for, csm, account):
    body = client_for(csm).get(reverse("success:account-detail", args=[account.pk])).content
    assert reverse("metrics:account-escalations", args=[account.pk]) in body.decode()


def test_account_panel_shows_flags_with_links_to_the_evidence(client_for, csm, account):
    made = spike(account)
    response = client_for(csm).get(
        reverse("metrics:account-escalations", args=[account.pk]), **HTMX
    )
    body = response.content.decode()
    assert "Ticket spike" in body
    assert made[0].get_absolute_url() in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_resolve_without_a_note_is_refused_inline_keeping_nothing_lost(client_for, csm, flag):
    url = reverse("metrics:escalation-flag-resolve", args=[flag.pk])
    response = client_for(csm).post(url, {"note": "   "}, **HTMX)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Write why the flag is resolved." in body
    assert f'id="flag-{flag.pk}"' in body
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN
    # A comment that is too long keeps what was typed.
    typed = "x" * 5001
    response = client_for(csm).post(
        reverse("metrics:escalation-flag-comment", args=[flag.pk]), {"note": typed}, **HTMX
    )
    assert response.status_code == 400
    assert typed in response.content.decode()


def test_actions_answer_htmx_with_the_card_and_plain_posts_redirect(client_for, csm, flag):
    client = client_for(csm)
    response = client.post(
        reverse("metrics:escalation-flag-acknowledge", args=[flag.pk]), {"note": ""}, **HTMX
    )
    assert response.status_code == 200
    assert "Acknowledged" in response.content.decode()
    response = client.post(
        reverse("metrics:escalation-flag-resolve", args=[flag.pk]), {"note": "Handled on a call"}
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.state == FlagState.RESOLVED
    assert flag.resolved_by == csm
    # Resolving again: a clear 409, not a 500.
    response = client.post(
        reverse("metrics:escalation-flag-resolve", args=[flag.pk]), {"note": "again"}, **HTMX
    )
    assert response.status_code == 409
    assert "already resolved" in response.content.decode()


def test_actions_need_csrf(csm, flag):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(csm)
    response = client.post(
        reverse("metrics:escalation-flag-resolve", args=[flag.pk]), {"note": "x"}
    )
    assert response.status_code == 403


def test_flag_page_shows_history(client_for, csm, flag):
    escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="Fixed the printer")
    body = client_for(csm).get(flag.get_absolute_url()).content.decode()
    assert "History" in body
    assert "Raised" in body
    assert "Fixed the printer" in body


def test_timeline_shows_flag_raised_and_resolved_in_one_query(
    csm, flag, account, django_assert_num_queries
):
    escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="Done")
    with django_assert_num_queries(1):
        entries = account_timeline(account=account)
    kinds = [entry.kind for entry in entries]
    assert "flag_raised" in kinds
    assert "flag_resolved" in kinds
    raised = next(e for e in entries if e.kind == "flag_raised")
    assert raised.url == flag.get_absolute_url()
    assert raised.title == "Flag raised: Ticket spike"
    resolved = next(e for e in entries if e.kind == "flag_resolved")
    assert resolved.detail == "Note: Done"
    assert resolved.actor == f"by {csm.full_name}"


def test_timeline_paging_through_flag_entries_with_the_cursor(csm, flag, account):
    entries = account_timeline(account=account, limit=1)
    assert entries
    older = account_timeline(account=account, before=_cursor(entries[-1]), limit=50)
    assert all(e.cursor != entries[0].cursor for e in older)


def _cursor(entry):
    from metrics.selectors import TimelineCursor

    return TimelineCursor.parse(entry.cursor)


# --- query counts ---------------------------------------------------------------------


def _many_flags(account, n=3):
    for _ in range(n):
        other = AccountFactory(csm=account.csm, lifecycle_stage=LifecycleStage.ADOPTION)
        spike(other)
        ticket = TicketFactory(account=other, requester=ContactFactory(account=other))
        CsatResponseFactory(ticket=ticket, rating=1)
    Account.objects.filter(pk=account.pk).update(health_band=HealthBand.RED)
    spike(account)
    escalations_evaluate()


def test_query_counts_do_not_grow_with_flags(
    client_for, csm, account, django_assert_max_num_queries
):
    _many_flags(account)
    client = client_for(csm)
    urls = [
        reverse("metrics:escalations-home"),
        reverse("metrics:account-escalations", args=[account.pk]),
    ]
    flag = EscalationFlag.objects.filter(account=account).first()
    # Session, user, then: the flags (home); the account, its unresolved and its resolved
    # flags (360 panel); the flag, its history and the top bar's unread count (flag page).
    for url, most in zip(urls, [3, 5], strict=True):
        with django_assert_max_num_queries(most):
            assert client.get(url, **HTMX).status_code == 200
    with django_assert_max_num_queries(5):
        assert client.get(flag.get_absolute_url()).status_code == 200


# --- admin ------------------------------------------------------------------------------


def test_admin_lists_rules_and_refuses_nonsensical_thresholds(client_for, make_user):
    from metrics.models import EscalationRule

    client = client_for(make_user(Role.ADMIN))
    assert client.get(reverse("admin:metrics_escalationrule_changelist")).status_code == 200
    rule = EscalationRule.objects.get(code=RuleCode.TICKET_SPIKE)
    url = reverse("admin:metrics_escalationrule_change", args=[rule.pk])
    assert client.get(url).status_code == 200
    data = {
        "name": rule.name,
        "description": rule.description,
        "enabled": "on",
        "thresholds": '{"min_tickets": -1, "window_days": 0}',
        "quiet_period_days": "7",
    }
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, with the reasons
    assert "min_tickets must be between 1 and 10000" in response.content.decode()
    rule.refresh_from_db()
    assert rule.thresholds["min_tickets"] == 5
    assert client.get(reverse("admin:metrics_escalationflag_changelist")).status_code == 200
