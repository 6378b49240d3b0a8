"""History import: tickets from another help desk, replayed through the ticket services.

One record (a JSON object: a line of `import_history`'s JSONL file, or the body of
`POST /api/v1/import/tickets/`) is one ticket with its history, in order:

    {"external_id": "ZD-48213", "subject": "Cannot log in", "requester": "dana@acme.example",
     "created_at": "2026-03-02T09:00:00+01:00", "description": "It says ...",
     "priority": "normal", "type": "question", "channel": "email", "tags": ["login"],
     "assignee": "alex@cx.example", "team": 3,
     "history": [
        {"author": "alex@cx.example", "body": "Try this", "created_at": "...", "public": true},
        {"status": "solved", "at": "...", "by": "alex@cx.example"},
        {"author": "dana@acme.example", "body": "Still broken", "created_at": "..."}
     ],
     "solved_at": "..."}

Each step goes through the same service as live use (ticket_create, ticket_reply,
ticket_customer_reply, ticket_update) with `at=` its historical moment, so the event log,
first_response_at, solved_at, reopen_count and the SLA clocks come out exactly as if the
history had happened live; nobody is emailed. A message's author is an agent (a staff
user's email) or else a contact; a status change is made `by` an agent (default: the
assignee). `solved_at` at the top solves the ticket at that moment after the history (if
the history has not already). Times must not go backwards nor lie in the future.

`external_id` (optional, up to 100 characters) is the ticket's id in the other help desk,
kept on the ticket: a ticket already imported with it is rejected ("external_id: already
imported as ticket #N."), so overlapping export files import each ticket once, and a CSAT
line may name its ticket by it ("ticket_external_id") instead of by our number.

A line of the file may also hold another kind of history, named by its `"kind"` ("ticket",
the default, is the record above): "csat" (support.services.surveys.csat_history_import),
"nps" and "revenue_event" (success.services); metrics/services/history.py dispatches them
and documents their formats.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.choices import STAFF_ROLES
from accounts.imports import ImportRejected, import_fields_check, import_parse_moment
from accounts.models import Team, User
from accounts.services import contact_get_or_create

from ..choices import Channel, Priority, Status, TicketType
from ..models import EXTERNAL_ID_MAX_LENGTH, ImportRun, Ticket
from ..selectors import ticket_number_by_external_id
from . import (
    TicketError,
    ticket_create,
    ticket_customer_reply,
    ticket_reply,
    ticket_sla_alerts_record_silently,
    ticket_update,
)

TICKET_FIELDS = {
    "external_id",
    "subject",
    "requester",
    "created_at",
    "description",
    "priority",
    "type",
    "channel",
    "tags",
    "assignee",
    "team",
    "history",
    "solved_at",
}
MESSAGE_FIELDS = {"author", "body", "created_at", "public"}
STATUS_FIELDS = {"status", "at", "by"}


@dataclass
class _Clock:
    """The record's moments must not go backwards, nor be in the future."""

    last: datetime
    now: datetime

    def at(self, raw: object, where: str) -> datetime:
        moment = import_parse_moment(raw, where)
        if moment > self.now:
            raise ImportRejected(f"{where}: {raw} is in the future.")
        if moment < self.last:
            raise ImportRejected(f"{where}: {raw} is before the step preceding it.")
        self.last = moment
        return moment


def _text(record: dict, name: str, where: str = "") -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ImportRejected(f"{where}{name}: required, a non-empty string.")
    return value


def _agent(email: object, where: str) -> User:
    if not isinstance(email, str):
        raise ImportRejected(f"{where}: give an agent's email.")
    user = User.objects.filter(email__iexact=email.strip(), role__in=STAFF_ROLES).first()
    if user is None:
        raise ImportRejected(f"{where}: no staff user has the email {email}.")
    return user


def _choice(record: dict, name: str, choices, default: str) -> str:
    value = record.get(name, default)
    if value not in choices.values:
        raise ImportRejected(f"{name}: {value!r} is not one of {', '.join(choices.values)}.")
    return value


@transaction.atomic
def ticket_import(*, record: object, now: datetime | None = None) -> Ticket:
    """Import one ticket with its history (all or nothing); ImportRejected says why not."""
    try:
        return _ticket_import(record, now or timezone.now())
    except ImportRejected:
        raise
    except ValidationError as error:
        raise ImportRejected("; ".join(error.messages)) from None
    except TicketError as error:
        raise ImportRejected(str(error)) from None


def _ticket_import(record: object, now: datetime) -> Ticket:
    if not isinstance(record, dict):
        raise ImportRejected("A ticket must be a JSON object.")
    import_fields_check(record, allowed=TICKET_FIELDS, what="A ticket")
    history = record.get("history", [])
    if not isinstance(history, list):
        raise ImportRejected("history: must be a list.")
    tags = record.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ImportRejected("tags: must be a list of strings.")
    external_id = _external_id(record)
    requester_email = _text(record, "requester")
    if "@" not in requester_email:
        raise ImportRejected(f"requester: {requester_email!r} is not an email address.")
    assignee = _agent(record["assignee"], "assignee") if record.get("assignee") else None
    team = None
    if record.get("team") is not None:
        given = record["team"]
        team = Team.objects.filter(pk=given).first() if type(given) is int else None
        if team is None:
            raise ImportRejected(f"team: no team has the id {record['team']!r}.")
    clock = _Clock(last=datetime.min.replace(tzinfo=UTC), now=now)
    created_at = clock.at(record.get("created_at"), "created_at")
    ticket = ticket_create(
        requester=contact_get_or_create(email=requester_email),
        subject=_text(record, "subject"),
        body=_text(record, "description"),
        channel=_choice(record, "channel", Channel, Channel.API),
        priority=_choice(record, "priority", Priority, Priority.NORMAL),
        type=_choice(record, "type", TicketType, TicketType.QUESTION),
        tags=tags,
        team=team,
        assignee=assignee,
        at=created_at,
    )
    if external_id:
        _external_id_keep(ticket, external_id)
    for index, step in enumerate(history, start=1):
        where = f"history[{index}]"
        if not isinstance(step, dict):
            raise ImportRejected(f"{where}: must be a JSON object.")
        if "status" in step:
            import_fields_check(step, allowed=STATUS_FIELDS, what=where, where=f"{where}: ")
            _status_change(ticket, step, clock, where)
        else:
            import_fields_check(step, allowed=MESSAGE_FIELDS, what=where, where=f"{where}: ")
            _message(ticket, step, clock, where)
    if record.get("solved_at") is not None:
        ticket.refresh_from_db()
        solved_at = clock.at(record["solved_at"], "solved_at")
        if ticket.status != Status.SOLVED:
            _status_change(ticket, {"status": Status.SOLVED}, clock, "solved_at", at=solved_at)
    # The SLA moments between the last step and now are history too: recorded silently, so
    # the minute job does not announce them as new.
    ticket_sla_alerts_record_silently(ticket_id=ticket.pk, now=now)
    ticket.refresh_from_db()
    return ticket


def _external_id(record: dict) -> str:
    """The ticket's id in the other system ("" without one), refused if already imported."""
    value = record.get("external_id")
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > EXTERNAL_ID_MAX_LENGTH:
        raise ImportRejected(
            f"external_id: a non-empty string of at most {EXTERNAL_ID_MAX_LENGTH} characters "
            f"(got {value!r})."
        )
    _refuse_if_imported(value)
    return value


def _refuse_if_imported(external_id: str) -> None:
    number = ticket_number_by_external_id(external_id)
    if number is not None:
        raise ImportRejected(f"external_id: already imported as ticket #{number}.")


def _external_id_keep(ticket: Ticket, external_id: str) -> None:
    """Store the id on the new ticket, before its history is replayed. The check above reads
    committed rows only: two imports of the same ticket at once both pass it, and the unique
    index makes the second wait for the first and fail, refused like a sequential re-import."""
    try:
        with transaction.atomic():
            Ticket.objects.filter(pk=ticket.pk).update(external_id=external_id)
    except IntegrityError:
        _refuse_if_imported(external_id)
        raise ImportRejected(f"external_id: {external_id!r} is already imported.") from None
    ticket.external_id = external_id


def _status_change(
    ticket: Ticket, step: dict, clock: _Clock, where: str, at: datetime | None = None
) -> None:
    ticket.refresh_from_db(fields=["assignee", "status"])
    by = step.get("by")
    if by is None and ticket.assignee_id is None:
        raise ImportRejected(f"{where}: say who changed the status ('by': an agent's email).")
    actor = _agent(by, f"{where}.by") if by is not None else ticket.assignee
    moment = at if at is not None else clock.at(step.get("at"), f"{where}.at")
    ticket_update(
        ticket_id=ticket.pk,
        acting_user=actor,
        expected_version=None,
        status=step["status"],
        at=moment,
    )


def _message(ticket: Ticket, step: dict, clock: _Clock, where: str) -> None:
    body = _text(step, "body", f"{where}.")
    author = step.get("author")
    if not isinstance(author, str) or "@" not in author:
        raise ImportRejected(f"{where}.author: give the email of an agent or a contact.")
    public = step.get("public", True)
    if not isinstance(public, bool):
        raise ImportRejected(f"{where}.public: true or false.")
    moment = clock.at(step.get("created_at"), f"{where}.created_at")
    agent = User.objects.filter(email__iexact=author.strip(), role__in=STAFF_ROLES).first()
    if agent is not None:
        ticket_reply(ticket_id=ticket.pk, acting_user=agent, body=body, public=public, at=moment)
        return
    if not public:
        raise ImportRejected(f"{where}: only agents write internal notes ({author} is not one).")
    ticket_customer_reply(
        ticket_id=ticket.pk, contact=contact_get_or_create(email=author), body=body, at=moment
    )


# --- files (manage.py import_history) ----------------------------------------------------


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _count_lines(path: str) -> int:
    with open(path, "rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b""))


def history_file_import(
    *,
    path: str,
    importer: Callable[..., object] = ticket_import,
    on_rejected: Callable[[int, str], None] = lambda line, reason: None,
    progress: bool = True,
) -> ImportRun:
    """Import a JSONL file, one record a line (blank lines are skipped), each passed to
    `importer(record=...)`: ticket_import by default; `manage.py import_history` passes
    metrics' record_import, which takes every kind of record (metrics/services/history.py).

    Resumable: the file's ImportRun (keyed by its SHA-256) records the last line done in
    the same transaction as that line's record, so a re-run after an interruption starts
    at the next line and imports nothing twice. A rejected line (bad JSON, a rule broken)
    is reported to `on_rejected(line, reason)`, kept on the run, and skipped; the import
    goes on. The importer must be all or nothing (atomic): the line's transaction commits
    the run's progress whether the record went in or was rejected."""
    run, _created = ImportRun.objects.get_or_create(
        sha256=_sha256_of(path), defaults={"filename": str(path)[-500:]}
    )
    total = _count_lines(path) if progress else None
    with (
        open(path, "rb") as file,
        tqdm(total=total, initial=run.last_line, unit=" lines", disable=not progress) as bar,
    ):
        for number, raw in enumerate(file, start=1):
            if number <= run.last_line:
                continue
            reason = None
            with transaction.atomic():
                try:
                    if raw.strip():
                        importer(record=_parsed(raw))
                        run.imported += 1
                except ImportRejected as error:
                    reason = str(error)
                    run.rejected_count += 1
                    if len(run.rejected) < ImportRun.MAX_REJECTED_KEPT:
                        run.rejected.append({"line": number, "reason": reason})
                run.last_line = number
                run.save(update_fields=["last_line", "imported", "rejected_count", "rejected"])
            if reason is not None:
                on_rejected(number, reason)
            bar.update(1)
    if run.finished_at is None:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
    return run


def _parsed(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ImportRejected("Not UTF-8 text.") from None
    except json.JSONDecodeError as error:
        raise ImportRejected(f"Not valid JSON: {error.msg} at column {error.colno}.") from None
