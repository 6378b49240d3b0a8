"""Reads for CSAT surveys: signed survey links, the survey page's ticket, the rating an
agent sees on the ticket page and the portal's "rate your solved tickets" prompt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from accounts.models import Contact

from ..choices import Status
from ..models import CsatRequest, CsatResponse, Ticket

__all__ = [
    "CsatLink",
    "CsatPrompt",
    "SurveyLinkExpired",
    "SurveyLinkInvalid",
    "csat_for_ticket",
    "csat_link_read",
    "csat_pending_for_contact",
    "csat_prompt_for_ticket",
    "csat_request_for_ticket",
    "csat_survey_ticket",
    "csat_token_make",
    "csat_url",
]

CSAT_SALT = "csat"
# Tickets solved this recently, and not yet rated, are offered in the portal.
CSAT_PROMPT_DAYS = 14


class SurveyLinkInvalid(Exception):
    """The link was altered or is not one of ours."""


class SurveyLinkExpired(SurveyLinkInvalid):
    """The link was ours but is older than CX_SURVEY_LINK_MAX_AGE_DAYS."""


@dataclass(frozen=True)
class CsatLink:
    ticket_id: int
    contact_id: int


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=CSAT_SALT)


def csat_token_make(*, ticket_id: int, contact_id: int) -> str:
    """A signed, timestamped token naming one ticket and the person asked to rate it."""
    return _signer().sign_object({"t": ticket_id, "c": contact_id}, compress=False)


def csat_url(*, ticket_id: int, contact_id: int, rating: int | None = None) -> str:
    """The survey page's absolute URL (for emails), optionally with a rating preselected."""
    token = csat_token_make(ticket_id=ticket_id, contact_id=contact_id)
    url = settings.CX_BASE_URL.rstrip("/") + reverse("csat-survey", args=[token])
    return f"{url}?rating={rating}" if rating is not None else url


def csat_link_read(token: str) -> CsatLink:
    """What a token names; `SurveyLinkExpired` or `SurveyLinkInvalid` when it cannot be used."""
    max_age = timedelta(days=settings.CX_SURVEY_LINK_MAX_AGE_DAYS)
    try:
        payload = _signer().unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise SurveyLinkExpired from None
    except (signing.BadSignature, ValueError, UnicodeError):
        raise SurveyLinkInvalid from None
    try:
        return CsatLink(ticket_id=int(payload["t"]), contact_id=int(payload["c"]))
    except (KeyError, TypeError, ValueError):
        raise SurveyLinkInvalid from None


def csat_survey_ticket(*, ticket_id: int) -> Ticket | None:
    """The ticket a survey link rates, with its current rating (if any), in one query."""
    return (
        Ticket.objects.select_related("csat_response")
        .filter(pk=ticket_id, merged_into__isnull=True)
        .first()
    )


def csat_for_ticket(*, ticket: Ticket) -> CsatResponse | None:
    """The ticket's CSAT answer; free when the ticket was loaded with
    `select_related("csat_response")` (as `selectors.ticket_detail` does), else one query."""
    try:
        return ticket.csat_response
    except CsatResponse.DoesNotExist:
        return None


def csat_request_for_ticket(*, ticket: Ticket) -> CsatRequest | None:
    """When the ticket's CSAT survey was emailed (free after `select_related("csat_request")`)."""
    try:
        return ticket.csat_request
    except CsatRequest.DoesNotExist:
        return None


@dataclass(frozen=True)
class CsatPrompt:
    ticket: Ticket
    url: str


def csat_pending_for_contact(
    *, contact: Contact, now: datetime | None = None, limit: int = 5
) -> list[CsatPrompt]:
    """The contact's tickets solved in the last 14 days that they have not rated yet, newest
    first, each with its survey link (for the portal's prompt). One query."""
    now = now or timezone.now()
    tickets = (
        Ticket.objects.filter(
            requester=contact,
            status__in=[Status.SOLVED, Status.CLOSED],
            merged_into__isnull=True,
            solved_at__gte=now - timedelta(days=CSAT_PROMPT_DAYS),
            csat_response__isnull=True,
        )
        .only("pk", "subject", "status", "solved_at")
        .order_by("-solved_at", "-pk")[:limit]
    )
    return [
        CsatPrompt(ticket=t, url=csat_url(ticket_id=t.pk, contact_id=contact.pk)) for t in tickets
    ]


def csat_prompt_for_ticket(
    *, contact: Contact, ticket: Ticket, now: datetime | None = None
) -> CsatPrompt | None:
    """The rating prompt on one ticket's portal page: for its requester only (the link
    names them), once it is solved (in the last 14 days), and while it has no rating.

    Free when the ticket carries `csat_rated` (`selectors.portal.portal_ticket` annotates
    it); otherwise one query.
    """
    now = now or timezone.now()
    if (
        ticket.requester_id != contact.pk
        or ticket.status not in (Status.SOLVED, Status.CLOSED)
        or ticket.merged_into_id is not None
        or ticket.solved_at is None
        or ticket.solved_at < now - timedelta(days=CSAT_PROMPT_DAYS)
    ):
        return None
    rated = getattr(ticket, "csat_rated", None)
    if rated is None:
        rated = CsatResponse.objects.filter(ticket_id=ticket.pk).exists()
    if rated:
        return None
    return CsatPrompt(ticket=ticket, url=csat_url(ticket_id=ticket.pk, contact_id=contact.pk))
