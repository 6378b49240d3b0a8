"""History import of every kind: one record (a line of `manage.py import_history`'s JSONL
file) goes to the import function of its `"kind"`, next to the service it replays.

    kind            fields (besides "kind")                        imported by
    "ticket"        the ticket record (support/services/imports.py) support ticket_import
    (the default)
    "csat"          ticket (number) or ticket_external_id (the     support csat_history_import
                    ticket record's external_id), score 1-5, ces
                    1-7 or null, comment, submitted_at (ISO 8601)
    "nps"           contact (email), score 0-10, comment,          success nps_history_import
                    submitted_at (ISO 8601)
    "revenue_event" account (id), event (new, expansion,           success
                    contraction, churn, reactivation), mrr_delta   revenue_event_history_import
                    ("123.45"), effective_date (YYYY-MM-DD), reason

For example:

    {"kind": "csat", "ticket": 1042, "score": 4, "ces": null, "comment": "",
     "submitted_at": "2026-03-02T10:00:00Z"}
    {"kind": "csat", "ticket_external_id": "ZD-48213", "score": 5, "ces": 6, "comment": "",
     "submitted_at": "2026-03-03T10:00:00Z"}
    {"kind": "nps", "contact": "dana@acme.example", "score": 9, "comment": "Great",
     "submitted_at": "2026-03-02T10:00:00Z"}
    {"kind": "revenue_event", "account": 12, "event": "churn", "mrr_delta": "-99.00",
     "effective_date": "2026-03-01", "reason": "Budget cut"}

Each answer or event keeps its historical moment (CSAT's and NPS's responded_at, the revenue
event's date), so the metrics of the period it happened in count it. Unknown fields, bad
values, unknown tickets, contacts or accounts and moments in the future are rejected with
the reason (ImportRejected); so is a ticket whose external_id was already imported (from
this file or another: export files may overlap). A CSAT line naming its ticket by
ticket_external_id must come after that ticket's line. The dispatcher lives here because
support and success may not import each other, and metrics may import both.
"""

from collections.abc import Callable

from django.db import transaction

from accounts.imports import ImportRejected
from success.services import nps_history_import, revenue_event_history_import
from support.services.imports import ticket_import
from support.services.surveys import csat_history_import

DEFAULT_KIND = "ticket"

# Each takes `record=` (without its "kind"), imports it all or nothing and returns the row.
IMPORTERS: dict[str, Callable[..., object]] = {
    "ticket": ticket_import,
    "csat": csat_history_import,
    "nps": nps_history_import,
    "revenue_event": revenue_event_history_import,
}


@transaction.atomic
def record_import(*, record: object) -> object:
    """Import one history record of any kind (`"kind"`, default "ticket") through that
    kind's import function; ImportRejected says why a record cannot be imported."""
    if not isinstance(record, dict):
        raise ImportRejected("A record must be a JSON object.")
    fields = dict(record)
    kind = fields.pop("kind", DEFAULT_KIND)
    importer = IMPORTERS.get(kind) if isinstance(kind, str) else None
    if importer is None:
        raise ImportRejected(f"kind: {kind!r} is not one of {', '.join(IMPORTERS)}.")
    return importer(record=fields)
