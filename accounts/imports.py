"""What every app's history import shares: the rejection it raises and the checks of a
record's fields.

A history record (a line of `manage.py import_history`'s JSONL file, dispatched on its
`kind` by metrics/services/history.py) is imported by a function next to the service it
replays: support's tickets and CSAT answers, success's NPS answers and revenue events.
Support and success may not import each other, so what they share lives here, at the bottom
layer, and every kind words its reasons the same way ("score: ...", "unknown fields: ...").
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

# Ids and ticket numbers are PostgreSQL bigints: a larger number would be a database error.
MAX_ID = 2**63 - 1


class ImportRejected(Exception):
    """A record that cannot be imported; the message says why (for the report)."""


def import_fields_check(record: object, *, allowed: set[str], what: str, where: str = "") -> dict:
    """The record as a dict, or rejected when it is not a JSON object or has a field that
    is not in `allowed` (a typo must not be silently dropped). `where` prefixes the
    reason for a part of a record ("history[2]: ")."""
    if not isinstance(record, dict):
        raise ImportRejected(f"{what} must be a JSON object.")
    unknown = sorted(set(record) - allowed)
    if unknown:
        raise ImportRejected(f"{where}unknown fields: {', '.join(unknown)}.")
    return record


def import_integer(
    record: dict, name: str, *, minimum: int, maximum: int, required: bool = True
) -> int | None:
    """A whole number from `minimum` to `maximum` (None when absent or null and not
    required); JSON's true/false and "5" are refused."""
    value = record.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        bounds = f"from {minimum} to {maximum}" if maximum < MAX_ID else f"of at least {minimum}"
        raise ImportRejected(f"{name}: a whole number {bounds} (got {value!r}).")
    return value


def import_text(record: dict, name: str, *, required: bool = False) -> str:
    """A string field; when not required, absent or null is ""."""
    value = record.get(name)
    if required:
        if not isinstance(value, str) or not value.strip():
            raise ImportRejected(f"{name}: required, a non-empty string.")
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImportRejected(f"{name}: a string (got {value!r}).")
    return value


def import_parse_moment(raw: object, where: str) -> datetime:
    """An ISO 8601 date-time; without a time zone it is UTC. Rejected naming `where`."""
    try:
        value = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:  # well formed but impossible, like month 13
        value = None
    if value is None:
        raise ImportRejected(f"{where}: give an ISO 8601 date-time (got {raw!r}).")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def import_moment(record: dict, name: str, *, now: datetime) -> datetime:
    """An ISO 8601 date-time, not after `now` (history happened). Without a time zone it is
    UTC, as in the ticket records."""
    raw = record.get(name)
    value = import_parse_moment(raw, name)
    if value > now:
        raise ImportRejected(f"{name}: {raw} is in the future.")
    return value


def import_date(record: dict, name: str, *, now: datetime) -> date:
    """An ISO 8601 date (YYYY-MM-DD), not after today (in the site's time zone)."""
    raw = record.get(name)
    try:
        value = parse_date(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None:
        raise ImportRejected(f"{name}: give a date as YYYY-MM-DD (got {raw!r}).")
    if value > timezone.localdate(now):
        raise ImportRejected(f"{name}: {raw} is in the future.")
    return value


@contextmanager
def import_rejections(*errors: type[Exception]) -> Iterator[None]:
    """Report a service's ValidationError (or one of `errors`) as an ImportRejected, so the
    rules of live use hold for imports too and their reasons reach the report."""
    try:
        yield
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            reasons = [
                f"{field}: {message}" if field != "__all__" else message
                for field, messages in error.message_dict.items()
                for message in messages
            ]
        else:
            reasons = error.messages
        raise ImportRejected("; ".join(reasons)) from None
    except errors as error:
        raise ImportRejected(str(error)) from None
