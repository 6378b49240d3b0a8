"""`manage.py fetch_mail`: ingest the unseen messages of the support IMAP mailbox."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from support.services.email import mailbox_fetch


class Command(BaseCommand):
    help = "Fetch unseen mail from CX_IMAP_URL and turn it into tickets and replies."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=200, help="At most this many per run.")

    def handle(self, *args, limit: int, **options) -> None:
        if not settings.CX_IMAP_URL:
            raise CommandError("CX_IMAP_URL is not set: there is no mailbox to fetch from.")
        try:
            result = mailbox_fetch(limit=limit)
        except (OSError, ValueError) as error:  # imaplib.IMAP4.error is an Exception too
            raise CommandError(f"Could not read the mailbox: {error}") from error
        self.stdout.write(f"Fetched {result.fetched} message(s); {result.failed} failed.")
