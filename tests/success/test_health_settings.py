"""The admin-editable health model (success.HealthModelSettings): it mirrors HealthModel,
refuses settings that make no model with a message on the field to fix, and
health_model_current() reads it in one query."""

import dataclasses

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.choices import Role
from success.health import DEFAULT_MODEL, HealthModel
from success.models import HealthModelSettings
from success.selectors import health_model_current


def _errors(settings_row: HealthModelSettings) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        settings_row.full_clean()
    return caught.value.message_dict


def test_fields_mirror_every_field_of_the_health_model():
    own = {
        field.name
        for field in HealthModelSettings._meta.get_fields()
        if field.name not in {"id", "updated_at"}
    }
    mirrored = {
        f"{component.key}_{item.name}"
        for component in DEFAULT_MODEL.components
        for item in dataclasses.fields(component)
    }

    assert own == mirrored | {"green_at", "yellow_at"}


def test_defaults_make_the_default_model():
    assert HealthModelSettings().to_model() == DEFAULT_MODEL


def test_to_model_carries_every_edit():
    settings_row = HealthModelSettings(
        product_usage_weight=50,
        product_usage_full_at_pct=90,
        support_experience_per_sla_breach=15,
        sentiment_label="Voice of the customer",
        sentiment_nps_days=365,
        engagement_zero_at_cadences=4,
        plan_progress_weight=0,
        green_at=75,
        yellow_at=45,
    )

    model = settings_row.to_model()

    assert isinstance(model, HealthModel)
    assert model.product_usage.weight == 50
    assert model.product_usage.full_at_pct == 90
    assert model.support_experience.per_sla_breach == 15
    assert model.sentiment.label == "Voice of the customer"
    assert model.sentiment.nps_days == 365
    assert model.engagement.zero_at_cadences == 4
    assert model.plan_progress.weight == 0
    assert (model.green_at, model.yellow_at) == (75, 45)


@pytest.mark.django_db
def test_default_settings_are_valid():
    HealthModelSettings().full_clean()


@pytest.mark.django_db
def test_all_weights_zero_is_refused_on_every_weight():
    settings_row = HealthModelSettings(
        product_usage_weight=0,
        support_experience_weight=0,
        sentiment_weight=0,
        engagement_weight=0,
        plan_progress_weight=0,
    )

    errors = _errors(settings_row)

    weights = [f"{c.key}_weight" for c in DEFAULT_MODEL.components]
    assert set(errors) == set(weights)
    assert errors["sentiment_weight"] == [
        "At least one component needs a weight above 0, or no account can be scored."
    ]


@pytest.mark.django_db
def test_usage_thresholds_out_of_order_are_refused():
    errors = _errors(
        HealthModelSettings(product_usage_zero_at_pct=80, product_usage_full_at_pct=60)
    )

    assert errors == {
        "product_usage_zero_at_pct": ["Must be below the utilisation that scores 100 (60 %)."]
    }


@pytest.mark.django_db
def test_engagement_thresholds_out_of_order_are_refused():
    errors = _errors(
        HealthModelSettings(engagement_full_within_cadences=2, engagement_zero_at_cadences=2)
    )

    assert errors == {
        "engagement_zero_at_cadences": ["Must be above the cadences that still score 100 (2)."]
    }


@pytest.mark.django_db
@pytest.mark.parametrize("yellow_at", [70, 85])
def test_yellow_at_or_above_green_is_refused(yellow_at):
    errors = _errors(HealthModelSettings(green_at=70, yellow_at=yellow_at))

    assert errors == {
        "yellow_at": ["Must be below green at (70): yellow runs from here up to green."]
    }


@pytest.mark.django_db
def test_field_rules_give_field_messages():
    errors = _errors(HealthModelSettings(support_experience_per_urgent_ticket=-5, green_at=120))

    assert errors["support_experience_per_urgent_ticket"] == [
        "Ensure this value is greater than or equal to 0."
    ]
    assert errors["green_at"] == ["Ensure this value is less than or equal to 100."]


@pytest.mark.django_db
def test_an_empty_field_is_required_not_a_crash():
    errors = _errors(HealthModelSettings(engagement_weight=None))

    assert errors == {"engagement_weight": ["This field cannot be null."]}


def test_a_health_rule_not_checked_first_lands_on_its_field():
    settings_row = HealthModelSettings(product_usage_label="   ")

    with pytest.raises(ValidationError) as caught:
        settings_row.clean()

    assert caught.value.message_dict == {
        "product_usage_label": ["Label must be a non-empty string."]
    }


@pytest.mark.django_db
def test_there_is_only_ever_one_row():
    HealthModelSettings.objects.create(green_at=80)
    HealthModelSettings(green_at=75).save()

    assert list(HealthModelSettings.objects.values_list("pk", "green_at")) == [(1, 75)]


@pytest.mark.django_db
def test_current_model_is_the_default_without_a_row(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert health_model_current() is DEFAULT_MODEL


@pytest.mark.django_db
def test_current_model_follows_the_row_at_once(django_assert_num_queries):
    HealthModelSettings.objects.create(green_at=80, yellow_at=50)

    with django_assert_num_queries(1):
        model = health_model_current()

    assert (model.green_at, model.yellow_at) == (80, 50)
    HealthModelSettings.objects.update(green_at=90)
    assert health_model_current().green_at == 90  # not cached across calls


# Admin


@pytest.fixture
def admin_client(client_for, make_user):
    return client_for(make_user(Role.ADMIN))


def _form_data(**changes) -> dict:
    data = {}
    for component in DEFAULT_MODEL.components:
        for item in dataclasses.fields(component):
            data[f"{component.key}_{item.name}"] = getattr(component, item.name)
    data |= {"green_at": DEFAULT_MODEL.green_at, "yellow_at": DEFAULT_MODEL.yellow_at}
    return data | changes


def test_admin_adds_the_model_once_and_never_deletes_it(admin_client):
    add_url = reverse("admin:success_healthmodelsettings_add")
    assert admin_client.get(add_url).status_code == 200

    response = admin_client.post(add_url, _form_data(green_at=75))

    assert response.status_code == 302
    assert HealthModelSettings.objects.get().green_at == 75
    assert admin_client.get(add_url).status_code == 403
    delete_url = reverse("admin:success_healthmodelsettings_delete", args=[1])
    assert admin_client.get(delete_url).status_code == 403


def test_admin_shows_the_message_and_keeps_what_was_typed(admin_client):
    HealthModelSettings.objects.create()
    url = reverse("admin:success_healthmodelsettings_change", args=[1])
    page = admin_client.get(url).content.decode()
    assert "Product usage" in page  # a fieldset per component
    assert "Bands" in page

    response = admin_client.post(url, _form_data(green_at=60, yellow_at=65.5))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Must be below green at (60): yellow runs from here up to green." in page
    assert 'value="65.5"' in page
    assert HealthModelSettings.objects.get().green_at == DEFAULT_MODEL.green_at
