"""`manage.py import_history FILE.jsonl`: bring another tool's history over.

One record a line: a ticket with its history (the default), or, named by its `"kind"`, a
CSAT answer, an NPS answer or a revenue event, each at its historical moment (the formats
are in metrics/services/history.py). Shows a progress bar; prints each rejected line to
stderr with its reason and a summary at the end; run it again on the same file to resume
after an interruption (nothing is imported twice).

It lives in metrics because its records reach both support and success."""

from django.core.management.base import BaseCommand, CommandError

from metrics.services.history import record_import
from support.services.imports import history_file_import


class Command(BaseCommand):
    help = (
        "Import history from a JSONL file: one record a line, a ticket with its history or "
        "(by its 'kind') a CSAT answer, an NPS answer or a revenue event."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The JSONL file.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, file: str, no_progress: bool, **options) -> None:
        def rejected(line: int, reason: str) -> None:
            self.stderr.write(f"line {line}: rejected: {reason}")

        try:
            run = history_file_import(
                path=file, importer=record_import, on_rejected=rejected, progress=not no_progress
            )
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        self.stdout.write(
            f"{file}: {run.last_line} line(s) done, {run.imported} record(s) imported, "
            f"{run.rejected_count} rejected."
        )
        for row in run.rejected:
            self.stdout.write(f"  line {row['line']}: {row['reason']}")
        if run.rejected_count > len(run.rejected):
            self.stdout.write(f"  ... and {run.rejected_count - len(run.rejected)} more.")
