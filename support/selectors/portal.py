"""Reads of the customer portal. Every portal page goes through `portal_tickets`: it is the
one place that decides which tickets a contact may see (their own; an account admin also
their account's), and what of a ticket reaches them (public messages only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import Contact

from ..choices import UNSOLVED, Status
from ..models import Attachment, CsatResponse, Message, PortalDeflection, Ticket
from ..models.portal import DEFLECTION_WINDOW
from . import Page, paginate

PORTAL_PAGE_SIZE = 25
# What the portal's status filter means to a customer.
STATUS_FILTERS = {
    "open": [s.value for s in UNSOLVED],
    "solved": [Status.SOLVED.value, Status.CLOSED.value],
}
# The columns a ticket row in the portal needs: nothing about SLAs, tags or teams.
_TICKET_COLUMNS = (
    "pk",
    "subject",
    "status",
    "requester_id",
    "account_id",
    "assignee_id",
    "created_at",
    "updated_at",
    "solved_at",
    "merged_into",
    "requester__name",
    "requester__email",
    "assignee__full_name",
    "assignee__email",
)


def portal_tickets(*, contact: Contact, status: str | None = None) -> QuerySet[Ticket]:
    """The tickets `contact` may see in the portal, newest first."""
    scope = Q(requester_id=contact.pk)
    if contact.is_account_admin and contact.account_id is not None:
        scope |= Q(account_id=contact.account_id)
    qs = Ticket.objects.filter(scope)
    if status in STATUS_FILTERS:
        qs = qs.filter(status__in=STATUS_FILTERS[status])
    return (
        qs.select_related("requester", "assignee")
        .only(*_TICKET_COLUMNS)
        .order_by("-created_at", "-pk")
    )


def portal_ticket_page(
    *, contact: Contact, status: str | None = None, cursor: str | None = None
) -> Page:
    """One page of the contact's tickets (keyset; raises selectors.BadCursor)."""
    return paginate(
        portal_tickets(contact=contact, status=status),
        columns=("created_at",),
        descending=True,
        cursor=cursor,
        size=PORTAL_PAGE_SIZE,
    )


def portal_ticket_counts(*, contact: Contact) -> dict[str, int]:
    """How many of the contact's tickets each status filter shows (one query)."""
    return (
        portal_tickets(contact=contact)
        .order_by()
        .aggregate(
            open=Count("pk", filter=Q(status__in=STATUS_FILTERS["open"])),
            solved=Count("pk", filter=Q(status__in=STATUS_FILTERS["solved"])),
        )
    )


def portal_ticket(*, contact: Contact, number: int) -> Ticket:
    """One of the contact's tickets with its public thread (`ticket.public_messages`) and
    whether it was rated (`ticket.csat_rated`), or Http404 — the same answer whether the
    ticket does not exist or is someone else's."""
    ticket = (
        portal_tickets(contact=contact)
        .prefetch_related(
            Prefetch(
                "messages",
                queryset=Message.objects.filter(public=True)
                .select_related("author_user", "author_contact")
                .only(
                    "pk",
                    "ticket_id",
                    "public",
                    "body_html",
                    "created_at",
                    "author_user_id",
                    "author_contact_id",
                    "author_user__full_name",
                    "author_user__email",
                    "author_contact__name",
                    "author_contact__email",
                )
                .prefetch_related(
                    Prefetch(
                        "attachments",
                        queryset=Attachment.objects.only(
                            "pk", "message_id", "filename", "size"
                        ).order_by("pk"),
                    )
                )
                .order_by("created_at", "pk"),
                to_attr="public_messages",
            )
        )
        # For the "rate this ticket" prompt (selectors.surveys.csat_prompt_for_ticket).
        .annotate(csat_rated=Exists(CsatResponse.objects.filter(ticket_id=OuterRef("pk"))))
        .filter(pk=number)
        .first()
    )
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def portal_attachment(*, contact: Contact, pk: int) -> Attachment:
    """An attachment of a public message on one of the contact's tickets, or Http404."""
    attachment = (
        Attachment.objects.filter(
            pk=pk,
            message__public=True,
            message__ticket__in=portal_tickets(contact=contact).values("pk"),
        )
        .only("pk", "file", "filename")
        .first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


# --- deflection -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeflectionStats:
    opened: int  # suggestions opened (whose window has passed)
    deflected: int  # ... after which no ticket came within the window
    submitted: int  # ... after which the contact submitted a ticket anyway

    @property
    def rate(self) -> float | None:
        return self.deflected / self.opened if self.opened else None


def portal_deflection_stats(
    *, since: datetime | None = None, now: datetime | None = None
) -> DeflectionStats:
    """Suggested articles opened since `since` and what came of them. A suggestion counts
    only once its window (DEFLECTION_WINDOW) has passed: until then the
    customer may still submit."""
    now = now or timezone.now()
    qs = PortalDeflection.objects.filter(opened_at__lte=now - DEFLECTION_WINDOW)
    if since is not None:
        qs = qs.filter(opened_at__gte=since)
    counts = qs.aggregate(
        opened=Count("pk"),
        deflected=Count("pk", filter=Q(ticket__isnull=True)),
    )
    return DeflectionStats(
        opened=counts["opened"],
        deflected=counts["deflected"],
        submitted=counts["opened"] - counts["deflected"],
    )
