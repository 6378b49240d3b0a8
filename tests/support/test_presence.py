"""support.presence: who else has a ticket open, kept in the real Redis with a short TTL."""

import random
import time

import pytest
from django.urls import reverse

from accounts.choices import Role
from support import presence
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket_id():
    """A ticket number no other test uses, its presence key removed afterwards."""
    number = random.randrange(10**12, 10**13)
    presence._redis().delete(presence.presence_key(number))
    yield number
    presence._redis().delete(presence.presence_key(number))


def test_touch_then_list_names_the_other_agents_and_their_state(ticket_id, agent, make_user):
    sam = make_user(Role.AGENT, full_name="Sam Support")
    presence.presence_touch(ticket_id, agent, presence.VIEWING)
    presence.presence_touch(ticket_id, sam, presence.REPLYING)

    others = presence.presence_list(ticket_id, exclude_user_id=agent.pk)

    assert [(p.name, p.state) for p in others] == [("Sam Support", "replying")]
    assert others[0].label == "Sam Support is replying"


def test_list_leaves_out_the_viewer_themselves(ticket_id, agent):
    presence.presence_touch(ticket_id, agent)
    assert presence.presence_list(ticket_id, exclude_user_id=agent.pk) == []
    assert [p.user_id for p in presence.presence_list(ticket_id)] == [agent.pk]


def test_replying_replaces_viewing_for_the_same_agent(ticket_id, agent, make_user):
    presence.presence_touch(ticket_id, agent, presence.VIEWING)
    presence.presence_touch(ticket_id, agent, presence.REPLYING)
    assert [(p.user_id, p.state) for p in presence.presence_list(ticket_id)] == [
        (agent.pk, "replying")
    ]
    presence.presence_touch(ticket_id, agent, presence.VIEWING)
    assert [p.state for p in presence.presence_list(ticket_id)] == ["viewing"]
    members = presence._redis().zrange(presence.presence_key(ticket_id), 0, -1)
    assert members == [f"{agent.pk}:viewing".encode()]


def test_replying_agents_are_listed_before_viewers(ticket_id, make_user):
    viewer = make_user(Role.AGENT, full_name="Aaron Viewer")
    writer = make_user(Role.AGENT, full_name="Zoe Writer")
    presence.presence_touch(ticket_id, viewer, presence.VIEWING)
    presence.presence_touch(ticket_id, writer, presence.REPLYING)
    assert [p.name for p in presence.presence_list(ticket_id)] == ["Zoe Writer", "Aaron Viewer"]


def test_presence_expires_after_the_ttl(ticket_id, agent, make_user):
    sam = make_user(Role.AGENT)
    start = time.time()
    presence.presence_touch(ticket_id, agent, ttl=30, now=start)
    presence.presence_touch(ticket_id, sam, ttl=5, now=start)

    assert {p.user_id for p in presence.presence_list(ticket_id, now=start + 4)} == {
        agent.pk,
        sam.pk,
    }
    assert {p.user_id for p in presence.presence_list(ticket_id, now=start + 6)} == {agent.pk}
    # Expired members are removed from Redis, not just hidden.
    key = presence.presence_key(ticket_id)
    assert presence._redis().zrange(key, 0, -1) == [f"{agent.pk}:viewing".encode()]
    assert presence.presence_list(ticket_id, now=start + 31) == []
    assert presence._redis().zcard(key) == 0


def test_presence_expires_in_real_time_with_a_short_ttl(ticket_id, agent):
    presence.presence_touch(ticket_id, agent, ttl=0.3)
    assert presence.presence_list(ticket_id)
    time.sleep(0.4)
    assert presence.presence_list(ticket_id) == []


def test_the_key_itself_expires_so_abandoned_tickets_leave_nothing(ticket_id, agent, make_user):
    presence.presence_touch(ticket_id, agent, ttl=30)
    key = presence.presence_key(ticket_id)
    assert 0 < presence._redis().ttl(key) <= 30
    # A shorter TTL from someone else does not cut short the longer-lived member.
    presence.presence_touch(ticket_id, make_user(Role.AGENT), ttl=2)
    assert presence._redis().ttl(key) > 2


def test_leaving_removes_the_agent_at_once(ticket_id, agent):
    presence.presence_touch(ticket_id, agent, presence.REPLYING)
    presence.presence_leave(ticket_id, agent)
    assert presence.presence_list(ticket_id) == []


def test_unknown_states_are_refused(ticket_id, agent):
    with pytest.raises(ValueError, match="Unknown presence state"):
        presence.presence_touch(ticket_id, agent, "typing")


def test_the_client_follows_redis_url_in_settings(settings):
    first = presence._redis()
    assert presence._redis() is first
    # The embedded stack's URL is a unix socket that already carries "?db=N".
    separator = "&" if "?" in settings.REDIS_URL else "?"
    settings.REDIS_URL = f"{settings.REDIS_URL}{separator}health_check_interval=5"
    assert presence._redis() is not first


# --- the endpoint the page polls ------------------------------------------------------------


def test_presence_endpoint_records_the_agent_and_shows_the_others(client_for, agent, make_user):
    ticket = TicketFactory()
    key = presence.presence_key(ticket.pk)
    presence._redis().delete(key)
    sam = make_user(Role.AGENT, full_name="Sam Support")
    endpoint = reverse("support:ticket-presence", args=[ticket.pk])
    try:
        client_for(sam).post(endpoint, {"state": "replying"}, HTTP_HX_REQUEST="true")
        response = client_for(agent).post(endpoint, {"state": "viewing"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        page = response.content.decode()
        assert "Sam Support is replying" in page
        assert "Alex Agent" not in page
        sam_view = client_for(sam).post(endpoint, {"state": "replying"}).content.decode()
        assert "Alex Agent is viewing" in sam_view

        client_for(agent).post(endpoint, {"state": "left"})
        assert "Alex Agent" not in client_for(sam).post(endpoint).content.decode()
    finally:
        presence._redis().delete(key)


def test_presence_endpoint_ignores_unknown_tickets(client_for, agent):
    response = client_for(agent).post(reverse("support:ticket-presence", args=[999_999_999]))
    assert response.status_code == 200
    assert not presence._redis().exists(presence.presence_key(999_999_999))


def test_presence_endpoint_survives_redis_being_down(client_for, agent, settings):
    ticket = TicketFactory()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client_for(agent).post(reverse("support:ticket-presence", args=[ticket.pk]))
    assert response.status_code == 200
    assert response.content.decode().strip() == ""


def test_ticket_page_polls_presence(client_for, agent):
    ticket = TicketFactory()
    page = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    assert f'hx-post="{reverse("support:ticket-presence", args=[ticket.pk])}"' in page
    assert 'hx-trigger="load, every 10s, cx-presence from:body"' in page
