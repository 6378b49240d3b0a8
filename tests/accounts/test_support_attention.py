import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, SupportAttention
from accounts.services import account_support_attention_set
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

EARLIER = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
LATER = datetime.datetime(2026, 2, 5, 9, 0, tzinfo=datetime.UTC)
AT_RISK = SupportAttention.AT_RISK


def marks(*accounts):
    rows = Account.objects.filter(pk__in=[a.pk for a in accounts]).order_by("pk")
    return list(
        rows.values_list("support_attention", "support_attention_note", "support_attention_since")
    )


def test_marking_writes_each_account_its_note_in_one_statement():
    first, second = AccountFactory(), AccountFactory()
    with CaptureQueriesContext(connection) as queries:
        written = account_support_attention_set(
            attention=AT_RISK, notes={first.pk: "Renewal", second.pk: "Exec left"}, since=EARLIER
        )
    assert written == 2
    assert len(queries) == 1
    assert marks(first, second) == [
        ("at_risk", "Renewal", EARLIER),
        ("at_risk", "Exec left", EARLIER),
    ]


def test_only_changed_notes_are_written_and_they_keep_when_the_account_was_marked():
    same, renoted, new = AccountFactory(), AccountFactory(), AccountFactory()
    account_support_attention_set(
        attention=AT_RISK, notes={same.pk: "Renewal", renoted.pk: "Red"}, since=EARLIER
    )
    written = account_support_attention_set(
        attention=AT_RISK,
        notes={same.pk: "Renewal", renoted.pk: "Exec left", new.pk: "Red"},
        since=LATER,
    )
    assert written == 2
    assert marks(same, renoted, new) == [
        ("at_risk", "Renewal", EARLIER),
        ("at_risk", "Exec left", EARLIER),
        ("at_risk", "Red", LATER),
    ]


def test_clearing_drops_mark_note_and_since_and_counts_only_marked_accounts():
    marked, unmarked = AccountFactory(), AccountFactory()
    account_support_attention_set(attention=AT_RISK, notes={marked.pk: "Red"}, since=EARLIER)
    written = account_support_attention_set(
        attention=SupportAttention.NONE, notes={marked.pk: "ignored", unmarked.pk: ""}
    )
    assert written == 1
    assert marks(marked, unmarked) == [("", "", None), ("", "", None)]


def test_nothing_to_set_runs_no_query_and_an_unknown_attention_is_refused():
    with CaptureQueriesContext(connection) as queries:
        assert account_support_attention_set(attention=AT_RISK, notes={}) == 0
    assert len(queries) == 0
    with pytest.raises(ValueError, match="Unknown support attention"):
        account_support_attention_set(attention="panic", notes={1: "x"})
