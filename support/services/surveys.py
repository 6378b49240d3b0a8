"""CSAT surveys: the one email a requester gets when their ticket is solved, and recording
their answer (a re-rating replaces the earlier one)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from accounts.models import Contact

from ..choices import Status
from ..models import CsatRequest, CsatResponse, Ticket
from ..selectors.surveys import csat_url

__all__ = ["SurveyError", "csat_request_on_solve", "csat_request_send", "csat_response_record"]

RATING_LABELS = {
    5: "Very satisfied",
    4: "Satisfied",
    3: "Neutral",
    2: "Dissatisfied",
    1: "Very dissatisfied",
}


class SurveyError(Exception):
    """A survey answer that cannot be recorded (its ticket is gone)."""


def csat_request_on_solve(*, ticket_id: int) -> None:
    """Queue the CSAT email for a ticket that is being solved, once the transaction commits
    (a rolled-back solve sends nothing)."""
    from ..tasks import csat_request_task

    transaction.on_commit(lambda: csat_request_task.delay(ticket_id))


def _csat_email(ticket: Ticket) -> EmailMessage:
    contact = ticket.requester
    first_name = (contact.name or "").split(" ")[0] or "there"
    choices = "\n".join(
        f"  {n} - {label}: {csat_url(ticket_id=ticket.pk, contact_id=contact.pk, rating=n)}"
        for n, label in RATING_LABELS.items()
    )
    body = (
        f"Hi {first_name},\n\n"
        f"Your request #{ticket.pk} “{ticket.subject}” was solved.\n\n"
        "How would you rate the support you received?\n\n"
        f"{choices}\n\n"
        "You can add a comment on the next page. The link works for "
        f"{settings.CX_SURVEY_LINK_MAX_AGE_DAYS} days; you can change your answer until then.\n"
    )
    return EmailMessage(
        subject=f"[#{ticket.pk}] How did we do? {ticket.subject}",
        body=body,
        to=[contact.email],
        # An automatic message: auto-responders must not answer it (RFC 3834).
        headers={"Auto-Submitted": "auto-generated"},
    )


def csat_request_send(*, ticket_id: int) -> bool:
    """Email the requester of a solved ticket the CSAT survey, unless it was already sent.

    The `CsatRequest` row (unique per ticket) is the marker: it is written in the same
    transaction that sends, so a failed send leaves no marker (the task retries) and a
    re-run, a duplicate task or a later re-solve finds it and sends nothing.
    """
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_related("requester")
            .filter(pk=ticket_id, status=Status.SOLVED, merged_into__isnull=True)
            .first()
        )
        if ticket is None or not ticket.requester.email:
            return False  # reopened (or gone) before the task ran: nothing to ask about
        _, created = CsatRequest.objects.get_or_create(
            ticket=ticket, defaults={"contact": ticket.requester, "sent_at": timezone.now()}
        )
        if not created:
            return False
        return bool(get_connection().send_messages([_csat_email(ticket)]))


@transaction.atomic
def csat_response_record(
    *, ticket_id: int, contact_id: int | None, rating: int, ces: int | None, comment: str
) -> CsatResponse:
    """Record a customer's CSAT answer to a ticket (from a signed survey link): insert, or
    replace the earlier answer (one row per ticket; the latest answer counts).

    No `acting_user`: the customer answers without signing in; the signed link names them.
    """
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
        responded_at=timezone.now(),
    )
    response.clean_fields(exclude=["ticket", "account", "contact"])
    # One statement, safe against a double submit: INSERT ... ON CONFLICT (ticket) DO UPDATE.
    CsatResponse.objects.bulk_create(
        [response],
        update_conflicts=True,
        unique_fields=["ticket"],
        update_fields=["account", "contact", "rating", "ces", "comment", "responded_at"],
    )
    return response
