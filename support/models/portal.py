"""The customer portal's own rows: magic sign-in links and knowledge-base deflections."""

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Contact

__all__ = ["DEFLECTION_WINDOW", "LOGIN_LINK_LIFETIME", "PortalDeflection", "PortalLoginToken"]

LOGIN_LINK_LIFETIME = timedelta(minutes=15)
# An opened suggestion followed by no ticket within this long counts as a deflection.
DEFLECTION_WINDOW = timedelta(minutes=30)


class PortalLoginToken(models.Model):
    """A one-time sign-in link sent to a contact's email address.

    Only a SHA-256 hash of the token is stored, so a copy of the table signs nobody in. The
    link is spent by a conditional update (`used_at IS NULL AND expires_at > now`), so two
    clicks racing each other sign in once.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="login_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Spending one link voids the contact's other unused ones.
            models.Index(
                fields=["contact"], name="portal_token_unused", condition=Q(used_at__isnull=True)
            ),
            # For purging old rows.
            models.Index(fields=["expires_at"], name="portal_token_expires"),
        ]

    def __str__(self) -> str:
        return f"Sign-in link for contact {self.contact_id}"


class PortalDeflection(models.Model):
    """A knowledge-base article a contact opened from the suggestions shown while writing a
    new ticket. `ticket` is set when they submit the ticket anyway (within the window); a row
    still without a ticket once the window has passed is a deflection.

    `article_id` is the KB article's id, kept as a plain id rather than a foreign key so the
    portal's table does not depend on the knowledge base's migrations (both are built in
    parallel); a deleted article leaves its deflection counted.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deflections")
    article_id = models.BigIntegerField()
    opened_at = models.DateTimeField(default=timezone.now)
    ticket = models.ForeignKey(
        "support.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deflections",
    )

    class Meta:
        indexes = [
            # The rows a submission claims: this contact's recent ones still without a ticket.
            models.Index(
                fields=["contact", "-opened_at"],
                name="deflection_contact_open",
                condition=Q(ticket__isnull=True),
            ),
            models.Index(fields=["opened_at"], name="deflection_opened"),
            models.Index(fields=["article_id", "opened_at"], name="deflection_article"),
        ]

    def __str__(self) -> str:
        return f"Contact {self.contact_id} opened article {self.article_id}"
