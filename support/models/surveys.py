"""Survey bookkeeping for support: which solved tickets were sent the CSAT survey."""

from django.db import models
from django.utils import timezone

from accounts.models import Contact

from . import Ticket

__all__ = ["CsatRequest"]


class CsatRequest(models.Model):
    """The CSAT survey email sent to a ticket's requester when the ticket was solved.

    At most one per ticket, ever (the unique ticket is the sent-marker): a re-run of the
    task, a second solve or a reopen-and-solve never emails the customer twice. Their
    link stays valid for `CX_SURVEY_LINK_MAX_AGE_DAYS`, and the portal keeps prompting.
    """

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="csat_request")
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="csat_requests",
        help_text="Who was asked (the requester when the ticket was solved).",
    )
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "CSAT request"

    def __str__(self) -> str:
        return f"CSAT survey for #{self.ticket_id} sent {self.sent_at:%Y-%m-%d %H:%M}"
