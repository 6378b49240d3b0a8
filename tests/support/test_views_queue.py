"""The agent's queue page: views and counts, filters, search, pages, bulk changes with undo,
saved views, htmx partials, roles, and a fixed number of queries whatever the rows."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role, Tier
from support import services
from support.choices import EventKind, Priority, Status
from support.models import SavedView, Ticket, TicketEvent
from support.selectors import BUILTIN_VIEWS
from support.views.queue import UNDO_SESSION_KEY
from tests.factories import AccountFactory, ContactFactory, TeamFactory, TicketFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("support:queue")
BULK = reverse("support:tickets-bulk")
UNDO = reverse("support:tickets-bulk-undo")
SAVE = reverse("support:saved-view-create")
HTMX = {"HTTP_HX_REQUEST": "true"}
# The queue page's queries, whatever the number of rows or saved views: session, user, the
# viewer's team ids, the eight counts (one statement), saved views, the page of tickets (one
# statement with its joins), the three pickers (assignee and team filters, bulk assignee),
# and the top bar's unread notifications.
QUEUE_PAGE_QUERIES = 10
# The 20-second refresh: session, user, team ids, counts, saved views, the rows.
QUEUE_REFRESH_QUERIES = 6


@pytest.fixture
def client(client_for, agent):
    return client_for(agent)


def page(response) -> str:
    return response.content.decode()


def row_numbers(response) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="row-(\d+)"', page(response))]


def toast(response) -> str:
    match = re.search(r'<div id="queue-toasts"[^>]*>(.*?)</div>\s*</div>', page(response), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


def undo_key(response) -> str:
    return re.search(r'name="key" value="([^"]+)"', page(response)).group(1)


# --- views, tabs and counts ---------------------------------------------------------------


def test_default_view_is_my_open_tickets(client, agent):
    mine = TicketFactory(assignee=agent, subject="Mine to do")
    TicketFactory(subject="Somebody else's")
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert row_numbers(response) == [mine.pk]
    assert "<title>My open tickets · CX Platform</title>" in page(response)


@pytest.mark.parametrize("view", list(BUILTIN_VIEWS))
def test_each_view_tab_opens_its_list_and_names_the_page(client, view):
    response = client.get(QUEUE, {"view": view})
    assert response.status_code == 200
    label = BUILTIN_VIEWS[view].label.replace("'", "&#x27;")
    assert f"<title>{label} · CX Platform</title>" in page(response)
    assert re.search(rf'class="nav-link active" href="{QUEUE}\?view={view}"', page(response))


def test_unassigned_view_lists_unassigned_tickets_only(client, agent):
    waiting = TicketFactory(assignee=None)
    TicketFactory(assignee=agent)
    TicketFactory(assignee=None, status=Status.SOLVED, solved_at=timezone.now())
    assert row_numbers(client.get(QUEUE, {"view": "unassigned"})) == [waiting.pk]


def test_tabs_show_live_counts(client, agent):
    TicketFactory.create_batch(3, assignee=None)
    TicketFactory(assignee=agent, status=Status.PENDING)
    html = page(client.get(QUEUE))
    counts = dict(re.findall(r"\?view=(\w+)\"[^>]*>\s*[^<]+<span[^>]*>(\d+)<", html))
    assert counts == {
        "mine": "1",
        "unassigned": "3",
        "team": "0",
        "open": "4",
        "at_risk": "0",
        "breached": "0",
        "pending": "1",
        "solved": "0",
    }


def test_unknown_view_answers_400_and_says_so(client):
    response = client.get(QUEUE, {"view": "everything"})
    assert response.status_code == 400
    assert "There is no view called “everything”" in page(response)


@pytest.mark.parametrize(
    ("view", "viewer_has_team"),
    [("mine", False), ("unassigned", False), ("team", True), ("pending", False)],
)
def test_empty_view_shows_its_empty_state_text(client, agent, view, viewer_has_team):
    if viewer_has_team:
        agent.teams.add(TeamFactory(name="Billing"))
    response = client.get(QUEUE, {"view": view})
    assert BUILTIN_VIEWS[view].empty.replace("'", "&#x27;") in page(response)
    assert row_numbers(response) == []


def test_empty_filtered_list_offers_to_clear_the_filters(client, agent):
    TicketFactory(assignee=agent, priority=Priority.LOW)
    html = page(client.get(QUEUE, {"view": "mine", "priority": "urgent"}))
    assert "No tickets match these filters" in html
    assert f'href="{QUEUE}?view=mine">clear them</a>' in html


# --- rows ---------------------------------------------------------------------------------


def test_row_shows_number_subject_people_account_status_priority_and_time(client, agent):
    account = AccountFactory(name="Oscorp", tier=Tier.ENTERPRISE)
    ticket = TicketFactory(
        assignee=agent,
        subject="Printer on fire",
        requester=ContactFactory(account=account, name="Pat Customer"),
        status=Status.PENDING,
        priority=Priority.URGENT,
    )
    html = page(client.get(QUEUE))
    row = re.search(rf'<tr id="row-{ticket.pk}".*?</tr>', html, re.S).group(0)
    assert f'data-href="/support/tickets/{ticket.pk}/"' in row
    assert f"/support/tickets/{ticket.pk}/claim/" in row
    for text in [
        "Printer on fire",
        "Pat Customer",
        "Oscorp",
        "Enterprise",
        "Urgent",
        agent.full_name,
    ]:
        assert text in row
    assert re.search(r'class="badge cx-badge-grey">.*Pending</span>', row)  # colour and text
    assert "<time datetime=" in row


@pytest.mark.parametrize(
    ("status", "colour", "label"),
    [
        (Status.NEW, "blue", "New"),
        (Status.OPEN, "blue", "Open"),
        (Status.PENDING, "grey", "Pending"),
        (Status.ON_HOLD, "grey", "On hold"),
        (Status.SOLVED, "green", "Solved"),
        (Status.CLOSED, "green", "Closed"),
    ],
)
def test_status_badge_has_a_colour_and_a_word(client, status, colour, label):
    TicketFactory(status=status, solved_at=timezone.now())
    view = "solved" if status in {Status.SOLVED, Status.CLOSED} else "open"
    html = page(client.get(QUEUE, {"view": view}))
    assert re.search(rf'class="badge cx-badge-{colour}">(<i [^>]*></i>)? {label}</span>', html)


def test_page_has_no_inline_script_or_style(client, agent):
    TicketFactory(assignee=agent)
    html = page(client.get(QUEUE))
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html
    assert " hx-on" not in html
    assert "/static/js/queue.js" in html
    assert "/static/css/queue.css" in html


# --- filters, search, sort ----------------------------------------------------------------


def test_filter_bar_narrows_the_list(client, agent):
    urgent = TicketFactory(priority=Priority.URGENT, tags=["vip"])
    TicketFactory(priority=Priority.URGENT)
    TicketFactory(priority=Priority.LOW, tags=["vip"])
    response = client.get(QUEUE, {"view": "open", "priority": "urgent", "tag": "vip"})
    assert row_numbers(response) == [urgent.pk]
    html = page(response)
    assert 'value="urgent" id="id_priority_3" checked' in html
    assert 'name="tag" id="id_tag" value="vip"' in html


def test_assignee_none_filter_lists_unassigned(client, agent):
    nobody = TicketFactory(assignee=None)
    TicketFactory(assignee=agent)
    response = client.get(QUEUE, {"view": "open", "assignee": "none"})
    assert row_numbers(response) == [nobody.pk]
    assert '<option value="none" selected>Unassigned</option>' in page(response)


def test_team_and_tier_filters(client):
    team = TeamFactory(name="Billing")
    enterprise = ContactFactory(account=AccountFactory(tier=Tier.ENTERPRISE))
    both = TicketFactory(team=team, requester=enterprise)
    TicketFactory(team=team)
    TicketFactory(requester=enterprise)
    response = client.get(QUEUE, {"view": "open", "team": team.pk, "tier": "enterprise"})
    assert row_numbers(response) == [both.pk]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "bogus"}, "Status: Select a valid choice. bogus is not one of"),
        ({"assignee": "abc"}, "Assignee: Select a valid choice."),
        ({"team": "999999"}, "Team: Select a valid choice."),
        ({"tier": "platinum"}, "Account tier: Select a valid choice. platinum is not one of"),
    ],
)
def test_invalid_filter_value_answers_400_with_the_filtersets_message(client, params, message):
    TicketFactory()
    response = client.get(QUEUE, {"view": "open", "tag": "vip", **params})
    assert response.status_code == 400
    html = page(response)
    assert message in html
    assert row_numbers(response) == []
    # The rest of the page is there, and what was typed is kept.
    assert 'id="queue-tabs"' in html
    assert 'name="tag" id="id_tag" value="vip"' in html
    value = next(iter(params.values()))
    assert f'value="{value}"' in html


def test_search_ranks_subject_matches_first_and_reads_message_bodies(client, agent):
    contact = ContactFactory()
    in_body = services.ticket_create(
        requester=contact, subject="Cannot print", body="The printer jams.", assignee=agent
    )
    in_subject = services.ticket_create(
        requester=contact, subject="Printer offline", body="Nothing prints.", assignee=agent
    )
    services.ticket_create(requester=contact, subject="Login", body="SSO fails.", assignee=agent)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(QUEUE, {"view": "mine", "q": "printer"})
    assert row_numbers(response) == [in_subject.pk, in_body.pk]
    assert "sorted by relevance" in page(response)
    assert not any("LIKE" in q["sql"].upper() for q in queries.captured_queries)


def test_search_from_the_top_bar_looks_at_every_ticket(client, make_user):
    someone_elses = services.ticket_create(
        requester=ContactFactory(), subject="Kumquat export", body="x", assignee=make_user()
    )
    response = client.get(QUEUE, {"q": "kumquat"})
    assert row_numbers(response) == [someone_elses.pk]
    assert "<title>Search “kumquat” · CX Platform</title>" in page(response)


def test_sort_by_priority_and_the_active_sort_is_shown(client):
    low = TicketFactory(priority=Priority.LOW)
    urgent = TicketFactory(priority=Priority.URGENT)
    normal = TicketFactory(priority=Priority.NORMAL)
    response = client.get(QUEUE, {"view": "open", "sort": "-priority"})
    assert row_numbers(response) == [urgent.pk, normal.pk, low.pk]
    html = page(response)
    assert 'aria-sort="descending"' in html
    assert '<option value="-priority" selected>' in html
    # The header link turns the order round.
    assert "sort=priority" in re.search(
        r'<th scope="col" class="cx-col-priority".*?</th>', html, re.S
    ).group(0)


def test_unknown_sort_answers_400(client):
    response = client.get(QUEUE, {"view": "open", "sort": "subject"})
    assert response.status_code == 400
    assert "Cannot sort by “subject”" in page(response)


# --- pages --------------------------------------------------------------------------------


def test_next_page_link_carries_a_cursor_and_leads_to_the_rest(client):
    moment = timezone.now() - timedelta(hours=1)
    contact = ContactFactory()
    tickets = TicketFactory.create_batch(
        55, requester=contact, created_at=moment, updated_at=moment
    )
    first = client.get(QUEUE, {"view": "open", "priority": "normal"})
    assert len(row_numbers(first)) == 50
    link = re.search(r'rel="next" href="([^"]+)"', page(first)).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(link).query)
    assert query["view"] == ["open"]
    assert query["priority"] == ["normal"]
    assert query["cursor"]
    with CaptureQueriesContext(connection) as queries:
        second = client.get(link)
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
    seen = row_numbers(first) + row_numbers(second)
    assert seen == sorted((t.pk for t in tickets), reverse=True)
    assert 'rel="next"' not in page(second)
    assert "First page" in page(second)


def test_bad_cursor_answers_400_with_the_reason(client):
    TicketFactory()
    response = client.get(QUEUE, {"view": "open", "cursor": "not-ours"})
    assert response.status_code == 400
    assert "The page link is damaged; start again from the first page." in page(response)
    assert 'id="queue-tabs"' in page(response)


# --- htmx and live refresh ----------------------------------------------------------------


def test_htmx_refresh_gets_the_rows_partial_with_counts_out_of_band(client, agent):
    ticket = TicketFactory(assignee=agent)
    response = client.get(QUEUE, {"view": "mine"}, **HTMX)
    html = page(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<tbody id="queue-rows"')
    assert f'id="row-{ticket.pk}"' in html
    tabs = re.search(r'<nav id="queue-tabs"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in tabs
    assert 'id="queue-status"' in html
    assert "HX-Request" in response["Vary"]


def test_rows_reload_themselves_every_20_seconds_with_the_same_query(client):
    html = page(client.get(QUEUE, {"view": "open", "priority": "high"}))
    tbody = re.search(r"<tbody [^>]*>", html).group(0)
    assert f'hx-get="{QUEUE}?view=open&amp;priority=high"' in tbody
    assert 'hx-trigger="every 20s' in tbody
    assert 'hx-swap="outerHTML"' in tbody
    assert re.search(r"Updated <time datetime=\"[^\"]+\">\d\d:\d\d:\d\d</time>", html)


def test_boosted_htmx_request_gets_the_whole_page(client):
    response = client.get(QUEUE, HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert "<html" in page(response)


# --- bulk changes -------------------------------------------------------------------------


def test_bulk_assign_writes_the_same_events_as_a_single_change(client, agent, make_user):
    alex = make_user(full_name="Alex Other")
    single, *bulk = TicketFactory.create_batch(3)
    services.ticket_update(
        ticket_id=single.pk, acting_user=agent, expected_version=None, assignee=alex
    )
    response = client.post(BULK, {"tickets": [t.pk for t in bulk], "assignee": alex.pk})
    assert response.status_code == 302

    def events(ticket):
        return list(
            TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CHANGED).values_list(
                "actor_id", "field", "old_value", "new_value"
            )
        )

    for ticket in bulk:
        ticket.refresh_from_db()
        assert ticket.assignee == alex
        assert ticket.version == 2
        assert events(ticket) == events(single) == [(agent.pk, "assignee", "", str(alex.pk))]


def test_bulk_change_redirects_back_to_the_same_list_with_a_toast(client, agent):
    tickets = TicketFactory.create_batch(2)
    query = "view=unassigned&priority=normal&cursor=abc"
    response = client.post(
        BULK, {"tickets": [t.pk for t in tickets], "assignee": agent.pk, "query": query}
    )
    assert response["Location"] == f"{QUEUE}?{query}"
    shown = client.get(f"{QUEUE}?view=mine")
    assert "2 tickets assigned to Alex Agent — Undo" in toast(shown)
    assert toast(client.get(QUEUE)) == ""  # said once


def test_bulk_status_priority_and_tag_together(client):
    ticket = TicketFactory(status=Status.OPEN, tags=["billing"])
    client.post(
        BULK, {"tickets": [ticket.pk], "status": "pending", "priority": "high", "add_tag": "VIP"}
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.tags) == ("pending", "high", ["billing", "vip"])
    fields = set(TicketEvent.objects.filter(ticket=ticket).values_list("field", flat=True))
    assert fields == {"status", "priority", "tags"}
    assert "1 ticket set to Pending, set to High priority and tagged “vip”" in toast(
        client.get(QUEUE)
    )


def test_bulk_unassign(client, agent):
    ticket = TicketFactory(assignee=agent)
    client.post(BULK, {"tickets": [ticket.pk], "assignee": "none"})
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert "1 ticket unassigned" in toast(client.get(QUEUE))


def test_bulk_change_skips_closed_tickets_and_reports_them(client, agent):
    open_ticket = TicketFactory()
    closed = TicketFactory(status=Status.CLOSED, solved_at=timezone.now())
    response = client.post(
        BULK, {"tickets": [open_ticket.pk, closed.pk], "assignee": agent.pk}, **HTMX
    )
    closed.refresh_from_db()
    assert closed.assignee is None
    assert not TicketEvent.objects.filter(ticket=closed).exists()
    said = toast(response)
    assert "1 ticket assigned to Alex Agent" in said
    assert f"Skipped 1 closed ticket (#{closed.pk}): closed tickets cannot be changed." in said


def test_htmx_bulk_change_answers_with_rows_and_an_undo_toast(client, agent):
    tickets = TicketFactory.create_batch(2)
    response = client.post(
        BULK,
        {"tickets": [t.pk for t in tickets], "assignee": agent.pk, "query": "view=mine"},
        **HTMX,
    )
    assert response.status_code == 200
    html = page(response)
    assert "<html" not in html
    assert html.lstrip().startswith('<tbody id="queue-rows"')
    assert sorted(row_numbers(response)) == sorted(t.pk for t in tickets)  # now in "mine"
    assert f'hx-get="{QUEUE}?view=mine"' in html
    assert "2 tickets assigned to Alex Agent — Undo" in toast(response)
    assert undo_key(response) in client.session[UNDO_SESSION_KEY]


def test_undo_puts_every_ticket_back_and_logs_it(client, agent, make_user):
    before = [
        TicketFactory(assignee=None, status=Status.NEW, priority=Priority.LOW, tags=[]),
        TicketFactory(
            assignee=make_user(), status=Status.OPEN, priority=Priority.HIGH, tags=["vip"]
        ),
    ]
    response = client.post(
        BULK,
        {
            "tickets": [t.pk for t in before],
            "assignee": agent.pk,
            "status": "solved",
            "priority": "urgent",
            "add_tag": "done",
        },
        **HTMX,
    )
    key = undo_key(response)
    response = client.post(UNDO, {"key": key, "query": "view=open"}, **HTMX)
    assert response.status_code == 200
    assert "Undone: 2 tickets put back as they were" in toast(response)
    for old in before:
        now = Ticket.objects.get(pk=old.pk)
        assert (now.assignee_id, now.status, now.priority, now.tags, now.solved_at) == (
            old.assignee_id,
            old.status,
            old.priority,
            old.tags,
            None,
        )
        assert TicketEvent.objects.filter(ticket=old, field="assignee").count() == 2
    # An undo record works once.
    again = client.post(UNDO, {"key": key, "query": "view=open"})
    assert again.status_code == 400
    assert "can no longer be undone" in page(again)


def test_undo_says_which_tickets_it_left_alone(client, agent):
    tickets = [TicketFactory(status=Status.OPEN), TicketFactory(status=Status.OPEN)]
    response = client.post(BULK, {"tickets": [t.pk for t in tickets], "priority": "urgent"}, **HTMX)
    key = undo_key(response)
    Ticket.objects.filter(pk=tickets[1].pk).update(status=Status.CLOSED)  # closed meanwhile
    response = client.post(UNDO, {"key": key, "query": "view=open"}, **HTMX)
    assert "Undone: 1 ticket put back as it was" in toast(response)
    assert "1 ticket was left as it is: closed since, or already as before." in toast(response)
    assert Ticket.objects.get(pk=tickets[1].pk).priority == Priority.URGENT


def test_undo_with_an_unknown_key_is_refused(client):
    response = client.post(UNDO, {"key": "made-up"}, **HTMX)
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#queue-toasts"
    assert "can no longer be undone" in page(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"assignee": "none"}, "Select at least one ticket first."),
        ({"tickets": ["x1"], "status": "open"}, "“x1” is not a ticket number."),
        (
            {"tickets": ["TICKET"], "assignee": "999999"},
            "That person does not exist or cannot be assigned tickets.",
        ),
        ({"tickets": ["TICKET"], "status": "closed"}, "“closed” is not a status agents can set."),
        ({"tickets": ["TICKET"], "status": "bogus"}, "“bogus” is not a status agents can set."),
        ({"tickets": ["TICKET"], "priority": "asap"}, "“asap” is not a priority."),
        ({"tickets": ["TICKET"]}, "Choose a change to apply"),
    ],
    ids=[
        "no-tickets",
        "bad-number",
        "unknown-agent",
        "closed-status",
        "bad-status",
        "bad-priority",
        "no-change",
    ],
)
def test_bulk_refuses_bad_input_with_400_and_a_clear_message(client, data, message):
    ticket = TicketFactory()
    if data.get("tickets") == ["TICKET"]:
        data = {**data, "tickets": [ticket.pk]}
    page_response = client.post(BULK, {**data, "query": "view=open"})
    assert page_response.status_code == 400
    assert message in page(page_response)
    assert 'id="queue-tabs"' in page(page_response)  # the page, still usable
    htmx_response = client.post(BULK, data, **HTMX)
    assert htmx_response.status_code == 400
    assert htmx_response["HX-Retarget"] == "#queue-toasts"
    assert message in page(htmx_response)
    ticket.refresh_from_db()
    assert ticket.version == 1


def test_bulk_refuses_a_customer_as_assignee(client, make_user):
    ticket = TicketFactory()
    customer = make_user(Role.CUSTOMER)
    response = client.post(BULK, {"tickets": [ticket.pk], "assignee": customer.pk})
    assert response.status_code == 400
    assert "cannot be assigned tickets" in page(response)


def test_refused_full_page_bulk_keeps_the_ticked_rows(client):
    tickets = TicketFactory.create_batch(2)
    response = client.post(BULK, {"tickets": [tickets[0].pk], "query": "view=open"})
    html = page(response)
    assert (
        f'id="select-{tickets[0].pk}" aria-label="Select ticket #{tickets[0].pk}" checked' in html
    )
    assert f'id="select-{tickets[1].pk}" aria-label="Select ticket #{tickets[1].pk}">' in html


@pytest.mark.parametrize("url", [BULK, UNDO, SAVE])
def test_changes_must_be_posted(client, url):
    assert client.get(url).status_code == 405


# --- saved views --------------------------------------------------------------------------


def test_save_view_keeps_the_query_and_shows_it_as_a_tab(client, agent):
    response = client.post(
        SAVE, {"name": " Urgent  enterprise ", "query": "?view=open&priority=urgent&cursor=x"}
    )
    saved = SavedView.objects.get(owner=agent)
    assert (saved.name, saved.query) == ("Urgent enterprise", "priority=urgent&view=open")
    assert response["Location"] == f"{QUEUE}?priority=urgent&view=open"
    shown = client.get(response["Location"])
    html = page(shown)
    assert f'class="nav-link active" href="{QUEUE}?priority=urgent&amp;view=open"' in html
    assert "<title>Urgent enterprise · CX Platform</title>" in html
    assert "Saved the view “Urgent enterprise”" in toast(shown)


def test_page_offers_to_save_the_current_query(client):
    html = page(client.get(QUEUE, {"view": "pending", "priority": "high"}))
    assert 'name="query" value="priority=high&amp;view=pending"' in html


def test_duplicate_view_name_is_refused_and_the_typed_name_kept(client, agent):
    SavedView.objects.create(owner=agent, name="Urgent", query="view=open")
    response = client.post(SAVE, {"name": "urgent", "query": "view=pending"})
    assert response.status_code == 400
    assert "You already have a view named “urgent”." in page(response)
    assert 'value="urgent"' in page(response)
    assert SavedView.objects.filter(owner=agent).count() == 1


def test_saved_views_are_personal(client, agent, make_user):
    SavedView.objects.create(owner=agent, name="Mine only", query="view=open")
    SavedView.objects.create(owner=make_user(), name="Theirs", query="view=pending")
    html = page(client.get(QUEUE))
    assert "Mine only" in html
    assert "Theirs" not in html


def test_delete_own_saved_view(client, agent):
    saved = SavedView.objects.create(owner=agent, name="Old", query="view=open")
    response = client.post(reverse("support:saved-view-delete", args=[saved.pk]))
    assert response["Location"] == QUEUE
    assert not SavedView.objects.filter(pk=saved.pk).exists()
    assert "Deleted the view “Old”." in toast(client.get(QUEUE))


def test_cannot_delete_someone_elses_saved_view(client, make_user):
    theirs = SavedView.objects.create(owner=make_user(), name="Theirs", query="view=open")
    response = client.post(reverse("support:saved-view-delete", args=[theirs.pk]))
    assert response.status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()


# --- who may use it -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.AGENT, Role.CSM])
def test_support_staff_open_the_queue(client_for, make_user, role):
    assert client_for(make_user(role)).get(QUEUE).status_code == 200


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", QUEUE), ("post", BULK), ("post", UNDO), ("post", SAVE)],
)
def test_customers_are_refused(client_for, make_user, method, url):
    customer = make_user(Role.CUSTOMER)
    assert getattr(client_for(customer), method)(url).status_code == 403


def test_customer_cannot_change_tickets_in_bulk(client_for, make_user):
    ticket = TicketFactory()
    client_for(make_user(Role.CUSTOMER)).post(BULK, {"tickets": [ticket.pk], "status": "solved"})
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


@pytest.mark.parametrize("url", [QUEUE, f"{QUEUE}?view=unassigned"])
def test_anonymous_visitors_are_sent_to_sign_in(url):
    from django.test import Client

    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


# --- speed --------------------------------------------------------------------------------


def many_tickets(count: int, agent) -> None:
    """`count` tickets in every view the agent has, and saved views to list as tabs."""
    team = TeamFactory(name="Billing")
    agent.teams.add(team)
    for n in range(3):
        SavedView.objects.create(owner=agent, name=f"View {n}", query=f"view=open&tag=t{n}")
    contact = ContactFactory(account=AccountFactory(tier=Tier.ENTERPRISE))
    TicketFactory.create_batch(count, requester=contact, assignee=agent, team=team, tags=["x"])


@pytest.mark.parametrize("rows", [1, 50])
@pytest.mark.parametrize("view", ["mine", "team", "open"])
def test_queue_page_runs_a_fixed_number_of_queries(
    client, agent, django_assert_max_num_queries, rows, view
):
    many_tickets(rows, agent)
    with django_assert_max_num_queries(QUEUE_PAGE_QUERIES):
        response = client.get(QUEUE, {"view": view})
    assert len(row_numbers(response)) == rows


@pytest.mark.parametrize("rows", [1, 50])
def test_filtered_search_page_runs_the_same_number_of_queries(
    client, agent, django_assert_max_num_queries, rows
):
    contact = ContactFactory()
    for n in range(rows):
        services.ticket_create(requester=contact, subject=f"Printer {n}", body="x", assignee=agent)
    with django_assert_max_num_queries(QUEUE_PAGE_QUERIES):
        response = client.get(QUEUE, {"view": "mine", "q": "printer", "tier": "growth"})
    assert len(row_numbers(response)) == rows


@pytest.mark.parametrize("rows", [1, 50])
def test_search_page_runs_as_many_queries_as_the_plain_list(client, agent, rows):
    contact = ContactFactory()
    for n in range(rows):
        services.ticket_create(requester=contact, subject=f"Printer {n}", body="x", assignee=agent)
    client.get(QUEUE, {"view": "mine"})  # the session's first request may write it
    with CaptureQueriesContext(connection) as plain:
        client.get(QUEUE, {"view": "mine"})
    with CaptureQueriesContext(connection) as searched:
        response = client.get(QUEUE, {"view": "mine", "q": "printer"})
    assert len(row_numbers(response)) == rows
    # The ranked page is one statement, in place of the list's one.
    assert len(searched.captured_queries) == len(plain.captured_queries)


@pytest.mark.parametrize("rows", [1, 50])
def test_live_refresh_runs_a_fixed_number_of_queries(
    client, agent, django_assert_max_num_queries, rows
):
    many_tickets(rows, agent)
    with django_assert_max_num_queries(QUEUE_REFRESH_QUERIES):
        response = client.get(QUEUE, {"view": "mine"}, **HTMX)
    assert len(row_numbers(response)) == rows
