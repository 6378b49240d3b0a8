"""The first customer-success tables: subscriptions, revenue events, lifecycle history and
daily usage. The database refuses bad rows on its own; the services refuse them first, with
messages a person can act on."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Account
from success.choices import RevenueEventKind, SubscriptionStatus
from success.models import LifecycleChange, RevenueEvent, Subscription, UsageDaily
from success.services import account_lifecycle_change, revenue_event_record, usage_ingest
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2025, 3, 1)


def _refused(model, **fields) -> None:
    """The row cannot be stored: the database's constraints say no."""
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**fields)


def _messages(error: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(error.value.messages)


# Subscription


def test_subscription_refuses_negative_mrr_and_end_before_start():
    account = AccountFactory()
    base = {"account": account, "plan_name": "Growth", "start_date": DAY}
    _refused(Subscription, **base, mrr=Decimal("-0.01"))
    _refused(Subscription, **base, mrr=100, end_date=DAY - datetime.timedelta(days=1))

    same_day = Subscription.objects.create(
        account=account, plan_name="Growth", start_date=DAY, end_date=DAY, mrr=0
    )
    open_ended = Subscription.objects.create(account=account, plan_name="Growth", start_date=DAY)
    assert same_day.status == open_ended.status == SubscriptionStatus.ACTIVE


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mrr": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"end_date": "2025-02-28"}, "The end date cannot be before the start date."),
    ],
)
def test_subscription_admin_form_says_what_is_wrong(client_for, make_user, changes, message):
    """Subscriptions are edited in the admin: a bad one is a form error, not a 500."""
    from accounts.choices import Role

    account = AccountFactory()
    data = {
        "account": account.pk,
        "plan_name": "Growth",
        "status": SubscriptionStatus.ACTIVE,
        "seats": "10",
        "mrr": "100",
        "start_date": "2025-03-01",
        "end_date": "",
    } | changes

    response = client_for(make_user(Role.ADMIN)).post("/admin/success/subscription/add/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Growth" in response.content.decode()  # what was typed is still there
    assert not Subscription.objects.exists()


# RevenueEvent: the database


@pytest.mark.parametrize(
    ("kind", "delta"),
    [
        (RevenueEventKind.NEW, 0),
        (RevenueEventKind.NEW, -100),
        (RevenueEventKind.EXPANSION, -1),
        (RevenueEventKind.REACTIVATION, 0),
        (RevenueEventKind.CONTRACTION, 1),
        (RevenueEventKind.CONTRACTION, 0),
        (RevenueEventKind.CHURN, 100),
    ],
)
def test_revenue_event_table_refuses_a_delta_of_the_wrong_sign(kind, delta):
    _refused(
        RevenueEvent,
        account=AccountFactory(),
        kind=kind,
        date=DAY,
        mrr_delta=delta,
        reason="Budget cut",
    )


def test_revenue_event_table_refuses_a_churn_without_reason():
    _refused(RevenueEvent, account=AccountFactory(), kind="churn", date=DAY, mrr_delta=-500)


def test_revenue_event_table_refuses_an_unknown_kind():
    _refused(RevenueEvent, account=AccountFactory(), kind="refund", date=DAY, mrr_delta=-5)


# RevenueEvent: the service


@pytest.mark.parametrize(
    ("kind", "delta"),
    [
        ("new", Decimal("1000.00")),
        ("expansion", Decimal("250")),
        ("reactivation", 300),
        ("contraction", Decimal("-99.99")),
        ("churn", "-1000"),
    ],
)
def test_revenue_event_record_stores_each_kind_with_its_sign(kind, delta, csm):
    account = AccountFactory()

    event = revenue_event_record(
        account=account,
        kind=kind,
        date=DAY,
        mrr_delta=delta,
        reason="  Moved to a competitor  ",
        acting_user=csm,
    )

    event.refresh_from_db()
    assert event.kind == kind
    assert event.mrr_delta == Decimal(delta)
    assert event.reason == "Moved to a competitor"
    assert event.recorded_by == csm
    assert event.created_at is not None


@pytest.mark.parametrize(
    ("kind", "delta", "message"),
    [
        ("new", 0, "A new event must raise MRR (got 0)."),
        ("expansion", Decimal("-10"), "A expansion event must raise MRR (got -10)."),
        ("reactivation", -1, "must raise MRR"),
        ("contraction", 10, "A contraction event must lower MRR (got 10)."),
        ("churn", 0, "A churn event must lower MRR (got 0)."),
    ],
)
def test_revenue_event_record_refuses_the_wrong_sign_with_a_message(kind, delta, message):
    with pytest.raises(ValidationError) as error:
        revenue_event_record(
            account=AccountFactory(), kind=kind, date=DAY, mrr_delta=delta, reason="x"
        )

    assert error.value.message_dict.keys() == {"mrr_delta"}
    assert message in _messages(error)
    assert not RevenueEvent.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_revenue_event_record_refuses_a_churn_without_reason(reason):
    with pytest.raises(ValidationError) as error:
        revenue_event_record(
            account=AccountFactory(), kind="churn", date=DAY, mrr_delta=-100, reason=reason
        )

    assert error.value.message_dict == {"reason": ["A churn needs a reason."]}
    assert not RevenueEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "refund"}, "kind", "Unknown revenue event kind 'refund'."),
        ({"mrr_delta": 10.5}, "mrr_delta", "not a float"),
        ({"mrr_delta": "lots"}, "mrr_delta", "'lots' is not an amount."),
        ({"mrr_delta": Decimal("NaN")}, "mrr_delta", "finite"),
        ({"mrr_delta": Decimal("10.005")}, "mrr_delta", "2 decimal places"),
    ],
)
def test_revenue_event_record_refuses_bad_input(changes, field, message):
    arguments = {"kind": "new", "date": DAY, "mrr_delta": Decimal("10")} | changes

    with pytest.raises(ValidationError) as error:
        revenue_event_record(account=AccountFactory(), **arguments)

    assert field in error.value.message_dict
    assert message in _messages(error)


def test_revenue_event_record_refuses_another_accounts_subscription():
    other = Subscription.objects.create(account=AccountFactory(), plan_name="Pro", start_date=DAY)

    with pytest.raises(ValidationError) as error:
        revenue_event_record(
            account=AccountFactory(), kind="new", date=DAY, mrr_delta=10, subscription=other
        )

    assert error.value.message_dict == {
        "subscription": ["That subscription belongs to another account."]
    }


def test_revenue_events_keep_the_account_from_being_deleted():
    account = AccountFactory()
    revenue_event_record(account=account, kind="new", date=DAY, mrr_delta=10)

    with pytest.raises(ProtectedError), transaction.atomic():
        account.delete()


# Lifecycle


def test_lifecycle_change_moves_the_account_and_writes_history_once(csm):
    account = AccountFactory(lifecycle_stage=LifecycleStage.ONBOARDING)

    change = account_lifecycle_change(
        account=account, to_stage=LifecycleStage.ADOPTION, acting_user=csm, note=" Live "
    )
    again = account_lifecycle_change(
        account=account, to_stage=LifecycleStage.ADOPTION, acting_user=csm
    )

    assert again is None
    assert account.lifecycle_stage == LifecycleStage.ADOPTION
    assert Account.objects.get(pk=account.pk).lifecycle_stage == LifecycleStage.ADOPTION
    history = list(LifecycleChange.objects.filter(account=account))
    assert history == [change]
    assert (change.from_stage, change.to_stage, change.actor, change.note) == (
        LifecycleStage.ONBOARDING,
        LifecycleStage.ADOPTION,
        csm,
        "Live",
    )


def test_lifecycle_change_reads_the_stored_stage_not_a_stale_instance():
    account = AccountFactory(lifecycle_stage=LifecycleStage.ONBOARDING)
    Account.objects.filter(pk=account.pk).update(lifecycle_stage=LifecycleStage.RENEWAL)

    change = account_lifecycle_change(
        account=account, to_stage=LifecycleStage.CHURNED, acting_user=None
    )

    assert change.from_stage == LifecycleStage.RENEWAL
    assert change.actor is None


def test_lifecycle_change_refuses_an_unknown_stage():
    account = AccountFactory()

    with pytest.raises(ValidationError, match="Unknown lifecycle stage 'dormant'"):
        account_lifecycle_change(account=account, to_stage="dormant", acting_user=None)

    assert not LifecycleChange.objects.exists()


def test_lifecycle_change_table_refuses_a_change_to_the_same_stage():
    _refused(
        LifecycleChange,
        account=AccountFactory(),
        from_stage=LifecycleStage.ADOPTION,
        to_stage=LifecycleStage.ADOPTION,
    )


# Usage


def test_usage_table_refuses_a_second_row_for_the_same_day_and_metric():
    account = AccountFactory()
    UsageDaily.objects.create(account=account, day=DAY, metric="active_users", value=4)

    _refused(UsageDaily, account=account, day=DAY, metric="active_users", value=5)


def test_usage_table_refuses_negative_values_and_bad_metric_names():
    account = AccountFactory()
    _refused(UsageDaily, account=account, day=DAY, metric="active_users", value=-1)
    _refused(UsageDaily, account=account, day=DAY, metric="Active Users", value=1)


def test_usage_ingest_is_idempotent_and_replaces_values():
    first, second = AccountFactory(), AccountFactory()
    batch = [
        {"account_id": first.pk, "day": DAY, "metric": "active_users", "value": 40},
        {"account_id": first.pk, "day": DAY, "metric": "seats", "value": 60},
        {"account_id": second.pk, "day": "2025-03-01", "metric": "reports", "value": 7},
    ]

    assert usage_ingest(rows=batch) == 3
    assert usage_ingest(rows=batch) == 3
    assert UsageDaily.objects.count() == 3

    corrected = [{**batch[0], "value": 45}]
    assert usage_ingest(rows=iter(corrected)) == 1  # any iterable, a generator too

    stored = {(row.account_id, row.day, row.metric): row.value for row in UsageDaily.objects.all()}
    assert stored == {
        (first.pk, DAY, "active_users"): 45,
        (first.pk, DAY, "seats"): 60,
        (second.pk, DAY, "reports"): 7,
    }


def test_usage_ingest_rejects_the_whole_batch_naming_the_bad_rows():
    account = AccountFactory()
    UsageDaily.objects.create(account=account, day=DAY, metric="seats", value=10)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    good = {"account_id": account.pk, "day": DAY, "metric": "active_users", "value": 3}
    batch = [
        good,
        {**good, "account_id": 999_999_999},
        {**good, "metric": "seats", "value": -2},
        {**good, "metric": "reports", "day": tomorrow},
        {**good, "metric": "Reports!"},
        {**good, "metric": "seats", "value": 99},  # fine on its own
        {**good},  # the same account, day and metric as row 1
        {"account_id": account.pk, "day": DAY},
    ]

    with pytest.raises(ValidationError) as error:
        usage_ingest(rows=batch)

    assert error.value.messages == [
        "Row 2: unknown account id 999999999.",
        "Row 3: value -2 is negative.",
        f"Row 4: day {tomorrow.isoformat()} is in the future.",
        "Row 5: bad metric name 'Reports!' (lowercase letters, digits and underscores, at "
        "most 50 characters).",
        f"Row 7: repeats row 1 (account {account.pk}, 2025-03-01, active_users).",
        "Row 8: missing metric, value.",
    ]
    # Nothing written, nothing replaced.
    assert list(UsageDaily.objects.values_list("metric", "value")) == [("seats", 10)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_id": "12"}, "Row 1: account_id must be a whole number, got '12'."),
        ({"day": "03/01/2025"}, "Row 1: day '03/01/2025' is not a date (YYYY-MM-DD)."),
        ({"day": datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC)}, "day must be a date"),
        ({"value": 2.5}, "Row 1: value must be a whole number, got 2.5."),
        ({"value": True}, "value must be a whole number"),
        ({"value": 2**31}, "too large"),
        ({"metric": "x" * 51}, "at most 50 characters"),
    ],
)
def test_usage_ingest_refuses_malformed_values(changes, message):
    row = {"account_id": AccountFactory().pk, "day": DAY, "metric": "seats", "value": 1}

    with pytest.raises(ValidationError) as error:
        usage_ingest(rows=[row | changes])

    assert message in _messages(error)
    assert not UsageDaily.objects.exists()


def test_usage_ingest_lists_at_most_twenty_errors():
    rows = [{"account_id": 0, "day": DAY, "metric": "seats", "value": -1}] * 30

    with pytest.raises(ValidationError) as error:
        usage_ingest(rows=rows)

    # Two errors a row (negative value, unknown account), in row order.
    assert error.value.messages[:2] == [
        "Row 1: value -1 is negative.",
        "Row 1: unknown account id 0.",
    ]
    assert len(error.value.messages) == 21
    assert error.value.messages[-1] == "… and 40 more errors."


def test_usage_ingest_of_an_empty_batch_writes_nothing(django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the savepoint and its release
        assert usage_ingest(rows=[]) == 0


def test_usage_ingest_of_a_thousand_rows_costs_a_fixed_number_of_queries(
    django_assert_max_num_queries,
):
    accounts = AccountFactory.create_batch(10)
    rows = [
        {
            "account_id": account.pk,
            "day": DAY - datetime.timedelta(days=offset),
            "metric": "active_users",
            "value": offset,
        }
        for account in accounts
        for offset in range(100)
    ]

    # Savepoint, the account ids, one upsert, release: the same for the second run.
    with django_assert_max_num_queries(4):
        assert usage_ingest(rows=rows) == 1000
    with django_assert_max_num_queries(4):
        assert usage_ingest(rows=[row | {"value": 1} for row in rows]) == 1000

    assert UsageDaily.objects.count() == 1000
    assert set(UsageDaily.objects.values_list("value", flat=True)) == {1}
