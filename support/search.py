"""Keeps `Ticket.search_vector` current: the subject at weight A, the thread at weight B.

Called by the services on every write that changes what search sees. Vectors are built in
PostgreSQL (to_tsvector with the configured text search configuration), appended per
message, so no copy of the text is stored on the ticket.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

# A tsvector is limited to 1 MB; past this many distinct words a thread stops growing its
# vector (the first ~20,000 distinct words of a ticket are what people search for).
MAX_LEXEMES = 20_000


def index_subject(ticket_id: int) -> None:
    """(Re)write the subject part, keeping the thread's words."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE support_ticket
            SET search_vector = setweight(to_tsvector(%s::regconfig, subject), 'A')
                || ts_filter(COALESCE(search_vector, ''::tsvector), '{b}')
            WHERE id = %s
            """,
            [settings.CX_SEARCH_CONFIG, ticket_id],
        )


def index_text(ticket_id: int, text: str) -> None:
    """Add a message's words to the ticket's vector."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE support_ticket
            SET search_vector = COALESCE(search_vector, ''::tsvector)
                || setweight(to_tsvector(%s::regconfig, %s), 'B')
            WHERE id = %s AND length(COALESCE(search_vector, ''::tsvector)) < %s
            """,
            [settings.CX_SEARCH_CONFIG, text, ticket_id, MAX_LEXEMES],
        )


def index_merge(*, source_id: int, target_id: int) -> None:
    """The target's vector gains the source's thread words (its messages moved over)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE support_ticket t
            SET search_vector = COALESCE(t.search_vector, ''::tsvector)
                || ts_filter(COALESCE(s.search_vector, ''::tsvector), '{b}')
            FROM support_ticket s
            WHERE t.id = %s AND s.id = %s
            """,
            [target_id, source_id],
        )


def vector_sql(subject_sql: str, text_sql: str) -> str:
    """SQL for a whole ticket's vector from two SQL expressions (bulk loads, backfills)."""
    config = connection.ops.quote_name(settings.CX_SEARCH_CONFIG).replace('"', "'")
    return (
        f"setweight(to_tsvector({config}::regconfig, {subject_sql}), 'A') || "
        f"setweight(to_tsvector({config}::regconfig, COALESCE({text_sql}, '')), 'B')"
    )
