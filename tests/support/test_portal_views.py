"""The portal's pages: scoping by contact (another customer's ticket is a 404 by every URL),
public messages only, fixed query counts, replies, new tickets and suggestions."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from support.choices import Status
from support.models import Attachment, PortalDeflection, Ticket
from support.selectors.surveys import csat_link_read
from support.services import ticket_reply
from tests.factories import (
    AccountFactory,
    ContactFactory,
    CsatResponseFactory,
    MessageFactory,
    TicketFactory,
)

HOME = reverse("support:portal-home")


@pytest.fixture
def make_customer(make_user):
    def make(**contact_fields):
        contact = ContactFactory(**contact_fields)
        contact.user = make_user(Role.CUSTOMER, email=contact.email, full_name=contact.name)
        contact.save(update_fields=["user"])
        return contact

    return make


@pytest.fixture
def portal_client():
    def make(contact) -> Client:
        client = Client()
        client.force_login(contact.user)
        return client

    return make


def ticket_for(contact, **fields):
    ticket = TicketFactory(requester=contact, **fields)
    MessageFactory(ticket=ticket, author_contact=contact, body_html="<p>It broke.</p>")
    return ticket


def attachment_on(ticket, *, public=True, agent=None):
    message = MessageFactory(
        ticket=ticket,
        author_user=agent,
        author_contact=None if agent else ticket.requester,
        public=public,
        body_html="<p>see file</p>",
    )
    return Attachment.objects.create(
        message=message,
        file=SimpleUploadedFile("log.txt", b"secret log"),
        filename="log.txt",
        size=10,
    )


def every_url(ticket, attachment):
    return [
        ("get", reverse("support:portal-ticket", args=[ticket.pk])),
        ("post", reverse("support:portal-ticket-reply", args=[ticket.pk])),
        ("get", reverse("support:portal-attachment", args=[attachment.pk])),
    ]


# --- scoping ----------------------------------------------------------------------------


def test_a_customer_cannot_reach_another_customers_ticket_by_any_url(
    make_customer, portal_client, agent
):
    me = make_customer()
    stranger = make_customer()  # another account altogether
    colleague = make_customer(account=me.account)  # my account, but I am not its admin
    for other in (stranger, colleague):
        ticket = ticket_for(other, subject=f"Private matter of {other.name}")
        attachment = attachment_on(ticket)
        client = portal_client(me)
        for method, url in every_url(ticket, attachment):
            data = {"body": "let me in"} if method == "post" else None
            response = getattr(client, method)(url, data)
            assert response.status_code == 404, url
        assert ticket.subject not in client.get(HOME).content.decode()
        assert ticket.messages.count() == 2  # the reply was not posted


def test_a_missing_ticket_and_someone_elses_answer_alike(make_customer, portal_client):
    me, other = make_customer(), make_customer()
    theirs = ticket_for(other)
    client = portal_client(me)
    missing = client.get(reverse("support:portal-ticket", args=[theirs.pk + 1000]))
    forbidden = client.get(reverse("support:portal-ticket", args=[theirs.pk]))
    assert missing.status_code == forbidden.status_code == 404


def test_account_admin_sees_the_accounts_tickets_and_no_others(make_customer, portal_client):
    account = AccountFactory()
    admin = make_customer(account=account, is_account_admin=True)
    colleague = make_customer(account=account)
    outsider = make_customer()
    colleagues = ticket_for(colleague, subject="Colleague's invoice question")
    outsiders = ticket_for(outsider, subject="Outsider's private ticket")
    client = portal_client(admin)
    page = client.get(HOME).content.decode()
    assert "Colleague&#x27;s invoice question" in page
    assert "Outsider" not in page
    assert client.get(reverse("support:portal-ticket", args=[colleagues.pk])).status_code == 200
    assert client.get(reverse("support:portal-ticket", args=[outsiders.pk])).status_code == 404
    # The colleague (not an admin) does not see the admin's tickets.
    mine = ticket_for(admin)
    assert (
        portal_client(colleague).get(reverse("support:portal-ticket", args=[mine.pk])).status_code
        == 404
    )


def test_internal_notes_tags_and_sla_never_reach_the_portal(make_customer, portal_client, agent):
    me = make_customer()
    ticket = ticket_for(me, tags=["vip-escalation"])
    agent.full_name = "Alexandra Agentson"
    agent.save()
    ticket.assignee = agent
    ticket.save()
    ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Customer is grumpy", public=False)
    ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="We are on it.")
    note_file = attachment_on(ticket, public=False, agent=agent)
    page = portal_client(me).get(reverse("support:portal-ticket", args=[ticket.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "We are on it." in html
    assert "grumpy" not in html
    assert "Internal note" not in html
    assert "vip-escalation" not in html
    assert "Agentson" not in html
    assert agent.email not in html
    assert "Alexandra" in html
    assert "SLA" not in html
    assert "Queue" not in html  # no staff navigation
    attachment_url = reverse("support:portal-attachment", args=[note_file.pk])
    assert attachment_url not in html
    assert portal_client(me).get(attachment_url).status_code == 404


def test_staff_are_refused_from_the_portal(client_for, agent):
    assert client_for(agent).get(HOME).status_code == 403


def test_own_attachment_downloads(make_customer, portal_client):
    me = make_customer()
    attachment = attachment_on(ticket_for(me))
    response = portal_client(me).get(reverse("support:portal-attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"secret log"
    assert response["Content-Disposition"].startswith("attachment")


# --- list and detail --------------------------------------------------------------------


def test_list_filters_by_status_and_shows_an_empty_state(make_customer, portal_client):
    me = make_customer()
    client = portal_client(me)
    assert "You have no tickets yet" in client.get(HOME).content.decode()
    ticket_for(me, subject="Still broken", status=Status.OPEN)
    ticket_for(me, subject="All fixed", status=Status.SOLVED)
    open_page = client.get(HOME, {"status": "open"}).content.decode()
    solved_page = client.get(HOME, {"status": "solved"}).content.decode()
    assert "Still broken" in open_page
    assert "All fixed" not in open_page
    assert "All fixed" in solved_page
    assert "Still broken" not in solved_page


def test_list_pages_by_cursor_and_survives_a_bad_one(make_customer, portal_client, settings):
    from support.selectors import portal as portal_selectors

    me = make_customer()
    client = portal_client(me)
    size = portal_selectors.PORTAL_PAGE_SIZE
    for _ in range(size + 3):
        ticket_for(me)
    first = client.get(HOME)
    assert len(first.context["page"].rows) == size
    cursor = first.context["page"].next_cursor
    second = client.get(HOME, {"cursor": cursor})
    assert len(second.context["page"].rows) == 3
    assert client.get(HOME, {"cursor": "garbage!"}).status_code == 302


@pytest.mark.parametrize("n", [1, 20])
def test_list_query_count_is_fixed(make_customer, portal_client, django_assert_max_num_queries, n):
    account = AccountFactory()
    admin = make_customer(account=account, is_account_admin=True)
    colleague = make_customer(account=account)
    for i in range(n):
        ticket_for(admin if i % 2 else colleague)
    client = portal_client(admin)
    # session, user, contact+account, counts, page, CSAT prompt
    with django_assert_max_num_queries(6):
        assert client.get(HOME).status_code == 200


@pytest.mark.parametrize("n", [1, 15])
def test_detail_query_count_is_fixed(
    make_customer, portal_client, agent, django_assert_max_num_queries, n
):
    me = make_customer()
    # Solved and unrated: the rating prompt shows, at no extra query.
    ticket = ticket_for(me, assignee=agent, status=Status.SOLVED, solved_at=timezone.now())
    for _ in range(n):
        attachment_on(ticket)
        MessageFactory(ticket=ticket, author_user=agent, author_contact=None, body_html="<p>hi</p>")
    client = portal_client(me)
    # session, user, contact, ticket, messages, attachments
    with django_assert_max_num_queries(6):
        page = client.get(reverse("support:portal-ticket", args=[ticket.pk]))
    assert page.status_code == 200
    assert b"Rate this request" in page.content


# --- replies ----------------------------------------------------------------------------


def test_reply_by_htmx_adds_the_message_and_reopens(make_customer, portal_client):
    me = make_customer()
    ticket = ticket_for(me, status=Status.SOLVED)
    response = portal_client(me).post(
        reverse("support:portal-ticket-reply", args=[ticket.pk]),
        {"body": "Actually it broke again"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Actually it broke again" in response.content.decode()
    assert "<html" not in response.content.decode()  # the partial
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_empty_reply_is_refused_and_typed_attachments_message_kept(make_customer, portal_client):
    me = make_customer()
    ticket = ticket_for(me)
    response = portal_client(me).post(
        reverse("support:portal-ticket-reply", args=[ticket.pk]),
        {"body": "   "},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "Write a message first." in response.content.decode()


def test_oversized_attachment_is_refused_and_text_kept(make_customer, portal_client, settings):
    settings.CX_ATTACHMENT_MAX_BYTES = 5
    me = make_customer()
    ticket = ticket_for(me)
    response = portal_client(me).post(
        reverse("support:portal-ticket-reply", args=[ticket.pk]),
        {"body": "Here is the log", "attachments": SimpleUploadedFile("big.log", b"0123456789")},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "over the" in html
    assert "Here is the log" in html


def test_reply_needs_a_csrf_token(make_customer):
    me = make_customer()
    ticket = ticket_for(me)
    client = Client(enforce_csrf_checks=True)
    client.force_login(me.user)
    url = reverse("support:portal-ticket-reply", args=[ticket.pk])
    assert client.post(url, {"body": "no token"}).status_code == 403
    page = client.get(reverse("support:portal-ticket", args=[ticket.pk]))
    token = page.cookies["csrftoken"].value
    assert client.post(url, {"body": "with token"}, HTTP_X_CSRFTOKEN=token).status_code == 302


def test_reply_on_a_closed_ticket_opens_a_follow_up(make_customer, portal_client):
    me = make_customer()
    ticket = ticket_for(me, status=Status.CLOSED)
    response = portal_client(me).post(
        reverse("support:portal-ticket-reply", args=[ticket.pk]), {"body": "Again!"}
    )
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response["Location"] == reverse("support:portal-ticket", args=[follow_up.pk])


# --- new tickets, suggestions, deflection ----------------------------------------------


def test_new_ticket_is_created_for_the_contact(make_customer, portal_client):
    me = make_customer()
    client = portal_client(me)
    assert client.get(reverse("support:portal-ticket-new")).status_code == 200
    response = client.post(
        reverse("support:portal-ticket-new"),
        {
            "subject": "Cannot export",
            "body": "The export button does nothing.",
            "attachments": SimpleUploadedFile("shot.png", b"png"),
        },
    )
    ticket = Ticket.objects.get(subject="Cannot export")
    assert response["Location"] == reverse("support:portal-ticket", args=[ticket.pk])
    assert ticket.requester == me
    assert ticket.channel == "portal"
    assert Attachment.objects.filter(message__ticket=ticket).count() == 1


def test_new_ticket_errors_keep_what_was_typed(make_customer, portal_client):
    me = make_customer()
    response = portal_client(me).post(
        reverse("support:portal-ticket-new"), {"subject": "Half a thought", "body": ""}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="Half a thought"' in html
    assert "Describe what happened" in html
    assert not Ticket.objects.exists()


def _kb():
    """The knowledge-base builders, or a skip while the knowledge base is not built."""
    try:
        from support.selectors.knowledge import articles_suggested  # noqa: F401
        from tests.support import knowledge_factories
    except ImportError:
        pytest.skip("the knowledge base (support.selectors.knowledge) is not built yet")
    return knowledge_factories


def test_suggestions_are_published_public_articles(make_customer, portal_client):
    kb = _kb()
    public = kb.make_article("Exporting your data to CSV", "Use the export button.")
    kb.make_article("Exporting for staff only", "Internal.", visibility="internal")
    response = portal_client(make_customer()).get(
        reverse("support:portal-suggestions"), {"subject": "export"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the partial only
    assert "Exporting your data to CSV" in html
    assert reverse("support:portal-suggestion-open", args=[public.pk]) in html
    assert "staff only" not in html


def test_no_suggestions_for_an_unmatched_subject(make_customer, portal_client):
    _kb()
    response = portal_client(make_customer()).get(
        reverse("support:portal-suggestions"), {"subject": "zzqx"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "help articles may answer" not in response.content.decode()


def test_opening_a_suggestion_records_it_and_shows_the_article(make_customer, portal_client):
    kb = _kb()
    article = kb.make_article("Resetting two-factor")
    me = make_customer()
    response = portal_client(me).get(reverse("support:portal-suggestion-open", args=[article.pk]))
    assert response.status_code == 302
    assert response["Location"] == article.get_absolute_url()
    row = PortalDeflection.objects.get()
    assert (row.contact, row.article_id, row.ticket) == (me, article.pk, None)


def test_an_internal_or_missing_article_cannot_be_opened(make_customer, portal_client):
    kb = _kb()
    internal = kb.make_article("Internal runbook", visibility="internal")
    client = portal_client(make_customer())
    for pk in (internal.pk, internal.pk + 999):
        url = reverse("support:portal-suggestion-open", args=[pk])
        assert client.get(url).status_code == 404
    assert not PortalDeflection.objects.exists()


def test_opened_suggestion_then_ticket_is_not_a_deflection(make_customer, portal_client):
    from support.services.portal import portal_deflection_record

    me = make_customer()
    portal_deflection_record(contact=me, article_id=7)
    portal_client(me).post(
        reverse("support:portal-ticket-new"), {"subject": "Still stuck", "body": "Didn't help"}
    )
    row = PortalDeflection.objects.get()
    assert row.ticket.subject == "Still stuck"


# --- the CSAT prompt --------------------------------------------------------------------


def survey_links(page) -> list:
    """The tickets and contacts named by the survey links on a page."""
    tokens = re.findall(r'/surveys/csat/([^/"]+)/', page.content.decode())
    return [(link.ticket_id, link.contact_id) for link in map(csat_link_read, tokens)]


def test_home_prompts_to_rate_own_solved_unrated_tickets_only(make_customer, portal_client):
    account = AccountFactory()
    me = make_customer(account=account, is_account_admin=True)
    colleague = make_customer(account=account)
    stranger = make_customer()
    now = timezone.now()
    mine = ticket_for(me, status=Status.SOLVED, solved_at=now, subject="Mine to rate")
    rated = ticket_for(me, status=Status.SOLVED, solved_at=now)
    CsatResponseFactory(ticket=rated)
    ticket_for(me, status=Status.OPEN)
    # An account admin sees a colleague's solved ticket, but only its requester rates it.
    theirs = ticket_for(colleague, status=Status.SOLVED, solved_at=now)
    strangers = ticket_for(stranger, status=Status.SOLVED, solved_at=now)

    page = portal_client(me).get(HOME)

    assert b"How did we do?" in page.content
    assert survey_links(page) == [(mine.pk, me.pk)]
    # The colleague is prompted for their own ticket, the stranger for theirs alone.
    assert survey_links(portal_client(colleague).get(HOME)) == [(theirs.pk, colleague.pk)]
    assert survey_links(portal_client(stranger).get(HOME)) == [(strangers.pk, stranger.pk)]


def test_home_shows_no_prompt_when_nothing_waits_for_a_rating(make_customer, portal_client):
    me = make_customer()
    ticket_for(me, status=Status.OPEN)
    page = portal_client(me).get(HOME)
    assert b"How did we do?" not in page.content
    assert survey_links(page) == []


def test_ticket_page_prompts_its_requester_until_rated(make_customer, portal_client):
    account = AccountFactory()
    me = make_customer(account=account)
    admin = make_customer(account=account, is_account_admin=True)
    ticket = ticket_for(me, status=Status.SOLVED, solved_at=timezone.now())
    url = reverse("support:portal-ticket", args=[ticket.pk])

    page = portal_client(me).get(url)
    assert b"Rate this request" in page.content
    assert survey_links(page) == [(ticket.pk, me.pk)]
    # The account admin can read the ticket but is not asked to rate someone else's.
    assert survey_links(portal_client(admin).get(url)) == []

    CsatResponseFactory(ticket=ticket)
    assert b"Rate this request" not in portal_client(me).get(url).content


def test_ticket_page_shows_no_prompt_before_solved_or_long_after(make_customer, portal_client):
    me = make_customer()
    still_open = ticket_for(me, status=Status.PENDING)
    long_ago = ticket_for(me, status=Status.CLOSED, solved_at=timezone.now() - timedelta(days=30))
    for ticket in (still_open, long_ago):
        page = portal_client(me).get(reverse("support:portal-ticket", args=[ticket.pk]))
        assert b"Rate this request" not in page.content


def test_the_prompts_link_opens_the_survey_for_that_ticket(make_customer, portal_client, client):
    me = make_customer()
    ticket = ticket_for(me, status=Status.SOLVED, solved_at=timezone.now(), subject="Fix")
    page = portal_client(me).get(HOME)
    (path,) = re.findall(r'href="[^"]*(/surveys/csat/[^"]+)"', page.content.decode())

    survey = client.get(path)
    assert survey.status_code == 200
    assert f"Request #{ticket.pk}" in survey.content.decode()
