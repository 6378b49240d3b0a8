"""The ticket page and its forms: thread, composer, properties, claim, merge, macros, create."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Role, TeamKind, Tier
from accounts.models import Contact
from support import services
from support.choices import Channel, EventKind, Priority, Status
from support.models import Message, Ticket, TicketEvent
from tests.factories import (
    AccountFactory,
    ContactFactory,
    MacroFactory,
    MessageFactory,
    TeamFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db

# The ticket page's queries, whatever the thread's length: session, user, ticket (with
# requester, account, CSM, assignee, team, merge links), messages, attachments, events,
# users named in assignee events, teams named in team events, other open tickets, macros,
# assignee choices, team choices, the top bar's unread notifications. Measured: 13 at 1
# message and at 50 (+ 50 events). Under an SLA policy: see test_views_sla.py.
TICKET_PAGE_MAX_QUERIES = 13

PAGE = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, *args) -> str:
    return reverse(f"support:{name}", args=args)


def customer_ticket(**fields) -> Ticket:
    ticket = TicketFactory(**fields)
    MessageFactory(ticket=ticket, body="Printer is on fire", body_html="<p>Printer is on fire</p>")
    return ticket


def latest_public_id(ticket: Ticket) -> int:
    return ticket.messages.filter(public=True).order_by("-pk").values_list("pk", flat=True)[0]


def reply_data(ticket: Ticket, body: str = "Thanks, looking into it.", **extra) -> dict:
    ticket.refresh_from_db()
    return {
        "public": "1",
        "body": body,
        "seen_message_id": latest_public_id(ticket),
        "version": ticket.version,
        **extra,
    }


def properties_data(ticket: Ticket, **changes) -> dict:
    ticket.refresh_from_db()
    data = {
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type,
        "assignee": ticket.assignee_id or "",
        "team": ticket.team_id or "",
        "tags": ", ".join(ticket.tags),
        "version": ticket.version,
    }
    data.update(changes)
    return data


def text(response) -> str:
    return response.content.decode()


def composer_text(page: str) -> str:
    match = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "the page has no composer"
    return match.group(1).strip()


def hidden_value(page: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}"(?: value="([^"]*)")?', page)
    assert match, f"no hidden {name}"
    return match.group(1) or ""


@pytest.fixture
def agent_client(client_for, agent):
    return client_for(agent)


# --- the page ----------------------------------------------------------------------------


def test_ticket_page_shows_title_thread_with_labelled_notes_and_attachment_links(
    agent_client, agent, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = customer_ticket(subject="Printer on fire")
    services.ticket_reply(
        ticket_id=ticket.pk,
        acting_user=agent,
        body="Checking **now**",
        attachments=[SimpleUploadedFile("fire.log", b"smoke")],
    )
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Secret plan", public=False)

    response = agent_client.get(url("ticket-detail", ticket.pk))

    assert response.status_code == 200
    page = text(response)
    assert f"<title>#{ticket.pk} Printer on fire · CX Platform</title>" in page
    assert "Printer is on fire" in page
    assert "<strong>now</strong>" in page
    assert "Alex Agent" in page
    note = re.search(r'<li id="message-\d+" class="[^"]*cx-note[^"]*">(.*?)</li>', page, re.S)
    assert note
    assert "Internal note" in note.group(1)
    assert "Secret plan" in note.group(1)
    attachment = Message.objects.get(body="Checking **now**").attachments.get()
    assert f'href="{url("attachment-download", attachment.pk)}"' in page
    assert "fire.log" in page
    assert "<time datetime=" in page  # relative times with the exact one on hover


def test_ticket_page_shows_customer_context_with_other_open_tickets(agent_client, csm):
    account = AccountFactory(
        name="Acme Corp",
        tier=Tier.ENTERPRISE,
        lifecycle_stage=LifecycleStage.RENEWAL,
        csm=csm,
        renewal_date=timezone.localdate() + timedelta(days=40),
        health_band=HealthBand.YELLOW,
        health_score=55,
    )
    requester = ContactFactory(account=account, name="Jamie Customer")
    ticket = customer_ticket(requester=requester)
    other = TicketFactory(requester=requester, subject="Other open one", status=Status.OPEN)
    TicketFactory(requester=requester, subject="Long solved one", status=Status.SOLVED)

    page = text(agent_client.get(url("ticket-detail", ticket.pk)))

    for expected in [
        "Acme Corp",
        "Enterprise",
        "Renewal",
        "Casey Success",
        "At risk",
        "Jamie Customer",
        requester.email,
        f"#{other.pk} Other open one",
    ]:
        assert expected in page
    assert (account.renewal_date.strftime("%Y-%m-%d")) in page
    assert "Long solved one" not in page


def test_ticket_page_says_not_scored_when_the_account_has_no_health_band(agent_client):
    ticket = customer_ticket(requester=ContactFactory(account=AccountFactory(health_band="")))
    page = text(agent_client.get(url("ticket-detail", ticket.pk)))
    assert "Not scored" in page
    assert "No other open tickets" in page


def test_ticket_page_without_account_says_so(agent_client):
    ticket = customer_ticket(requester=ContactFactory(account=None), account=None)
    page = text(agent_client.get(url("ticket-detail", ticket.pk)))
    assert "not linked to a customer account" in page


def test_history_reads_as_sentences_newest_first_with_names_resolved(
    agent_client, agent, make_user
):
    sam = make_user(Role.AGENT, full_name="Sam Support")
    team = TeamFactory(name="Billing desk")
    ticket = customer_ticket(status=Status.OPEN)
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.PENDING
    )
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, assignee=sam, team=team
    )
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="note", public=False)

    page = text(agent_client.get(url("ticket-detail", ticket.pk)))

    history = page[page.index('id="history-title"') :]
    status = history.index("Alex Agent changed status from Open to Pending")
    assignee = history.index("Alex Agent changed assignee from Unassigned to Sam Support")
    assert "Alex Agent changed team from no team to Billing desk" in history
    note = history.index("Alex Agent added an internal note")
    assert note < assignee < status  # newest first


def test_unknown_ticket_is_a_404_page_that_says_so(agent_client):
    response = agent_client.get(url("ticket-detail", 999_999))
    assert response.status_code == 404
    assert "Ticket #999999 does not exist" in text(response)
    assert "Back to the queue" in text(response)


@pytest.mark.parametrize("role", [Role.AGENT, Role.CSM, Role.MANAGER, Role.ADMIN])
def test_staff_roles_can_open_the_ticket_page(client_for, make_user, role):
    ticket = customer_ticket()
    assert client_for(make_user(role)).get(url("ticket-detail", ticket.pk)).status_code == 200


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("ticket-detail", "get"),
        ("ticket-reply", "post"),
        ("ticket-update", "post"),
        ("ticket-claim", "post"),
        ("ticket-merge", "post"),
        ("ticket-presence", "post"),
    ],
)
def test_customers_get_403_and_anonymous_visitors_are_sent_to_sign_in(
    client, client_for, make_user, name, method
):
    ticket = customer_ticket()
    customer = make_user(Role.CUSTOMER)
    ContactFactory(user=customer, email=customer.email)
    target = url(name, ticket.pk)
    assert getattr(client_for(customer), method)(target).status_code == 403
    anonymous = getattr(client, method)(target)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/?next=")
    assert Ticket.objects.get(pk=ticket.pk).version == 1


def test_customers_cannot_open_the_new_ticket_page_or_macros(client_for, make_user):
    customer = make_user(Role.CUSTOMER)
    ticket = customer_ticket()
    macro = MacroFactory()
    assert client_for(customer).get(url("ticket-create")).status_code == 403
    assert client_for(customer).get(url("ticket-macro", ticket.pk, macro.pk)).status_code == 403


def test_page_has_no_inline_script_or_style_and_loads_the_ticket_script(agent_client):
    ticket = customer_ticket()
    page = text(agent_client.get(url("ticket-detail", ticket.pk)))
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert " style=" not in page
    assert "/static/js/ticket.js" in page
    assert "/static/css/ticket.css" in page
    assert "data-submit-on-ctrl-enter" in page


@pytest.mark.parametrize("messages", [1, 50])
def test_ticket_page_runs_a_fixed_number_of_queries(
    agent_client, agent, make_user, django_assert_max_num_queries, messages, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    sam = make_user(Role.AGENT)
    account = AccountFactory(csm=make_user(Role.CSM))
    requester = ContactFactory(account=account)
    ticket = TicketFactory(requester=requester, team=TeamFactory(name="Team Q"))
    TicketFactory(requester=requester, status=Status.OPEN)
    MacroFactory()
    from django.core.files.uploadedfile import SimpleUploadedFile

    for n in range(messages):
        if n % 3 == 0:
            MessageFactory(ticket=ticket, body=f"customer {n}")
        else:
            services.ticket_reply(
                ticket_id=ticket.pk,
                acting_user=agent,
                body=f"agent {n}",
                public=n % 2 == 0,
                attachments=[SimpleUploadedFile(f"f{n}.txt", b"x")] if n % 5 == 0 else [],
            )
    team = TeamFactory(name="Team R")
    for n in range(messages):
        # Assignee and team events name ids: resolved with one query each, not one per row.
        field, value = ("assignee", sam.pk) if n % 2 else ("team", team.pk)
        TicketEvent.objects.create(
            ticket=ticket,
            kind=EventKind.CHANGED,
            actor=agent,
            field=field,
            old_value="",
            new_value=str(value),
        )

    with django_assert_max_num_queries(TICKET_PAGE_MAX_QUERIES):
        response = agent_client.get(url("ticket-detail", ticket.pk))

    assert response.status_code == 200
    assert text(response).count('class="card mb-2 cx-message') == ticket.messages.count()


# --- replying ------------------------------------------------------------------------------


def test_public_reply_redirects_back_and_opens_the_ticket(agent_client, agent):
    ticket = customer_ticket()
    response = agent_client.post(url("ticket-reply", ticket.pk), reply_data(ticket), **PAGE)
    assert response.status_code == 302
    assert response["Location"] == url("ticket-detail", ticket.pk)
    message = ticket.messages.order_by("-pk").first()
    assert (message.author_user, message.public, message.body) == (
        agent,
        True,
        "Thanks, looking into it.",
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    page = text(agent_client.get(response["Location"]))
    assert "Reply sent." in page


def test_internal_note_is_saved_private_and_leaves_the_ticket_new(agent_client):
    ticket = customer_ticket()
    response = agent_client.post(
        url("ticket-reply", ticket.pk), reply_data(ticket, body="Only for us", public="0")
    )
    assert response.status_code == 302
    note = ticket.messages.get(body="Only for us")
    assert note.public is False
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert ticket.first_response_at is None


def test_reply_can_solve_the_ticket_and_add_tags(agent_client):
    ticket = customer_ticket(status=Status.OPEN)
    response = agent_client.post(
        url("ticket-reply", ticket.pk),
        reply_data(ticket, status=Status.SOLVED, priority=Priority.LOW, add_tags="Refund, vip"),
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.tags) == (
        Status.SOLVED,
        "low",
        ["refund", "vip"],
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("   ", "Write a message first."),
        ("x" * (services.BODY_MAX_LENGTH + 1), "Messages are limited to 100,000 characters"),
    ],
)
def test_invalid_reply_is_a_400_with_the_error_inline_and_the_text_kept(agent_client, body, error):
    ticket = customer_ticket()
    response = agent_client.post(url("ticket-reply", ticket.pk), reply_data(ticket, body=body))
    assert response.status_code == 400
    page = text(response)
    assert error in page
    assert 'aria-invalid="true"' in page
    if body.strip():
        assert composer_text(page) == body
    assert ticket.messages.count() == 1


def test_reply_form_refuses_statuses_agents_cannot_set(agent_client):
    ticket = customer_ticket()
    response = agent_client.post(
        url("ticket-reply", ticket.pk), reply_data(ticket, body="My words", status=Status.CLOSED)
    )
    assert response.status_code == 400
    assert composer_text(text(response)) == "My words"


def test_reply_after_a_newer_customer_message_is_a_409_keeping_the_text(agent_client, make_user):
    ticket = customer_ticket(status=Status.OPEN)
    data = reply_data(ticket, body="My careful answer")
    colleague = services.ticket_reply(
        ticket_id=ticket.pk, acting_user=make_user(Role.AGENT), body="Sam answered first"
    )
    newer = MessageFactory(
        ticket=ticket, body="Actually it is fixed", body_html="<p>Actually it is fixed</p>"
    )

    response = agent_client.post(url("ticket-reply", ticket.pk), data)

    assert response.status_code == 409
    page = text(response)
    assert "A newer public reply was added while you were writing" in page
    assert "Actually it is fixed" in page
    # Everything that arrived since the agent's view is marked, with a link to the first.
    assert re.findall(r'id="message-(\d+)" class="[^"]*cx-message-new', page) == [
        str(colleague.pk),
        str(newer.pk),
    ]
    assert f'href="#message-{colleague.pk}"' in page
    assert composer_text(page) == "My careful answer"
    assert hidden_value(page, "seen_message_id") == str(newer.pk)
    assert not ticket.messages.filter(body="My careful answer").exists()

    # Having seen it, sending again (with the updated hidden field) goes through.
    data["seen_message_id"] = hidden_value(page, "seen_message_id")
    data["version"] = hidden_value(page, "version")
    assert agent_client.post(url("ticket-reply", ticket.pk), data).status_code == 302
    assert ticket.messages.filter(body="My careful answer").exists()


def test_reply_changing_status_after_someone_else_changed_the_ticket_is_a_409(
    agent_client, make_user
):
    ticket = customer_ticket(status=Status.OPEN)
    data = reply_data(ticket, body="Solving", status=Status.SOLVED)
    services.ticket_update(
        ticket_id=ticket.pk,
        acting_user=make_user(Role.AGENT),
        expected_version=None,
        priority=Priority.URGENT,
    )

    response = agent_client.post(url("ticket-reply", ticket.pk), data)

    assert response.status_code == 409
    page = text(response)
    assert "changed by someone else" in page
    assert composer_text(page) == "Solving"
    ticket.refresh_from_db()
    assert hidden_value(page, "version") == str(ticket.version)
    assert ticket.status == Status.OPEN


def test_plain_reply_is_not_refused_because_a_property_changed(agent_client, make_user):
    ticket = customer_ticket(status=Status.OPEN)
    data = reply_data(ticket, body="Just words")
    services.ticket_update(
        ticket_id=ticket.pk,
        acting_user=make_user(Role.AGENT),
        expected_version=None,
        priority=Priority.URGENT,
    )
    assert agent_client.post(url("ticket-reply", ticket.pk), data).status_code == 302


def test_htmx_reply_gets_the_ticket_partial(agent_client):
    ticket = customer_ticket()
    response = agent_client.post(
        url("ticket-reply", ticket.pk), reply_data(ticket, body="Hi!"), **HTMX
    )
    assert response.status_code == 200
    page = text(response)
    assert "<html" not in page
    assert page.lstrip().startswith('<div id="ticket"')
    assert "Reply sent." in page
    bad = agent_client.post(url("ticket-reply", ticket.pk), reply_data(ticket, body=""), **HTMX)
    assert bad.status_code == 400
    assert "Write a message first." in text(bad)


def test_closed_ticket_replaces_the_composer_with_a_note(agent_client):
    ticket = customer_ticket(status=Status.CLOSED)
    page = text(agent_client.get(url("ticket-detail", ticket.pk)))
    assert "This ticket is closed" in page
    assert 'id="composer"' not in page
    assert "Take it" not in page


def test_reply_to_a_ticket_closed_meanwhile_is_a_409_keeping_the_text(agent_client):
    ticket = customer_ticket(status=Status.OPEN)
    data = reply_data(ticket, body="Late words")
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    response = agent_client.post(url("ticket-reply", ticket.pk), data)
    assert response.status_code == 409
    page = text(response)
    assert "is closed" in page
    assert "Late words" in page


def test_reply_to_unknown_ticket_is_404(agent_client):
    response = agent_client.post(url("ticket-reply", 999_999), {"public": "1", "body": "x"})
    assert response.status_code == 404


# --- properties ------------------------------------------------------------------------------


def test_properties_are_saved_with_events(agent_client, agent, make_user):
    sam = make_user(Role.AGENT, full_name="Sam Support")
    team = TeamFactory(name="Escalations")
    ticket = customer_ticket(status=Status.OPEN)
    response = agent_client.post(
        url("ticket-update", ticket.pk),
        properties_data(
            ticket,
            status=Status.ON_HOLD,
            priority=Priority.URGENT,
            type="incident",
            assignee=sam.pk,
            team=team.pk,
            tags="outage, Big Customer",
        ),
        **PAGE,
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (
        ticket.status,
        ticket.priority,
        ticket.type,
        ticket.assignee,
        ticket.team,
        ticket.tags,
    ) == (Status.ON_HOLD, "urgent", "incident", sam, team, ["outage", "big-customer"])
    assert ticket.version == 2
    assert TicketEvent.objects.filter(ticket=ticket, actor=agent).count() == 6


def test_unchanged_properties_save_nothing(agent_client):
    ticket = customer_ticket()  # status new: shown, and not sent back as a change
    response = agent_client.post(url("ticket-update", ticket.pk), properties_data(ticket))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.version == 1


def test_properties_from_an_old_version_are_a_409_showing_current_values(agent_client, make_user):
    ticket = customer_ticket(status=Status.OPEN)
    stale = properties_data(ticket, priority=Priority.LOW)
    services.ticket_update(
        ticket_id=ticket.pk,
        acting_user=make_user(Role.AGENT),
        expected_version=None,
        priority=Priority.URGENT,
    )

    response = agent_client.post(url("ticket-update", ticket.pk), stale)

    assert response.status_code == 409
    page = text(response)
    assert "was changed by someone else since you opened it" in page
    assert "Priority: Low" in page  # what the agent tried, not saved
    assert '<option value="urgent" selected>Urgent</option>' in page
    assert hidden_value(page, "version") == "2"
    ticket.refresh_from_db()
    assert ticket.priority == Priority.URGENT


def test_properties_save_while_the_assignee_has_left_and_team_is_not_a_support_team(
    agent_client, make_user
):
    gone = make_user(Role.AGENT, full_name="Gone Agent", is_active=False)
    success_team = TeamFactory(name="Success pod", kind=TeamKind.SUCCESS)
    ticket = customer_ticket(status=Status.OPEN, assignee=gone, team=success_team)
    page = text(agent_client.get(url("ticket-detail", ticket.pk)))
    assert "Gone Agent" in page
    response = agent_client.post(
        url("ticket-update", ticket.pk), properties_data(ticket, priority=Priority.HIGH)
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.assignee, ticket.team) == ("high", gone, success_team)
    # Elsewhere, only support teams and active staff are offered.
    other = text(agent_client.get(url("ticket-detail", customer_ticket().pk)))
    assert "Gone Agent" not in other
    assert "Success pod" not in other


def test_invalid_properties_are_a_400(agent_client, make_user):
    ticket = customer_ticket()
    response = agent_client.post(
        url("ticket-update", ticket.pk), properties_data(ticket, status=Status.CLOSED)
    )
    assert response.status_code == 400
    customer = make_user(Role.CUSTOMER)
    response = agent_client.post(
        url("ticket-update", ticket.pk), properties_data(ticket, assignee=customer.pk)
    )
    assert response.status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).version == 1


# --- claim -----------------------------------------------------------------------------------


def test_take_it_button_shows_on_unassigned_tickets(agent_client):
    ticket = customer_ticket()
    page = text(agent_client.get(url("ticket-detail", ticket.pk)))
    assert "Take it" in page
    assert f'action="{url("ticket-claim", ticket.pk)}"' in page


def test_claim_from_the_page_redirects_with_a_message(agent_client, agent):
    ticket = customer_ticket()
    response = agent_client.post(url("ticket-claim", ticket.pk), **PAGE, follow=True)
    assert response.redirect_chain[-1][0] == url("ticket-detail", ticket.pk)
    assert f"You have ticket #{ticket.pk}." in text(response)
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent


def test_claim_by_script_answers_200_then_409_naming_the_holder(client_for, agent, make_user):
    ticket = customer_ticket()
    first = client_for(agent).post(url("ticket-claim", ticket.pk))  # fetch(): Accept */*
    assert first.status_code == 200
    sam = client_for(make_user(Role.AGENT, full_name="Sam Support"))
    second = sam.post(url("ticket-claim", ticket.pk), HTTP_ACCEPT="*/*")
    assert second.status_code == 409
    assert second["Content-Type"].startswith("text/plain")
    assert text(second) == f"Alex Agent has ticket #{ticket.pk}."
    htmx = sam.post(url("ticket-claim", ticket.pk), **HTMX)
    assert htmx.status_code == 409
    assert f"Alex Agent has ticket #{ticket.pk}." in text(htmx)


def test_claim_of_a_taken_ticket_from_the_page_says_who_has_it(client_for, agent, make_user):
    ticket = customer_ticket(assignee=make_user(Role.AGENT, full_name="Sam Support"))
    response = client_for(agent).post(url("ticket-claim", ticket.pk), **PAGE, follow=True)
    assert f"Sam Support has ticket #{ticket.pk}." in text(response)
    assert Ticket.objects.get(pk=ticket.pk).assignee.full_name == "Sam Support"


def test_claim_of_unknown_ticket_is_404(agent_client):
    assert agent_client.post(url("ticket-claim", 999_999)).status_code == 404


# --- merge -----------------------------------------------------------------------------------


def test_merge_redirects_to_the_target(agent_client):
    source, target = customer_ticket(), customer_ticket()
    response = agent_client.post(url("ticket-merge", source.pk), {"target": target.pk}, follow=True)
    assert response.redirect_chain[-1][0] == url("ticket-detail", target.pk)
    assert f"Ticket #{source.pk} was merged into #{target.pk}." in text(response)
    source.refresh_from_db()
    assert source.merged_into == target
    page = text(agent_client.get(url("ticket-detail", source.pk)))
    assert "This ticket was merged into" in page


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (999_999, "Ticket #999999 does not exist."),
        ("abc", "Enter a ticket number"),
        ("", "Enter the number of the ticket to merge into."),
    ],
)
def test_merge_into_an_unknown_ticket_is_a_400_with_a_message(agent_client, target, says):
    source = customer_ticket()
    response = agent_client.post(url("ticket-merge", source.pk), {"target": target})
    assert response.status_code == 400
    assert says in text(response)
    assert Ticket.objects.get(pk=source.pk).merged_into is None


def test_merge_into_itself_is_a_400(agent_client):
    source = customer_ticket()
    response = agent_client.post(url("ticket-merge", source.pk), {"target": source.pk})
    assert response.status_code == 400
    assert "cannot be merged into itself" in text(response)


# --- macros ----------------------------------------------------------------------------------


def test_macro_fills_the_composer_with_its_text_and_actions(agent_client):
    ticket = customer_ticket(requester=ContactFactory(name="Jamie Customer"))
    macro = MacroFactory(
        title="Refund issued",
        set_status=Status.PENDING,
        set_priority=Priority.HIGH,
        add_tags=["refund"],
        public=False,
    )

    response = agent_client.get(
        url("ticket-macro", ticket.pk, macro.pk),
        {"body": "Already typed", "seen_message_id": "7", "version": "3"},
        **HTMX,
    )

    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<div id="composer-fields"')
    assert composer_text(page) == f"Already typed\n\nHi Jamie, about #{ticket.pk}. Alex"
    assert '<option value="pending" selected>Pending</option>' in page
    assert '<option value="high" selected>High</option>' in page
    assert 'value="refund"' in page
    assert re.search(r'<input type="radio" name="public" value="0"[^>]*checked', page)
    assert hidden_value(page, "seen_message_id") == "7"
    assert hidden_value(page, "version") == "3"


def test_macro_link_without_htmx_opens_the_page_with_the_composer_filled(agent_client):
    ticket = customer_ticket()
    macro = MacroFactory(body="Hello {{ ticket.number }}")
    response = agent_client.get(url("ticket-macro", ticket.pk, macro.pk))
    assert response.status_code == 200
    page = text(response)
    assert "<html" in page
    assert composer_text(page) == f"Hello {ticket.pk}"
    assert "Refund" not in page


def test_macros_are_listed_in_the_composer_and_inactive_ones_are_404(agent_client):
    ticket = customer_ticket()
    MacroFactory(title="Greeting")
    hidden = MacroFactory(title="Retired", active=False)
    page = text(agent_client.get(url("ticket-detail", ticket.pk)))
    assert "Greeting" in page
    assert "Retired" not in page
    assert agent_client.get(url("ticket-macro", ticket.pk, hidden.pk)).status_code == 404


# --- creating a ticket for a customer -----------------------------------------------------------


def test_new_ticket_page_has_the_form(agent_client):
    response = agent_client.get(url("ticket-create"))
    assert response.status_code == 200
    page = text(response)
    assert "<title>New ticket · CX Platform</title>" in page
    for name in ["requester_email", "subject", "body", "priority", "type", "channel", "team"]:
        assert f'name="{name}"' in page


def test_agent_opens_a_ticket_for_a_known_customer(agent_client, agent):
    requester = ContactFactory(email="jamie@acme.test")
    team = TeamFactory(name="Phones")
    response = agent_client.post(
        url("ticket-create"),
        {
            "requester_email": "JAMIE@acme.test",
            "subject": "Called about invoices",
            "body": "Customer called: invoice total looks wrong.",
            "priority": Priority.HIGH,
            "type": "question",
            "channel": Channel.PHONE,
            "team": team.pk,
        },
    )
    ticket = Ticket.objects.get(subject="Called about invoices")
    assert response.status_code == 302
    assert response["Location"] == url("ticket-detail", ticket.pk)
    assert (
        ticket.requester,
        ticket.channel,
        ticket.priority,
        ticket.team,
        ticket.created_by_agent,
    ) == (requester, "phone", "high", team, True)
    assert ticket.messages.get().author_user == agent


def test_agent_opens_a_ticket_for_an_unknown_address_creating_the_contact(agent_client):
    account = AccountFactory(domains=["newco.test"])
    response = agent_client.post(
        url("ticket-create"),
        {
            "requester_email": "pat@newco.test",
            "requester_name": "Pat New",
            "subject": "Hello",
            "body": "First contact",
            "priority": "normal",
            "type": "question",
            "channel": "chat",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="pat@newco.test")
    assert (contact.name, contact.account) == ("Pat New", account)
    assert Ticket.objects.get(requester=contact).account == account


def test_invalid_new_ticket_is_a_400_keeping_what_was_typed(agent_client):
    response = agent_client.post(
        url("ticket-create"),
        {
            "requester_email": "not-an-email",
            "subject": "",
            "body": "Long story here",
            "priority": "normal",
            "type": "question",
            "channel": "phone",
        },
    )
    assert response.status_code == 400
    page = text(response)
    assert "Enter a valid email address." in page
    assert "Long story here" in page
    assert 'value="not-an-email"' in page
    assert not Ticket.objects.exists()
    assert not Contact.objects.exists()


def test_reply_started_from_a_macro_is_recorded_in_the_history(client_for, agent):
    from support.models import TicketEvent
    from tests.factories import MacroFactory, TicketFactory

    ticket = TicketFactory()
    macro = MacroFactory(title="Ask for details")
    response = client_for(agent).post(
        f"/support/tickets/{ticket.pk}/reply/",
        {
            "body": "Could you send a screenshot?",
            "public": "1",
            "macro": macro.pk,
            "version": ticket.version,
        },
    )
    assert response.status_code == 302
    event = TicketEvent.objects.get(ticket=ticket, kind="macro")
    assert (event.actor, event.new_value) == (agent, "Ask for details")
    page = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    assert "Ask for details" in page
