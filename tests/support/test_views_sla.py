"""SLA in the agent's pages: the At risk and Breached views and their counts (and the indexes
they read), the due-time sort, the queue rows' badges, and the ticket page's SLA panel and
history."""

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Tier
from support import services
from support.choices import EventKind, Priority, Status
from support.models import SlaPolicy, SlaTarget, Ticket, TicketEvent
from support.selectors import BUILTIN_VIEWS, SORT_LABELS, queue_counts, ticket_queue
from support.templatetags.tickets import duration_text
from tests.factories import AccountFactory, ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("support:queue")
MINUTE = timedelta(minutes=1)
# The ticket page under a policy, whatever the length of its history: the page's own queries
# (session, user, ticket, messages, attachments, events, other open tickets, macros, assignee
# choices, team choices), the bell's unread count, the SLA policies named in the history, the
# SLA panel's clocks (active policies, their targets, their teams — plus calendar intervals
# for a policy with a calendar — and the ticket's events and messages) and the ticket's
# policy. Measured: 18 at 1 event and at 60.
SLA_TICKET_PAGE_QUERIES = 18


@pytest.fixture
def client(client_for, agent):
    return client_for(agent)


def page(response) -> str:
    return response.content.decode()


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page(response)).split())


def row_numbers(response) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="row-(\d+)"', page(response))]


def row(response, ticket) -> str:
    match = re.search(rf'<tr id="row-{ticket.pk}".*?</tr>', page(response), re.S)
    assert match, f"no row for #{ticket.pk}"
    return match.group(0)


def with_due(*, due=None, warn=None, **fields) -> Ticket:
    """A ticket whose stored SLA columns say: earliest running target due at `due`, at risk
    from `warn` (as the services store them)."""
    ticket = TicketFactory(status=fields.pop("status", Status.OPEN), **fields)
    Ticket.objects.filter(pk=ticket.pk).update(
        sla_due_at=due, sla_warn_at=warn, resolution_due_at=due
    )
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture
def sla_world():
    now = timezone.now()
    return {
        "on_track": with_due(due=now + 2 * timedelta(hours=1), warn=now + timedelta(hours=1)),
        "at_risk": with_due(due=now + 50 * MINUTE, warn=now - 10 * MINUTE),
        "at_risk_pending": with_due(
            due=now + 50 * MINUTE, warn=now - 10 * MINUTE, status=Status.PENDING
        ),
        "breached": with_due(due=now - 5 * MINUTE, warn=now - 30 * MINUTE),
        "breached_on_hold": with_due(
            due=now - 3 * timedelta(days=1), warn=now - 4 * timedelta(days=1), status=Status.ON_HOLD
        ),
        "no_sla": with_due(),
        "solved_at_risk": with_due(
            due=now + 50 * MINUTE, warn=now - 10 * MINUTE, status=Status.SOLVED, solved_at=now
        ),
        "solved_breached": with_due(
            due=now - 5 * MINUTE, warn=now - 30 * MINUTE, status=Status.SOLVED, solved_at=now
        ),
    }


SLA_VIEW_MEMBERS = {
    "at_risk": {"at_risk", "at_risk_pending"},
    "breached": {"breached", "breached_on_hold"},
}


# --- the views and their counts -----------------------------------------------------------


def test_sla_views_come_right_after_all_open():
    keys = list(BUILTIN_VIEWS)
    assert keys[keys.index("open") + 1 : keys.index("open") + 3] == ["at_risk", "breached"]
    assert BUILTIN_VIEWS["at_risk"].label == "At risk"
    assert BUILTIN_VIEWS["breached"].label == "Breached"


@pytest.mark.parametrize("view", list(SLA_VIEW_MEMBERS))
def test_sla_view_holds_exactly_its_unsolved_tickets(sla_world, agent, view):
    expected = {sla_world[name].pk for name in SLA_VIEW_MEMBERS[view]}
    assert set(t.pk for t in ticket_queue(viewer=agent, view=view, size=500).rows) == expected


@pytest.mark.parametrize("view", list(SLA_VIEW_MEMBERS))
def test_sla_view_tab_lists_its_tickets_on_the_page(sla_world, client, view):
    response = client.get(QUEUE, {"view": view})
    assert response.status_code == 200
    assert set(row_numbers(response)) == {sla_world[name].pk for name in SLA_VIEW_MEMBERS[view]}


def test_a_ticket_moves_from_at_risk_to_breached_when_its_due_time_passes(agent):
    now = timezone.now()
    ticket = with_due(due=now + 10 * MINUTE, warn=now - 10 * MINUTE)
    assert [t.pk for t in ticket_queue(viewer=agent, view="at_risk", now=now).rows] == [ticket.pk]
    later = now + 11 * MINUTE
    assert ticket_queue(viewer=agent, view="at_risk", now=later).rows == []
    assert [t.pk for t in ticket_queue(viewer=agent, view="breached", now=later).rows] == [
        ticket.pk
    ]


def test_sla_counts_are_part_of_the_single_counts_statement(
    sla_world, agent, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):  # the counts, and the viewer's team ids
        counts = queue_counts(viewer=agent)
    assert counts["at_risk"] == 2
    assert counts["breached"] == 2
    assert counts["open"] == 6


def test_sla_tabs_show_their_counts(sla_world, client):
    response = client.get(QUEUE, {"view": "open"})
    for view, members in SLA_VIEW_MEMBERS.items():
        assert re.search(
            rf'href="{QUEUE}\?view={view}"[^>]*>\s*{BUILTIN_VIEWS[view].label} '
            rf'<span class="badge rounded-pill cx-count">{len(members)}<',
            page(response),
        )


@pytest.mark.parametrize(
    ("view", "empty"),
    [("at_risk", "No SLA target is close to its due time"), ("breached", "No breached SLA")],
)
def test_empty_sla_view_says_so(client, view, empty):
    with_due()  # a ticket without SLA is in neither view
    response = client.get(QUEUE, {"view": view})
    assert row_numbers(response) == []
    assert empty in text(response)


def uses_index(plan: str, index: str) -> bool:
    """An (index, index-only or bitmap index) scan of exactly that index."""
    return re.search(rf"\b(?:using|on) {index} ", plan) is not None


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(line for (line,) in cursor.fetchall())


@pytest.fixture
def many_unsolved():
    """Enough unsolved tickets, few of them at risk or breached, for the planner to choose
    as it would in production; statistics refreshed."""
    now = timezone.now()
    contact = ContactFactory()
    rows = []
    for n in range(3000):
        due = warn = None
        if n % 100 == 0:
            due, warn = now + 30 * MINUTE, now - 30 * MINUTE  # at risk
        elif n % 100 == 1:
            due, warn = now - 30 * MINUTE, now - 60 * MINUTE  # breached
        elif n % 3 == 0:
            due, warn = now + timedelta(hours=n % 50 + 2), now + timedelta(hours=n % 50 + 1)
        rows.append(
            Ticket(
                subject=f"Ticket {n}",
                requester=contact,
                status=Status.OPEN if n % 4 else Status.SOLVED,
                sla_due_at=due,
                sla_warn_at=warn,
            )
        )
    Ticket.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE support_ticket")


VIEW_CONDITION_SQL = {"at_risk": "tstzrange(", "breached": "(sla_sort_at <= "}


@pytest.mark.parametrize(
    ("view", "index"),
    [("at_risk", "ticket_unsolved_sla_risk"), ("breached", "ticket_unsolved_sla")],
)
def test_sla_view_page_and_count_read_their_partial_index(many_unsolved, agent, view, index):
    with CaptureQueriesContext(connection) as queries:
        ticket_queue(viewer=agent, view=view)
    page_plan = _plan(queries.captured_queries[-1]["sql"])
    assert uses_index(page_plan, index), page_plan

    with CaptureQueriesContext(connection) as queries:
        queue_counts(viewer=agent)
    counts_plan = _plan(queries.captured_queries[-1]["sql"])
    # The view's own count, not another view's, reads the index: find its subplan.
    (subplan,) = [
        part for part in counts_plan.split("InitPlan ") if VIEW_CONDITION_SQL[view] in part
    ]
    assert uses_index(subplan, index), counts_plan


def test_due_sort_of_all_open_reads_the_sla_index(many_unsolved, agent):
    with CaptureQueriesContext(connection) as queries:
        page_one = ticket_queue(viewer=agent, view="open", sort="due")
        ticket_queue(viewer=agent, view="open", sort="due", cursor=page_one.next_cursor)
    for query in queries.captured_queries:
        plan = _plan(query["sql"])
        assert uses_index(plan, "ticket_unsolved_sla"), plan
        assert "Sort" not in plan, plan  # read in index order, no sort step


# --- sorting by due time --------------------------------------------------------------------


def test_due_sort_is_offered_both_ways():
    assert SORT_LABELS["due"] == "Due soonest"
    assert SORT_LABELS["-due"] == "Due latest"


@pytest.mark.parametrize("sort", ["due", "-due"])
def test_due_sort_pages_through_every_ticket_once_in_order(agent, sort):
    now = timezone.now()
    tickets = [
        # Ties on the due time are broken by number, across page boundaries too.
        *(with_due(due=now + 30 * MINUTE) for _ in range(3)),
        with_due(due=now - 2 * timedelta(hours=1)),
        with_due(due=now + 5 * timedelta(hours=1)),
        with_due(due=now + 10 * MINUTE, warn=now - MINUTE),
        *(with_due() for _ in range(3)),  # no running target: after every due time
    ]
    seen, cursor = [], None
    while True:
        page_ = ticket_queue(viewer=agent, view="open", sort=sort, cursor=cursor, size=2)
        seen.extend(page_.rows)
        cursor = page_.next_cursor
        if cursor is None:
            break
    far = datetime.max.replace(tzinfo=UTC)
    expected = sorted(tickets, key=lambda t: (t.sla_due_at or far, t.pk))
    if sort == "-due":
        expected.reverse()
    assert [t.pk for t in seen] == [t.pk for t in expected]
    if sort == "due":
        assert all(t.sla_due_at is None for t in seen[-3:])


def test_due_column_header_sorts_soonest_first_then_latest(client, agent):
    late = with_due(due=timezone.now() + 3 * timedelta(hours=1), assignee=agent)
    soon = with_due(due=timezone.now() + 20 * MINUTE, assignee=agent)
    response = client.get(QUEUE, {"view": "mine"})
    header = re.search(r'<th scope="col" class="cx-col-due".*?</th>', page(response), re.S).group(0)
    assert "sort=due" in header
    assert "sort=-due" not in header
    assert "aria-sort" not in header

    response = client.get(QUEUE, {"view": "mine", "sort": "due"})
    assert row_numbers(response) == [soon.pk, late.pk]
    header = re.search(r'<th scope="col" class="cx-col-due".*?</th>', page(response), re.S).group(0)
    assert 'aria-sort="ascending"' in header
    assert "sort=-due" in header

    response = client.get(QUEUE, {"view": "mine", "sort": "-due"})
    assert row_numbers(response) == [late.pk, soon.pk]
    assert "sorted: due latest" in text(response)


# --- the queue rows' badges -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=59), "0m"),
        (45 * MINUTE + timedelta(seconds=59), "45m"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=2, minutes=10), "2h 10m"),
        (timedelta(days=1, hours=3, minutes=20), "1d 3h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=12, hours=5), "12d"),
        (-MINUTE, "0m"),
    ],
)
def test_duration_text(delta, expected):
    assert duration_text(delta) == expected


def test_business_durations_never_say_days():
    assert duration_text(timedelta(hours=30), days=False) == "30h"


def test_row_badges_say_time_left_or_overdue_in_their_state_colour(client, agent):
    now = timezone.now()
    on_track = with_due(
        due=now + timedelta(hours=2, minutes=10, seconds=30), warn=now + MINUTE * 90, assignee=agent
    )
    at_risk = with_due(
        due=now + timedelta(minutes=25, seconds=30), warn=now - 5 * MINUTE, assignee=agent
    )
    breached = with_due(
        due=now - timedelta(minutes=45, seconds=10), warn=now - 2 * MINUTE * 60, assignee=agent
    )
    none = with_due(assignee=agent)

    response = client.get(QUEUE, {"view": "mine"})

    assert re.search(
        r'class="badge cx-badge-neutral cx-sla"[^>]*>.*2h 10m left', row(response, on_track)
    )
    assert "SLA on track:" in row(response, on_track)
    assert re.search(r'class="badge cx-badge-amber cx-sla"[^>]*>.*25m left', row(response, at_risk))
    assert "SLA at risk:" in row(response, at_risk)
    assert re.search(
        r'class="badge cx-badge-red cx-sla"[^>]*>.*45m overdue', row(response, breached)
    )
    assert "SLA breached:" in row(response, breached)
    assert "cx-sla" not in row(response, none)
    assert "No running SLA target" in row(response, none)


def test_row_badge_shows_the_exact_due_time_in_the_viewers_zone(client, agent):
    agent.time_zone = "Asia/Tokyo"
    agent.save(update_fields=["time_zone"])
    due = timezone.now() + timedelta(hours=5)
    ticket = with_due(due=due, warn=due - timedelta(hours=1), assignee=agent)
    local = due.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    response = client.get(QUEUE, {"view": "mine"})
    assert f'title="On track: due {local:%Y-%m-%d %H:%M} JST"' in row(response, ticket)


def test_badges_cost_no_queries_per_row(client, agent, django_assert_max_num_queries):
    from tests.support.test_views_queue import QUEUE_PAGE_QUERIES

    now = timezone.now()
    for n in range(30):
        due = now + n * 7 * MINUTE - timedelta(hours=1)
        with_due(due=due, warn=min(due, now - MINUTE), assignee=agent)
    with django_assert_max_num_queries(QUEUE_PAGE_QUERIES):
        response = client.get(QUEUE, {"view": "mine", "sort": "due"})
    assert page(response).count("cx-sla") == 30


# --- the ticket page -------------------------------------------------------------------------


def make_policy(name="Gold", position=1, **conditions) -> SlaPolicy:
    """Every priority: first response 1 h, next response 2 h, resolution 4 h (24/7); high
    priority: first response 30 min."""
    policy = SlaPolicy.objects.create(name=name, position=position, **conditions)
    minutes = {"first_response": 60, "next_response": 120, "resolution": 240}
    SlaTarget.objects.bulk_create(
        SlaTarget(
            policy=policy,
            priority=priority,
            metric=metric,
            minutes=30 if (priority, metric) == (Priority.HIGH, "first_response") else value,
        )
        for priority in Priority.values
        for metric, value in minutes.items()
    )
    return policy


def new_ticket(**fields) -> Ticket:
    contact = ContactFactory(account=AccountFactory(tier=Tier.GROWTH))
    return services.ticket_create(requester=contact, subject="Cannot log in", body="Help", **fields)


def ticket_page(client, ticket):
    return client.get(reverse("support:ticket-detail", args=[ticket.pk]))


def sla_panel(response) -> str:
    match = re.search(r'<section id="sla".*?</section>', page(response), re.S)
    assert match, "no SLA panel"
    return match.group(0)


def clock_item(panel: str, label: str) -> str:
    match = re.search(rf"<li[^>]*>\s*<div[^>]*>\s*<span[^>]*>{label}</span>.*?</li>", panel, re.S)
    assert match, f"no {label} clock"
    return " ".join(match.group(0).split())


def age(ticket: Ticket, minutes: int) -> Ticket:
    """Pretend the ticket was opened `minutes` ago (its history has no later status change)."""
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - minutes * MINUTE)
    return Ticket.objects.get(pk=ticket.pk)


def test_ticket_page_lists_each_running_clock_with_due_time_and_policy(client, agent):
    agent.time_zone = "Europe/Berlin"
    agent.save(update_fields=["time_zone"])
    make_policy("Gold")
    ticket = new_ticket()

    panel = sla_panel(ticket_page(client, ticket))

    assert "Gold" in panel
    first = clock_item(panel, "First response")
    assert "cx-badge-neutral" in first
    assert "Running" in first
    local = timezone.localtime(ticket.first_response_due_at, zoneinfo.ZoneInfo("Europe/Berlin"))
    assert f"{local:%H:%M %Z}" in first
    assert "from now" in first
    assert "0m of 1h used" in first
    resolution = clock_item(panel, "Resolution")
    assert "0m of 4h used" in resolution
    assert "Next response" not in panel  # no customer message awaits a reply yet


def test_ticket_page_clock_states_have_their_colours(client, agent):
    make_policy("Gold")
    ticket = age(new_ticket(), 50)  # first response (1 h) at risk after 45 min
    panel = sla_panel(ticket_page(client, ticket))
    first = clock_item(panel, "First response")
    assert "cx-badge-amber" in first
    assert "At risk" in first
    assert "50m of 1h used" in first
    assert "cx-badge-neutral" in clock_item(panel, "Resolution")

    ticket = age(ticket, 5 * 60)  # resolution (4 h) breached an hour ago
    panel = sla_panel(ticket_page(client, ticket))
    resolution = clock_item(panel, "Resolution")
    assert "cx-badge-red" in resolution
    assert "Breached" in resolution
    assert "Was due" in resolution
    assert "5h of 4h used" in resolution


def test_ticket_page_shows_met_and_paused_clocks(client, agent):
    make_policy("Gold")
    ticket = new_ticket()
    services.ticket_reply(
        ticket_id=ticket.pk, acting_user=agent, body="Which browser?", status=Status.PENDING
    )
    panel = sla_panel(ticket_page(client, ticket))
    first = clock_item(panel, "First response")
    assert "cx-badge-green" in first
    assert "Met" in first
    resolution = clock_item(panel, "Resolution")
    assert "cx-badge-grey" in resolution
    assert "Paused" in resolution
    assert "Paused while the ticket is pending" in resolution


def test_ticket_page_without_a_policy_says_none_applies(client):
    ticket = new_ticket()
    panel = sla_panel(ticket_page(client, ticket))
    assert "No SLA policy applies to this ticket." in panel


def history(response) -> list[str]:
    section = re.search(
        r'<section class="card my-3" aria-labelledby="history-title">.*?</section>',
        page(response),
        re.S,
    ).group(0)
    return [
        " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for item in re.findall(r"<li.*?</li>", section, re.S)
    ]


def test_history_tells_the_sla_story(client, agent):
    agent.time_zone = "America/New_York"
    agent.save(update_fields=["time_zone"])
    make_policy("Gold")
    ticket = new_ticket()
    before = ticket.first_response_due_at
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, priority=Priority.HIGH
    )
    ticket.refresh_from_db()
    # The minute job, run when the first response turns at risk and when it is missed.
    services.sla_alerts_record(now=ticket.created_at + 25 * MINUTE)
    services.sla_alerts_record(now=ticket.created_at + 31 * MINUTE)

    entries = history(ticket_page(client, ticket))

    zone = zoneinfo.ZoneInfo("America/New_York")

    def shown(moment):
        local = timezone.localtime(moment, zone)
        return f"{local:%a} {local.day} {local:%b} {local:%H:%M %Z}"

    assert any(e.startswith("SLA policy “Gold” applies") for e in entries), entries
    after = ticket.first_response_due_at
    moved = f"First response due time moved from {shown(before)} to {shown(after)}"
    assert any(e.startswith(moved) for e in entries), entries
    due = shown(ticket.first_response_due_at)
    assert any(e.startswith(f"First response at risk (due {due})") for e in entries), entries
    assert any(e.startswith(f"First response breached (was due {due})") for e in entries), entries


def test_history_names_policy_changes(client, agent):
    gold = make_policy("Gold", 1, priorities=[Priority.URGENT])
    make_policy("Silver", 2)
    ticket = new_ticket()
    services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, priority=Priority.URGENT
    )
    SlaPolicy.objects.filter(pk=gold.pk).update(active=False)
    TicketEvent.objects.create(
        ticket=ticket, kind=EventKind.SLA, field="sla_policy", old_value=str(gold.pk), new_value=""
    )
    entries = history(ticket_page(client, ticket))
    assert any(e.startswith("SLA policy “Gold” no longer applies") for e in entries), entries
    assert any(e.startswith("SLA policy changed from “Silver” to “Gold”") for e in entries), entries
    assert any(e.startswith("SLA policy “Silver” applies") for e in entries), entries


@pytest.mark.parametrize("events", [1, 60])
def test_ticket_page_under_a_policy_runs_a_fixed_number_of_queries(
    client, agent, django_assert_max_num_queries, events
):
    policy = make_policy("Gold")
    ticket = new_ticket()
    for n in range(events - 1):
        TicketEvent.objects.create(
            ticket=ticket,
            kind=[EventKind.SLA, EventKind.SLA_WARNING, EventKind.SLA_BREACH][n % 3],
            field=["resolution_due_at", "first_response", "next_response"][n % 3],
            old_value=ticket.created_at.isoformat() if n % 3 == 0 else "",
            new_value="2030-01-01 12:00:00+00",
        )
        if n % 10 == 0:
            TicketEvent.objects.create(
                ticket=ticket, kind=EventKind.SLA, field="sla_policy", new_value=str(policy.pk)
            )
    with django_assert_max_num_queries(SLA_TICKET_PAGE_QUERIES):
        response = ticket_page(client, ticket)
    assert response.status_code == 200
    assert "First response" in sla_panel(response)
