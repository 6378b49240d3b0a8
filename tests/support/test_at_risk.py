"""What support sees of success's at-risk and onboarding rules: the priority bump of new
tickets (and the SLA that follows it), the ticket banner, the queue marker and filter, and
the onboarding tag and routing. Support reads Account fields only (never metrics)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.choices import LifecycleStage, TeamKind
from accounts.models import Account
from support import services
from support.choices import Priority
from support.models import SlaPolicy, SlaTarget, TicketEvent
from tests.factories import AccountFactory, ContactFactory, TeamFactory, TicketFactory

pytestmark = pytest.mark.django_db
QUEUE = reverse("support:queue")
# As tests/support/test_views_queue.py and test_views_ticket.py pin them: the marker and
# the banner read the account the pages already join, so they add no query.
QUEUE_PAGE_QUERIES = 10
TICKET_PAGE_MAX_QUERIES = 13


def at_risk_account(**fields):
    fields.setdefault("lifecycle_stage", LifecycleStage.ADOPTION)
    return AccountFactory(
        support_attention="at_risk",
        support_attention_note="Renewal in 3 weeks, exec unhappy",
        support_attention_since=timezone.now(),
        **fields,
    )


def create(account, priority=Priority.NORMAL, **fields):
    return services.ticket_create(
        requester=ContactFactory(account=account),
        subject="Export fails",
        body="Help",
        priority=priority,
        **fields,
    )


def rule_events(ticket):
    return list(
        TicketEvent.objects.filter(ticket=ticket, actor_label__startswith="rule:").values_list(
            "actor_label", "field", "old_value", "new_value"
        )
    )


# --- the priority bump -------------------------------------------------------------------


def test_a_new_ticket_of_an_at_risk_account_goes_up_one_priority_step():
    ticket = create(at_risk_account())
    assert ticket.priority == Priority.HIGH
    assert rule_events(ticket) == [("rule: at-risk account", "priority", "normal", "high")]


def test_urgent_stays_urgent_and_logs_nothing():
    ticket = create(at_risk_account(), priority=Priority.URGENT)
    assert ticket.priority == Priority.URGENT
    assert rule_events(ticket) == []


def test_other_accounts_keep_their_priority():
    ticket = create(AccountFactory(lifecycle_stage=LifecycleStage.ADOPTION))
    assert ticket.priority == Priority.NORMAL
    assert rule_events(ticket) == []


def test_the_sla_follows_the_raised_priority():
    policy = SlaPolicy.objects.create(name="Default", position=1)
    SlaTarget.objects.bulk_create(
        [
            SlaTarget(
                policy=policy, priority=Priority.NORMAL, metric="first_response", minutes=480
            ),
            SlaTarget(policy=policy, priority=Priority.HIGH, metric="first_response", minutes=60),
        ]
    )
    ticket = create(at_risk_account())
    ticket.refresh_from_db()
    assert ticket.sla_policy == policy
    minutes = (ticket.first_response_due_at - ticket.created_at).total_seconds() / 60
    assert minutes == pytest.approx(60)


# --- onboarding --------------------------------------------------------------------------


def onboarding_account():
    """An account the onboarding rule holds a flag on (metrics marks it for support)."""
    return AccountFactory(lifecycle_stage=LifecycleStage.ONBOARDING, support_onboarding=True)


def test_an_account_not_marked_by_the_rule_is_not_handled_as_onboarding():
    TeamFactory(name="New customers", kind=TeamKind.ONBOARDING)
    # In the onboarding stage, but the rule has not marked it (switched off, or not run yet).
    ticket = create(AccountFactory(lifecycle_stage=LifecycleStage.ONBOARDING), tags=["export"])
    assert ticket.tags == ["export"]
    assert ticket.team is None


def test_onboarding_tickets_are_tagged_and_routed_to_the_onboarding_team():
    team = TeamFactory(name="New customers", kind=TeamKind.ONBOARDING)
    ticket = create(onboarding_account(), tags=["export"])
    assert ticket.tags == ["export", "onboarding"]
    assert ticket.team == team
    assert rule_events(ticket) == [
        ("rule: onboarding", "tags", "export", "export, onboarding"),
        ("rule: onboarding", "team", "", "New customers"),
    ]


def test_onboarding_without_an_onboarding_team_only_tags():
    TeamFactory(name="Tier 1", kind=TeamKind.SUPPORT)
    ticket = create(onboarding_account())
    assert ticket.tags == ["onboarding"]
    assert ticket.team is None


def test_a_chosen_team_is_kept_for_onboarding_accounts():
    TeamFactory(name="Onboarding", kind=TeamKind.ONBOARDING)
    chosen = TeamFactory(name="Billing", kind=TeamKind.SUPPORT)
    ticket = create(onboarding_account(), team=chosen)
    assert ticket.team == chosen


# --- what agents see ---------------------------------------------------------------------


def test_ticket_page_shows_the_at_risk_banner_with_the_note_and_csm(
    client_for, agent, csm, django_assert_max_num_queries
):
    ticket = TicketFactory(requester=ContactFactory(account=at_risk_account(csm=csm)))
    client = client_for(agent)
    with django_assert_max_num_queries(TICKET_PAGE_MAX_QUERIES):
        response = client.get(ticket.get_absolute_url())
    body = response.content.decode()
    assert "At-risk account" in body
    assert "Renewal in 3 weeks, exec unhappy" in body
    assert "(CSM: Casey Success)" in body


def test_ticket_page_of_other_accounts_has_no_banner(client_for, agent):
    ticket = TicketFactory()
    assert (
        'id="at-risk-banner"'
        not in client_for(agent).get(ticket.get_absolute_url()).content.decode()
    )


def test_queue_rows_mark_at_risk_accounts_and_the_filter_keeps_them_only(
    client_for, agent, django_assert_max_num_queries
):
    risky = TicketFactory(requester=ContactFactory(account=at_risk_account()))
    calm = TicketFactory()
    client = client_for(agent)
    with django_assert_max_num_queries(QUEUE_PAGE_QUERIES):
        body = client.get(QUEUE, {"view": "open"}).content.decode()
    assert body.count("cx-at-risk") == 1
    assert f'id="row-{risky.pk}"' in body
    assert f'id="row-{calm.pk}"' in body
    with django_assert_max_num_queries(QUEUE_PAGE_QUERIES):
        body = client.get(QUEUE, {"view": "open", "at_risk": "1"}).content.decode()
    assert f'id="row-{risky.pk}"' in body
    assert f'id="row-{calm.pk}"' not in body
    assert 'id="at-risk-filter"' in body


def test_at_risk_filter_refuses_a_bad_value(client_for, agent):
    response = client_for(agent).get(QUEUE, {"view": "open", "at_risk": "maybe"})
    assert response.status_code == 400


def test_clearing_the_mark_removes_the_banner(client_for, agent):
    account = at_risk_account()
    ticket = TicketFactory(requester=ContactFactory(account=account))
    Account.objects.filter(pk=account.pk).update(support_attention="", support_attention_note="")
    body = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    assert 'id="at-risk-banner"' not in body
