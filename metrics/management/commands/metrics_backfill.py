"""manage.py metrics_backfill --from 2025-01-01 [--to 2025-12-31] [--metrics csat,nps]:
rebuild the daily metric snapshots of a range of days from the raw data (oldest first)."""

import datetime
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from metrics import catalogue
from metrics.services.snapshots import snapshots_compute_day


def _day(option: str, text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "Rebuild the daily metric snapshots of a range of days (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", help="Last day, YYYY-MM-DD (default: today).")
        parser.add_argument(
            "--metrics", help="Comma-separated metric names (default: every catalogue metric)."
        )

    def handle(self, *args, start: str, end: str | None, metrics: str | None, **options):
        today = timezone.localdate()
        first = _day("--from", start)
        last = _day("--to", end) if end else today
        if first > last:
            raise CommandError(
                f"--from {first.isoformat()} is after --to {last.isoformat()}: nothing to do."
            )
        if last > today:
            raise CommandError(f"--to {last.isoformat()} is in the future (today: {today}).")
        names = None
        if metrics is not None:
            names = [name.strip() for name in metrics.split(",") if name.strip()]
            unknown = [name for name in names if name not in catalogue.METRICS]
            if unknown or not names:
                raise CommandError(
                    f"Unknown metric(s): {', '.join(unknown) or '(none given)'}. "
                    f"Known: {', '.join(catalogue.METRICS)}."
                )
        days = (last - first).days + 1
        show = self.stdout.isatty() or options.get("verbosity", 1) > 1
        started = time.monotonic()
        written = 0
        with tqdm(total=days, desc="snapshots", unit=" days", disable=not show) as bar:
            for offset in range(days):
                day = first + datetime.timedelta(days=offset)
                written += snapshots_compute_day(day=day, metrics=names)
                bar.set_postfix(day=day.isoformat(), rows=f"{written:,}", refresh=False)
                bar.update(1)
        self.stdout.write(
            f"Snapshots of {days:,} day(s) {first.isoformat()}..{last.isoformat()}: "
            f"{written:,} rows written in {time.monotonic() - started:.1f} s."
        )
