"""The progress of a bulk history import (`manage.py import_history FILE.jsonl`)."""

from django.db import models
from django.utils import timezone

__all__ = ["ImportRun"]


class ImportRun(models.Model):
    """One file's import, keyed by the SHA-256 of its content: a re-run of the same file
    resumes after `last_line` (committed with each line's tickets, so a line is either in
    and counted, or not and retried)."""

    sha256 = models.CharField(max_length=64, unique=True)
    filename = models.CharField(max_length=500)
    last_line = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # [{"line": 12, "reason": "..."}] in line order (the first MAX_REJECTED_KEPT of them).
    rejected = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    MAX_REJECTED_KEPT = 1000

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]}): line {self.last_line}"
