"""The notifications bell and page: unread count, the list, opening one, marking all read."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from accounts.context_processors import unread_count
from accounts.models import Notification
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NOTIFICATIONS = reverse("notifications")
READ_ALL = reverse("notifications-read")
TICKET_URL = "/support/tickets/1042/"


def open_url(notification: Notification) -> str:
    return reverse("notification-open", args=[notification.pk])


def notify(user, *, title="#1042 at risk: Printer on fire", read=False, url=TICKET_URL, **fields):
    return Notification.objects.create(
        user=user,
        kind="sla_warning",
        title=title,
        body="First response is due 2030-01-01 12:00 UTC.",
        url=url,
        read_at=timezone.now() if read else None,
        **fields,
    )


def page(response) -> str:
    return response.content.decode()


def bell(response) -> str:
    match = re.search(r'<a id="notifications-bell".*?</a>', page(response), re.S)
    assert match, "no bell"
    return " ".join(match.group(0).split())


@pytest.fixture
def client(client_for, agent):
    return client_for(agent)


# --- the bell -----------------------------------------------------------------------------


def test_bell_counts_the_persons_unread_notifications(client, agent, make_user):
    for _ in range(3):
        notify(agent)
    notify(agent, read=True)
    notify(make_user())  # someone else's
    html = bell(client.get(NOTIFICATIONS))
    assert 'aria-label="Notifications, 3 unread"' in html
    assert ">3</span>" in html
    assert f'href="{NOTIFICATIONS}"' in html


def test_bell_without_unread_shows_no_count(client, agent):
    notify(agent, read=True)
    html = bell(client.get(NOTIFICATIONS))
    assert 'aria-label="Notifications"' in html
    assert "badge" not in html


def test_bell_stops_counting_at_a_hundred(client, agent):
    Notification.objects.bulk_create(
        Notification(user=agent, kind="sla_warning", title=f"n{n}") for n in range(120)
    )
    html = bell(client.get(NOTIFICATIONS))
    assert ">99+</span>" in html
    assert "more than 99 unread" in html


def test_unread_count_is_one_query(agent, django_assert_num_queries):
    notify(agent)
    with django_assert_num_queries(1):
        assert unread_count(agent) == 1


@pytest.mark.parametrize("role", [Role.AGENT, Role.CSM, Role.MANAGER, Role.ADMIN])
def test_every_staff_role_sees_the_bell(client_for, make_user, role):
    user = make_user(role)
    notify(user)
    response = client_for(user).get(NOTIFICATIONS)
    assert 'aria-label="Notifications, 1 unread"' in bell(response)


def test_customers_never_see_the_bell(client_for, make_user):
    customer = make_user(Role.CUSTOMER)
    ContactFactory(user=customer, email=customer.email)
    notify(customer)  # even if something wrote one for them
    response = client_for(customer).get(reverse("support:portal-home"))
    assert response.status_code == 200
    assert "notifications-bell" not in page(response)
    assert client_for(customer).get(NOTIFICATIONS).status_code == 403


def test_signed_out_visitors_see_no_bell():
    response = Client().get(reverse("login"))
    assert "notifications-bell" not in page(response)


# --- the page -----------------------------------------------------------------------------


def test_page_lists_the_fifty_most_recent_newest_first(client, agent, make_user):
    now = timezone.now()
    for n in range(55):
        notify(agent, title=f"Notice {n}", created_at=now - timedelta(minutes=n))
    notify(make_user(), title="Not yours")
    html = page(client.get(NOTIFICATIONS))
    titles = re.findall(r'class="cx-notification-title">([^<]+)<', html)
    assert titles == [f"Notice {n}" for n in range(50)]
    assert "Not yours" not in html
    assert "<title>Notifications · CX Platform</title>" in html


def test_unread_notifications_are_marked_bold_and_for_screen_readers(client, agent):
    unread = notify(agent, title="Unread one")
    read = notify(agent, title="Read one", read=True)
    html = page(client.get(NOTIFICATIONS))
    items = dict(
        (int(pk), item)
        for item, pk in re.findall(
            r'(<li class="list-group-item[^"]*">.*?/notifications/(\d+)/open/.*?</li>)', html, re.S
        )
    )
    assert "cx-unread" in items[unread.pk]
    assert "Unread: " in items[unread.pk]
    assert "cx-unread" not in items[read.pk]
    assert "Unread: " not in items[read.pk]


def test_each_notification_opens_through_a_post_form_with_csrf(client, agent):
    notification = notify(agent)
    html = page(client.get(NOTIFICATIONS))
    form = re.search(
        rf'<form method="post" action="{open_url(notification)}">.*?</form>', html, re.S
    )
    assert form
    assert "csrfmiddlewaretoken" in form.group(0)
    assert '<button type="submit"' in form.group(0)


def test_empty_page_says_what_shows_up_here(client):
    html = page(client.get(NOTIFICATIONS))
    assert "No notifications yet." in html
    assert "Mark all read" not in html


def test_mark_all_read_is_offered_only_with_unread(client, agent):
    notify(agent, read=True)
    assert "Mark all read" not in page(client.get(NOTIFICATIONS))
    notify(agent)
    assert "Mark all read" in page(client.get(NOTIFICATIONS))


def test_page_runs_a_fixed_number_of_queries(client, agent, django_assert_max_num_queries):
    for n in range(60):
        notify(agent, title=f"Notice {n}")
    # Session, user, the fifty notifications, the bell's count.
    with django_assert_max_num_queries(4):
        response = client.get(NOTIFICATIONS)
    assert response.status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in():
    response = Client().get(NOTIFICATIONS)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


# --- opening one -----------------------------------------------------------------------------


def test_opening_marks_read_and_goes_to_its_page(client, agent):
    notification = notify(agent)
    response = client.post(open_url(notification))
    assert response.status_code == 302
    assert response["Location"] == TICKET_URL
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_opening_again_keeps_the_first_read_time(client, agent):
    notification = notify(agent, read=True)
    first = notification.read_at
    client.post(open_url(notification))
    notification.refresh_from_db()
    assert notification.read_at == first


def test_opening_someone_elses_notification_is_not_found(client, make_user):
    theirs = notify(make_user())
    assert client.post(open_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_opening_a_missing_notification_is_not_found(client):
    assert client.post(reverse("notification-open", args=[999999])).status_code == 404


def test_opening_needs_a_post(client, agent):
    notification = notify(agent)
    assert client.get(open_url(notification)).status_code == 405
    notification.refresh_from_db()
    assert notification.read_at is None


def test_opening_needs_the_csrf_token(agent):
    notification = notify(agent)
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.post(open_url(notification)).status_code == 403
    notification.refresh_from_db()
    assert notification.read_at is None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "javascript:alert(1)",
        "support/tickets/1/",
        "",
    ],
)
def test_opening_never_redirects_off_site(client, agent, url):
    notification = notify(agent, url=url)
    response = client.post(open_url(notification))
    assert response.status_code == 302
    assert response["Location"] == NOTIFICATIONS
    notification.refresh_from_db()
    assert notification.read_at is not None


# --- marking all read -------------------------------------------------------------------------


def test_mark_all_read_marks_only_the_persons_own(client, agent, make_user):
    mine = [notify(agent) for _ in range(3)]
    theirs = notify(make_user())
    response = client.post(READ_ALL, follow=True)
    assert response.redirect_chain == [(NOTIFICATIONS, 302)]
    assert "Marked 3 notifications read." in page(response)
    assert not Notification.objects.filter(pk__in=[n.pk for n in mine], read_at=None).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert 'aria-label="Notifications"' in bell(response)


def test_mark_all_read_needs_a_post(client, agent):
    notify(agent)
    assert client.get(READ_ALL).status_code == 405
    assert Notification.objects.filter(read_at=None).count() == 1
