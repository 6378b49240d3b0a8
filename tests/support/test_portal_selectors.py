"""Portal selectors: scoping rules and the deflection count."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from support.choices import Status
from support.models import PortalDeflection
from support.selectors.portal import (
    portal_deflection_stats,
    portal_ticket,
    portal_ticket_counts,
    portal_tickets,
)
from support.services.portal import portal_deflection_record, portal_ticket_submit
from tests.factories import AccountFactory, ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_portal_tickets_are_the_contacts_own():
    me, other = ContactFactory(), ContactFactory()
    mine = TicketFactory(requester=me)
    TicketFactory(requester=other)
    assert list(portal_tickets(contact=me)) == [mine]
    with pytest.raises(Http404):
        portal_ticket(contact=me, number=TicketFactory(requester=other).pk)


def test_account_admin_sees_the_account_but_a_contact_without_account_only_their_own():
    account = AccountFactory()
    admin = ContactFactory(account=account, is_account_admin=True)
    colleague_ticket = TicketFactory(requester=ContactFactory(account=account))
    assert colleague_ticket in portal_tickets(contact=admin)
    loner = ContactFactory(account=None, is_account_admin=True)
    TicketFactory(requester=ContactFactory(account=None))
    assert list(portal_tickets(contact=loner)) == []


def test_status_filters_and_counts():
    me = ContactFactory()
    TicketFactory(requester=me, status=Status.PENDING)
    TicketFactory(requester=me, status=Status.NEW)
    TicketFactory(requester=me, status=Status.CLOSED)
    assert portal_tickets(contact=me, status="open").count() == 2
    assert portal_tickets(contact=me, status="solved").count() == 1
    assert portal_ticket_counts(contact=me) == {"open": 2, "solved": 1}


def test_an_opened_suggestion_without_a_ticket_within_30_minutes_is_a_deflection():
    now = timezone.now()
    me, other = ContactFactory(), ContactFactory()
    # Opened 40 minutes ago, nothing submitted: deflected.
    portal_deflection_record(contact=me, article_id=1, now=now - timedelta(minutes=40))
    # Opened 10 minutes ago, then a ticket: not deflected.
    portal_deflection_record(contact=other, article_id=2, now=now - timedelta(minutes=10))
    portal_ticket_submit(contact=other, subject="Still stuck", body="It did not help.", now=now)
    # Opened 5 minutes ago, nothing yet: too early to tell, not counted.
    portal_deflection_record(contact=me, article_id=3, now=now - timedelta(minutes=5))

    stats = portal_deflection_stats(now=now)
    assert (stats.opened, stats.deflected, stats.submitted) == (1, 1, 0)
    later = portal_deflection_stats(now=now + timedelta(minutes=31))
    assert (later.opened, later.deflected, later.submitted) == (3, 2, 1)
    assert later.rate == pytest.approx(2 / 3)


def test_a_ticket_claims_only_recent_suggestions_of_the_same_contact():
    now = timezone.now()
    me, other = ContactFactory(), ContactFactory()
    old = portal_deflection_record(contact=me, article_id=1, now=now - timedelta(minutes=31))
    recent = portal_deflection_record(contact=me, article_id=2, now=now - timedelta(minutes=29))
    others = portal_deflection_record(contact=other, article_id=3, now=now - timedelta(minutes=1))
    ticket = portal_ticket_submit(contact=me, subject="Help", body="Please.", now=now)
    claimed = dict(PortalDeflection.objects.values_list("pk", "ticket_id"))
    assert claimed == {old.pk: None, recent.pk: ticket.pk, others.pk: None}


def test_no_suggestions_no_rate():
    assert portal_deflection_stats().rate is None


@pytest.mark.parametrize(
    "url", ["/admin/support/portallogintoken/", "/admin/support/portaldeflection/"]
)
def test_admin_lists_open(client_for, make_user, url):
    contact = ContactFactory()
    portal_deflection_record(contact=contact, article_id=1)
    assert client_for(make_user("admin")).get(url).status_code == 200
