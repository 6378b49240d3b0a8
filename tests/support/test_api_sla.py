"""The REST API for the SLA settings: /api/v1/sla/calendars/ and /api/v1/sla/policies/."""

from datetime import date, time
from unittest import mock

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from support.models import BusinessCalendar, SlaPolicy, SlaTarget, WorkingInterval
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

CALENDARS = "/api/v1/sla/calendars/"
POLICIES = "/api/v1/sla/policies/"


@pytest.fixture
def api_for():
    """An API client signed in as `user` through the session, as a browser would be."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api(api_for, manager) -> APIClient:
    return api_for(manager)


def make_calendar(name: str = "Berlin office", **fields) -> BusinessCalendar:
    fields.setdefault("time_zone", "Europe/Berlin")
    calendar = BusinessCalendar.objects.create(name=name, **fields)
    WorkingInterval.objects.bulk_create(
        WorkingInterval(calendar=calendar, weekday=day, start=time(9), end=time(17))
        for day in range(5)
    )
    return calendar


def make_policy(name: str = "Standard", position: int = 10, **fields) -> SlaPolicy:
    teams = fields.pop("teams", [])
    policy = SlaPolicy.objects.create(name=name, position=position, **fields)
    policy.teams.set(teams)
    SlaTarget.objects.bulk_create(
        [
            SlaTarget(policy=policy, priority="urgent", metric="first_response", minutes=60),
            SlaTarget(policy=policy, priority="urgent", metric="resolution", minutes=480),
        ]
    )
    return policy


def intervals_of(calendar: BusinessCalendar) -> list[tuple[int, time, time]]:
    return list(calendar.intervals.values_list("weekday", "start", "end"))


def fields_of(response) -> dict:
    """The per-field messages of an API error (the shape of accounts.api.errors)."""
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["fields"]


def messages(errors) -> list[str]:
    """Every message in a DRF error body, however deeply nested."""
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in messages(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in messages(value)]
    return []


def calendar_body(**overrides) -> dict:
    body = {
        "name": "London office",
        "time_zone": "Europe/London",
        "holidays": ["2025-12-25", "2025-12-26"],
        "intervals": [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "13:00", "end": "17:00"},
            {"weekday": 4, "start": "22:00", "end": "02:00"},
        ],
    }
    return body | overrides


def policy_body(**overrides) -> dict:
    body = {
        "name": "Enterprise urgent",
        "position": 5,
        "active": True,
        "calendar": None,
        "pause_on_hold": False,
        "warning_margin_percent": 20,
        "priorities": ["urgent", "high"],
        "tiers": ["enterprise"],
        "types": ["incident"],
        "channels": ["email", "phone"],
        "teams": [],
        "targets": [
            {"priority": "urgent", "metric": "first_response", "minutes": 30},
            {"priority": "high", "metric": "first_response", "minutes": 120},
            {"priority": "urgent", "metric": "resolution", "minutes": 240},
        ],
    }
    return body | overrides


# --- calendars: the happy paths -----------------------------------------------------------


def test_manager_creates_a_calendar_with_its_intervals(api):
    response = api.post(CALENDARS, calendar_body(), format="json")

    assert response.status_code == 201, response.json()
    calendar = BusinessCalendar.objects.get(name="London office")
    assert response.json() == {
        "id": calendar.pk,
        "name": "London office",
        "time_zone": "Europe/London",
        "holidays": ["2025-12-25", "2025-12-26"],
        "intervals": [
            {"weekday": 0, "start": "09:00:00", "end": "12:00:00"},
            {"weekday": 0, "start": "13:00:00", "end": "17:00:00"},
            {"weekday": 4, "start": "22:00:00", "end": "02:00:00"},
        ],
    }
    assert calendar.holidays == [date(2025, 12, 25), date(2025, 12, 26)]
    assert calendar.to_calendar().time_zone == "Europe/London"
    assert intervals_of(calendar) == [
        (0, time(9), time(12)),
        (0, time(13), time(17)),
        (4, time(22), time(2)),
    ]


def test_calendar_holidays_are_stored_sorted_without_repeats(api):
    body = calendar_body(holidays=["2025-12-26", "2025-01-01", "2025-12-26"])
    response = api.post(CALENDARS, body, format="json")

    assert response.status_code == 201
    assert response.json()["holidays"] == ["2025-01-01", "2025-12-26"]


def test_whole_day_interval_is_accepted(api):
    body = calendar_body(intervals=[{"weekday": 6, "start": "00:00", "end": "00:00"}])
    assert api.post(CALENDARS, body, format="json").status_code == 201


def test_calendars_are_listed_by_name(api):
    make_calendar("Tokyo")
    make_calendar("Berlin")

    response = api.get(CALENDARS)

    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["results"]] == ["Berlin", "Tokyo"]
    assert body["results"][0]["intervals"][0] == {
        "weekday": 0,
        "start": "09:00:00",
        "end": "17:00:00",
    }
    assert body["next"] is None


def test_calendar_list_pages_with_a_cursor(api):
    for n in range(5):
        make_calendar(f"Calendar {n}")

    first = api.get(CALENDARS, {"page_size": 3}).json()
    second = api.get(first["next"]).json()

    assert [c["name"] for c in first["results"]] == ["Calendar 0", "Calendar 1", "Calendar 2"]
    assert [c["name"] for c in second["results"]] == ["Calendar 3", "Calendar 4"]
    assert second["next"] is None


def test_calendar_is_retrieved(api):
    calendar = make_calendar(holidays=[date(2025, 10, 3)])

    response = api.get(f"{CALENDARS}{calendar.pk}/")

    assert response.status_code == 200
    assert response.json()["name"] == "Berlin office"
    assert response.json()["holidays"] == ["2025-10-03"]
    assert len(response.json()["intervals"]) == 5


def test_unknown_calendar_is_404(api):
    assert api.get(f"{CALENDARS}999999/").status_code == 404


def test_put_replaces_all_intervals(api):
    calendar = make_calendar()
    body = calendar_body(
        name="Berlin office",
        time_zone="Europe/Berlin",
        intervals=[{"weekday": 5, "start": "10:00", "end": "14:00"}],
    )

    response = api.put(f"{CALENDARS}{calendar.pk}/", body, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["intervals"] == [{"weekday": 5, "start": "10:00:00", "end": "14:00:00"}]
    assert intervals_of(calendar) == [(5, time(10), time(14))]


def test_patch_without_intervals_keeps_them(api):
    calendar = make_calendar()

    response = api.patch(f"{CALENDARS}{calendar.pk}/", {"name": "Munich"}, format="json")

    assert response.status_code == 200
    calendar.refresh_from_db()
    assert calendar.name == "Munich"
    assert calendar.intervals.count() == 5
    assert len(response.json()["intervals"]) == 5


def test_patch_checks_a_new_time_zone_against_the_saved_intervals(api):
    calendar = make_calendar()

    response = api.patch(f"{CALENDARS}{calendar.pk}/", {"time_zone": "Mars/Olympus"}, format="json")

    assert response.status_code == 400
    assert "Unknown time zone 'Mars/Olympus'" in fields_of(response)["time_zone"][0]
    calendar.refresh_from_db()
    assert calendar.time_zone == "Europe/Berlin"


def test_calendar_is_deleted_with_its_intervals(api):
    calendar = make_calendar()

    response = api.delete(f"{CALENDARS}{calendar.pk}/")

    assert response.status_code == 204
    assert not BusinessCalendar.objects.exists()
    assert not WorkingInterval.objects.exists()


def test_calendar_in_use_by_a_policy_is_not_deleted(api):
    calendar = make_calendar()
    make_policy("Gold", calendar=calendar)

    response = api.delete(f"{CALENDARS}{calendar.pk}/")

    assert response.status_code == 409
    assert "used by SLA policies (Gold)" in response.json()["error"]["message"]
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()


# --- calendars: bad input is a 400 with the reason, never a 500 ---------------------------


BAD_CALENDARS = {
    "unknown time zone": (
        {"time_zone": "Mars/Olympus"},
        "time_zone",
        "Unknown time zone 'Mars/Olympus': use an IANA name",
    ),
    "overlapping intervals": (
        {
            "intervals": [
                {"weekday": 0, "start": "09:00", "end": "12:00"},
                {"weekday": 0, "start": "11:00", "end": "13:00"},
            ]
        },
        "intervals",
        "Working hours overlap: Monday 09:00-12:00 and Monday 11:00-13:00.",
    ),
    "overnight interval into the next day's": (
        {
            "intervals": [
                {"weekday": 4, "start": "22:00", "end": "02:00"},
                {"weekday": 5, "start": "01:00", "end": "03:00"},
            ]
        },
        "intervals",
        "Working hours overlap: Friday 22:00-02:00 (overnight) and Saturday 01:00-03:00.",
    ),
    "zero-length interval": (
        {"intervals": [{"weekday": 2, "start": "09:00", "end": "09:00"}]},
        "intervals",
        "Wednesday 09:00-09:00 (overnight): start and end are equal, so the interval is empty",
    ),
    "no intervals": (
        {"intervals": []},
        "intervals",
        "The calendar has no working hours: add at least one working interval.",
    ),
    "missing intervals": ({"intervals": None}, "intervals", "This field may not be null."),
    "weekday out of range": (
        {"intervals": [{"weekday": 7, "start": "09:00", "end": "17:00"}]},
        "intervals",
        '"7" is not a valid weekday: use 0 (Monday) to 6 (Sunday).',
    ),
    "time not a time": (
        {"intervals": [{"weekday": 1, "start": "25:00", "end": "17:00"}]},
        "intervals",
        "Time has wrong format.",
    ),
    "holiday not a date": (
        {"holidays": ["Christmas"]},
        "holidays",
        "Date has wrong format.",
    ),
    "holiday a number": ({"holidays": [20251225]}, "holidays", "Date has wrong format."),
    "holiday a date and time": (
        {"holidays": ["2025-12-25T10:00:00"]},
        "holidays",
        "Date has wrong format.",
    ),
    "holidays not a list": (
        {"holidays": "2025-12-25"},
        "holidays",
        'Expected a list of items but got type "str".',
    ),
    "missing name": ({"name": ""}, "name", "This field may not be blank."),
}


@pytest.mark.parametrize(
    ("overrides", "field", "message"), BAD_CALENDARS.values(), ids=BAD_CALENDARS.keys()
)
def test_bad_calendar_is_refused_with_the_reason(api, overrides, field, message):
    response = api.post(CALENDARS, calendar_body(**overrides), format="json")

    assert response.status_code == 400
    errors = fields_of(response)
    assert field in errors
    assert any(message in m for m in messages(errors[field])), errors
    assert not BusinessCalendar.objects.exists()


def test_every_wrong_part_of_a_calendar_is_reported_at_once(api):
    body = calendar_body(time_zone="Mars/Olympus", intervals=[])

    errors = fields_of(api.post(CALENDARS, body, format="json"))

    assert set(errors) == {"time_zone", "intervals"}


def test_duplicate_calendar_name_is_refused(api):
    make_calendar("London office")

    response = api.post(CALENDARS, calendar_body(), format="json")

    assert response.status_code == 400
    assert "already exists" in fields_of(response)["name"][0]


def test_bad_update_leaves_the_calendar_as_it_was(api):
    calendar = make_calendar()
    body = calendar_body(
        name="Renamed",
        intervals=[
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "11:00", "end": "13:00"},
        ],
    )

    response = api.put(f"{CALENDARS}{calendar.pk}/", body, format="json")

    assert response.status_code == 400
    calendar.refresh_from_db()
    assert calendar.name == "Berlin office"
    assert calendar.intervals.count() == 5


# --- policies: the happy paths ------------------------------------------------------------


def test_manager_creates_a_policy_with_targets_teams_and_calendar(api):
    calendar = make_calendar()
    teams = [TeamFactory(name="Tier 1"), TeamFactory(name="Tier 2")]
    body = policy_body(calendar=calendar.pk, teams=[team.pk for team in teams])

    response = api.post(POLICIES, body, format="json")

    assert response.status_code == 201, response.json()
    policy = SlaPolicy.objects.get(name="Enterprise urgent")
    # Targets come back in the model's order: by priority, then metric.
    targets = sorted(body["targets"], key=lambda t: (t["priority"], t["metric"]))
    assert response.json() == {"id": policy.pk, **body, "targets": targets}
    assert policy.calendar == calendar
    assert set(policy.teams.all()) == set(teams)
    assert policy.priorities == ["urgent", "high"]
    assert {(t.priority, t.metric, t.minutes) for t in policy.targets.all()} == {
        ("urgent", "first_response", 30),
        ("high", "first_response", 120),
        ("urgent", "resolution", 240),
    }


def test_policy_without_calendar_is_24_7_and_conditions_default_to_any(api):
    response = api.post(POLICIES, {"name": "Catch-all", "position": 100}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["calendar"] is None
    assert body["priorities"] == body["tiers"] == body["types"] == body["channels"] == []
    assert body["teams"] == body["targets"] == []
    assert body["warning_margin_percent"] == 25


def test_policies_are_listed_by_position(api):
    make_policy("Last", position=30)
    make_policy("First", position=1)

    body = api.get(POLICIES).json()

    assert [p["name"] for p in body["results"]] == ["First", "Last"]
    assert body["results"][0]["targets"] == [
        {"priority": "urgent", "metric": "first_response", "minutes": 60},
        {"priority": "urgent", "metric": "resolution", "minutes": 480},
    ]


def test_policy_is_retrieved(api):
    team = TeamFactory()
    policy = make_policy(teams=[team], calendar=make_calendar())

    response = api.get(f"{POLICIES}{policy.pk}/")

    assert response.status_code == 200
    assert response.json()["teams"] == [team.pk]
    assert response.json()["calendar"] == policy.calendar_id


def test_put_replaces_targets_and_teams(api):
    old_team, new_team = TeamFactory(), TeamFactory()
    policy = make_policy(teams=[old_team])
    body = policy_body(
        teams=[new_team.pk],
        targets=[{"priority": "low", "metric": "next_response", "minutes": 1440}],
    )

    response = api.put(f"{POLICIES}{policy.pk}/", body, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["targets"] == [
        {"priority": "low", "metric": "next_response", "minutes": 1440}
    ]
    assert response.json()["teams"] == [new_team.pk]
    assert list(policy.teams.all()) == [new_team]
    assert [(t.priority, t.metric, t.minutes) for t in policy.targets.all()] == [
        ("low", "next_response", 1440)
    ]


def test_put_may_keep_a_target_it_already_has(api):
    policy = make_policy()
    body = policy_body(targets=[{"priority": "urgent", "metric": "first_response", "minutes": 15}])

    response = api.put(f"{POLICIES}{policy.pk}/", body, format="json")

    assert response.status_code == 200, response.json()
    assert policy.targets.get().minutes == 15


def test_patch_without_targets_keeps_them(api):
    team = TeamFactory()
    policy = make_policy(teams=[team])

    response = api.patch(f"{POLICIES}{policy.pk}/", {"active": False}, format="json")

    assert response.status_code == 200
    policy.refresh_from_db()
    assert policy.active is False
    assert policy.targets.count() == 2
    assert list(policy.teams.all()) == [team]


def test_patch_may_switch_to_24_7(api):
    policy = make_policy(calendar=make_calendar())

    response = api.patch(f"{POLICIES}{policy.pk}/", {"calendar": None}, format="json")

    assert response.status_code == 200
    policy.refresh_from_db()
    assert policy.calendar is None


def test_policy_is_deleted_with_its_targets(api):
    policy = make_policy()

    assert api.delete(f"{POLICIES}{policy.pk}/").status_code == 204
    assert not SlaPolicy.objects.exists()
    assert not SlaTarget.objects.exists()


def test_policy_write_is_one_transaction(api):
    policy = make_policy()
    body = policy_body(targets=[{"priority": "low", "metric": "resolution", "minutes": 60}])

    with mock.patch.object(SlaTarget.objects, "bulk_create", side_effect=RuntimeError("boom")):
        response = api.put(f"{POLICIES}{policy.pk}/", body, format="json")

    # A crash is logged and answered with the API's error shape, never a traceback page.
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "boom" not in response.content.decode()
    policy.refresh_from_db()
    assert policy.name == "Standard"
    assert policy.targets.count() == 2


# --- policies: bad input is a 400 with the reason, never a 500 ----------------------------


def target(**fields) -> list[dict]:
    return [{"priority": "urgent", "metric": "first_response", "minutes": 30} | fields]


BAD_POLICIES = {
    "zero minutes": (
        {"targets": target(minutes=0)},
        "targets",
        "Minutes must be greater than 0.",
    ),
    "negative minutes": (
        {"targets": target(minutes=-5)},
        "targets",
        "Minutes must be greater than 0.",
    ),
    "minutes not a number": (
        {"targets": target(minutes="soon")},
        "targets",
        "A valid integer is required.",
    ),
    "minutes beyond a year": (
        {"targets": target(minutes=366 * 24 * 60 + 1)},
        "targets",
        "less than or equal to 527040",
    ),
    "duplicate target": (
        {"targets": target(minutes=30) + target(minutes=60)},
        "targets",
        "Duplicate target: priority 'urgent' and metric 'first_response' appear more than once",
    ),
    "unknown target priority": (
        {"targets": target(priority="critical")},
        "targets",
        '"critical" is not a valid choice. Allowed values: low, normal, high, urgent.',
    ),
    "unknown target metric": (
        {"targets": target(metric="csat")},
        "targets",
        '"csat" is not a valid choice. Allowed values: first_response, next_response, resolution.',
    ),
    "unknown priority condition": (
        {"priorities": ["urgent", "critical"]},
        "priorities",
        '"critical" is not a valid choice. Allowed values: low, normal, high, urgent.',
    ),
    "unknown tier": (
        {"tiers": ["platinum"]},
        "tiers",
        '"platinum" is not a valid choice. Allowed values: enterprise, growth, starter.',
    ),
    "unknown type": (
        {"types": ["bug"]},
        "types",
        '"bug" is not a valid choice. Allowed values: question, incident, problem, task.',
    ),
    "unknown channel": (
        {"channels": ["fax"]},
        "channels",
        '"fax" is not a valid choice. Allowed values: email, portal, api, phone, chat.',
    ),
    "unknown calendar": ({"calendar": 999999}, "calendar", 'Invalid pk "999999"'),
    "calendar not an id": ({"calendar": "Berlin"}, "calendar", "Incorrect type."),
    "unknown team": ({"teams": [999999]}, "teams", 'Invalid pk "999999"'),
    "warning margin zero": (
        {"warning_margin_percent": 0},
        "warning_margin_percent",
        "greater than or equal to 1",
    ),
    "warning margin 100": (
        {"warning_margin_percent": 100},
        "warning_margin_percent",
        "less than or equal to 99",
    ),
    "negative position": ({"position": -1}, "position", "greater than or equal to 0"),
    "targets not a list": (
        {"targets": {"priority": "urgent"}},
        "targets",
        "Expected a list of items",
    ),
}


@pytest.mark.parametrize(
    ("overrides", "field", "message"), BAD_POLICIES.values(), ids=BAD_POLICIES.keys()
)
def test_bad_policy_is_refused_with_the_reason(api, overrides, field, message):
    response = api.post(POLICIES, policy_body(**overrides), format="json")

    assert response.status_code == 400
    errors = fields_of(response)
    assert field in errors
    assert any(message in m for m in messages(errors[field])), errors
    assert not SlaPolicy.objects.exists()


def test_duplicate_position_is_refused(api):
    make_policy("Existing", position=5)

    response = api.post(POLICIES, policy_body(position=5), format="json")

    assert response.status_code == 400
    assert "already exists" in fields_of(response)["position"][0]


def test_bad_update_leaves_the_policy_as_it_was(api):
    policy = make_policy()
    body = policy_body(targets=target(minutes=0))

    response = api.put(f"{POLICIES}{policy.pk}/", body, format="json")

    assert response.status_code == 400
    policy.refresh_from_db()
    assert policy.name == "Standard"
    assert policy.targets.count() == 2


# --- who may do what ----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_admins_and_managers_may_change_sla_settings(api_for, make_user, role):
    api = api_for(make_user(role))

    calendar = api.post(CALENDARS, calendar_body(), format="json")
    policy = api.post(POLICIES, policy_body(calendar=calendar.json()["id"]), format="json")

    assert calendar.status_code == 201
    assert policy.status_code == 201
    assert api.patch(f"{POLICIES}{policy.json()['id']}/", {"active": False}).status_code == 200
    assert api.delete(f"{POLICIES}{policy.json()['id']}/").status_code == 204
    assert api.delete(f"{CALENDARS}{calendar.json()['id']}/").status_code == 204


@pytest.mark.parametrize("role", [Role.AGENT, Role.CSM])
def test_other_staff_may_read_but_not_change_sla_settings(api_for, make_user, role):
    calendar = make_calendar()
    policy = make_policy()
    api = api_for(make_user(role))

    assert api.get(CALENDARS).status_code == 200
    assert api.get(f"{CALENDARS}{calendar.pk}/").status_code == 200
    assert api.get(POLICIES).status_code == 200
    assert api.get(f"{POLICIES}{policy.pk}/").status_code == 200
    refused = [
        api.post(CALENDARS, calendar_body(), format="json"),
        api.patch(f"{CALENDARS}{calendar.pk}/", {"name": "X"}, format="json"),
        api.delete(f"{CALENDARS}{calendar.pk}/"),
        api.post(POLICIES, policy_body(), format="json"),
        api.put(f"{POLICIES}{policy.pk}/", policy_body(), format="json"),
        api.delete(f"{POLICIES}{policy.pk}/"),
    ]
    assert [r.status_code for r in refused] == [403] * 6
    assert (
        refused[0].json()["error"]["message"]
        == "Only admins and managers may change the SLA settings."
    )
    assert BusinessCalendar.objects.count() == 1
    assert SlaPolicy.objects.get().name == "Standard"


def test_customers_may_not_see_sla_settings(api_for, make_user):
    calendar = make_calendar()
    api = api_for(make_user(Role.CUSTOMER))

    assert api.get(CALENDARS).status_code == 403
    assert api.get(f"{CALENDARS}{calendar.pk}/").status_code == 403
    assert api.get(POLICIES).status_code == 403
    assert api.post(POLICIES, policy_body(), format="json").status_code == 403
    assert api.delete(f"{CALENDARS}{calendar.pk}/").status_code == 403
    assert BusinessCalendar.objects.exists()


def test_anonymous_visitors_are_refused():
    api = APIClient()

    assert api.get(CALENDARS).status_code in (401, 403)
    assert api.get(POLICIES).status_code in (401, 403)
    assert api.post(CALENDARS, calendar_body(), format="json").status_code in (401, 403)
    assert not BusinessCalendar.objects.exists()


def test_session_writes_need_the_csrf_token(manager):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(manager)

    response = api.post(CALENDARS, calendar_body(), format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


# --- query counts -------------------------------------------------------------------------

# Session + user (2), the page (1), and one per prefetched relation.
CALENDAR_LIST_QUERIES = 4
POLICY_LIST_QUERIES = 5


@pytest.mark.parametrize("count", [1, 20])
def test_calendar_list_query_count_does_not_grow(api, django_assert_max_num_queries, count):
    for n in range(count):
        make_calendar(f"Calendar {n:02}")

    with django_assert_max_num_queries(CALENDAR_LIST_QUERIES):
        response = api.get(CALENDARS)

    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [1, 20])
def test_policy_list_query_count_does_not_grow(api, django_assert_max_num_queries, count):
    calendar = make_calendar()
    teams = [TeamFactory(), TeamFactory()]
    for n in range(count):
        make_policy(f"Policy {n}", position=n, calendar=calendar, teams=teams)

    with django_assert_max_num_queries(POLICY_LIST_QUERIES):
        response = api.get(POLICIES)

    assert len(response.json()["results"]) == count
    assert all(len(p["targets"]) == 2 and len(p["teams"]) == 2 for p in response.json()["results"])


def test_calendar_detail_query_count(api, django_assert_max_num_queries):
    calendar = make_calendar()

    with django_assert_max_num_queries(CALENDAR_LIST_QUERIES):
        assert api.get(f"{CALENDARS}{calendar.pk}/").status_code == 200


def test_policy_detail_query_count(api, django_assert_max_num_queries):
    policy = make_policy(calendar=make_calendar(), teams=[TeamFactory(), TeamFactory()])

    with django_assert_max_num_queries(POLICY_LIST_QUERIES):
        assert api.get(f"{POLICIES}{policy.pk}/").status_code == 200
