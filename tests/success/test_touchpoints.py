"""Touchpoints: logging them (participants of the account only, never in the future) and
the check-in cadence by tier (success.selectors.accounts_with_overdue_check_in)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.choices import LifecycleStage, Tier
from success.choices import TouchpointKind
from success.models import Touchpoint
from success.selectors import accounts_with_overdue_check_in
from success.services import touchpoint_log
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2025, 6, 16)


def _at(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _days_ago(days: int, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return _at(TODAY - datetime.timedelta(days=days), hour, minute)


def _touch(account, when: datetime.datetime) -> Touchpoint:
    return Touchpoint.objects.create(
        account=account, kind=TouchpointKind.CALL, happened_at=when, summary="Catch-up"
    )


def _messages(error: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return error.value.message_dict


# touchpoint_log


def test_touchpoint_log_records_everything(csm):
    account = AccountFactory(csm=csm)
    alice, bob = ContactFactory(account=account), ContactFactory(account=account)
    when = timezone.now() - datetime.timedelta(hours=2)
    touchpoint = touchpoint_log(
        account=account,
        kind=TouchpointKind.QBR,
        happened_at=when,
        summary="  Q2 review: adoption up 20%.  ",
        next_steps=" Send the deck. ",
        participants=[alice, bob],
        acting_user=csm,
    )
    touchpoint.refresh_from_db()
    assert (touchpoint.account, touchpoint.kind, touchpoint.happened_at) == (
        account,
        TouchpointKind.QBR,
        when,
    )
    assert (touchpoint.summary, touchpoint.next_steps) == (
        "Q2 review: adoption up 20%.",
        "Send the deck.",
    )
    assert touchpoint.logged_by == csm
    assert set(touchpoint.participants.all()) == {alice, bob}


def test_touchpoint_log_without_participants(csm):
    touchpoint = touchpoint_log(
        account=AccountFactory(),
        kind=TouchpointKind.EMAIL,
        happened_at=timezone.now(),
        summary="Sent the renewal quote.",
        acting_user=csm,
    )
    assert touchpoint.participants.count() == 0


def test_touchpoint_log_refuses_a_contact_of_another_account(csm):
    account = AccountFactory(name="Acme")
    own = ContactFactory(account=account)
    stranger = ContactFactory(account=AccountFactory(), name="Sam Stranger")
    with pytest.raises(ValidationError) as error:
        touchpoint_log(
            account=account,
            kind=TouchpointKind.MEETING,
            happened_at=timezone.now(),
            summary="Planning",
            participants=[own, stranger],
            acting_user=csm,
        )
    (message,) = _messages(error)["participants"]
    assert "Not contacts of Acme" in message
    assert "Sam Stranger" in message
    assert own.name not in message
    assert not Touchpoint.objects.exists()


def test_touchpoint_log_reads_the_contacts_account_from_the_database(csm):
    account = AccountFactory()
    contact = ContactFactory(account=account)
    type(contact).objects.filter(pk=contact.pk).update(account=AccountFactory())
    with pytest.raises(ValidationError, match="Not contacts of"):
        touchpoint_log(
            account=account,
            kind=TouchpointKind.CALL,
            happened_at=timezone.now(),
            summary="Call",
            participants=[contact],  # the stale instance still says `account`
            acting_user=csm,
        )


def test_touchpoint_log_refuses_the_future_and_naive_times(csm):
    account = AccountFactory()
    with pytest.raises(ValidationError) as error:
        touchpoint_log(
            account=account,
            kind=TouchpointKind.CALL,
            happened_at=timezone.now() + datetime.timedelta(minutes=5),
            summary="Call",
            acting_user=csm,
        )
    assert "cannot be logged in the future" in _messages(error)["happened_at"][0]

    with pytest.raises(ValidationError) as error:
        touchpoint_log(
            account=account,
            kind=TouchpointKind.CALL,
            happened_at=datetime.datetime(2025, 1, 1, 10, 0),  # noqa: DTZ001 - on purpose
            summary="Call",
            acting_user=csm,
        )
    assert "time zone" in _messages(error)["happened_at"][0]
    assert not Touchpoint.objects.exists()


def test_touchpoint_log_refuses_unknown_kind_and_empty_summary_together(csm):
    with pytest.raises(ValidationError) as error:
        touchpoint_log(
            account=AccountFactory(),
            kind="carrier_pigeon",
            happened_at=timezone.now(),
            summary="   ",
            acting_user=csm,
        )
    assert set(_messages(error)) == {"kind", "summary"}


# Check-in cadence


@pytest.mark.parametrize(
    ("tier", "cadence"), [(Tier.ENTERPRISE, 14), (Tier.GROWTH, 30), (Tier.STARTER, 60)]
)
def test_check_in_is_overdue_the_day_after_the_cadence(csm, tier, cadence):
    on_time = AccountFactory(csm=csm, tier=tier, name="On time")
    # Last touched exactly `cadence` days ago, even first thing that day: still fine.
    _touch(on_time, _days_ago(cadence, hour=0))
    late = AccountFactory(csm=csm, tier=tier, name="Late")
    # Last touched `cadence + 1` days ago, at the last minute of that day: overdue.
    _touch(late, _days_ago(cadence + 1, hour=23, minute=59))
    _touch(late, _days_ago(cadence + 40))  # older touches do not matter

    overdue = list(accounts_with_overdue_check_in(csm=csm, today=TODAY))
    assert overdue == [late]
    assert overdue[0].last_touchpoint_at == _days_ago(cadence + 1, hour=23, minute=59)


def test_never_touched_account_is_overdue_and_listed_first(csm):
    silent = AccountFactory(csm=csm, tier=Tier.STARTER, name="Zed never touched")
    late = AccountFactory(csm=csm, tier=Tier.ENTERPRISE, name="Acme late")
    _touch(late, _days_ago(20))
    later = AccountFactory(csm=csm, tier=Tier.GROWTH, name="Beta later")
    _touch(later, _days_ago(45))

    overdue = list(accounts_with_overdue_check_in(csm=csm, today=TODAY))
    assert overdue == [silent, later, late]
    assert [account.last_touchpoint_at for account in overdue] == [
        None,
        _days_ago(45),
        _days_ago(20),
    ]


def test_overdue_check_ins_only_for_this_csm_and_not_churned(csm, make_user):
    mine = AccountFactory(csm=csm)
    AccountFactory(csm=make_user(role="csm"))  # another CSM's, never touched
    AccountFactory(csm=None)
    AccountFactory(csm=csm, lifecycle_stage=LifecycleStage.CHURNED)
    assert list(accounts_with_overdue_check_in(csm=csm, today=TODAY)) == [mine]


def test_recent_touchpoint_of_any_kind_counts(csm):
    account = AccountFactory(csm=csm, tier=Tier.ENTERPRISE)
    Touchpoint.objects.create(
        account=account, kind=TouchpointKind.EMAIL, happened_at=_days_ago(1), summary="Note"
    )
    assert not accounts_with_overdue_check_in(csm=csm, today=TODAY).exists()


@pytest.mark.parametrize("accounts", [1, 20])
def test_overdue_check_ins_take_one_query_however_many_accounts(
    csm, accounts, django_assert_max_num_queries
):
    tiers = [Tier.ENTERPRISE, Tier.GROWTH, Tier.STARTER]
    for number in range(accounts):
        account = AccountFactory(csm=csm, tier=tiers[number % 3])
        if number % 4:  # every fourth account never touched
            for days in (100, 80, 61):
                _touch(account, _days_ago(days))
    with django_assert_max_num_queries(1):
        overdue = list(accounts_with_overdue_check_in(csm=csm, today=TODAY))
        stamps = [(account.csm.pk, account.last_touchpoint_at) for account in overdue]
    assert len(overdue) == accounts
    assert {stamp for _, stamp in stamps} <= {None, _days_ago(61)}
