"""The email channel's tables: every inbound message as received, and the Message-IDs
that thread mail to tickets."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import Message, Ticket

__all__ = ["EmailThreadId", "InboundEmail"]


class InboundEmail(models.Model):
    """One message delivered to the support mailbox (IMAP or webhook), kept as received.

    `message_id` is the idempotency key: a second delivery of the same Message-ID (even
    at the same moment) finds this row and creates nothing. Mail without a Message-ID gets
    a stable one made from its bytes. `status` says what became of it; quarantined mail
    (unreadable, no sender, a failure while processing) waits for an admin to re-run it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        QUARANTINED = "quarantined", "Quarantined"

    message_id = models.CharField(max_length=500, unique=True)
    source = models.CharField(max_length=20, help_text="imap, webhook, …")
    raw = models.BinaryField(editable=False)
    size = models.PositiveBigIntegerField(default=0)
    from_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=250, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True, help_text="Why it was ignored or quarantined.")
    attempts = models.PositiveSmallIntegerField(default=0)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_emails"
    )
    ticket_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_emails"
    )

    class Meta:
        indexes = [
            # The admin's default list and the quarantine filter.
            models.Index(fields=["status", "-received_at"], name="inbound_email_status"),
            models.Index(fields=["-received_at"], name="inbound_email_received"),
        ]

    def __str__(self) -> str:
        return f"<{self.message_id}> ({self.status})"


class EmailThreadId(models.Model):
    """A Message-ID that belongs to a ticket's thread: one we sent with an agent's reply
    (`outbound`) or one we received. A reply whose In-Reply-To/References names it lands
    on `ticket`. An outbound row is written before sending and `sent_at` set after, so a
    retried send reuses the same Message-ID and a sent one is never sent again."""

    message_id = models.CharField(max_length=500, unique=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="email_ids", db_index=False
    )
    ticket_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="email_ids"
    )
    outbound = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket_message"], condition=Q(outbound=True), name="email_one_outbound_id"
            ),
        ]
        indexes = [
            # The References of the next outgoing reply: a ticket's ids in order.
            models.Index(fields=["ticket", "id"], name="email_thread_ticket"),
        ]

    def __str__(self) -> str:
        return f"<{self.message_id}> on #{self.ticket_id}"
