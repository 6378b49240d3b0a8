"""Every write to tickets: the status rules, assignment, merge, macros and bulk changes.

Each change to a ticket writes one `TicketEvent` per field (who, what, from, to, when) and
bumps `Ticket.version`, so an edit based on an older version is refused (`StaleTicket`).
Services that touch several tickets lock them in primary-key order.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Count, Q
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role, TeamKind
from accounts.models import Account, Contact, SupportAttention, Team, User
from accounts.services import account_activity_announce
from accounts.webhooks import webhook_event_publish

from .. import search, selectors, sla
from ..choices import (
    AGENT_SETTABLE,
    UNSOLVED,
    Channel,
    EventKind,
    Priority,
    SlaAlertKind,
    Status,
    TicketType,
)
from ..models import (
    SUBJECT_MAX_LENGTH,
    UNSOLVED_Q,
    AgentStatus,
    Attachment,
    BusinessCalendar,
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
from ..rendering import render_markdown

BODY_MAX_LENGTH = 100_000
TAG_MAX_LENGTH = 50


class TicketError(Exception):
    """A change the rules refuse; `str()` is the message to show the person."""


class StaleTicket(TicketError):
    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket
        super().__init__(
            f"Ticket #{ticket.pk} was changed by someone else since you opened it "
            f"(now version {ticket.version}). Review the changes and try again."
        )


class AlreadyClaimed(TicketError):
    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket
        super().__init__(f"{ticket.assignee} has ticket #{ticket.pk}.")


class NewerReplyExists(TicketError):
    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(
            "A newer public reply was added while you were writing. Review it, then send again."
        )


class TicketClosed(TicketError):
    pass


# --- validation helpers -----------------------------------------------------------------


def clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise ValidationError({"subject": "A subject is required."})
    if len(subject) > SUBJECT_MAX_LENGTH:
        raise ValidationError(
            {
                "subject": f"Keep the subject under {SUBJECT_MAX_LENGTH} characters "
                f"(it has {len(subject)})."
            }
        )
    return subject


def clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a message first."})
    if len(body) > BODY_MAX_LENGTH:
        raise ValidationError({"body": f"Messages are limited to {BODY_MAX_LENGTH:,} characters."})
    return body


def clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned = []
    for tag in tags:
        tag = "-".join(tag.strip().lower().split())
        if not tag:
            continue
        if len(tag) > TAG_MAX_LENGTH:
            raise ValidationError({"tags": f"Tags are limited to {TAG_MAX_LENGTH} characters."})
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _size(n: int) -> str:
    for unit, factor in (("MB", 1_048_576), ("KB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


def clean_attachments(files: Sequence[UploadedFile]) -> None:
    limit = settings.CX_ATTACHMENT_MAX_BYTES
    for upload in files:
        if not upload.size:
            raise ValidationError({"attachments": f"{upload.name} is empty."})
        if upload.size > limit:
            size, most = _size(upload.size), _size(limit)
            if size == most:  # just over: rounding would show the same number twice
                size, most = f"{upload.size:,} bytes", f"{limit:,} bytes"
            raise ValidationError(
                {"attachments": f"{upload.name} ({size}) is over the {most} limit for attachments."}
            )


# --- events -----------------------------------------------------------------------------


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, User | Team | Contact):
        return str(value.pk)
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


@dataclass
class _Changes:
    """Collects a ticket's field changes and their events, saved together."""

    ticket: Ticket
    actor: User | None
    label: str = ""
    now: datetime = field(default_factory=timezone.now)
    events: list[TicketEvent] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    # Loaded once by services that change many tickets; None: loaded when needed.
    policies: selectors.SlaPolicies | None = None
    # History import (`at=` given): recorded as it happened, but nobody is emailed now.
    historic: bool = False

    def set(self, name: str, value: object) -> bool:
        old = getattr(self.ticket, name)
        if old == value:
            return False
        setattr(self.ticket, name, value)
        self.fields.add(name.removesuffix("_id"))
        self.event(EventKind.CHANGED, name.removesuffix("_id"), _value(old), _value(value))
        return True

    def event(self, kind: str, field_name: str = "", old: str = "", new: str = "") -> None:
        self.events.append(
            TicketEvent(
                ticket=self.ticket,
                kind=kind,
                actor=self.actor,
                actor_label=self.label,
                field=field_name,
                old_value=old,
                new_value=new,
                created_at=self.now,
            )
        )

    def save(self) -> Ticket:
        if not self.events:
            return self.ticket
        self.ticket.updated_at = self.now
        self.ticket.version += 1
        self.ticket.save(update_fields=[*self._columns(), "updated_at", "version"])
        TicketEvent.objects.bulk_create(self.events)
        transaction.on_commit(selectors.queue_counts_forget)
        if self.fields & _SLA_FIELDS or any(e.kind in _SLA_EVENTS for e in self.events):
            ticket_sla_refresh(
                ticket=self.ticket,
                acting_user=self.actor,
                policies=self.policies,
                now=self.now,
                historic=self.historic,
            )
        self.events = []
        self.fields = set()
        return self.ticket

    def _columns(self) -> list[str]:
        fk = {"assignee", "team", "requester", "account", "merged_into", "follow_up_of"}
        return [f"{name}_id" if name in fk else name for name in self.fields]


def _set_status(changes: _Changes, status: str) -> None:
    ticket = changes.ticket
    if ticket.status == status:
        return
    if status == Status.SOLVED:
        ticket.solved_at = changes.now
        changes.fields.add("solved_at")
        account_activity_announce(account_id=ticket.account_id, reason="ticket_solved")
    elif ticket.status == Status.SOLVED and status in UNSOLVED:
        ticket.solved_at = None
        changes.fields.add("solved_at")
    if status == Status.CLOSED:
        ticket.closed_at = changes.now
        changes.fields.add("closed_at")
    changes.set("status", status)
    if status in (Status.PENDING, Status.SOLVED) and not changes.historic:
        # The requester's "waiting on you" / "solved" email (with the CSAT question on a
        # first solve), after commit; services/email.py.
        from .email import ticket_status_email_on_commit

        ticket_status_email_on_commit(events=changes.events)


def _ticket_resource(ticket: Ticket) -> dict:
    """A ticket as webhooks send it (the fields the tickets API shows)."""
    return {
        "number": ticket.pk,
        "subject": ticket.subject,
        "requester": ticket.requester.email if ticket.requester_id else None,
        "account": ticket.account_id,
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type,
        "channel": ticket.channel,
        "tags": list(ticket.tags),
        "assignee": ticket.assignee.email if ticket.assignee_id else None,
        "team": ticket.team_id,
        "version": ticket.version,
        "merged_into": ticket.merged_into_id,
        "created_at": ticket.created_at,
        "first_response_at": ticket.first_response_at,
        "solved_at": ticket.solved_at,
        "updated_at": ticket.updated_at,
    }


def _publish_ticket(ticket: Ticket, event_type: str) -> None:
    # Webhooks (accounts.webhooks): the resource is rendered only if someone subscribes.
    webhook_event_publish(event_type=event_type, resource=lambda: _ticket_resource(ticket))


def _publish_ticket_changed(ticket: Ticket, *, old_status: str, old_version: int) -> None:
    if ticket.version != old_version:
        _publish_ticket(ticket, "ticket.updated")
    if ticket.status == Status.SOLVED and old_status != Status.SOLVED:
        _publish_ticket(ticket, "ticket.solved")


def _publish_message(message: Message) -> None:
    """message.created for a public message (never an internal note)."""
    if not message.public:
        return

    def resource() -> dict:
        author = message.author_user or message.author_contact
        return {
            "id": message.pk,
            "ticket": message.ticket_id,
            "author": author.email if author is not None else None,
            "author_type": "agent" if message.author_user_id else "customer",
            "body": message.body,
            "created_at": message.created_at,
        }

    webhook_event_publish(event_type="message.created", resource=resource)


def _lock(ticket_id: int) -> Ticket:
    try:
        return Ticket.objects.select_for_update().get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise TicketError(f"Ticket #{ticket_id} does not exist.") from None


def _lock_many(ticket_ids: Iterable[int]) -> list[Ticket]:
    # Primary-key order, so two services locking overlapping sets cannot deadlock.
    return list(Ticket.objects.select_for_update().filter(pk__in=set(ticket_ids)).order_by("pk"))


def _check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and ticket.version != expected_version:
        raise StaleTicket(ticket)


def _check_open(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise TicketClosed(f"Ticket #{ticket.pk} is closed and can no longer be changed.")


# --- create -----------------------------------------------------------------------------


def _add_message(
    ticket: Ticket,
    *,
    body: str,
    public: bool,
    author_user: User | None = None,
    author_contact: Contact | None = None,
    attachments: Sequence[UploadedFile] = (),
    at: datetime | None = None,
) -> Message:
    message = Message.objects.create(
        ticket=ticket,
        body=body,
        body_html=render_markdown(body),
        public=public,
        author_user=author_user,
        author_contact=author_contact,
        created_at=at or timezone.now(),
    )
    search.index_text(ticket.pk, body)
    for upload in attachments:
        Attachment.objects.create(
            message=message,
            file=upload,
            filename=upload.name[:255],
            content_type=(upload.content_type or "application/octet-stream")[:255],
            size=upload.size,
        )
    return message


# Success → support escalation rules that act on new tickets (labels are the events' actor).
AT_RISK_RULE_LABEL = "rule: at-risk account"
ONBOARDING_RULE_LABEL = "rule: onboarding"
ONBOARDING_TAG = "onboarding"
_PRIORITY_STEP_UP = {
    Priority.LOW: Priority.NORMAL,
    Priority.NORMAL: Priority.HIGH,
    Priority.HIGH: Priority.URGENT,
}


@transaction.atomic
def ticket_create(
    *,
    requester: Contact,
    subject: str,
    body: str,
    channel: str = Channel.PORTAL,
    priority: str = Priority.NORMAL,
    type: str = TicketType.QUESTION,
    tags: Iterable[str] = (),
    team: Team | None = None,
    assignee: User | None = None,
    attachments: Sequence[UploadedFile] = (),
    acting_user: User | None = None,
    at: datetime | None = None,
) -> Ticket:
    """Open a ticket with its first message.

    With `acting_user` (an agent) the ticket is opened on the customer's behalf: the first
    message is the agent's, and first response waits for the agent's second public message.

    `at` (history import only; default now): when it was opened. The same events, SLA
    clocks and first message are written as at that moment; nobody is auto-assigned.
    """
    subject = clean_subject(subject)
    body = clean_body(body)
    clean_attachments(attachments)
    on_behalf = acting_user is not None and acting_user.is_staff_member
    # Success → support rules (METRICS.md), applied before the SLA policy is matched so that
    # the SLA follows them; each change is logged below with the rule as its actor.
    tags = clean_tags(tags)
    rule_changes: list[tuple[str, str, str, str]] = []  # (rule label, field, old, new)
    account = requester.account
    if account is not None and account.support_attention == SupportAttention.AT_RISK:
        raised = _PRIORITY_STEP_UP.get(priority, priority)
        if raised != priority:
            rule_changes.append((AT_RISK_RULE_LABEL, "priority", priority, raised))
            priority = raised
    if account is not None and account.support_onboarding:
        if ONBOARDING_TAG not in tags:
            before = _value(tags)
            tags = [*tags, ONBOARDING_TAG]
            rule_changes.append((ONBOARDING_RULE_LABEL, "tags", before, _value(tags)))
        if team is None and assignee is None:
            team = (
                Team.objects.filter(Q(kind=TeamKind.ONBOARDING) | Q(name__iexact="onboarding"))
                .order_by("pk")
                .first()
            )
            if team is not None:
                rule_changes.append((ONBOARDING_RULE_LABEL, "team", "", str(team)))
    ticket = Ticket.objects.create(
        subject=subject,
        requester=requester,
        account=requester.account,
        channel=channel,
        priority=priority,
        type=type,
        tags=tags,
        team=team,
        assignee=assignee,
        created_by_agent=on_behalf,
        **({"created_at": at, "updated_at": at} if at is not None else {}),
    )
    search.index_subject(ticket.pk)
    TicketEvent.objects.create(
        ticket=ticket,
        kind=EventKind.CREATED,
        actor=acting_user,
        actor_label="" if acting_user else "customer",
        created_at=ticket.created_at,
    )
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket=ticket,
            kind=EventKind.CHANGED,
            actor_label=label,
            field=name,
            old_value=old,
            new_value=new,
            created_at=ticket.created_at,
        )
        for label, name, old, new in rule_changes
    )
    _add_message(
        ticket,
        body=body,
        public=True,
        attachments=attachments,
        at=ticket.created_at,
        author_user=acting_user if on_behalf else None,
        author_contact=None if on_behalf else requester,
    )
    ticket_sla_refresh(
        ticket=ticket, acting_user=acting_user, now=ticket.created_at, historic=at is not None
    )
    transaction.on_commit(selectors.queue_counts_forget)
    account_activity_announce(account_id=ticket.account_id, reason="ticket_created")
    if assignee is None and team is not None and at is None:
        ticket_auto_assign(ticket=ticket)
    if at is None:  # a history import sends no webhooks
        _publish_ticket(ticket, "ticket.created")
    return ticket


# --- replies ----------------------------------------------------------------------------


@transaction.atomic
def ticket_reply(
    *,
    ticket_id: int,
    acting_user: User,
    body: str,
    public: bool = True,
    attachments: Sequence[UploadedFile] = (),
    seen_message_id: int | None = None,
    status: str | None = None,
    priority: str | None = None,
    add_tags: Iterable[str] = (),
    expected_version: int | None = None,
    macro: Macro | None = None,
    at: datetime | None = None,
) -> Message:
    """An agent's public reply or internal note, optionally with property changes.

    `at` (history import only; default now): when it was written; no email is sent.

    `macro` names the canned response the agent started from; the history records it.

    `seen_message_id` is the newest message the agent had on screen: if a newer *public*
    message exists, the reply is refused so the agent reviews it first.
    """
    body = clean_body(body)
    clean_attachments(attachments)
    ticket = _lock(ticket_id)
    _check_open(ticket)
    _check_version(ticket, expected_version)
    if public and seen_message_id is not None:
        newer = ticket.messages.filter(public=True, pk__gt=seen_message_id).order_by("-pk").first()
        if newer:
            raise NewerReplyExists(newer)
    changes = _Changes(ticket, acting_user, now=at or timezone.now(), historic=at is not None)
    old_status = ticket.status
    message = _add_message(
        ticket,
        body=body,
        public=public,
        author_user=acting_user,
        attachments=attachments,
        at=changes.now,
    )
    if public:
        changes.event(EventKind.REPLIED, new=str(message.pk))
        if at is None:
            _email_reply(message.pk)
        if ticket.first_response_at is None and _stops_first_response(ticket, message):
            ticket.first_response_at = message.created_at
            changes.fields.add("first_response_at")
            if ticket.status == Status.NEW:
                _set_status(changes, Status.OPEN)
    else:
        changes.event(EventKind.NOTED, new=str(message.pk))
    if macro is not None:
        changes.event(EventKind.MACRO, "macro", "", macro.title)
    _apply_properties(changes, status=status, priority=priority, add_tags=add_tags)
    changes.save()
    if at is None:  # a history import sends no webhooks
        _publish_message(message)
        if ticket.status == Status.SOLVED and old_status != Status.SOLVED:
            _publish_ticket(ticket, "ticket.solved")
    return message


def _email_reply(message_id: int) -> None:
    # The email channel sends the reply to the requester after commit (services/email.py).
    from .email import email_reply_on_commit

    email_reply_on_commit(message_id=message_id)


def _stops_first_response(ticket: Ticket, message: Message) -> bool:
    if not ticket.created_by_agent:
        return True
    # Opened by an agent for the customer: the clock stops at the second agent message.
    return (
        ticket.messages.filter(public=True, author_user__isnull=False)
        .exclude(pk=message.pk)
        .exists()
    )


@transaction.atomic
def ticket_customer_reply(
    *,
    ticket_id: int,
    contact: Contact,
    body: str,
    attachments: Sequence[UploadedFile] = (),
    at: datetime | None = None,
) -> Message:
    """The customer writes on their ticket (portal or email).

    `at` (history import only; default now): when it was written.

    Pending or solved → open (from solved it counts a reopen). A closed ticket is not
    reopened: the reply starts a follow-up ticket linked to it.
    """
    body = clean_body(body)
    clean_attachments(attachments)
    ticket = _lock(ticket_id)
    if ticket.status == Status.CLOSED:
        follow_up = ticket_create(
            requester=contact,
            subject=f"Follow-up: {ticket.subject}"[:SUBJECT_MAX_LENGTH],
            body=body,
            channel=ticket.channel,
            priority=ticket.priority,
            type=ticket.type,
            tags=ticket.tags,
            team=ticket.team,
            attachments=attachments,
            at=at,
        )
        follow_up.follow_up_of = ticket
        follow_up.save(update_fields=["follow_up_of"])
        return follow_up.messages.get()
    changes = _Changes(
        ticket, None, label="customer", now=at or timezone.now(), historic=at is not None
    )
    message = _add_message(
        ticket,
        body=body,
        public=True,
        author_contact=contact,
        attachments=attachments,
        at=changes.now,
    )
    changes.event(EventKind.CUSTOMER_REPLIED, new=str(message.pk))
    if ticket.status == Status.SOLVED:
        ticket.reopen_count += 1
        changes.fields.add("reopen_count")
        changes.event(EventKind.REOPENED)
        _set_status(changes, Status.OPEN)
    elif ticket.status == Status.PENDING:
        _set_status(changes, Status.OPEN)
    changes.save()
    if at is None:  # a history import sends no webhooks
        _publish_message(message)
    return message


# --- property changes -------------------------------------------------------------------


def _apply_properties(
    changes: _Changes,
    *,
    status: str | None = None,
    priority: str | None = None,
    add_tags: Iterable[str] = (),
    **fields: object,
) -> None:
    ticket = changes.ticket
    if status:
        if status not in AGENT_SETTABLE:
            raise ValidationError({"status": f"Agents cannot set a ticket to “{status}”."})
        _set_status(changes, status)
    if priority:
        if priority not in Priority.values:
            raise ValidationError({"priority": f"Unknown priority “{priority}”."})
        changes.set("priority", priority)
    if add_tags:
        changes.set("tags", clean_tags([*ticket.tags, *add_tags]))
    for name, value in fields.items():
        if name == "subject":
            value = clean_subject(value)
        elif name == "tags":
            value = clean_tags(value)
        elif name in {"assignee", "team"}:
            name = f"{name}_id"
            value = value.pk if value is not None else None
        changes.set(name, value)


@transaction.atomic
def ticket_update(
    *,
    ticket_id: int,
    acting_user: User,
    expected_version: int | None,
    at: datetime | None = None,
    **fields: object,
) -> Ticket:
    """Change a ticket's properties: status, priority, type, subject, tags, assignee, team.

    Refused with `StaleTicket` when `expected_version` is not the current version. `at`
    (history import only; default now): when the change was made; no email is sent.
    """
    allowed = {"status", "priority", "type", "subject", "tags", "assignee", "team", "add_tags"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Unknown ticket fields: {', '.join(sorted(unknown))}.")
    ticket = _lock(ticket_id)
    _check_open(ticket)
    _check_version(ticket, expected_version)
    if "assignee" in fields and fields["assignee"] is not None:
        _check_assignable(fields["assignee"])
    changes = _Changes(ticket, acting_user, now=at or timezone.now(), historic=at is not None)
    old_status, old_version = ticket.status, ticket.version
    _apply_properties(changes, **fields)
    subject_changed = "subject" in changes.fields
    changes.save()
    if subject_changed:
        search.index_subject(ticket.pk)
    if at is None:  # a history import sends no webhooks
        _publish_ticket_changed(ticket, old_status=old_status, old_version=old_version)
    return ticket


def _check_assignable(user: User) -> None:
    if not user.is_active or user.role not in {Role.AGENT, Role.ADMIN, Role.MANAGER, Role.CSM}:
        raise ValidationError({"assignee": f"{user} cannot be assigned tickets."})


@transaction.atomic
def ticket_claim(*, ticket_id: int, acting_user: User) -> Ticket:
    """“Take it”: the agent becomes the assignee unless someone already is.

    The row lock serialises two agents claiming at once: the second sees the first's
    assignment and gets `AlreadyClaimed` naming them.
    """
    ticket = _lock(ticket_id)
    _check_open(ticket)
    if ticket.assignee_id == acting_user.pk:
        return ticket
    if ticket.assignee_id is not None:
        ticket.assignee = User.objects.get(pk=ticket.assignee_id)
        raise AlreadyClaimed(ticket)
    changes = _Changes(ticket, acting_user)
    changes.set("assignee_id", acting_user.pk)
    return changes.save()


@dataclass
class BulkResult:
    changed: list[int]
    skipped: dict[int, str]
    previous: dict[int, dict[str, object]]


@transaction.atomic
def tickets_bulk_update(
    *,
    ticket_ids: Iterable[int],
    acting_user: User,
    assignee: User | None = None,
    unassign: bool = False,
    status: str | None = None,
    priority: str | None = None,
    add_tags: Iterable[str] = (),
) -> BulkResult:
    """Apply one change to many tickets, writing the same events as single changes.

    Closed tickets are skipped (and reported). `previous` holds what each changed ticket
    had before, so the change can be undone with `tickets_bulk_restore`.
    """
    if assignee is not None:
        _check_assignable(assignee)
    add_tags = clean_tags(add_tags)
    result = BulkResult(changed=[], skipped={}, previous={})
    policies = selectors.sla_policies() if status or priority else None
    for ticket in _lock_many(ticket_ids):
        if ticket.status == Status.CLOSED:
            result.skipped[ticket.pk] = "closed"
            continue
        before = {
            "assignee": ticket.assignee_id,
            "status": ticket.status,
            "priority": ticket.priority,
            "tags": list(ticket.tags),
        }
        changes = _Changes(ticket, acting_user, policies=policies)
        if assignee is not None or unassign:
            changes.set("assignee_id", assignee.pk if assignee else None)
        _apply_properties(changes, status=status, priority=priority, add_tags=add_tags)
        if changes.events:
            changes.save()
            result.changed.append(ticket.pk)
            result.previous[ticket.pk] = before
    return result


@transaction.atomic
def tickets_bulk_restore(*, previous: dict[int, dict[str, object]], acting_user: User) -> int:
    """Undo a bulk change: put back each ticket's earlier assignee, status, priority, tags."""
    restored = 0
    policies = selectors.sla_policies()
    for ticket in _lock_many(int(pk) for pk in previous):
        before = previous.get(ticket.pk) or previous.get(str(ticket.pk))
        if ticket.status == Status.CLOSED or not before:
            continue
        changes = _Changes(ticket, acting_user, policies=policies)
        changes.set("assignee_id", before["assignee"])
        if before["status"] != ticket.status:
            _set_status(changes, before["status"])
        changes.set("priority", before["priority"])
        changes.set("tags", list(before["tags"]))
        if changes.events:
            changes.save()
            restored += 1
    return restored


@transaction.atomic
def ticket_merge(*, source_id: int, target_id: int, acting_user: User) -> Ticket:
    """Merge `source` into `target`: its thread moves over; it is closed with a pointer."""
    if source_id == target_id:
        raise TicketError("A ticket cannot be merged into itself.")
    tickets = {t.pk: t for t in _lock_many([source_id, target_id])}
    source, target = tickets.get(source_id), tickets.get(target_id)
    if source is None or target is None:
        missing = source_id if source is None else target_id
        raise TicketError(f"Ticket #{missing} does not exist.")
    for ticket in (source, target):
        _check_open(ticket)
    moved = source.messages.update(ticket=target)
    search.index_merge(source_id=source.pk, target_id=target.pk)
    source_changes = _Changes(source, acting_user)
    source_changes.event(EventKind.MERGED, "merged_into", "", str(target.pk))
    source.merged_into = target
    source_changes.fields.add("merged_into")
    if source.status != Status.SOLVED:
        source.solved_at = source_changes.now
        source_changes.fields.add("solved_at")
    source.closed_at = source_changes.now
    source_changes.fields.add("closed_at")
    source_changes.set("status", Status.CLOSED)
    source_changes.save()
    target_changes = _Changes(target, acting_user)
    target_changes.event(EventKind.MERGED, "merged_from", "", str(source.pk))
    target_changes.set("tags", clean_tags([*target.tags, *source.tags]))
    _add_message(
        target,
        public=False,
        author_user=acting_user,
        at=target_changes.now,
        body=f"Ticket #{source.pk} “{source.subject}” was merged into this ticket "
        f"({moved} message{'s' if moved != 1 else ''} moved).",
    )
    return target_changes.save()


# --- macros -----------------------------------------------------------------------------


def macro_render_body(*, macro: Macro, ticket: Ticket, agent: User) -> str:
    """The macro's text with its placeholders filled (autoescape off: the result is
    Markdown source, rendered and sanitised when sent)."""
    template = Template("{% autoescape off %}" + macro.body + "{% endautoescape %}")
    return template.render(
        Context(
            {
                "requester": ticket.requester,
                "ticket": ticket,
                "agent": agent,
            }
        )
    )


# --- automatic assignment and closing ---------------------------------------------------


def ticket_auto_assign(*, ticket: Ticket) -> User | None:
    """Round-robin among the team's available agents under their open-ticket cap.

    The team's assignment row is locked, so concurrent new tickets take turns.
    """
    if ticket.team_id is None or ticket.assignee_id is not None:
        return None
    setting = (
        TeamAssignment.objects.select_for_update()
        .filter(team_id=ticket.team_id, auto_assign=True)
        .first()
    )
    if setting is None:
        return None
    unsolved = [s.value for s in UNSOLVED]
    candidates = list(
        User.objects.filter(
            teams=ticket.team_id,
            is_active=True,
            role=Role.AGENT,
            agent_status__available=True,
        )
        .annotate(
            open_count=Count("assigned_tickets", filter=Q(assigned_tickets__status__in=unsolved))
        )
        .values_list("pk", "open_count", "agent_status__max_open_tickets")
        .order_by("pk")
    )
    eligible = [pk for pk, count, cap in candidates if count < cap]
    if not eligible:
        return None
    last = setting.last_assigned_id or 0
    chosen = next((pk for pk in eligible if pk > last), eligible[0])
    setting.last_assigned_id = chosen
    setting.save(update_fields=["last_assigned"])
    changes = _Changes(ticket, None, label="round-robin")
    changes.set("assignee_id", chosen)
    changes.save()
    return User.objects.get(pk=chosen)


def agent_status_set(*, user: User, available: bool, max_open_tickets: int | None = None) -> None:
    status, _ = AgentStatus.objects.get_or_create(user=user)
    status.available = available
    if max_open_tickets is not None:
        status.max_open_tickets = max_open_tickets
    status.save()


def close_solved_tickets(*, now: datetime | None = None, days: int | None = None) -> int:
    """Close tickets solved more than `days` ago, in one set-based statement.

    Safe to run twice at once: the UPDATE re-checks `status = 'solved'` under each row's
    lock, so a ticket is closed, and its event written, exactly once.
    """
    now = now or timezone.now()
    days = settings.CX_SOLVED_TICKETS_CLOSE_AFTER_DAYS if days is None else days
    cutoff = now - timedelta(days=days)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH closed AS (
                UPDATE support_ticket
                SET status = 'closed', closed_at = %(now)s, updated_at = %(now)s,
                    version = version + 1
                WHERE status = 'solved' AND solved_at < %(cutoff)s
                RETURNING id
            )
            INSERT INTO support_ticketevent
                (ticket_id, kind, actor_id, actor_label, field, old_value, new_value,
                 created_at)
            SELECT id, 'changed', NULL, 'auto-close', 'status', 'solved', 'closed', %(now)s
            FROM closed
            """,
            {"now": now, "cutoff": cutoff},
        )
        if cursor.rowcount:
            transaction.on_commit(selectors.queue_counts_forget)
        return cursor.rowcount


# --- SLAs -------------------------------------------------------------------------------

# What changes a ticket's clocks or the policy that applies; other changes skip the refresh.
_SLA_FIELDS = {"status", "priority", "type", "channel", "team", "account", "merged_into"}
_SLA_EVENTS = {EventKind.REPLIED, EventKind.CUSTOMER_REPLIED}
_DUE_FIELDS = {metric: f"{metric}_due_at" for metric in sla.METRICS}


def sla_alerts_wanted(ticket: Ticket, clocks: dict[str, sla.Clock]) -> list[SlaAlert]:
    """The warning and breach moments the minute job should record for these clocks."""
    alerts = []
    for clock in clocks.values():
        if clock.due_at is None:
            continue
        moments = []
        if clock.running and clock.warn_at is not None and clock.warn_at < clock.due_at:
            moments.append((SlaAlertKind.WARNING, clock.warn_at))
        if clock.running or clock.state == sla.BREACHED:
            moments.append((SlaAlertKind.BREACH, clock.due_at))
        alerts.extend(
            SlaAlert(ticket=ticket, metric=clock.metric, kind=kind, due_at=clock.due_at, at=at)
            for kind, at in moments
        )
    return alerts


def sla_columns(match: selectors.SlaMatch | None, clocks: dict[str, sla.Clock]) -> dict:
    """The ticket columns that store these clocks: the policy and the running due times."""
    live = {m: c for m, c in clocks.items() if c.running}
    return {
        "sla_policy_id": match.policy.pk if match else None,
        **{column: live[m].due_at if m in live else None for m, column in _DUE_FIELDS.items()},
        "sla_due_at": min((c.due_at for c in live.values() if c.due_at), default=None),
        "sla_warn_at": min((c.warn_at for c in live.values() if c.warn_at), default=None),
    }


def sla_business_durations(ticket: Ticket, clocks: dict[str, sla.Clock]) -> dict:
    """The business seconds of the stopped first-response and resolution clocks (the
    reports' business-hours FRT and resolution time); None while a clock runs, when the
    first response clock was stopped by a solve rather than a reply, or without a target."""
    first = clocks.get(sla.FIRST_RESPONSE)
    resolution = clocks.get(sla.RESOLUTION)
    answered = (
        first is not None
        and first.stopped_at is not None
        and ticket.first_response_at is not None
        and first.stopped_at == ticket.first_response_at
    )
    solved = resolution is not None and resolution.stopped_at is not None
    return {
        "first_response_business_seconds": (
            round(first.elapsed.total_seconds()) if answered else None
        ),
        "resolution_business_seconds": (
            round(resolution.elapsed.total_seconds()) if solved else None
        ),
    }


def ticket_sla_refresh(
    *,
    ticket: Ticket,
    acting_user: User | None = None,
    policies: selectors.SlaPolicies | None = None,
    now: datetime | None = None,
    historic: bool = False,
) -> dict[str, sla.Clock]:
    """Re-evaluate which policy applies to `ticket` and store its running targets' due times.

    Called with the ticket row locked, after every change that can move a clock (a reply,
    a status, priority, team, type or channel change, a merge, the account's tier). A due
    time that moves while its clock keeps running is logged as an `sla` event. The warning
    and breach moments are queued for the minute job as pending `SlaAlert` rows (moments
    already recorded for the same due time are not queued again).

    `historic` (a history import replaying a change at its moment `now`): the moments that
    have come by `now` are recorded at once, silently, as the minute job would have recorded
    them live; see ticket_sla_alerts_record_silently.
    """
    now = now or timezone.now()
    policies = policies or selectors.sla_policies()
    tier = (
        Account.objects.filter(pk=ticket.account_id).values_list("tier", flat=True).first()
        if ticket.account_id
        else None
    )
    match = policies.match(ticket, tier=tier)
    clocks: dict[str, sla.Clock] = {}
    if match is not None:
        history = selectors.ticket_sla_history(ticket)
        clocks = sla.ticket_clocks(history, match.targets, match.calendar, now=now)
    values = sla_columns(match, clocks) | sla_business_durations(ticket, clocks)
    moves = [
        (column, old.isoformat(), new.isoformat())
        for column in _DUE_FIELDS.values()
        if (old := getattr(ticket, column)) is not None
        and (new := values[column]) is not None
        and old != new
    ]
    if ticket.sla_policy_id != values["sla_policy_id"]:
        moves.append(
            ("sla_policy", str(ticket.sla_policy_id or ""), str(values["sla_policy_id"] or ""))
        )
    events = [
        TicketEvent(
            ticket=ticket,
            kind=EventKind.SLA,
            actor=acting_user,
            actor_label="" if acting_user else "SLA",
            field=field_name,
            old_value=old_value,
            new_value=new_value,
            created_at=now,
        )
        for field_name, old_value, new_value in moves
    ]
    changed = {name: value for name, value in values.items() if getattr(ticket, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(ticket, name, value)
        Ticket.objects.filter(pk=ticket.pk).update(**changed)
    if events:
        TicketEvent.objects.bulk_create(events)
    if historic:  # the moments that came before this change, each at its moment
        ticket_sla_alerts_record_silently(ticket_id=ticket.pk, now=now)
    # Replace the pending moments; recorded ones stay, and the unique key keeps a moment
    # recorded meanwhile by the minute job from being queued again.
    SlaAlert.objects.filter(ticket=ticket, recorded_at__isnull=True).delete()
    SlaAlert.objects.bulk_create(sla_alerts_wanted(ticket, clocks), ignore_conflicts=True)
    if historic:  # the moments this change put in the past: live, the next minute's job
        ticket_sla_alerts_record_silently(ticket_id=ticket.pk, now=now, earliest=now)
    return clocks


@transaction.atomic
def account_tickets_sla_refresh(*, account_id: int) -> int:
    """Re-evaluate the unsolved tickets of an account (its tier changed)."""
    policies = selectors.sla_policies()
    tickets = _lock_many(
        Ticket.objects.filter(UNSOLVED_Q, account_id=account_id).values_list("pk", flat=True)
    )
    for ticket in tickets:
        ticket_sla_refresh(ticket=ticket, policies=policies)
    return len(tickets)


def unsolved_tickets_sla_refresh(*, batch_size: int = 500) -> int:
    """Re-evaluate every unsolved ticket (an SLA policy or calendar changed).

    In batches, each its own short transaction with its tickets locked in id order, so agents
    keep working meanwhile; moved due times are logged like any re-evaluation.
    """
    policies = selectors.sla_policies()
    last, done = 0, 0
    while True:
        ids = list(
            Ticket.objects.filter(UNSOLVED_Q, pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return done
        with transaction.atomic():
            for ticket in _lock_many(ids):
                if ticket.status in UNSOLVED:
                    ticket_sla_refresh(ticket=ticket, policies=policies)
                    done += 1
        last = ids[-1]


@transaction.atomic
def business_calendar_save(
    *,
    calendar: BusinessCalendar,
    fields: dict[str, object],
    intervals: Iterable[dict[str, object]] | None = None,
) -> BusinessCalendar:
    """Create or change a calendar; `intervals` (weekday, start, end) replace the old ones.
    Validated by the caller as a whole (`BusinessCalendar.to_calendar`)."""
    for name, value in fields.items():
        setattr(calendar, name, value)
    calendar.save()
    if intervals is not None:
        calendar.intervals.all().delete()
        WorkingInterval.objects.bulk_create(
            WorkingInterval(calendar=calendar, **interval) for interval in intervals
        )
    sla_settings_changed()
    return calendar


@transaction.atomic
def sla_policy_save(
    *,
    policy: SlaPolicy,
    fields: dict[str, object],
    teams: Iterable[Team] | None = None,
    targets: Iterable[dict[str, object]] | None = None,
) -> SlaPolicy:
    """Create or change a policy; `teams` and `targets` (priority, metric, minutes) replace
    the old ones. Open tickets are re-evaluated after commit."""
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.save()
    if teams is not None:
        policy.teams.set(teams)
    if targets is not None:
        policy.targets.all().delete()
        SlaTarget.objects.bulk_create(SlaTarget(policy=policy, **target) for target in targets)
    sla_settings_changed()
    return policy


@transaction.atomic
def sla_settings_delete(*, instance: SlaPolicy | BusinessCalendar) -> None:
    """Delete a policy or a calendar (ProtectedError while a policy uses the calendar)."""
    instance.delete()
    sla_settings_changed()


def sla_settings_changed() -> None:
    """After a policy or calendar is saved or deleted: re-evaluate open tickets once the
    transaction commits (in the background)."""
    from ..tasks import unsolved_tickets_sla_refresh_task

    transaction.on_commit(unsolved_tickets_sla_refresh_task.delay)


def sla_alerts_record(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Record every SLA warning and breach whose moment has come: the minute job.

    Set-based and safe to run twice at once: each batch claims pending alerts with
    `FOR UPDATE SKIP LOCKED` and a conditional update (`recorded_at IS NULL`), so each
    moment writes its event, and its notification, exactly once. A warning whose breach
    has also come is recorded silently (the breach says more). Touches only the pending
    alerts due by `now` (a range scan of a partial index), never the ticket table at large.
    Returns the number of events written.
    """
    now = now or timezone.now()
    written = 0
    while True:
        with transaction.atomic():
            claimed, events = _sla_alerts_record_batch(now=now, earliest=now, limit=batch_size)
        written += events
        if claimed < batch_size:
            return written


def ticket_sla_alerts_record_silently(
    *, ticket_id: int, now: datetime, earliest: datetime | None = None
) -> int:
    """History import: record one ticket's warnings and breaches whose moment came by `now`
    as the minute job would have recorded them live, but notify nobody.

    Old news is no news: an imported breach must not reach an agent's notifications, yet
    left pending it would be recorded by the next minute job as if it had just happened.
    So each is recorded here at its own moment (not before `earliest`, the change that
    queued it): its `sla_warning` / `sla_breach` event and the recorded breach alert that
    the metrics, the account timeline and the escalation rules read are the same as live.
    Called with the ticket row locked; returns the number of events written.
    """
    _claimed, events = _sla_alerts_record_batch(
        now=now, earliest=earliest, limit=None, ticket_id=ticket_id, notify=False
    )
    return events


def _sla_alerts_record_batch(
    *,
    now: datetime,
    earliest: datetime | None,
    limit: int | None,
    ticket_id: int | None = None,
    notify: bool = True,
) -> tuple[int, int]:
    """One claim of pending alerts due by `now` (of one ticket, or any): (claimed, events)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _RECORD_ALERTS_SQL,
            {
                "now": now,
                "earliest": earliest,
                "limit": limit,
                "ticket": ticket_id,
                "notify": notify,
                "url_prefix": _ticket_url_prefix(),
            },
        )
        claimed, events, notification_ids, breached_account_ids = cursor.fetchone()
    for account_id in breached_account_ids or ():
        account_activity_announce(account_id=account_id, reason="sla_breach")
    if notification_ids:
        transaction.on_commit(functools.partial(_email_notifications, list(notification_ids)))
    return claimed, events


def _ticket_url_prefix() -> str:
    return reverse("support:ticket-detail", args=[1]).removesuffix("1/")


def _email_notifications(notification_ids: list[int]) -> None:
    from accounts.tasks import notifications_email_task

    notifications_email_task.delay(notification_ids)


_RECORD_ALERTS_SQL = """
WITH claimed AS (
    SELECT id FROM support_slaalert
    WHERE recorded_at IS NULL AND at <= %(now)s
      AND (%(ticket)s::bigint IS NULL OR ticket_id = %(ticket)s::bigint)
    ORDER BY at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), recorded AS (
    -- The job records at its `now` (= earliest); a history import at each alert's own
    -- moment, but not before `earliest` (the change that queued it; NULL: none).
    UPDATE support_slaalert a SET recorded_at = greatest(a.at, %(earliest)s::timestamptz)
    FROM claimed
    WHERE a.id = claimed.id AND a.recorded_at IS NULL
    RETURNING a.ticket_id, a.metric, a.kind, a.due_at, a.recorded_at
), announced AS (
    -- A warning whose target is already missed says nothing the breach does not.
    SELECT r.*, t.assignee_id, t.team_id, t.subject
    FROM recorded r JOIN support_ticket t ON t.id = r.ticket_id
    WHERE r.kind = 'breach' OR r.due_at > r.recorded_at
), events AS (
    INSERT INTO support_ticketevent
        (ticket_id, kind, actor_id, actor_label, field, old_value, new_value, created_at)
    SELECT ticket_id, CASE kind WHEN 'breach' THEN 'sla_breach' ELSE 'sla_warning' END,
           NULL, 'SLA', metric, '', due_at::text, recorded_at
    FROM announced
    RETURNING 1
), recipients AS (
    -- The assignee; for an unassigned ticket, the managers (team leads) of its team.
    SELECT a.*, a.assignee_id AS user_id FROM announced a
    WHERE a.kind = 'warning' AND a.assignee_id IS NOT NULL AND %(notify)s
    UNION ALL
    SELECT a.*, u.id FROM announced a
    JOIN accounts_user_teams ut ON ut.team_id = a.team_id
    JOIN accounts_user u ON u.id = ut.user_id AND u.role = 'manager' AND u.is_active
    WHERE a.kind = 'warning' AND a.assignee_id IS NULL AND %(notify)s
), notified AS (
    INSERT INTO accounts_notification (user_id, kind, title, body, url, created_at)
    SELECT user_id, 'sla_warning',
           left(format('#%%s at risk: %%s', ticket_id, subject), 200),
           format('%%s is due %%s UTC.',
                  CASE metric WHEN 'first_response' THEN 'First response'
                              WHEN 'next_response' THEN 'Next response'
                              ELSE 'Resolution' END,
                  to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')),
           %(url_prefix)s || ticket_id || '/', %(now)s
    FROM recipients
    RETURNING id
)
SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM events),
       (SELECT array_agg(id) FROM notified),
       (SELECT array_agg(DISTINCT t.account_id) FROM recorded r
        JOIN support_ticket t ON t.id = r.ticket_id
        WHERE r.kind = 'breach' AND t.account_id IS NOT NULL)
"""
