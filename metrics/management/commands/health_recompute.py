"""manage.py health_recompute [--day YYYY-MM-DD] [--chunk-size N]: the nightly health run,
by hand (e.g. after changing the health model, or to rebuild a day)."""

import datetime
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from metrics.selectors.health import health_accounts_count
from metrics.services.health import health_recompute_all


def _day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--day {text!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "Recompute every (not churned) account's health score for a day (default: today)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", help="The local day to score, YYYY-MM-DD (default: today).")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, day: str | None, chunk_size: int, **options) -> None:
        when = _day(day) if day else timezone.localdate()
        if when > timezone.localdate():
            raise CommandError(f"--day {when.isoformat()} is in the future.")
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        show = self.stdout.isatty() or options.get("verbosity", 1) > 1
        started = time.monotonic()
        with tqdm(
            total=health_accounts_count(), desc="health", unit=" accounts", disable=not show
        ) as bar:
            scored = health_recompute_all(day=when, chunk_size=chunk_size, progress=bar.update)
        if not scored and health_accounts_count():
            self.stdout.write("Another health run is in progress: nothing done.")
            return
        self.stdout.write(
            f"Scored {scored:,} accounts for {when.isoformat()} "
            f"in {time.monotonic() - started:.1f} s."
        )
