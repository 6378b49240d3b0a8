"""`manage.py import_history FILE.jsonl`: bring another help desk's tickets over.

One ticket a line (the record format is in support/services/imports.py). Shows a progress
bar; prints each rejected line to stderr with its reason and a summary at the end; run it
again on the same file to resume after an interruption (nothing is imported twice)."""

from django.core.management.base import BaseCommand, CommandError

from support.services.imports import history_file_import


class Command(BaseCommand):
    help = "Import ticket history from a JSONL file (one ticket with its history a line)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The JSONL file.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, file: str, no_progress: bool, **options) -> None:
        def rejected(line: int, reason: str) -> None:
            self.stderr.write(f"line {line}: rejected: {reason}")

        try:
            run = history_file_import(path=file, on_rejected=rejected, progress=not no_progress)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        self.stdout.write(
            f"{file}: {run.last_line} line(s) done, {run.imported} ticket(s) imported, "
            f"{run.rejected_count} rejected."
        )
        for row in run.rejected:
            self.stdout.write(f"  line {row['line']}: {row['reason']}")
        if run.rejected_count > len(run.rejected):
            self.stdout.write(f"  ... and {run.rejected_count - len(run.rejected)} more.")
