"""CSAT surveys: the question a requester gets (once per ticket) in the email telling them
their ticket is solved, and recording their answer (a re-rating replaces the earlier one)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from accounts.imports import (
    MAX_ID,
    ImportRejected,
    import_fields_check,
    import_integer,
    import_moment,
    import_rejections,
    import_text,
)
from accounts.models import Contact
from accounts.services import account_activity_announce
from accounts.webhooks import webhook_event_publish

from ..choices import Status
from ..models import CsatRequest, CsatResponse, Ticket
from ..selectors.surveys import csat_url

__all__ = [
    "SurveyError",
    "csat_history_import",
    "csat_question_text",
    "csat_request_claim",
    "csat_request_send",
    "csat_response_record",
]

RATING_LABELS = {
    5: "Very satisfied",
    4: "Satisfied",
    3: "Neutral",
    2: "Dissatisfied",
    1: "Very dissatisfied",
}


class SurveyError(Exception):
    """A survey answer that cannot be recorded (its ticket is gone)."""


# A solve does not queue a mail of its own here: the requester's one "solved" email (sent
# by the email channel, threaded with the ticket's mail) carries the CSAT question the
# first time the ticket is solved, claimed with `csat_request_claim` in the transaction that
# sends it. See services/email.py, "status notifications".


def csat_question_text(ticket: Ticket) -> str:
    """The CSAT question with one signed link per rating, for a plain-text email."""
    contact = ticket.requester
    choices = "\n".join(
        f"  {n} - {label}: {csat_url(ticket_id=ticket.pk, contact_id=contact.pk, rating=n)}"
        for n, label in RATING_LABELS.items()
    )
    return (
        "How would you rate the support you received?\n\n"
        f"{choices}\n\n"
        "You can add a comment on the next page. The link works for "
        f"{settings.CX_SURVEY_LINK_MAX_AGE_DAYS} days; you can change your answer until then.\n"
    )


def csat_request_claim(*, ticket: Ticket) -> bool:
    """Mark the ticket's CSAT survey as sent; False when it already was (at most once per
    ticket, ever). Call it in the transaction that sends the email: a failed send rolls the
    marker back and the retry asks again. A concurrent claim waits on the unique ticket."""
    _, created = CsatRequest.objects.get_or_create(
        ticket=ticket, defaults={"contact": ticket.requester, "sent_at": timezone.now()}
    )
    return created


def _csat_email(ticket: Ticket) -> EmailMessage:
    contact = ticket.requester
    first_name = (contact.name or "").split(" ")[0] or "there"
    body = (
        f"Hi {first_name},\n\n"
        f"Your request #{ticket.pk} “{ticket.subject}” was solved.\n\n"
        f"{csat_question_text(ticket)}"
    )
    return EmailMessage(
        subject=f"[#{ticket.pk}] How did we do? {ticket.subject}",
        body=body,
        to=[contact.email],
        # An automatic message: auto-responders must not answer it (RFC 3834).
        headers={"Auto-Submitted": "auto-generated"},
    )


def csat_request_send(*, ticket_id: int) -> bool:
    """Email the requester of a solved ticket the CSAT survey on its own, unless it was
    already sent (with the solved notification or by an earlier run).

    Solving no longer queues this (the solved notification asks the question); it serves
    `csat_request_task` runs queued before that change and a manual re-send.
    """
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_related("requester")
            .filter(pk=ticket_id, status=Status.SOLVED, merged_into__isnull=True)
            .first()
        )
        if ticket is None or not ticket.requester.email:
            return False  # reopened (or gone) before the task ran: nothing to ask about
        if not csat_request_claim(ticket=ticket):
            return False
        return bool(get_connection().send_messages([_csat_email(ticket)]))


@transaction.atomic
def csat_response_record(
    *,
    ticket_id: int,
    contact_id: int | None,
    rating: int,
    ces: int | None,
    comment: str,
    responded_at: datetime | None = None,
) -> CsatResponse:
    """Record a customer's CSAT answer to a ticket (from a signed survey link): insert, or
    replace the earlier answer (one row per ticket; the latest answer counts).

    `responded_at` is when they answered: now by default; an answer collected by another
    tool (the API with the `import` scope, a history import) keeps its own moment, so the
    CSAT of the period it was given counts it. Never in the future, never without a zone.

    No `acting_user`: the customer answers without signing in; the signed link names them.
    """
    now = timezone.now()
    if responded_at is None:
        responded_at = now
    elif timezone.is_naive(responded_at):
        raise ValidationError({"submitted_at": "Give the time with its time zone."})
    elif responded_at > now:
        raise ValidationError({"submitted_at": "An answer cannot be submitted in the future."})
    ticket = Ticket.objects.filter(pk=ticket_id).values("account_id").first()
    if ticket is None:
        raise SurveyError("This ticket no longer exists.")
    if contact_id is not None and not Contact.objects.filter(pk=contact_id).exists():
        contact_id = None
    response = CsatResponse(
        ticket_id=ticket_id,
        account_id=ticket["account_id"],
        contact_id=contact_id,
        rating=rating,
        ces=ces,
        comment=comment.strip(),
        responded_at=responded_at,
    )
    response.clean_fields(exclude=["ticket", "account", "contact"])
    # One statement, safe against a double submit: INSERT ... ON CONFLICT (ticket) DO UPDATE.
    CsatResponse.objects.bulk_create(
        [response],
        update_conflicts=True,
        unique_fields=["ticket"],
        update_fields=["account", "contact", "rating", "ces", "comment", "responded_at"],
    )
    account_activity_announce(account_id=ticket["account_id"], reason="csat")
    webhook_event_publish(
        event_type="survey.response",
        resource=lambda: {
            "survey": "csat",
            "ticket": ticket_id,
            "account": ticket["account_id"],
            "contact": contact_id,
            "rating": rating,
            "ces": ces,
            "comment": response.comment,
            "responded_at": response.responded_at,
        },
    )
    return response


CSAT_IMPORT_FIELDS = {"ticket", "ticket_external_id", "score", "ces", "comment", "submitted_at"}


@transaction.atomic
def csat_history_import(*, record: object, now: datetime | None = None) -> CsatResponse:
    """Import one CSAT answer collected by another tool (a `"kind": "csat"` line of
    `manage.py import_history`'s file, its `kind` already removed):

        {"ticket": 1042, "score": 4, "ces": 6, "comment": "Quick", "submitted_at": "..."}

    The ticket is named by exactly one of `ticket` (our number) and `ticket_external_id`
    (its id in the system it was imported from: the `external_id` of a ticket record, so a
    file can import tickets and their ratings together; support/services/imports.py).
    `score` 1-5, `ces` 1-7 or null, `comment` optional, `submitted_at` ISO 8601 and not in
    the future. It is the ticket requester's answer and, like a live re-rating, replaces the
    ticket's earlier one. ImportRejected says why a record cannot be imported."""
    record = import_fields_check(record, allowed=CSAT_IMPORT_FIELDS, what="A CSAT answer")
    ticket = _csat_import_ticket(record)
    rating = import_integer(record, "score", minimum=1, maximum=5)
    ces = import_integer(record, "ces", minimum=1, maximum=7, required=False)
    comment = import_text(record, "comment")
    responded_at = import_moment(record, "submitted_at", now=now or timezone.now())
    with import_rejections(SurveyError):
        return csat_response_record(
            ticket_id=ticket["pk"],
            contact_id=ticket["requester_id"],
            rating=rating,
            ces=ces,
            comment=comment,
            responded_at=responded_at,
        )


def _csat_import_ticket(record: dict) -> dict:
    """The imported answer's ticket (its pk and requester_id), by our number or by the id
    it was imported with."""
    by_number = record.get("ticket") is not None
    if by_number == (record.get("ticket_external_id") is not None):
        raise ImportRejected(
            "Name the ticket by exactly one of ticket (its number here) and "
            "ticket_external_id (its id in the system it was imported from)."
        )
    if by_number:
        number = import_integer(record, "ticket", minimum=1, maximum=MAX_ID)
        ticket = Ticket.objects.filter(pk=number).values("pk", "requester_id").first()
        if ticket is None:
            raise ImportRejected(f"ticket: no ticket has the number {number}.")
        return ticket
    external_id = import_text(record, "ticket_external_id", required=True)
    ticket = Ticket.objects.filter(external_id=external_id).values("pk", "requester_id").first()
    if ticket is None:
        raise ImportRejected(
            f"ticket_external_id: no ticket was imported with the id {external_id!r}."
        )
    return ticket
