"""The queue's reads: built-in views, counts, filters, ranked search, keyset pages."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.choices import Tier
from support import search as search_index
from support import services
from support.choices import Channel, Priority, Status, TicketType
from support.filters import TicketFilter
from support.selectors import (
    BUILTIN_VIEWS,
    PAGE_SIZE,
    BadCursor,
    encode_cursor,
    queue_counts,
    queue_queryset,
    ticket_queue,
)
from tests.factories import AccountFactory, ContactFactory, TeamFactory, TicketFactory

pytestmark = pytest.mark.django_db


def numbers(page) -> list[int]:
    return [ticket.pk for ticket in page.rows]


def in_view(view: str, viewer, **kwargs) -> list[int]:
    return numbers(ticket_queue(viewer=viewer, view=view, size=500, **kwargs))


def filtered(viewer, params: dict) -> list[int]:
    filterset = TicketFilter(params, queryset=queue_queryset())
    assert filterset.is_valid(), filterset.errors
    return numbers(ticket_queue(viewer=viewer, filtered=filterset.qs, size=500))


# --- built-in views -----------------------------------------------------------------------


@pytest.fixture
def world(agent, make_user):
    """One ticket that belongs in each built-in view, and a few that belong in none."""
    colleague = make_user(full_name="Cam Colleague")
    team, other_team = TeamFactory(name="Billing"), TeamFactory(name="Hardware")
    agent.teams.add(team)
    now = timezone.now()
    return {
        "mine": TicketFactory(assignee=agent, status=Status.OPEN),
        "mine_pending": TicketFactory(assignee=agent, status=Status.PENDING),
        "unassigned": TicketFactory(status=Status.NEW),
        "colleague_team": TicketFactory(assignee=colleague, team=team, status=Status.OPEN),
        "other_team": TicketFactory(assignee=colleague, team=other_team, status=Status.ON_HOLD),
        "solved_recently": TicketFactory(
            assignee=agent, status=Status.SOLVED, solved_at=now - timedelta(days=2)
        ),
        "closed_recently": TicketFactory(
            status=Status.CLOSED, solved_at=now - timedelta(days=6), closed_at=now
        ),
        "solved_long_ago": TicketFactory(
            assignee=agent, status=Status.SOLVED, solved_at=now - timedelta(days=30)
        ),
    }


VIEW_MEMBERS = {
    "mine": {"mine", "mine_pending"},
    "unassigned": {"unassigned"},
    "team": {"colleague_team"},
    "open": {"mine", "mine_pending", "unassigned", "colleague_team", "other_team"},
    "pending": {"mine_pending"},
    "solved": {"solved_recently", "closed_recently"},
    # No ticket here has a running SLA target; test_views_sla.py fills these two views.
    "at_risk": set(),
    "breached": set(),
}


def test_every_builtin_view_is_covered_here():
    assert set(VIEW_MEMBERS) == set(BUILTIN_VIEWS)


@pytest.mark.parametrize("view", list(VIEW_MEMBERS))
def test_builtin_view_holds_exactly_its_tickets(world, agent, view):
    expected = {world[name].pk for name in VIEW_MEMBERS[view]}
    assert set(in_view(view, agent)) == expected


def test_my_open_tickets_belong_to_the_viewer_only(world, agent, make_user):
    other = make_user()
    assert in_view("mine", other) == []
    assert world["mine"].pk in in_view("mine", agent)


def test_queue_counts_match_each_view_in_one_statement(world, agent, django_assert_max_num_queries):
    # One statement for the six counts (plus, once per request, the viewer's team ids).
    with django_assert_max_num_queries(2):
        counts = queue_counts(viewer=agent)
    assert counts == {view: len(members) for view, members in VIEW_MEMBERS.items()}


def test_counts_follow_changes_made_through_services(world, agent):
    before = queue_counts(viewer=agent)
    services.ticket_claim(ticket_id=world["unassigned"].pk, acting_user=agent)
    after = queue_counts(viewer=agent)
    assert after["unassigned"] == before["unassigned"] - 1
    assert after["mine"] == before["mine"] + 1


# --- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "match", "miss"),
    [
        ({"status": ["pending"]}, {"status": Status.PENDING}, {"status": Status.OPEN}),
        (
            {"status": ["pending", "on_hold"]},
            {"status": Status.ON_HOLD},
            {"status": Status.NEW},
        ),
        ({"priority": ["urgent"]}, {"priority": Priority.URGENT}, {"priority": Priority.LOW}),
        ({"type": ["incident"]}, {"type": TicketType.INCIDENT}, {"type": TicketType.TASK}),
        ({"channel": ["email"]}, {"channel": Channel.EMAIL}, {"channel": Channel.CHAT}),
        ({"tag": "VIP "}, {"tags": ["vip", "billing"]}, {"tags": ["vipish"]}),
    ],
    ids=["status", "several-statuses", "priority", "type", "channel", "tag"],
)
def test_filter_keeps_matching_tickets_only(agent, params, match, miss):
    hit, other = TicketFactory(**match), TicketFactory(**miss)
    assert filtered(agent, params) == [hit.pk]
    assert other.pk not in filtered(agent, params)


def test_filter_by_assignee(agent, make_user):
    mine = TicketFactory(assignee=agent)
    TicketFactory(assignee=make_user())
    TicketFactory()
    assert filtered(agent, {"assignee": str(agent.pk)}) == [mine.pk]


def test_filter_assignee_none_means_unassigned(agent):
    TicketFactory(assignee=agent)
    nobody = TicketFactory(assignee=None)
    assert filtered(agent, {"assignee": "none"}) == [nobody.pk]


def test_filter_by_team(agent):
    team = TeamFactory(name="Billing")
    billing = TicketFactory(team=team)
    TicketFactory(team=TeamFactory(name="Hardware"))
    TicketFactory()
    assert filtered(agent, {"team": str(team.pk)}) == [billing.pk]


def test_filter_by_account_tier(agent):
    big = TicketFactory(requester=ContactFactory(account=AccountFactory(tier=Tier.ENTERPRISE)))
    TicketFactory(requester=ContactFactory(account=AccountFactory(tier=Tier.STARTER)))
    assert filtered(agent, {"tier": ["enterprise"]}) == [big.pk]


def test_filters_combine_with_a_builtin_view(agent):
    urgent_mine = TicketFactory(assignee=agent, priority=Priority.URGENT)
    TicketFactory(assignee=agent, priority=Priority.LOW)
    TicketFactory(priority=Priority.URGENT)
    filterset = TicketFilter({"priority": ["urgent"]}, queryset=queue_queryset())
    assert filterset.is_valid()
    page = ticket_queue(viewer=agent, view="mine", filtered=filterset.qs)
    assert numbers(page) == [urgent_mine.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": ["bogus"]}, "status"),
        ({"assignee": "abc"}, "assignee"),
        ({"team": "999999"}, "team"),
        ({"tier": ["platinum"]}, "tier"),
    ],
)
def test_invalid_filter_values_are_reported_by_the_filterset(params, field):
    filterset = TicketFilter(params, queryset=queue_queryset())
    assert not filterset.is_valid()
    assert "Select a valid choice" in filterset.errors[field][0]


# --- search -------------------------------------------------------------------------------


def open_ticket(subject: str, body: str, **kwargs):
    return services.ticket_create(requester=ContactFactory(), subject=subject, body=body, **kwargs)


def search(viewer, text: str, **kwargs) -> list[int]:
    return numbers(ticket_queue(viewer=viewer, search=text, **kwargs))


def test_subject_match_ranks_above_a_body_only_match(agent):
    body_only = open_ticket("Cannot print invoices", "The printer in accounting jams daily.")
    in_subject = open_ticket("Printer offline", "Since this morning nothing prints.")
    unrelated = open_ticket("Login broken", "SSO fails with an error.")
    results = search(agent, "printer")
    assert results == [in_subject.pk, body_only.pk]
    assert unrelated.pk not in results


def test_search_finds_words_in_later_replies(agent):
    ticket = open_ticket("Export problem", "The export button spins.")
    services.ticket_customer_reply(
        ticket_id=ticket.pk, contact=ticket.requester, body="Also the kumquat report is empty."
    )
    services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Zanzibar fix deployed.")
    assert search(agent, "kumquat") == [ticket.pk]
    assert search(agent, "zanzibar") == [ticket.pk]


def test_search_uses_full_text_search_not_like(agent):
    open_ticket("Printer offline", "Nothing prints.")
    with CaptureQueriesContext(connection) as queries:
        search(agent, "printer")
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "@@" in sql
    assert "LIKE" not in sql


def test_search_stays_within_the_view(agent):
    mine = open_ticket("Printer offline", "Nothing prints.", assignee=agent)
    open_ticket("Printer jammed", "Paper stuck.")
    assert search(agent, "printer", view="mine") == [mine.pk]


def test_search_pages_by_rank_cursor_without_repeats(agent):
    contact = ContactFactory()
    made = {
        services.ticket_create(requester=contact, subject=f"Printer {n}", body="x").pk
        for n in range(7)
    }
    seen, cursor = [], None
    for _ in range(10):  # 7 tickets, 3 a page: a correct walk ends after 3 pages
        page = ticket_queue(viewer=agent, search="printer", cursor=cursor, size=3)
        seen += numbers(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))


def searchable(subject: str, body: str = "", **kwargs):
    """A ticket indexed by support.search as the services index it (without their events)."""
    ticket = TicketFactory(subject=subject, **kwargs)
    search_index.index_subject(ticket.pk)
    if body:
        search_index.index_text(ticket.pk, body)
    return ticket


def search_walk(viewer, text: str, **kwargs) -> tuple[list[int], int]:
    """Every match by following the next-page cursors; and how many pages that took."""
    seen, cursor, pages = [], None, 0
    while pages < 20:
        page = ticket_queue(viewer=viewer, search=text, cursor=cursor, **kwargs)
        seen += numbers(page)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen, pages


def test_search_walk_over_equal_ranks_yields_every_match_once_by_rank_then_number(agent):
    in_subject = [searchable("Printer offline", "The printer is offline.") for _ in range(2)]
    in_body = [searchable("Cannot print", "The printer jams.") for _ in range(7)]
    searchable("Login broken", "SSO fails.")
    # Pages of 3 end inside the run of equal ranks: the (rank, number) cursor must neither
    # repeat nor skip a ticket of the same rank on the next page.
    seen, pages = search_walk(agent, "printer", size=3)
    assert seen == sorted((t.pk for t in in_subject), reverse=True) + sorted(
        (t.pk for t in in_body), reverse=True
    )
    assert pages == 3


def test_search_walk_over_full_pages_of_equal_rank(agent):
    same = [searchable("Printer offline") for _ in range(PAGE_SIZE + 5)]
    seen, pages = search_walk(agent, "printer")
    assert seen == sorted((t.pk for t in same), reverse=True)
    assert pages == 2


def test_search_filters_pick_the_page_not_only_narrow_it(agent):
    """The FilterSet's conditions (here a join to the account for its tier) apply before the
    page is cut: better-ranked tickets of other tiers must not crowd the page out."""
    starter = AccountFactory(tier=Tier.STARTER)
    enterprise = AccountFactory(tier=Tier.ENTERPRISE)
    for _ in range(3):
        searchable("Printer offline", "printer", requester=ContactFactory(account=starter))
    wanted = [
        searchable(
            "Cannot print", "The printer jams.", requester=ContactFactory(account=enterprise)
        )
        for _ in range(2)
    ]
    filterset = TicketFilter({"tier": ["enterprise"]}, queryset=queue_queryset())
    assert filterset.is_valid(), filterset.errors
    page = ticket_queue(viewer=agent, filtered=filterset.qs, search="printer", size=2)
    assert numbers(page) == sorted((t.pk for t in wanted), reverse=True)
    assert page.next_cursor is None


def test_search_view_picks_the_page_not_only_narrows_it(agent):
    for _ in range(3):
        searchable("Printer offline", "printer")  # unassigned, and better ranked
    mine = searchable("Cannot print", "The printer jams.", assignee=agent, status=Status.OPEN)
    page = ticket_queue(viewer=agent, view="mine", search="printer", size=1)
    assert numbers(page) == [mine.pk]
    assert page.next_cursor is None


@pytest.mark.parametrize("rows", [1, PAGE_SIZE])
def test_search_page_is_one_statement_that_ranks_before_it_joins(
    agent, django_assert_num_queries, rows
):
    for n in range(rows):
        searchable(f"Printer {n}", "x")
    with django_assert_num_queries(1) as captured:
        page = ticket_queue(viewer=agent, search="printer")
    assert len(page.rows) == rows
    assert isinstance(page.rows[0].rank, float)
    assert page.rows[0].requester.name  # joined, no query per row
    # Matches are ranked and the page cut on support_ticket alone; only the page's rows are
    # joined to the requester, account, assignee and team.
    outer, inner = captured.captured_queries[0]["sql"].split(" IN (SELECT ", 1)
    assert "@@" in inner
    assert f"LIMIT {PAGE_SIZE + 1}" in inner
    assert "accounts_contact" not in inner
    assert "accounts_contact" in outer


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!!",
        encode_cursor(["2026-01-01T00:00:00+00:00", 5]),
        encode_cursor([0.5]),
        encode_cursor(["0.5", 5]),
    ],
    ids=["garbage", "from-the-updated-sort", "too-short", "rank-not-a-number"],
)
def test_a_search_cursor_we_did_not_make_is_refused(agent, cursor):
    searchable("Printer offline")
    with pytest.raises(BadCursor):
        ticket_queue(viewer=agent, search="printer", cursor=cursor)


# --- keyset pagination and sorting --------------------------------------------------------


def walk(viewer, **kwargs) -> tuple[list[int], int]:
    """Every ticket by following the next-page cursors; and how many pages that took."""
    seen, cursor, pages = [], None, 0
    while pages < 20:
        page = ticket_queue(viewer=viewer, cursor=cursor, **kwargs)
        seen += numbers(page)
        pages += 1
        assert len(page.rows) <= PAGE_SIZE
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen, pages


@pytest.fixture
def same_moment_tickets():
    moment = timezone.now() - timedelta(hours=1)
    contact = ContactFactory()
    return TicketFactory.create_batch(120, requester=contact, created_at=moment, updated_at=moment)


@pytest.mark.parametrize(
    ("sort", "descending"),
    [("-updated", True), ("updated", False), ("-priority", True), ("created", False)],
)
def test_cursor_walk_with_equal_timestamps_yields_every_ticket_once_in_order(
    agent, same_moment_tickets, sort, descending
):
    seen, pages = walk(agent, view="open", sort=sort)
    expected = sorted((t.pk for t in same_moment_tickets), reverse=descending)
    assert seen == expected  # ties broken by number: each exactly once, none skipped
    assert pages == 3


def test_pages_never_use_offset(agent, same_moment_tickets):
    first = ticket_queue(viewer=agent, view="open")
    with CaptureQueriesContext(connection) as queries:
        ticket_queue(viewer=agent, view="open", cursor=first.next_cursor)
    sql = queries.captured_queries[-1]["sql"].upper()
    assert "OFFSET" not in sql
    assert "LIMIT 51" in sql


def test_sort_by_priority_puts_urgent_first_then_recent(agent):
    now = timezone.now()
    low = TicketFactory(priority=Priority.LOW, updated_at=now)
    urgent_old = TicketFactory(priority=Priority.URGENT, updated_at=now - timedelta(days=2))
    urgent_new = TicketFactory(priority=Priority.URGENT, updated_at=now - timedelta(hours=1))
    high = TicketFactory(priority=Priority.HIGH, updated_at=now - timedelta(days=5))
    assert in_view("open", agent, sort="-priority") == [
        urgent_new.pk,
        urgent_old.pk,
        high.pk,
        low.pk,
    ]
    assert in_view("open", agent, sort="priority")[0] == low.pk


def test_sort_by_updated_and_created(agent):
    now = timezone.now()
    older = TicketFactory(created_at=now - timedelta(days=3), updated_at=now)
    newer = TicketFactory(created_at=now - timedelta(days=1), updated_at=now - timedelta(days=1))
    assert in_view("open", agent, sort="-updated") == [older.pk, newer.pk]
    assert in_view("open", agent, sort="updated") == [newer.pk, older.pk]
    assert in_view("open", agent, sort="-created") == [newer.pk, older.pk]
    assert in_view("open", agent, sort="created") == [older.pk, newer.pk]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!!",
        encode_cursor(["yesterday", 5]),
        encode_cursor([5]),
        encode_cursor([2, "2026-01-01T00:00:00+00:00", 5]),
    ],
    ids=["garbage", "not-a-time", "too-short", "from-the-priority-sort"],
)
def test_a_cursor_we_did_not_make_is_refused(agent, cursor):
    TicketFactory()
    with pytest.raises(BadCursor):
        ticket_queue(viewer=agent, view="open", sort="-updated", cursor=cursor)


# --- the shared counts' cache -----------------------------------------------------------


def test_shared_counts_are_reused_and_forgotten_when_a_ticket_changes(
    settings, agent, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from support.selectors import queue_counts_forget

    settings.CX_QUEUE_COUNTS_CACHE_SECONDS = 30
    queue_counts_forget()
    TicketFactory(status=Status.OPEN)
    with CaptureQueriesContext(connection) as first:
        assert queue_counts(viewer=agent)["open"] == 1
    TicketFactory(status=Status.OPEN)  # behind the services' back: not seen yet
    with CaptureQueriesContext(connection) as second:
        counts = queue_counts(viewer=agent)
    assert counts["open"] == 1
    assert counts["mine"] == 0  # the viewer's own counts are always live
    # Still one statement, but only with the viewer's own views in it.
    assert " AS open" in first.captured_queries[-1]["sql"]
    (statement,) = second.captured_queries
    assert " AS mine" in statement["sql"]
    assert " AS open" not in statement["sql"]

    ticket = TicketFactory(status=Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_claim(ticket_id=ticket.pk, acting_user=agent)
    assert cache.get("support:queue-counts") is None
    counts = queue_counts(viewer=agent)
    assert (counts["open"], counts["mine"]) == (3, 1)
    queue_counts_forget()
