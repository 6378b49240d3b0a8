"""Demo tickets with realistic threads and event history, written with COPY.

A million tickets must load in minutes, so rows are generated in one pass, in creation
order, and streamed to PostgreSQL; message HTML is rendered once per template, not per row.
Status follows age: recent tickets are new/open/pending, older ones solved, then closed;
a few per cent stay open for weeks (the aged backlog).
"""

from __future__ import annotations

import html
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from accounts.bulk import bulk_load, copy_rows, reset_sequence
from accounts.choices import Tier
from accounts.seed import CrmWorld

from .choices import Channel, EventKind, Priority, Status, TicketType
from .models import (
    UNSOLVED_Q,
    AgentStatus,
    BusinessCalendar,
    CsatResponse,
    Macro,
    Message,
    SlaAlert,
    SlaPolicy,
    SlaTarget,
    TeamAssignment,
    Ticket,
    TicketEvent,
    WorkingInterval,
)
from .rendering import render_markdown
from .search import vector_sql

# (subject, customer's first message, tags, type)
_TOPICS = [
    (
        "Can't export report to CSV",
        "Since this morning the **Export** button on the weekly "
        "report spins forever and no file arrives. We need it for a board meeting.",
        ["reports", "export"],
        TicketType.INCIDENT,
    ),
    (
        "SSO login fails with SAML error",
        "Users get `SAML response signature invalid` when "
        "signing in through Okta. Nothing changed on our side.",
        ["sso", "login"],
        TicketType.INCIDENT,
    ),
    (
        "Invoice shows wrong number of seats",
        "Our last invoice charges for 120 seats but we only have 95 active users. Can you check?",
        ["billing", "invoice"],
        TicketType.QUESTION,
    ),
    (
        "How do I add a custom field?",
        "We'd like to track the contract owner on each record. "
        "Is there a way to add a custom field?",
        ["how-to", "custom-fields"],
        TicketType.QUESTION,
    ),
    (
        "API returns 429 too often",
        "Our sync job hits `429 Too Many Requests` after about "
        "600 calls a minute. What are the limits?",
        ["api", "rate-limit"],
        TicketType.PROBLEM,
    ),
    (
        "Dashboard is very slow",
        "The main dashboard takes 20+ seconds to load for our team in Singapore.",
        ["performance"],
        TicketType.INCIDENT,
    ),
    (
        "Please add two new admins",
        "Can you give admin rights to our new IT leads? Their emails are in the thread.",
        ["admin", "access"],
        TicketType.TASK,
    ),
    (
        "Webhook deliveries failing",
        "Since yesterday our endpoint receives no webhooks. The delivery log shows timeouts.",
        ["webhooks", "integrations"],
        TicketType.INCIDENT,
    ),
    (
        "Data import stuck at 80%",
        "The CSV import of 40,000 rows has been at 80% for two hours.",
        ["import"],
        TicketType.PROBLEM,
    ),
    (
        "Feature request: dark mode",
        "Several of our users work night shifts and asked for a dark theme.",
        ["feature-request"],
        TicketType.QUESTION,
    ),
    (
        "Password reset email never arrives",
        "Two of our users asked for a reset link but nothing reached their inbox, not even spam.",
        ["login", "email"],
        TicketType.INCIDENT,
    ),
    (
        "Question about the renewal quote",
        "We received the renewal quote and have questions about the new pricing tier.",
        ["billing", "renewal"],
        TicketType.QUESTION,
    ),
    (
        "Integration with Salesforce drops records",
        "Around 5% of the records we sync from Salesforce never show up.",
        ["integrations", "salesforce"],
        TicketType.PROBLEM,
    ),
    (
        "Training session for new team",
        "We onboard 15 new people next month. Can we book a training session?",
        ["training", "onboarding"],
        TicketType.TASK,
    ),
    (
        "Mobile app crashes on startup",
        "After the latest update the iOS app closes right after the splash screen.",
        ["mobile", "bug"],
        TicketType.INCIDENT,
    ),
]
_AGENT_REPLIES = [
    "Thanks for reaching out! I'm looking into this now and will update you shortly.",
    "Thanks for the details. Could you send a screenshot and the time it happened "
    "(with time zone)?",
    "I've reproduced the problem and passed it to our engineers. I'll keep you posted.",
    "Good news: this is fixed on our side. Could you try again and let me know?",
    "Here is the article that walks through it step by step. Let me know if anything is unclear.",
]
_NOTES = [
    "Checked the logs: errors started after Tuesday's deploy.",
    "Customer is in renewal this quarter; let's keep them posted closely.",
    "Linked to the known issue in the engineering tracker.",
    "Escalating to Tier 2 if not solved today.",
]
_CUSTOMER_FOLLOWUPS = [
    "Thanks, that worked!",
    "Still happening for some users, unfortunately.",
    "Here's the screenshot you asked for.",
    "Any update on this?",
]
_MACROS = [
    (
        "Ask for details",
        "Hi {{ requester.first_name }},\n\nThanks for contacting us about "
        "ticket #{{ ticket.number }}. Could you tell us the steps to reproduce and send a "
        "screenshot?\n\nBest,\n{{ agent.first_name }}",
        Status.PENDING,
        "",
        ["needs-info"],
    ),
    (
        "Solved — confirm",
        "Hi {{ requester.first_name }},\n\nThis should now be fixed. We'll "
        "close the ticket in a few days; just reply if anything is still wrong.\n\n"
        "{{ agent.first_name }}",
        Status.SOLVED,
        "",
        [],
    ),
    ("Escalate to engineering", "", "", Priority.HIGH, ["escalated"]),
    (
        "Billing handover",
        "Hi {{ requester.first_name }},\n\nI've passed your question to our "
        "billing team; they'll reply within one business day.\n\n{{ agent.first_name }}",
        Status.ON_HOLD,
        "",
        ["billing"],
    ),
]

_REFERENCE_PREFIXES = ["ORD", "INV", "ERR", "CASE", "PO", "JOB"]
_BROWSERS = [
    "Chrome 131",
    "Firefox 133",
    "Safari 18",
    "Edge 131",
    "iOS app 5.2",
    "Android app 5.1",
    "Windows desktop app",
    "macOS desktop app",
]
_PLANS = ["Starter", "Team", "Business", "Enterprise", "Trial"]

_PRIORITIES = {
    Priority.LOW: 0.10,
    Priority.NORMAL: 0.60,
    Priority.HIGH: 0.22,
    Priority.URGENT: 0.08,
}
_CHANNELS = {
    Channel.EMAIL: 0.5,
    Channel.PORTAL: 0.3,
    Channel.API: 0.08,
    Channel.PHONE: 0.07,
    Channel.CHAT: 0.05,
}
_TIER_TICKET_WEIGHT = {"enterprise": 8.0, "growth": 3.0, "starter": 1.0}

TICKET_COLUMNS = [
    "id",
    "subject",
    "search_text",
    "requester_id",
    "account_id",
    "status",
    "priority",
    "type",
    "channel",
    "tags",
    "assignee_id",
    "team_id",
    "created_at",
    "updated_at",
    "first_response_at",
    "solved_at",
    "closed_at",
    "reopen_count",
    "version",
    "created_by_agent",
    "merged_into_id",
    "follow_up_of_id",
]
MESSAGE_COLUMNS = [
    "id",
    "ticket_id",
    "author_user_id",
    "author_contact_id",
    "public",
    "body",
    "body_html",
    "created_at",
]
EVENT_COLUMNS = [
    "id",
    "ticket_id",
    "kind",
    "actor_id",
    "actor_label",
    "field",
    "old_value",
    "new_value",
    "created_at",
]


@dataclass
class _Rendered:
    body: str
    html: str


def _rendered(texts: list[str]) -> list[_Rendered]:
    return [_Rendered(t, render_markdown(t)) for t in texts]


def _greeted(name: str, part: _Rendered) -> tuple[str, str]:
    return f"Hi {name},\n\n{part.body}", f"<p>Hi {html.escape(name)},</p>\n{part.html}"


class _Generator:
    """Streams ticket, message and event rows in ticket order, sharing one id counter each."""

    def __init__(self, world: CrmWorld, *, tickets: int, seed: int, days: int) -> None:
        self.rng = random.Random(seed * 7919 + 1)
        self.world = world
        self.tickets = tickets
        self.now = timezone.now()
        self.start = self.now - timedelta(days=days)
        self.close_after = timedelta(days=settings.CX_SOLVED_TICKETS_CLOSE_AFTER_DAYS)
        live = [a for a in world.accounts if a.contact_ids]
        self.accounts = live
        self.account_cum_weights = list(
            itertools.accumulate(_TIER_TICKET_WEIGHT[a.tier] for a in live)
        )
        self.topics = [
            (s, _Rendered(b, render_markdown(b)), tags, kind) for s, b, tags, kind in _TOPICS
        ]
        self.replies = _rendered(_AGENT_REPLIES)
        self.notes = _rendered(_NOTES)
        self.followups = _rendered(_CUSTOMER_FOLLOWUPS)
        self.messages: list[tuple] = []
        self.bodies: list[str] = []  # the current ticket's, for its search text
        self.events: list[tuple] = []
        self.message_id = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.event_id = (
            TicketEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        )
        self.first_ticket_id = (
            Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 1000
        ) + 1

    def _message(self, ticket_id, user_id, contact_id, public, body, body_html, at) -> None:
        self.message_id += 1
        self.messages.append(
            (self.message_id, ticket_id, user_id, contact_id, public, body, body_html, at)
        )
        self.bodies.append(body)

    def _event(self, ticket_id, kind, actor_id, label, field, old, new, at) -> None:
        self.event_id += 1
        self.events.append((self.event_id, ticket_id, kind, actor_id, label, field, old, new, at))

    def _choose(self, weights: dict) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _status(self, created: datetime) -> str:
        age_days = (self.now - created).total_seconds() / 86400
        r = self.rng.random()
        if age_days < 2:
            return (
                Status.NEW
                if r < 0.3
                else Status.OPEN
                if r < 0.7
                else Status.PENDING
                if r < 0.9
                else Status.ON_HOLD
            )
        if age_days < 14:
            return Status.OPEN if r < 0.2 else Status.PENDING if r < 0.3 else Status.SOLVED
        return Status.OPEN if r < 0.03 else Status.ON_HOLD if r < 0.035 else Status.SOLVED

    def rows(self) -> Iterator[tuple]:
        rng = self.rng
        span = (self.now - self.start).total_seconds()
        agents = self.world.agent_ids
        teams = self.world.support_team_ids
        for n in range(self.tickets):
            tid = self.first_ticket_id + n
            created = self.start + timedelta(
                seconds=span * (n + rng.random()) / max(self.tickets, 1)
            )
            account = rng.choices(self.accounts, cum_weights=self.account_cum_weights)[0]
            contact = rng.choice(account.contact_ids)
            subject, first, tags, kind = rng.choice(self.topics)
            status = self._status(created)
            priority = self._choose(_PRIORITIES)
            channel = self._choose(_CHANNELS)
            team = teams[0] if rng.random() < 0.8 else teams[1]
            # Every ticket past `new` has an owner; a few new ones were auto-assigned already.
            assigned = status != Status.NEW or rng.random() < 0.2
            assignee = rng.choice(agents) if assigned else None
            name = rng.choice(("there", "team"))
            self._event(tid, EventKind.CREATED, None, "customer", "", "", "", created)
            reference = (
                f"Reference {rng.choice(_REFERENCE_PREFIXES)}-{rng.randint(10000, 99999)} · "
                f"{rng.choice(_BROWSERS)} · {rng.choice(_PLANS)} plan"
            )
            self._message(
                tid,
                None,
                contact,
                True,
                f"{first.body}\n\n{reference}",
                f"{first.html}\n<p>{html.escape(reference)}</p>",
                created,
            )
            updated = created
            first_response = solved = closed = None
            if assignee:
                at = created + timedelta(minutes=rng.randint(1, 30))
                self._event(tid, EventKind.CHANGED, assignee, "", "assignee", "", str(assignee), at)
                updated = at
            if status != Status.NEW:
                first_response = updated + timedelta(minutes=rng.randint(5, 60 * 30))
                if first_response >= self.now:  # not answered yet
                    first_response, status = None, Status.NEW
            if first_response:
                body, body_html = _greeted(name, rng.choice(self.replies))
                self._message(tid, assignee, None, True, body, body_html, first_response)
                self._event(
                    tid,
                    EventKind.CHANGED,
                    assignee,
                    "",
                    "status",
                    Status.NEW,
                    Status.OPEN,
                    first_response,
                )
                updated = first_response
                for chance, texts, public in (
                    (0.3, self.notes, False),
                    (0.35, self.followups, True),
                ):
                    at = updated + timedelta(minutes=rng.randint(10, 60 * 24))
                    if rng.random() < chance and at < self.now:
                        part = rng.choice(texts)
                        self._message(
                            tid,
                            None if public else assignee,
                            contact if public else None,
                            public,
                            part.body,
                            part.html,
                            at,
                        )
                        updated = at
                if status in (Status.PENDING, Status.ON_HOLD):
                    self._event(
                        tid, EventKind.CHANGED, assignee, "", "status", Status.OPEN, status, updated
                    )
                solved = updated + timedelta(minutes=rng.randint(10, 60 * 72))
                if status == Status.SOLVED and solved < self.now:
                    self._event(
                        tid,
                        EventKind.CHANGED,
                        assignee,
                        "",
                        "status",
                        Status.OPEN,
                        Status.SOLVED,
                        solved,
                    )
                    updated = solved
                    if solved + self.close_after < self.now:
                        closed = solved + self.close_after
                        status = Status.CLOSED
                        self._event(
                            tid,
                            EventKind.CHANGED,
                            None,
                            "auto-close",
                            "status",
                            Status.SOLVED,
                            Status.CLOSED,
                            closed,
                        )
                        updated = closed
                else:
                    solved = None
                    if status == Status.SOLVED:
                        status = Status.OPEN
            search_text, self.bodies = "\n".join(self.bodies), []
            yield (
                tid,
                subject,
                search_text,
                contact,
                account.id,
                status,
                priority,
                kind,
                channel,
                list(tags) if rng.random() < 0.8 else [],
                assignee,
                team,
                created,
                updated,
                first_response,
                solved,
                closed,
                0,
                1,
                False,
                None,
                None,
            )


def seed_support(
    world: CrmWorld,
    *,
    tickets: int,
    seed: int,
    days: int = 365,
    progress: Callable[[str, int], None] | None = None,
    on_rebuild: Callable[[int, int, str], None] | None = None,
) -> dict[str, int]:
    """Write `tickets` tickets with threads and events; returns row counts per table."""
    for title, body, status, priority, tags in _MACROS:
        Macro.objects.get_or_create(
            title=title,
            defaults={
                "body": body,
                "set_status": status,
                "set_priority": priority,
                "add_tags": tags,
            },
        )
    AgentStatus.objects.bulk_create(
        [
            AgentStatus(user_id=uid, available=i % 5 != 4, max_open_tickets=40)
            for i, uid in enumerate(world.agent_ids)
        ],
        ignore_conflicts=True,
    )
    TeamAssignment.objects.get_or_create(
        team_id=world.support_team_ids[0], defaults={"auto_assign": True}
    )

    generator = _Generator(world, tickets=tickets, seed=seed, days=days)
    tables = [Ticket._meta.db_table, Message._meta.db_table, TicketEvent._meta.db_table]
    counts = {"tickets": 0, "messages": 0, "events": 0}
    chunk = 20_000

    # Tickets pass through a temporary table that holds their thread's text and computes
    # the search vector as a generated column while COPY streams in (PostgreSQL works on it
    # alongside Python); moving rows into support_ticket is then a plain copy.
    stage = "seed_ticket_stage"
    columns = ", ".join(c for c in TICKET_COLUMNS if c != "search_text")
    with bulk_load(tables, on_rebuild=on_rebuild), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMP TABLE {stage} (LIKE support_ticket INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        cursor.execute(
            f"ALTER TABLE {stage} DROP COLUMN search_vector, ADD COLUMN search_text text, "
            f"ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            f"({vector_sql('subject', 'search_text')}) STORED"
        )
        rows = generator.rows()
        while True:
            # The generator feeds COPY row by row, so Python makes rows while PostgreSQL
            # parses the previous ones and computes their vectors.
            written = copy_rows(stage, TICKET_COLUMNS, itertools.islice(rows, chunk))
            if not written:
                break
            cursor.execute(
                f"INSERT INTO support_ticket ({columns}, search_vector) "
                f"SELECT {columns}, search_vector FROM {stage}"
            )
            cursor.execute(f"TRUNCATE {stage}")
            counts["tickets"] += written
            counts["messages"] += copy_rows(tables[1], MESSAGE_COLUMNS, generator.messages)
            counts["events"] += copy_rows(tables[2], EVENT_COLUMNS, generator.events)
            generator.messages.clear()
            generator.events.clear()
            if progress:
                progress("tickets", written)
    for table in tables:
        reset_sequence(table)
    counts["csat"] = seed_csat(world, seed=seed, now=generator.now)
    return counts


# --- CSAT -------------------------------------------------------------------------------

# Share of solved tickets whose requester answered the survey, and of answers with a CES.
CSAT_RESPONSE_SHARE = 0.2
CES_SHARE = 0.5
# Chance of each rating 1..5 by the account's demo story (accounts.seed.SeededAccount.story):
# happy customers rate 4-5, unhappy ones mostly 1-3, and each side has a few exceptions.
_RATING_WEIGHTS_HEALTHY = (0.02, 0.04, 0.09, 0.30, 0.55)
_RATING_WEIGHTS_UNHAPPY = (0.20, 0.30, 0.30, 0.15, 0.05)
_UNHAPPY_STORIES = frozenset({"at_risk", "churned"})
_CSAT_COMMENTS = [  # by rating; about a third of answers carry one
    "Took far too long and the problem is still there.",
    "Had to explain the issue three times.",
    "Solved in the end, but it was slow.",
    "Good help, thanks.",
    "Quick and friendly, thank you!",
]


def _rating_case(weights: tuple[float, ...]) -> str:
    """A SQL CASE turning the uniform draw `u_rating` into a rating with these weights."""
    cumulative = list(itertools.accumulate(weights))
    whens = " ".join(
        f"WHEN u_rating < {bound:.4f} THEN {rating}"
        for rating, bound in enumerate(cumulative[:-1], start=1)
    )
    return f"CASE {whens} ELSE {len(weights)} END"


def _uniform(chunk: int) -> str:
    """A draw in [0, 1) from the `chunk`-th 32 bits of the row's md5 `h` (chunk 0-3)."""
    return f"('x' || substr(h, {chunk * 8 + 1}, 8))::bit(32)::bigint / 4294967296.0"


def seed_csat(world: CrmWorld, *, seed: int, now: datetime | None = None) -> int:
    """Give about a fifth of the solved tickets a CSAT answer (half with a CES), in one
    INSERT ... SELECT: ratings follow the account's demo story, so at-risk and churned
    accounts rate mostly 1-3 and healthy ones 4-5. Deterministic for a seed (the draws hash
    the ticket id with it); tickets already rated are left alone. Returns rows written."""
    unhappy = [a.id for a in world.accounts if a.story in _UNHAPPY_STORIES]
    sql = f"""
        INSERT INTO {CsatResponse._meta.db_table}
            (ticket_id, account_id, contact_id, rating, ces, comment, responded_at)
        SELECT id, account_id, requester_id, rating,
               CASE WHEN u_ces < %(ces_share)s
                    THEN least(7, rating + 1 + floor(u_ces / %(ces_share)s * 3)::int) END,
               CASE WHEN u_delay < 0.33 THEN (%(comments)s::text[])[rating] ELSE '' END,
               least(solved_at + make_interval(mins => (20 + u_delay * 2880)::int), %(now)s)
        FROM (
            SELECT t.id, t.account_id, t.requester_id, t.solved_at, u.u_ces, u.u_delay,
                   CASE WHEN t.account_id = ANY(%(unhappy)s::bigint[])
                        THEN {_rating_case(_RATING_WEIGHTS_UNHAPPY)}
                        ELSE {_rating_case(_RATING_WEIGHTS_HEALTHY)} END AS rating
            FROM {Ticket._meta.db_table} t
            CROSS JOIN LATERAL (SELECT md5(t.id::text || ':' || %(seed)s::text) AS h) hashed
            CROSS JOIN LATERAL (
                SELECT {_uniform(0)} AS u_pick, {_uniform(1)} AS u_rating,
                       {_uniform(2)} AS u_ces, {_uniform(3)} AS u_delay
                FROM (SELECT hashed.h) AS x(h)
            ) u
            WHERE t.solved_at IS NOT NULL AND u.u_pick < %(share)s
        ) picked
        ON CONFLICT (ticket_id) DO NOTHING
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "unhappy": unhappy,
                "seed": seed,
                "share": CSAT_RESPONSE_SHARE,
                "ces_share": CES_SHARE,
                "comments": _CSAT_COMMENTS,
                "now": now or timezone.now(),
            },
        )
        return cursor.rowcount


# --- SLAs -------------------------------------------------------------------------------

_OFFICE_CALENDAR = "Office hours (Mon-Fri 09:00-17:00, Berlin)"
# Targets in business minutes per priority: first response, next response, resolution.
_STANDARD_TARGETS = {
    Priority.LOW: (24 * 60, 16 * 60, 10 * 8 * 60),
    Priority.NORMAL: (8 * 60, 8 * 60, 5 * 8 * 60),
    Priority.HIGH: (4 * 60, 4 * 60, 2 * 8 * 60),
    Priority.URGENT: (60, 2 * 60, 8 * 60),
}
_ENTERPRISE_TARGETS = {
    Priority.LOW: (8 * 60, 8 * 60, 5 * 8 * 60),
    Priority.NORMAL: (4 * 60, 4 * 60, 3 * 8 * 60),
    Priority.HIGH: (2 * 60, 2 * 60, 8 * 60),
}
# Urgent enterprise tickets run around the clock (calendar minutes).
_ENTERPRISE_URGENT_TARGETS = {Priority.URGENT: (30, 60, 4 * 60)}
_METRIC_ORDER = ("first_response", "next_response", "resolution")


def seed_sla_policies() -> None:
    """A realistic set: 24/7 for urgent enterprise tickets, office hours for the rest."""
    calendar, created = BusinessCalendar.objects.get_or_create(
        name=_OFFICE_CALENDAR, defaults={"time_zone": "Europe/Berlin"}
    )
    if created:
        today = timezone.localdate()
        calendar.holidays = [
            date(year, month, day)
            for year in (today.year, today.year + 1)
            for month, day in ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26))
        ]
        calendar.save(update_fields=["holidays"])
        WorkingInterval.objects.bulk_create(
            WorkingInterval(calendar=calendar, weekday=day, start=time(9), end=time(17))
            for day in range(5)
        )
    for position, name, fields, targets in (
        (
            10,
            "Enterprise urgent (24/7)",
            {"tiers": [Tier.ENTERPRISE], "priorities": [Priority.URGENT], "calendar": None},
            _ENTERPRISE_URGENT_TARGETS,
        ),
        (20, "Enterprise", {"tiers": [Tier.ENTERPRISE], "calendar": calendar}, _ENTERPRISE_TARGETS),
        (30, "Standard", {"calendar": calendar}, _STANDARD_TARGETS),
    ):
        policy, created = SlaPolicy.objects.get_or_create(
            name=name, defaults={"position": position, **fields}
        )
        if created:
            SlaTarget.objects.bulk_create(
                SlaTarget(policy=policy, priority=priority, metric=metric, minutes=minutes)
                for priority, values in targets.items()
                for metric, minutes in zip(_METRIC_ORDER, values, strict=True)
            )


_SLA_COLUMNS = [
    "id",
    "sla_policy_id",
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_due_at",
    "sla_warn_at",
    "first_response_business_seconds",
    "resolution_business_seconds",
]


def seed_sla_clocks(
    *, now: datetime | None = None, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Compute the SLA clocks of every ticket in batches (the services do it per change; a
    bulk load bypasses them). Unsolved tickets get their due-time columns and pending
    alerts (`progress` counts these); solved and closed ones their policy, the business
    seconds of their stopped clocks and their past breaches, as the live refresh leaves
    them."""
    now = now or timezone.now()
    unsolved = Ticket.objects.filter(UNSOLVED_Q).order_by("pk").values_list("pk", flat=True)
    counts = seed_sla_clocks_of(list(unsolved), now=now, progress=progress)
    done = Ticket.objects.exclude(UNSOLVED_Q).order_by("pk").values_list("pk", flat=True)
    more = seed_sla_clocks_of(list(done), now=now)
    return {"clocks": counts["clocks"], "alerts": counts["alerts"] + more["alerts"]}


def seed_sla_clocks_of(
    ids: list[int],
    *,
    now: datetime,
    alerts: bool = True,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """The SLA columns (and, with `alerts`, the alert rows) of these tickets, in chunks:
    three queries per chunk, one UPDATE from a staging table at the end."""
    from . import selectors, services, sla

    policies = selectors.sla_policies()
    counts = {"clocks": 0, "alerts": 0}
    stage = "seed_sla_stage"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMP TABLE {stage} AS SELECT {', '.join(_SLA_COLUMNS)} "
            "FROM support_ticket WITH NO DATA"
        )
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            tickets = list(
                Ticket.objects.filter(pk__in=batch)
                .only(
                    "pk",
                    "created_at",
                    "status",
                    "priority",
                    "type",
                    "channel",
                    "team_id",
                    "first_response_at",
                )
                .annotate(tier=F("account__tier"))
            )
            changes: dict[int, list] = {}
            for tid, old, new, at in (
                TicketEvent.objects.filter(
                    ticket_id__in=batch, kind=EventKind.CHANGED, field="status"
                )
                .order_by("ticket_id", "created_at", "id")
                .values_list("ticket_id", "old_value", "new_value", "created_at")
            ):
                changes.setdefault(tid, []).append((old, new, at))
            messages: dict[int, list] = {}
            for tid, from_customer, at in (
                Message.objects.filter(ticket_id__in=batch, public=True)
                .annotate(from_customer=Q(author_contact__isnull=False))
                .values_list("ticket_id", "from_customer", "created_at")
            ):
                messages.setdefault(tid, []).append((from_customer, at))
            rows, wanted = [], []
            for ticket in tickets:
                match = policies.match(ticket, tier=ticket.tier)
                clocks: dict[str, sla.Clock] = {}
                if match is not None:
                    history = selectors.sla_history(
                        created_at=ticket.created_at,
                        status=ticket.status,
                        first_response_at=ticket.first_response_at,
                        status_changes=changes.get(ticket.pk, ()),
                        messages=messages.get(ticket.pk, ()),
                    )
                    clocks = sla.ticket_clocks(history, match.targets, match.calendar, now=now)
                values = services.sla_columns(match, clocks) | services.sla_business_durations(
                    ticket, clocks
                )
                rows.append([ticket.pk, *(values[c] for c in _SLA_COLUMNS[1:])])
                # Moments already past count as recorded when they came, as if the minute
                # job had been running all along; the rest wait for it.
                if alerts:
                    for a in services.sla_alerts_wanted(ticket, clocks):
                        recorded = a.at if a.at <= now else None
                        wanted.append((ticket.pk, a.metric, a.kind, a.due_at, a.at, recorded))
            copy_rows(stage, _SLA_COLUMNS, rows)
            counts["alerts"] += copy_rows(
                SlaAlert._meta.db_table,
                ["ticket_id", "metric", "kind", "due_at", "at", "recorded_at"],
                wanted,
            )
            counts["clocks"] += len(rows)
            if progress:
                progress("sla", len(rows))
        assignments = ", ".join(f"{c} = s.{c}" for c in _SLA_COLUMNS[1:])
        cursor.execute(
            f"UPDATE support_ticket t SET {assignments} FROM {stage} s WHERE t.id = s.id"
        )
        cursor.execute(f"DROP TABLE {stage}")
    return counts
