"""Health snapshots (one row per account and day, with every component's input) and health
overrides (a person's band over the computed one until it expires or is cleared)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.choices import HealthBand
from success.health import (
    EngagementInputs,
    HealthInputs,
    ProductUsageInputs,
    SentimentInputs,
    health_score,
)
from success.models import HealthOverride, HealthSnapshot
from success.services import (
    health_override_clear,
    health_override_set,
    health_snapshot_store,
)
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db

GREEN = health_score(
    HealthInputs(
        product_usage=ProductUsageInputs(utilisation_pct=90.0, evidence=("45 of 50 seats",)),
        sentiment=SentimentInputs(nps=60.0, csat=95.0),
    )
)
RED = health_score(HealthInputs(product_usage=ProductUsageInputs(utilisation_pct=20.0)))
NO_DATA = health_score(HealthInputs())


def _today() -> datetime.date:
    return timezone.localdate()


def _days(n: int) -> datetime.date:
    return _today() + datetime.timedelta(days=n)


def test_results_used_here_have_the_bands_the_tests_assume():
    assert GREEN.band == HealthBand.GREEN
    assert RED.band == HealthBand.RED
    assert NO_DATA.score is None


def test_storing_the_same_day_twice_replaces_the_row():
    account = AccountFactory()
    day = _today()
    health_snapshot_store(account=account, day=day, result=GREEN)
    snapshot = health_snapshot_store(account=account, day=day, result=RED)

    assert HealthSnapshot.objects.filter(account=account).count() == 1
    snapshot.refresh_from_db()
    assert snapshot.day == day
    assert snapshot.score == Decimal("0.0")
    assert snapshot.band == HealthBand.RED
    assert snapshot.components[0]["raw"] == {"evidence": [], "utilisation_pct": 20.0}


def test_another_day_adds_a_row():
    account = AccountFactory()
    health_snapshot_store(account=account, day=_days(-1), result=RED)
    health_snapshot_store(account=account, day=_today(), result=GREEN)

    assert list(HealthSnapshot.objects.filter(account=account).values_list("band", flat=True)) == [
        HealthBand.GREEN,
        HealthBand.RED,
    ]


def test_components_keep_every_input_score_and_weight():
    account = AccountFactory()
    snapshot = health_snapshot_store(account=account, day=_today(), result=GREEN)
    snapshot.refresh_from_db()  # what came back from the database, not what was sent

    by_key = {row["key"]: row for row in snapshot.components}
    assert [row["key"] for row in snapshot.components] == [row.key for row in GREEN.components]
    usage = by_key["product_usage"]
    assert usage == {
        "key": "product_usage",
        "label": "Product usage",
        "raw": {"evidence": ["45 of 50 seats"], "utilisation_pct": 90.0},
        "score": 100.0,
        "weight": 30.0,
        "effective_weight": GREEN.component("product_usage").effective_weight,
        "contribution": GREEN.component("product_usage").contribution,
    }
    assert by_key["sentiment"]["raw"] == {"evidence": [], "nps": 60.0, "csat": 95.0}
    # No data stays "no data": null raw, score and contribution, weight 0 after renormalising.
    assert by_key["engagement"] == {
        "key": "engagement",
        "label": "Engagement",
        "raw": None,
        "score": None,
        "weight": 15.0,
        "effective_weight": 0.0,
        "contribution": None,
    }
    total = sum(row["contribution"] for row in snapshot.components if row["contribution"])
    assert round(total, 1) == float(snapshot.score)


def test_a_component_given_inputs_without_data_keeps_them():
    account = AccountFactory()
    result = health_score(
        HealthInputs(
            product_usage=ProductUsageInputs(utilisation_pct=50.0),
            engagement=EngagementInputs(days_since_last_touchpoint=None, cadence_days=30.0),
        )
    )
    snapshot = health_snapshot_store(account=account, day=_today(), result=result)
    snapshot.refresh_from_db()

    engagement = next(row for row in snapshot.components if row["key"] == "engagement")
    assert engagement["raw"] == {
        "evidence": [],
        "days_since_last_touchpoint": None,
        "cadence_days": 30.0,
    }
    assert engagement["score"] is None


def test_storing_updates_the_accounts_health():
    account = AccountFactory()
    before = timezone.now()
    health_snapshot_store(account=account, day=_today(), result=GREEN)

    account.refresh_from_db()
    assert account.health_score == Decimal(str(GREEN.score))
    assert account.health_band == HealthBand.GREEN
    assert account.health_updated_at >= before


def test_a_result_without_data_stores_no_score_and_no_band():
    account = AccountFactory(health_score=Decimal("80.0"), health_band=HealthBand.GREEN)
    snapshot = health_snapshot_store(account=account, day=_today(), result=NO_DATA)

    snapshot.refresh_from_db()
    account.refresh_from_db()
    assert snapshot.score is None
    assert snapshot.band == ""
    assert len(snapshot.components) == len(NO_DATA.components)
    assert account.health_score is None
    assert account.health_band == ""


def test_an_override_keeps_its_band_while_scores_are_stored():
    account = AccountFactory()
    csm = UserFactory()
    health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Champion left; renewal at risk.",
        expires_on=_days(30),
        acting_user=csm,
    )
    snapshot = health_snapshot_store(account=account, day=_today(), result=GREEN)

    account.refresh_from_db()
    assert snapshot.band == HealthBand.GREEN  # the snapshot keeps what was computed
    assert account.health_band == HealthBand.RED
    assert account.health_score == Decimal(str(GREEN.score))


def test_an_override_expiring_today_still_applies():
    account = AccountFactory()
    health_override_set(
        account=account,
        band=HealthBand.YELLOW,
        reason="Watching the migration.",
        expires_on=_today(),
        acting_user=UserFactory(),
    )
    health_snapshot_store(account=account, day=_today(), result=GREEN)

    account.refresh_from_db()
    assert account.health_band == HealthBand.YELLOW


def test_an_expired_override_is_ignored():
    account = AccountFactory()
    override = health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Champion left.",
        expires_on=_today(),
        acting_user=UserFactory(),
    )
    HealthOverride.objects.filter(pk=override.pk).update(expires_on=_days(-1))
    health_snapshot_store(account=account, day=_today(), result=GREEN)

    account.refresh_from_db()
    assert account.health_band == HealthBand.GREEN


def test_setting_an_override_sets_the_band_at_once():
    account = AccountFactory()
    health_snapshot_store(account=account, day=_today(), result=GREEN)
    override = health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="  Champion left.  ",
        expires_on=_days(7),
        acting_user=UserFactory(),
    )

    account.refresh_from_db()
    assert account.health_band == HealthBand.RED
    assert override.reason == "Champion left."


def test_clearing_an_override_restores_the_latest_snapshots_band():
    account = AccountFactory()
    csm = UserFactory()
    health_snapshot_store(account=account, day=_days(-1), result=RED)
    health_snapshot_store(account=account, day=_today(), result=GREEN)
    override = health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Champion left.",
        expires_on=_days(7),
        acting_user=csm,
    )

    cleared = health_override_clear(account=account, acting_user=csm)

    account.refresh_from_db()
    override.refresh_from_db()
    assert cleared == override
    assert override.cleared_at is not None
    assert override.cleared_by == csm
    assert account.health_band == HealthBand.GREEN
    # Later snapshots set the band again.
    health_snapshot_store(account=account, day=_today(), result=RED)
    account.refresh_from_db()
    assert account.health_band == HealthBand.RED


def test_clearing_without_an_override_changes_nothing():
    account = AccountFactory(health_band=HealthBand.YELLOW)

    assert health_override_clear(account=account, acting_user=UserFactory()) is None
    account.refresh_from_db()
    assert account.health_band == HealthBand.YELLOW


def test_clearing_without_snapshots_leaves_no_band():
    account = AccountFactory()
    csm = UserFactory()
    health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Champion left.",
        expires_on=_days(7),
        acting_user=csm,
    )
    health_override_clear(account=account, acting_user=csm)

    account.refresh_from_db()
    assert account.health_band == ""


def test_an_override_needs_a_known_band_a_reason_and_a_future_expiry():
    account = AccountFactory(health_band=HealthBand.GREEN)
    yesterday = _days(-1)
    with pytest.raises(ValidationError) as caught:
        health_override_set(
            account=account,
            band="purple",
            reason="   ",
            expires_on=yesterday,
            acting_user=UserFactory(),
        )

    assert caught.value.message_dict == {
        "band": ["Unknown health band 'purple'."],
        "reason": ["Say why the band is overridden."],
        "expires_on": [f"The override cannot expire in the past ({yesterday.isoformat()})."],
    }
    assert not HealthOverride.objects.exists()
    account.refresh_from_db()
    assert account.health_band == HealthBand.GREEN


def test_a_new_override_replaces_the_active_one():
    account = AccountFactory()
    first_csm, second_csm = UserFactory(), UserFactory()
    first = health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Champion left.",
        expires_on=_days(7),
        acting_user=first_csm,
    )
    second = health_override_set(
        account=account,
        band=HealthBand.YELLOW,
        reason="New champion found.",
        expires_on=_days(14),
        acting_user=second_csm,
    )

    first.refresh_from_db()
    account.refresh_from_db()
    assert first.cleared_at is not None
    assert first.cleared_by == second_csm
    assert list(HealthOverride.objects.filter(account=account, cleared_at=None)) == [second]
    assert account.health_band == HealthBand.YELLOW


def test_the_database_allows_one_active_override_per_account():
    account = AccountFactory()
    user = UserFactory()
    fields = {"account": account, "band": HealthBand.RED, "expires_on": _days(7), "set_by": user}
    HealthOverride.objects.create(reason="First.", **fields)
    HealthOverride.objects.create(reason="Old.", cleared_at=timezone.now(), **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        HealthOverride.objects.create(reason="Second.", **fields)
    # Another account is unaffected.
    HealthOverride.objects.create(reason="Other.", **{**fields, "account": AccountFactory()})


def test_the_database_refuses_a_blank_reason():
    with pytest.raises(IntegrityError), transaction.atomic():
        HealthOverride.objects.create(
            account=AccountFactory(),
            band=HealthBand.RED,
            reason="  ",
            expires_on=_days(7),
            set_by=UserFactory(),
        )


def test_the_database_refuses_two_snapshots_for_one_day():
    account = AccountFactory()
    HealthSnapshot.objects.create(account=account, day=_today())

    with pytest.raises(IntegrityError), transaction.atomic():
        HealthSnapshot.objects.create(account=account, day=_today())


def test_admin_lists_snapshots_and_overrides(admin_client):
    account = AccountFactory(name="Globex")
    health_snapshot_store(account=account, day=_today(), result=GREEN)
    health_override_set(
        account=account,
        band=HealthBand.RED,
        reason="Champion left.",
        expires_on=_days(7),
        acting_user=UserFactory(),
    )

    snapshots = admin_client.get("/admin/success/healthsnapshot/", {"q": "Globex"})
    overrides = admin_client.get("/admin/success/healthoverride/")

    assert snapshots.status_code == 200
    assert "Globex" in snapshots.content.decode()
    assert overrides.status_code == 200
    assert "Globex" in overrides.content.decode()
