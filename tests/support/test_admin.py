import pytest

from accounts.choices import Role
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/support/ticket/",
    "/admin/support/macro/",
    "/admin/support/teamassignment/",
    "/admin/support/agentstatus/",
    "/admin/support/savedview/",
    "/admin/support/attachment/",
    "/admin/accounts/account/",
    "/admin/accounts/contact/",
    "/admin/accounts/user/",
    "/admin/accounts/team/",
    "/admin/accounts/notification/",
    "/admin/support/businesscalendar/",
    "/admin/support/businesscalendar/add/",
    "/admin/support/slapolicy/",
    "/admin/support/slapolicy/add/",
    "/admin/success/subscription/",
    "/admin/success/revenueevent/",
    "/admin/success/lifecyclechange/",
    "/admin/success/usagedaily/",
    "/admin/success/subscription/add/",
]


@pytest.mark.parametrize("url", PAGES)
def test_admin_lists_open_for_admins(client_for, make_user, url):
    TicketFactory()
    assert client_for(make_user(Role.ADMIN)).get(url).status_code == 200


def test_admin_ticket_page_and_search_work(client_for, make_user):
    ticket = TicketFactory(subject="Printer on fire")
    client = client_for(make_user(Role.ADMIN))
    assert client.get(f"/admin/support/ticket/{ticket.pk}/change/").status_code == 200
    assert "Printer on fire" in client.get("/admin/support/ticket/?q=printer").content.decode()


def test_agents_cannot_use_the_admin(client_for, agent):
    assert client_for(agent).get("/admin/support/ticket/").status_code == 302


# --- SLA calendars and policies: bad definitions are refused with a message -------------


def _calendar_form(name="Office", zone="Europe/Berlin", holidays="", intervals=()):
    data = {
        "name": name,
        "time_zone": zone,
        "holidays": holidays,
        "intervals-TOTAL_FORMS": str(len(intervals)),
        "intervals-INITIAL_FORMS": "0",
        "intervals-MIN_NUM_FORMS": "1",
        "intervals-MAX_NUM_FORMS": "1000",
    }
    for i, (weekday, start, end) in enumerate(intervals):
        data |= {
            f"intervals-{i}-weekday": str(weekday),
            f"intervals-{i}-start": start,
            f"intervals-{i}-end": end,
        }
    return data


def test_a_valid_calendar_is_saved(client_for, make_user):
    from support.models import BusinessCalendar

    client = client_for(make_user(Role.ADMIN))
    response = client.post(
        "/admin/support/businesscalendar/add/",
        _calendar_form(
            holidays="2026-12-25,2026-12-26",
            intervals=[(0, "09:00", "12:00"), (0, "13:00", "17:00"), (4, "22:00", "02:00")],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    calendar = BusinessCalendar.objects.get(name="Office")
    assert calendar.intervals.count() == 3
    assert len(calendar.to_calendar().intervals) == 3


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (_calendar_form(zone="Mars/Olympus", intervals=[(0, "09:00", "17:00")]), "Mars/Olympus"),
        (
            _calendar_form(intervals=[(0, "09:00", "12:00"), (0, "11:00", "13:00")]),
            "overlap",
        ),
        (_calendar_form(intervals=[(0, "09:00", "09:00")]), "empty"),
        (_calendar_form(intervals=[]), "at least"),
    ],
    ids=["unknown zone", "overlapping", "zero length", "no working time"],
)
def test_bad_calendars_are_refused_with_a_message(client_for, make_user, form, message):
    from support.models import BusinessCalendar

    client = client_for(make_user(Role.ADMIN))
    response = client.post("/admin/support/businesscalendar/add/", form)
    assert response.status_code == 200  # the form again, with the reason
    assert message.lower() in response.content.decode().lower()
    assert not BusinessCalendar.objects.exists()


@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_a_target_of_zero_or_negative_length_is_refused(client_for, make_user, minutes):
    from support.models import SlaPolicy

    client = client_for(make_user(Role.ADMIN))
    response = client.post(
        "/admin/support/slapolicy/add/",
        {
            "name": "Standard",
            "position": "1",
            "active": "on",
            "pause_on_hold": "on",
            "warning_margin_percent": "25",
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "0",
            "targets-MIN_NUM_FORMS": "0",
            "targets-MAX_NUM_FORMS": "1000",
            "targets-0-priority": "normal",
            "targets-0-metric": "first_response",
            "targets-0-minutes": minutes,
        },
    )
    assert response.status_code == 200
    assert "greater than or equal to" in response.content.decode()
    assert not SlaPolicy.objects.exists()
