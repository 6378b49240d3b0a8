"""The email channel: inbound mail → tickets and replies; agent replies → outbound mail.

Inbound (`email_ingest`, called by the webhook and by `fetch_mail`):

1. The message is claimed with `INSERT … ON CONFLICT (message_id) DO NOTHING`: a second
   delivery of the same Message-ID, even at the same moment on another connection, waits
   for the first to commit, finds its row and creates nothing.
2. Unreadable mail and mail without a sender are quarantined (kept, with the reason, for an
   admin to inspect and re-run); automatic mail (auto-replies, bounces, bulk) is ignored:
   no ticket, and never an answer, so no mail loops.
3. Threading: a verified reply token (our Reply-To plus-address or our Message-ID) or a
   Message-ID in In-Reply-To/References that we sent or received → that ticket; else a
   `[#1042]` subject tag, if the sender is the requester or from the ticket's account;
   else a new ticket. Unknown senders become contacts (account found by email domain).
4. Mail from an agent's address is posted as that agent only with a valid reply token for
   the ticket (HMAC, compared in constant time); without one it is quarantined.

Any failure while processing rolls back to a savepoint and quarantines the mail, so one bad
message never blocks the next.
"""

from __future__ import annotations

import hashlib
import hmac
import imaplib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formataddr
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import linebreaks, urlize

from accounts.choices import STAFF_ROLES
from accounts.models import Contact, User
from accounts.services import contact_get_or_create

from ..choices import Channel, EventKind
from ..choices import Status as TicketStatus
from ..mail import EmailParseError, ParsedAttachment, ParsedEmail, parse_email
from ..mail import synthetic_message_id as _synthetic_message_id
from ..models import (
    SUBJECT_MAX_LENGTH,
    EmailThreadId,
    InboundEmail,
    Message,
    Ticket,
    TicketEvent,
)
from . import BODY_MAX_LENGTH, _size, ticket_create, ticket_customer_reply, ticket_reply

__all__ = [
    "FetchResult",
    "email_ingest",
    "email_reply_send",
    "inbound_email_reprocess",
    "mailbox_fetch",
    "reply_address",
    "reply_token",
    "reply_token_ticket_id",
    "ticket_status_email_on_commit",
    "ticket_status_email_send",
]

logger = logging.getLogger(__name__)

Status = InboundEmail.Status
_SUBJECT_TAG_RE = re.compile(r"\[#(\d{1,12})\]")
_TOKEN_RE = re.compile(r"(\d{1,12})-([0-9a-f]{24})")
NO_TEXT = "(This email had no text.)"


# --- reply tokens -----------------------------------------------------------------------


def _token_digest(ticket_id: int) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"cx-email-reply:{ticket_id}".encode(), hashlib.sha256).hexdigest()[:24]


def reply_token(ticket_id: int) -> str:
    """The per-ticket token in our Reply-To and Message-ID: `<ticket id>-<HMAC>`."""
    return f"{ticket_id}-{_token_digest(ticket_id)}"


def reply_token_ticket_id(token: str) -> int | None:
    """The ticket a token was made for, or None when it is malformed or forged."""
    match = _TOKEN_RE.fullmatch(token or "")
    if not match:
        return None
    ticket_id = int(match[1])
    return ticket_id if hmac.compare_digest(_token_digest(ticket_id), match[2]) else None


def _support_mailbox() -> tuple[str, str]:
    local, _, domain = settings.CX_SUPPORT_EMAIL.rpartition("@")
    return local.lower(), domain.lower()


def reply_address(ticket_id: int) -> str:
    """support+<token>@domain: replies to it carry the token back to us."""
    local, domain = _support_mailbox()
    return f"{local}+{reply_token(ticket_id)}@{domain}"


def _outbound_message_id(message: Message) -> str:
    _, domain = _support_mailbox()
    return f"cx-{message.pk}-{reply_token(message.ticket_id)}@{domain or 'localhost'}"


def _tokens_in(parsed: ParsedEmail) -> list[str]:
    """Candidate tokens: plus-addresses of our mailbox the mail was sent to, and tokens in
    the Message-IDs it answers (ours look like cx-<message>-<token>@domain for replies and
    cx-status-<event>-<token>@domain for status notifications)."""
    local, _ = _support_mailbox()
    found = []
    for address in [*parsed.to, *parsed.cc, *parsed.delivered_to]:
        name = address.rpartition("@")[0]
        if name.startswith(f"{local}+"):
            found.append(name.removeprefix(f"{local}+"))
    for thread_id in parsed.thread_ids:
        match = re.fullmatch(r"cx-(?:status-)?\d+-(\d+-[0-9a-f]+)@.*", thread_id)
        if match:
            found.append(match[1])
    return found


def _verified_token_ticket_id(parsed: ParsedEmail) -> int | None:
    for token in _tokens_in(parsed):
        ticket_id = reply_token_ticket_id(token)
        if ticket_id is not None:
            return ticket_id
        logger.warning(
            "email <%s> from %s carries an invalid reply token %r (forged or mangled)",
            parsed.message_id,
            parsed.from_address,
            token,
        )
    return None


# --- inbound ----------------------------------------------------------------------------


@dataclass
class _Outcome:
    status: str
    reason: str = ""
    ticket: Ticket | None = None
    message: Message | None = None


_CLAIM_SQL = """
INSERT INTO {table}
    (message_id, source, raw, size, from_address, subject, received_at, status, reason,
     attempts)
VALUES (%(message_id)s, %(source)s, %(raw)s, %(size)s, %(from_address)s, %(subject)s,
        %(now)s, 'pending', '', 0)
ON CONFLICT (message_id) DO NOTHING
RETURNING id
"""


def _claim(*, raw: bytes, source: str, parsed: ParsedEmail | None, message_id: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(table=InboundEmail._meta.db_table),
            {
                "message_id": message_id,
                "source": source[:20],
                "raw": raw,
                "size": len(raw),
                "from_address": parsed.from_address[:254] if parsed else "",
                "subject": parsed.subject[:250] if parsed else "",
                "now": timezone.now(),
            },
        )
        row = cursor.fetchone()
    return row[0] if row else None


def email_ingest(*, raw: bytes, source: str) -> InboundEmail:
    """Store one inbound message and turn it into a ticket or a reply (see module doc).

    Returns the stored row; for a Message-ID already received, the earlier row, untouched.
    Never raises for bad mail: it ends up ignored or quarantined, with the reason.
    """
    raw = bytes(raw)
    try:
        parsed: ParsedEmail | None = parse_email(raw)
        error = ""
    except EmailParseError as parse_error:
        parsed, error = None, str(parse_error)
    message_id = parsed.message_id if parsed else _synthetic_message_id(raw)
    with transaction.atomic():
        row_id = _claim(raw=raw, source=source, parsed=parsed, message_id=message_id)
        if row_id is None:
            logger.info("email <%s> received again (%s): nothing to do", message_id, source)
            return InboundEmail.objects.defer("raw").get(message_id=message_id)
        row = InboundEmail.objects.defer("raw").get(pk=row_id)
        _process(row, parsed, error)
    return row


@transaction.atomic
def inbound_email_reprocess(
    *, inbound_email_id: int, acting_user: User | None = None
) -> InboundEmail:
    """Run a stored message through the channel again (an admin's "re-run" of quarantined
    or ignored mail). Processed mail is left alone: it already has its ticket."""
    row = InboundEmail.objects.select_for_update().get(pk=inbound_email_id)
    if row.status == Status.PROCESSED:
        return row
    raw = bytes(row.raw)
    try:
        parsed: ParsedEmail | None = parse_email(raw)
        error = ""
    except EmailParseError as parse_error:
        parsed, error = None, str(parse_error)
    logger.info("email <%s> re-run by %s", row.message_id, acting_user or "system")
    _process(row, parsed, error)
    return row


def _process(row: InboundEmail, parsed: ParsedEmail | None, error: str) -> None:
    if parsed is None:
        outcome = _Outcome(Status.QUARANTINED, f"Unreadable message: {error}")
    else:
        try:
            with transaction.atomic():  # a savepoint: a failure undoes only this mail's work
                outcome = _deliver(parsed, size=row.size)
        except Exception as failure:
            logger.exception("email <%s> could not be processed", row.message_id)
            reason = getattr(failure, "messages", None) or [str(failure)]
            outcome = _Outcome(
                Status.QUARANTINED,
                f"Processing failed ({type(failure).__name__}): {'; '.join(map(str, reason))}",
            )
    if outcome.status != Status.PROCESSED:
        logger.warning("email <%s> %s: %s", row.message_id, outcome.status, outcome.reason)
    row.status = outcome.status
    row.reason = outcome.reason
    row.ticket = outcome.ticket
    row.ticket_message = outcome.message
    row.attempts += 1
    row.processed_at = timezone.now()
    row.save(
        update_fields=["status", "reason", "ticket", "ticket_message", "attempts", "processed_at"]
    )


def _is_own_address(address: str) -> bool:
    local, domain = _support_mailbox()
    name, _, host = address.rpartition("@")
    return host == domain and (name == local or name.startswith(f"{local}+"))


def _deliver(parsed: ParsedEmail, *, size: int) -> _Outcome:
    sender = parsed.from_address
    if not sender:
        return _Outcome(Status.QUARANTINED, "The message has no sender address (From).")
    if parsed.auto_reply:
        return _Outcome(
            Status.IGNORED, f"Automatic message ({parsed.auto_reply}): no ticket, no answer."
        )
    if _is_own_address(sender):
        return _Outcome(Status.IGNORED, f"Sent by our own address {sender} (mail loop).")

    token_ticket_id = _verified_token_ticket_id(parsed)
    ticket, how = _thread_ticket(parsed, token_ticket_id)
    attachments, notes = _attachments(parsed.attachments, size=size)

    agent = User.objects.filter(
        email__iexact=sender, role__in=list(STAFF_ROLES), is_active=True
    ).first()
    if agent is not None:
        if ticket is None or token_ticket_id != ticket.pk:
            return _Outcome(
                Status.QUARANTINED,
                f"From the agent address {sender} without a valid reply token for the "
                "ticket: not posted as the agent.",
            )
        message = ticket_reply(
            ticket_id=ticket.pk,
            acting_user=agent,
            body=_body(parsed.reply or parsed.body, notes),
            attachments=attachments,
        )
        return _record(parsed, message, "agent reply")

    contact = contact_get_or_create(email=sender, name=parsed.from_name)
    if ticket is not None and how == "subject tag" and not _may_reply(contact, ticket):
        logger.info(
            "email <%s>: %s is not on ticket #%s, opening a new ticket",
            parsed.message_id,
            sender,
            ticket.pk,
        )
        ticket = None
    if ticket is not None:
        message = ticket_customer_reply(
            ticket_id=ticket.pk,
            contact=contact,
            body=_body(parsed.reply or parsed.body, notes),
            attachments=attachments,
        )
        return _record(parsed, message, f"reply by {how}")
    subject = _SUBJECT_TAG_RE.sub("", parsed.subject).strip() or "(no subject)"
    new_ticket = ticket_create(
        requester=contact,
        subject=subject[:SUBJECT_MAX_LENGTH],
        body=_body(parsed.body, notes),
        channel=Channel.EMAIL,
        attachments=attachments,
    )
    return _record(parsed, new_ticket.messages.order_by("pk").first(), "new ticket")


def _record(parsed: ParsedEmail, message: Message, how: str) -> _Outcome:
    EmailThreadId.objects.bulk_create(
        [
            EmailThreadId(
                message_id=parsed.message_id, ticket_id=message.ticket_id, ticket_message=message
            )
        ],
        ignore_conflicts=True,
    )
    return _Outcome(Status.PROCESSED, how, message.ticket, message)


def _thread_ticket(parsed: ParsedEmail, token_ticket_id: int | None) -> tuple[Ticket | None, str]:
    ticket_id, how = token_ticket_id, "reply token"
    if ticket_id is None and parsed.thread_ids:
        known = {
            row.message_id: row.ticket_id
            for row in EmailThreadId.objects.filter(message_id__in=parsed.thread_ids).only(
                "message_id", "ticket_id"
            )
        }
        ticket_id = next((known[i] for i in parsed.thread_ids if i in known), None)
        how = "thread headers"
    if ticket_id is None:
        match = _SUBJECT_TAG_RE.search(parsed.subject)
        ticket_id, how = (int(match[1]), "subject tag") if match else (None, "")
    if ticket_id is None:
        return None, ""
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is not None and ticket.merged_into_id:
        ticket = Ticket.objects.filter(pk=ticket.merged_into_id).first() or ticket
    return ticket, how


def _may_reply(contact: Contact, ticket: Ticket) -> bool:
    """A subject tag is guessable: only the requester or their account may use it."""
    return contact.pk == ticket.requester_id or (
        contact.account_id is not None and contact.account_id == ticket.account_id
    )


def _body(text: str, notes: Sequence[str]) -> str:
    text = (text or "").strip() or NO_TEXT
    suffix = "".join(f"\n\n[{note}]" for note in notes)
    if len(text) + len(suffix) > BODY_MAX_LENGTH:
        suffix += "\n\n[The email was longer than a ticket message can be: the rest is cut.]"
        text = text[: BODY_MAX_LENGTH - len(suffix)]
    return text + suffix


def _attachments(
    found: Sequence[ParsedAttachment], *, size: int
) -> tuple[list[SimpleUploadedFile], list[str]]:
    """The attachments to store, and a note for each one dropped (never an error: the
    message itself is always kept)."""
    limit = settings.CX_ATTACHMENT_MAX_BYTES
    message_limit = settings.CX_INBOUND_EMAIL_MAX_BYTES
    found = [a for a in found if a.size]
    if size > message_limit and found:
        return [], [
            f"This email was {_size(size)}, over the {_size(message_limit)} limit: its "
            f"{len(found)} attachment(s) were not stored. Support keeps the original."
        ]
    kept, notes = [], []
    for attachment in found:
        if attachment.size > limit:
            notes.append(
                f"Attachment {attachment.filename} ({_size(attachment.size)}) was not stored: "
                f"over the {_size(limit)} limit for attachments."
            )
            continue
        kept.append(
            SimpleUploadedFile(
                attachment.filename or "attachment",
                attachment.content,
                content_type=attachment.content_type,
            )
        )
    return kept, notes


# --- IMAP -------------------------------------------------------------------------------


@dataclass
class FetchResult:
    fetched: int = 0
    failed: int = 0


def _imap_connect(url: str) -> imaplib.IMAP4:
    parts = urlparse(url)
    if parts.scheme not in {"imap", "imaps"}:
        raise ValueError("CX_IMAP_URL must start with imap:// or imaps://")
    if parts.scheme == "imaps":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(parts.hostname or "", parts.port or 993)
    else:
        client = imaplib.IMAP4(parts.hostname or "", parts.port or 143)
    client.login(unquote(parts.username or ""), unquote(parts.password or ""))
    return client


def _fetched_bytes(data: list) -> bytes | None:
    for item in data or []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def mailbox_fetch(
    *,
    url: str | None = None,
    connect: Callable[[str], imaplib.IMAP4] | None = None,
    limit: int = 200,
) -> FetchResult:
    """Ingest the unseen messages of the IMAP mailbox in CX_IMAP_URL.

    Each message in its own transaction; it is flagged \\Seen only after that commits, so
    a crash re-fetches it (and the Message-ID makes the second ingest a no-op). A message
    that fails is logged and left unseen; the ones behind it still run. Returns counts.
    """
    url = settings.CX_IMAP_URL if url is None else url
    result = FetchResult()
    if not url:
        return result
    client = (connect or _imap_connect)(url)
    try:
        mailbox = unquote(urlparse(url).path.strip("/")) or "INBOX"
        client.select(mailbox)
        _, found = client.uid("SEARCH", None, "UNSEEN")
        uids = (found[0] or b"").split()[:limit] if found else []
        for uid in uids:
            try:
                _, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = _fetched_bytes(data)
                if raw is None:
                    raise ValueError(f"IMAP returned no message for UID {uid!r}")
                email_ingest(raw=raw, source="imap")
                client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
                result.fetched += 1
            except Exception:
                logger.exception("IMAP message UID %r could not be ingested", uid)
                result.failed += 1
    finally:
        try:
            client.logout()
        except Exception:
            logger.warning("IMAP logout failed", exc_info=True)
    return result


# --- outbound ---------------------------------------------------------------------------


def _thread_references(ticket_id: int, before: EmailThreadId) -> list[str]:
    ids = list(
        EmailThreadId.objects.filter(ticket_id=ticket_id, pk__lt=before.pk)
        .order_by("pk")
        .values_list("message_id", flat=True)
    )
    # RFC 5322 asks for the first and the latest; long threads keep those and the tail.
    return ids if len(ids) <= 20 else [ids[0], *ids[-19:]]


def _outbound_subject(ticket: Ticket) -> str:
    subject = re.sub(r"^(re|fw|fwd)\s*:\s*", "", ticket.subject, flags=re.I)
    return f"Re: {subject} [#{ticket.number}]"


def _thread_headers(ticket: Ticket, thread_id: EmailThreadId) -> dict[str, str]:
    """Message-ID, In-Reply-To and References of an outgoing mail (its row already stored),
    and a request to auto-responders (Exchange out-of-office and the like) not to answer."""
    headers = {"Message-ID": f"<{thread_id.message_id}>", "X-Auto-Response-Suppress": "All"}
    references = _thread_references(ticket.pk, thread_id)
    if references:
        headers["In-Reply-To"] = f"<{references[-1]}>"
        headers["References"] = " ".join(f"<{i}>" for i in references)
    return headers


def _claim_outbound_id(ticket: Ticket, message_id: str, message: Message | None) -> EmailThreadId:
    """The outgoing mail's Message-ID row, written once and locked while sending: a
    retried or duplicate task waits here for the first to commit, then finds `sent_at`."""
    row = EmailThreadId(message_id=message_id, ticket=ticket, ticket_message=message, outbound=True)
    EmailThreadId.objects.bulk_create([row], ignore_conflicts=True)
    # A reply's row is found by its message (one outbound id each), whatever id it got.
    found = {"ticket_message": message, "outbound": True} if message else {"message_id": message_id}
    return EmailThreadId.objects.select_for_update().get(**found)


@transaction.atomic
def email_reply_send(*, message_id: int) -> bool:
    """Email an agent's public reply to the ticket's requester, threaded: a stored
    Message-ID (with the ticket's reply token), In-Reply-To/References of the thread, the
    ticket number in the subject and a Reply-To carrying the token.

    When the same action set the ticket to pending or solved, the reply's email says so
    (and asks the CSAT question on a ticket's first solve): one email per agent action.

    Idempotent: a reply already sent is not sent again (the outbound row is locked while
    sending). Returns whether a mail went out.
    """
    message = (
        Message.objects.select_related("ticket__requester", "author_user")
        .filter(pk=message_id)
        .first()
    )
    if message is None or not message.public or message.author_user_id is None:
        return False
    ticket = message.ticket
    requester = ticket.requester
    if requester is None or not requester.email:
        return False
    thread_id = _claim_outbound_id(ticket, _outbound_message_id(message), message)
    if thread_id.sent_at is not None:
        return False
    body, html = message.body, message.body_html
    status = _status_set_with(message)
    if status and status == ticket.status:
        note = _status_note(ticket, status)
        body = f"{body}\n\n--\n{note}"
        html = f"{html}\n<hr>\n{linebreaks(urlize(note, autoescape=True))}"
    agent = message.author_user
    mail = EmailMultiAlternatives(
        subject=_outbound_subject(ticket),
        body=body,
        from_email=formataddr((f"{agent.first_name} (Support)", settings.CX_SUPPORT_EMAIL)),
        to=[formataddr((requester.name, requester.email))],
        reply_to=[reply_address(ticket.pk)],
        headers=_thread_headers(ticket, thread_id),
    )
    mail.attach_alternative(html, "text/html")
    sent = get_connection().send_messages([mail])
    thread_id.sent_at = timezone.now()
    thread_id.save(update_fields=["sent_at"])
    return bool(sent)


def email_reply_on_commit(*, message_id: int) -> None:
    """Queue the email of an agent's public reply once the transaction commits."""
    from ..tasks import email_reply_send_task

    transaction.on_commit(lambda: email_reply_send_task.delay(message_id))


# --- status notifications ---------------------------------------------------------------
#
# When an agent sets a ticket to pending ("waiting on you") or solved, the requester hears
# of it by email, once per transition, threaded with the ticket's mail:
#
# - with a public reply in the same action, the reply's email carries the status line (no
#   second email for one action);
# - otherwise (status set from the properties, a bulk change, an internal note) a status
#   notification of its own, keyed by the status-change TicketEvent, goes out; it carries
#   the status line only, never an internal note.
#
# The solved email is the CSAT email too: on a ticket's first solve it asks the CSAT
# question (the CsatRequest row, unique per ticket, is claimed in the sending
# transaction); a later re-solve says "solved" without asking again. No separate CSAT mail.
#
# Never sent: to a requester without an email address, for a ticket that came from an
# automatic message (auto-reply, bounce), for a merged ticket, or when the ticket's status
# moved on before the task ran (a "waiting on you" for a ticket the customer already
# answered would be wrong).

NOTIFIED_STATUSES = (TicketStatus.PENDING, TicketStatus.SOLVED)


def ticket_status_email_on_commit(*, events: Sequence[TicketEvent]) -> None:
    """Called by the ticket services when a change sets the status to pending or solved;
    `events` are the change's events so far, the status change last. Queues the
    notification after commit (a rolled-back change sends nothing)."""
    status_event = events[-1]
    if status_event.field != "status" or status_event.new_value not in NOTIFIED_STATUSES:
        return
    if any(event.kind == EventKind.REPLIED for event in events):
        return  # the public reply's email tells the status (email_reply_send)
    from ..tasks import ticket_status_email_task

    # The event gets its id when the change is saved, before the commit.
    transaction.on_commit(
        lambda: status_event.pk and ticket_status_email_task.delay(status_event.pk)
    )


def _status_set_with(message: Message) -> str:
    """The status (pending or solved) set by the same action as this reply, if any: the
    ticket services stamp a change's message and events with one time."""
    return (
        TicketEvent.objects.filter(
            ticket_id=message.ticket_id,
            kind=EventKind.CHANGED,
            field="status",
            created_at=message.created_at,
            new_value__in=NOTIFIED_STATUSES,
        )
        .order_by("-pk")
        .values_list("new_value", flat=True)
        .first()
        or ""
    )


def _portal_url(ticket: Ticket) -> str:
    return settings.CX_BASE_URL.rstrip("/") + reverse("support:portal-ticket", args=[ticket.pk])


def _status_note(ticket: Ticket, status: str) -> str:
    """What the customer reads about the new status (plain text). Asks the CSAT question on
    a ticket's first solve: call it inside the sending transaction."""
    from .surveys import csat_question_text, csat_request_claim

    if status == TicketStatus.PENDING:
        return (
            f"We are waiting on you: request #{ticket.pk} needs your answer before we can go "
            "on. Reply to this email, or in the portal:\n"
            f"{_portal_url(ticket)}\n"
        )
    days = settings.CX_SOLVED_TICKETS_CLOSE_AFTER_DAYS
    note = (
        f"Request #{ticket.pk} is solved. If something is still not right, reply to this email "
        f"within {days} days and the request reopens.\n"
    )
    if csat_request_claim(ticket=ticket):
        note += f"\n{csat_question_text(ticket)}"
    return note


def _from_automatic_mail(ticket: Ticket) -> str:
    """Why the ticket must not be answered automatically: it was opened by an auto-reply or
    a bounce. The parser already refuses to open tickets for those; this also covers mail
    let through by an admin's re-run or a daemon address entered by hand."""
    address = (ticket.requester.email or "").lower()
    local = address.partition("@")[0]
    if local in {"mailer-daemon", "postmaster"} or re.fullmatch(r"(do-?)?not?-?reply", local):
        return f"the requester {address} is an automatic sender"
    if ticket.channel != Channel.EMAIL:
        return ""
    first = InboundEmail.objects.filter(ticket_id=ticket.pk).order_by("pk").only("raw").first()
    if first is None:
        return ""
    try:
        reason = parse_email(bytes(first.raw)).auto_reply
    except EmailParseError:
        return ""
    return f"it came from an automatic message ({reason})" if reason else ""


@transaction.atomic
def ticket_status_email_send(*, event_id: int) -> bool:
    """Email the requester that an agent set their ticket to pending or solved (see above).

    Idempotent: the notification's Message-ID (cx-status-<event>-<token>@domain) is stored
    once and locked while sending, so a retried or duplicate task sends nothing more; a
    failed send rolls back and the retry reuses the same Message-ID. Returns whether a mail
    went out.
    """
    event = (
        TicketEvent.objects.filter(
            pk=event_id, kind=EventKind.CHANGED, field="status", new_value__in=NOTIFIED_STATUSES
        )
        .only("pk", "ticket_id", "new_value")
        .first()
    )
    if event is None:
        return False
    ticket = Ticket.objects.select_related("requester").filter(pk=event.ticket_id).first()
    if ticket is None or ticket.merged_into_id is not None or ticket.status != event.new_value:
        return False  # gone, merged, or its status moved on before the task ran
    requester = ticket.requester
    if requester is None or not requester.email:
        return False
    automatic = _from_automatic_mail(ticket)
    if automatic:
        logger.info("no status email for ticket #%s: %s", ticket.pk, automatic)
        return False
    _, domain = _support_mailbox()
    message_id = f"cx-status-{event.pk}-{reply_token(ticket.pk)}@{domain or 'localhost'}"
    thread_id = _claim_outbound_id(ticket, message_id, None)
    if thread_id.sent_at is not None:
        return False
    first_name = (requester.name or "").split(" ")[0] or "there"
    body = f"Hi {first_name},\n\n{_status_note(ticket, event.new_value)}"
    if event.new_value == TicketStatus.PENDING:
        last = _last_agent_reply(ticket)
        if last:
            quoted = "\n".join(f"> {line}" for line in last.splitlines())
            body += f"\nOur last message:\n\n{quoted}\n"
    mail = EmailMessage(
        subject=_outbound_subject(ticket),
        body=body,
        from_email=formataddr(("Support", settings.CX_SUPPORT_EMAIL)),
        to=[formataddr((requester.name, requester.email))],
        reply_to=[reply_address(ticket.pk)],
        # Sent by a rule, not a person: auto-responders must not answer it (RFC 3834).
        headers={**_thread_headers(ticket, thread_id), "Auto-Submitted": "auto-generated"},
    )
    sent = get_connection().send_messages([mail])
    thread_id.sent_at = timezone.now()
    thread_id.save(update_fields=["sent_at"])
    return bool(sent)


def _last_agent_reply(ticket: Ticket, limit: int = 2000) -> str:
    """The agent's latest public reply (never an internal note), cut to `limit`."""
    body = (
        Message.objects.filter(ticket_id=ticket.pk, public=True, author_user__isnull=False)
        .order_by("-created_at", "-pk")
        .values_list("body", flat=True)
        .first()
    )
    if not body:
        return ""
    return body if len(body) <= limit else body[:limit].rstrip() + " …"
